package esxisim

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// The guest model: the operating system inside a VM that has VMware Tools,
// with a network configuration of its own, reported by Tools through
// guest.toolsRunningStatus, guest.toolsStatus, guest.net, guest.ipStack and
// guest.ipAddress as ESXi reports them. vcsim itself models none of this
// for an ordinary VM (govmomi v0.56.0 simulator/folder.go CreateVMTask
// leaves Tools "not installed" and "not running" forever; only
// container-backed VMs get guest.net and guest.ipStack, from the container,
// in simulator/container_virtual_machine.go). What is modelled, and where it
// comes from:
//
//   - Tools run while the VM is powered on and report what the guest has
//     (toolsStatus toolsOk / toolsNotRunning with toolsRunningStatus, as
//     vcsim sets them for container VMs). Tools start the moment the VM is
//     powered on — a simplification: a real guest takes its boot time.
//   - A powered-on guest runs its boot configuration: a reboot (or a power
//     cycle) throws away what was changed by hand since, as the write-up
//     says of its `route add` commands ("une conf qui va sauter au prochain
//     redémarrage"). A route whose gateway the guest cannot reach on-link
//     at that point is not installed: the kernel refuses it ("Nexthop has
//     invalid gateway"); the rest of the boot goes on — a guess about init
//     scripts, which differ.
//   - While Tools do not run (VM off or suspended, Tools stopped) guest.net
//     and guest.ipStack are empty: ESXi shows no guest addresses for a VM
//     that is off (bb-Ricardo/netbox-sync#192); that it clears them when
//     Tools stop in a running VM is a guess.
//   - guest.net lists one entry per Ethernet interface of the guest, with
//     its MAC in lower case and every address but loopback, IPv4 and IPv6
//     with its prefix length (open-vm-tools lib/nicInfo/nicInfoPosix.c,
//     GuestInfoGetNicInfo/ReadInterfaceDetails); ESXi puts them in
//     ipConfig.ipAddress and, without prefix, in the deprecated ipAddress
//     (vim25 GuestNicInfo). The guest sees every vNIC, in device order, with
//     the vNIC's MAC; an interface with an address also has its IPv6
//     link-local address (fe80::/64, EUI-64), as a Linux kernel gives every
//     interface it brings up.
//   - guest.ipStack[0].ipRouteConfig.ipRoute lists the routes of the main
//     table that are up and leave through a reported interface, IPv4 and
//     IPv6 (nicInfoPosix.c RecordRoutingInfoIPv4/IPv6): each configured
//     route, plus the prefix route the kernel adds for an address shorter
//     than /32 (or /128: 2001:db8:1:1::/64 for 2001:db8:1:1::124/64) and
//     fe80::/64 per interface. IPv6 routes come from /proc/net/ipv6_route
//     (RecordRoutingInfoIPv6: routes with RTF_UP, the next hop only with
//     RTF_GATEWAY); that file also lists the local table (the guest's own
//     /128s, ff00::/8), left out here — a simplification, and what the
//     operator checks never reads them. gateway.device is the
//     interface's position in guest.net, as a decimal string ("0"), as real
//     vCenters report it (kubev2v/forklift#1596; vcsim's container VMs do
//     the same); gateway.ipAddress is set only for a route through a
//     gateway (Tools send no next hop without RTF_GATEWAY, nicInfoPosix.c):
//     that ESXi then leaves the field out is a guess.
//
// Tools have no vSphere API to be told anything: admin calls (SetGuestNetwork,
// RebootGuest, SetTools...) change the guest, and the harness pushes the new
// report into the inventory, where property collectors see it like any other
// update.

// GuestNetwork is a guest's network configuration, as `ip addr` and
// `ip route` would list it.
type GuestNetwork struct {
	Interfaces []GuestInterface `json:"interfaces"`
	Routes     []GuestIPRoute   `json:"routes"`
}

// GuestInterface is the guest's interface on one vNIC.
type GuestInterface struct {
	// NIC is the vNIC's position (0 for "Network adapter 1"); the guest sees
	// that vNIC's MAC.
	NIC int `json:"nic"`
	// Addresses in CIDR notation, e.g. 203.0.113.124/32.
	Addresses []string `json:"addresses"`
}

// GuestIPRoute is one route of the guest's main table, IPv4 or IPv6.
type GuestIPRoute struct {
	// Destination is "default", an address (a /32 or /128) or a CIDR
	// prefix. "default" is IPv4's (0.0.0.0/0) unless Gateway is an IPv6
	// address (`ip -6 route add default via ...`); an IPv6 default route
	// without a gateway is written "::/0".
	Destination string `json:"destination"`
	// Gateway is the next hop; "" for a route on the link (`dev eth0`).
	Gateway string `json:"gateway,omitempty"`
	// NIC is the vNIC position of the interface the route leaves through.
	NIC int `json:"nic"`
}

// WriteUpGuest is a guest bridged the way the write-up and OVH's guide
// configure one: the failover IP as a /32 on the first interface, a route
// telling it that the server's gateway (outside that /32) is on that link,
// and the default route via the gateway.
func WriteUpGuest(failoverIP, gateway string) *GuestNetwork {
	return &GuestNetwork{
		Interfaces: []GuestInterface{{NIC: 0, Addresses: []string{failoverIP + "/32"}}},
		Routes: []GuestIPRoute{
			{Destination: gateway, NIC: 0},
			{Destination: "default", Gateway: gateway, NIC: 0},
		},
	}
}

// WithIPv6 adds IPv6 to a guest configured by WriteUpGuest, as OVH's IPv6
// guide for dedicated servers configures a machine (github ovh/docs,
// pages/cloud/dedicated/network_ipv6/guide.en-gb.md, Debian: the address,
// `ip -f inet6 route add IPv6_GATEWAY dev eth0`, then `ip -f inet6 route
// add default via IPv6_GATEWAY`): address (CIDR, e.g.
// 2001:db8:1:1::124/64) on the interface of the IPv4 default route, the
// on-link route to gateway (none for a link-local gateway such as fe80::1,
// on every link already) and the IPv6 default route via it. It returns n.
func (n *GuestNetwork) WithIPv6(address, gateway string) *GuestNetwork {
	nic := 0
	for _, r := range n.Routes {
		if r.Destination == "default" && !strings.Contains(r.Gateway, ":") {
			nic = r.NIC
		}
	}
	added := false
	for i := range n.Interfaces {
		if n.Interfaces[i].NIC == nic {
			n.Interfaces[i].Addresses = append(n.Interfaces[i].Addresses, address)
			added = true
		}
	}
	if !added {
		n.Interfaces = append(n.Interfaces, GuestInterface{NIC: nic, Addresses: []string{address}})
	}
	if gw, err := netip.ParseAddr(gateway); err == nil && !gw.IsLinkLocalUnicast() {
		n.Routes = append(n.Routes, GuestIPRoute{Destination: gateway, NIC: nic})
	}
	n.Routes = append(n.Routes, GuestIPRoute{Destination: "default", Gateway: gateway, NIC: nic})
	return n
}

// Seed addresses of the write-up, in documentation ranges (test/world names
// the same ones).
const (
	seedGateway  = "198.51.100.254"
	seedRouterIP = "203.0.113.123"
	seedWebIP    = "203.0.113.124"
)

// seedGuests are the seed VMs' guests: web1 as the write-up configures a
// bridged VM, and the router with its LAN leg and its WAN /32 (that Vyatta
// 6.5 ran VMware Tools is a guess; VyOS images ship open-vm-tools).
func seedGuests() map[string]*GuestNetwork {
	router := WriteUpGuest(seedRouterIP, seedGateway)
	router.Interfaces = []GuestInterface{
		{NIC: 0, Addresses: []string{"10.0.10.254/24"}},
		{NIC: 1, Addresses: []string{seedRouterIP + "/32"}},
	}
	for i := range router.Routes {
		router.Routes[i].NIC = 1
	}
	return map[string]*GuestNetwork{"vyatta": router, "web1": WriteUpGuest(seedWebIP, seedGateway)}
}

// GuestState is what the harness knows of a guest.
type GuestState struct {
	// ToolsRunning says whether Tools run (and report) now.
	ToolsRunning bool `json:"toolsRunning"`
	// Boot is the configuration the guest comes up with.
	Boot GuestNetwork `json:"boot"`
	// Running is what the guest has now (while the VM runs).
	Running GuestNetwork `json:"running"`
}

// guestOS is one VM's guest.
type guestOS struct {
	boot, running GuestNetwork
	// toolsStopped: someone stopped Tools inside a running guest.
	toolsStopped bool
	// raw: SetGuest put a report of its own; the model stays out of the way
	// until the guest is changed through the model again.
	raw bool
}

// guests holds every modelled guest and keeps the inventory's guest
// properties in step with them. It is a registry handler: vcsim calls it on
// every change, which is how power changes and device edits reach it.
type guests struct {
	mu sync.Mutex
	m  map[types.ManagedObjectReference]*guestOS
}

func newGuests() *guests { return &guests{m: map[types.ManagedObjectReference]*guestOS{}} }

func (*guests) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "EsxiSimGuests", Value: "guests"}
}

func (*guests) PutObject(*simulator.Context, mo.Reference) {}

func (g *guests) RemoveObject(_ *simulator.Context, ref types.ManagedObjectReference) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, ref)
}

func (g *guests) add(ref types.ManagedObjectReference, boot GuestNetwork) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m[ref] = &guestOS{boot: cloneNetwork(boot), running: cloneNetwork(boot)}
}

// UpdateObject follows the VM: a power-on boots the guest (Tools start and
// report its boot configuration), a power-off or suspend stops Tools, and a
// device edit changes what the guest sees (a MAC, a port group).
func (g *guests) UpdateObject(ctx *simulator.Context, obj mo.Reference, changes []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok {
		return
	}
	power, devices := false, false
	for _, c := range changes {
		switch {
		case c.Name == "runtime.powerState":
			power = true
		case strings.HasPrefix(c.Name, "config.hardware.device"):
			devices = true
		}
	}
	if !power && !devices {
		return
	}
	g.mu.Lock()
	guest := g.m[vm.Self]
	if guest == nil || (guest.raw && !power) {
		g.mu.Unlock()
		return
	}
	if power {
		guest.raw = false
		// Whatever state the guest was in, it starts from its boot
		// configuration (after a power-off) or stops reporting.
		guest.running = boot(guest.boot)
		guest.toolsStopped = false
	}
	report := guest.report(vm)
	g.mu.Unlock()
	// Called from inside vcsim's own update, with the VM's lock held:
	// Update, not AtomicUpdate.
	ctx.Update(ctx.Map.Get(vm.Self), report)
}

// change applies edit to a VM's guest and returns the report to publish.
func (g *guests) change(ref types.ManagedObjectReference, vm *mo.VirtualMachine, edit func(*guestOS) error) ([]types.PropertyChange, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	guest := g.m[ref]
	if guest == nil {
		return nil, fmt.Errorf("esxisim: VM %s has no VMware Tools (no guest configuration was given)", vm.Name)
	}
	if err := edit(guest); err != nil {
		return nil, err
	}
	guest.raw = false
	return guest.report(vm), nil
}

func (g *guests) state(ref types.ManagedObjectReference, vm *mo.VirtualMachine) (GuestState, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	guest := g.m[ref]
	if guest == nil {
		return GuestState{}, false
	}
	return GuestState{ToolsRunning: guest.toolsRunning(vm), Boot: cloneNetwork(guest.boot), Running: cloneNetwork(guest.running)}, true
}

func (g *guests) setRaw(ref types.ManagedObjectReference) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if guest := g.m[ref]; guest != nil {
		guest.raw = true
	}
}

func (o *guestOS) toolsRunning(vm *mo.VirtualMachine) bool {
	return vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn && !o.toolsStopped
}

// report is what Tools report for the guest now, as property changes.
func (o *guestOS) report(vm *mo.VirtualMachine) []types.PropertyChange {
	if !o.toolsRunning(vm) {
		return []types.PropertyChange{
			{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsNotRunning},
			{Name: "guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)},
			{Name: "guest.net", Val: []types.GuestNicInfo{}},
			{Name: "guest.ipStack", Val: []types.GuestStackInfo{}},
			{Name: "guest.ipAddress", Val: ""},
		}
	}
	nics, stack, primary := render(o.running, vmNICs(vm))
	return []types.PropertyChange{
		{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsOk},
		{Name: "guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)},
		{Name: "guest.net", Val: nics},
		{Name: "guest.ipStack", Val: stack},
		{Name: "guest.ipAddress", Val: primary},
	}
}

// vNIC is what the guest can see of a virtual NIC.
type vNIC struct {
	key       int32
	mac       string
	portGroup string
	connected bool
}

func vmNICs(vm *mo.VirtualMachine) []vNIC {
	var out []vNIC
	if vm.Config == nil {
		return nil
	}
	for _, d := range vm.Config.Hardware.Device {
		eth, ok := d.(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		c := eth.GetVirtualEthernetCard()
		n := vNIC{key: c.Key, mac: strings.ToLower(c.MacAddress)}
		if b, ok := c.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
			n.portGroup = b.DeviceName
		}
		if c.Connectable != nil {
			n.connected = c.Connectable.Connected
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b vNIC) int { return int(a.key - b.key) })
	return out
}

// render builds guest.net, guest.ipStack and guest.ipAddress from the
// guest's configuration and the VM's vNICs.
func render(net GuestNetwork, nics []vNIC) ([]types.GuestNicInfo, []types.GuestStackInfo, string) {
	addrs := map[int][]netip.Prefix{}
	for _, iface := range net.Interfaces {
		for _, a := range iface.Addresses {
			if p, err := parsePrefix(a); err == nil {
				addrs[iface.NIC] = append(addrs[iface.NIC], p)
			}
		}
	}
	var routes []types.NetIpRouteConfigInfoIpRoute
	onLink := func(dst netip.Prefix, i int) {
		routes = append(routes, types.NetIpRouteConfigInfoIpRoute{
			Network: dst.Addr().String(), PrefixLength: int32(dst.Bits()),
			Gateway: types.NetIpRouteConfigInfoGateway{Device: strconv.Itoa(i)},
		})
	}
	out := make([]types.GuestNicInfo, 0, len(nics))
	primary := ""
	for i, n := range nics {
		info := types.GuestNicInfo{Network: n.portGroup, MacAddress: n.mac, Connected: n.connected, DeviceConfigId: n.key}
		list := addrs[i]
		if len(list) > 0 {
			list = append(slices.Clone(list), linkLocal(n.mac))
			info.IpConfig = &types.NetIpConfigInfo{}
		}
		for _, p := range list {
			info.IpAddress = append(info.IpAddress, p.Addr().String())
			info.IpConfig.IpAddress = append(info.IpConfig.IpAddress, types.NetIpConfigInfoIpAddress{
				IpAddress: p.Addr().String(), PrefixLength: int32(p.Bits()),
				State: string(types.NetIpConfigInfoIpAddressStatusPreferred),
			})
			if primary == "" && p.Addr().Is4() {
				primary = p.Addr().String()
			}
			if p.Bits() < p.Addr().BitLen() {
				// The kernel's prefix route, IPv4 and IPv6 alike
				// (fe80::/64 for the link-local address; `ip -6 addr
				// add 2001:db8:1:1::124/64` adds 2001:db8:1:1::/64 dev
				// eth0 proto kernel, test/kernel's captures).
				onLink(p.Masked(), i)
			}
		}
		out = append(out, info)
	}
	for _, r := range net.Routes {
		dst, err := routeDestination(r)
		if err != nil || r.NIC < 0 || r.NIC >= len(nics) {
			continue // a route through an interface Tools do not report
		}
		routes = append(routes, types.NetIpRouteConfigInfoIpRoute{
			Network: dst.Addr().String(), PrefixLength: int32(dst.Bits()),
			Gateway: types.NetIpRouteConfigInfoGateway{IpAddress: r.Gateway, Device: strconv.Itoa(r.NIC)},
		})
	}
	stack := []types.GuestStackInfo{{IpRouteConfig: &types.NetIpRouteConfigInfo{IpRoute: routes}}}
	return out, stack, primary
}

// linkLocal is the EUI-64 IPv6 link-local address of a MAC (RFC 4291
// appendix A), with its /64.
func linkLocal(mac string) netip.Prefix {
	var hw [6]byte
	for i, part := range strings.Split(mac, ":") {
		if i < 6 {
			v, _ := strconv.ParseUint(part, 16, 8)
			hw[i] = byte(v)
		}
	}
	a := [16]byte{0: 0xfe, 1: 0x80, 8: hw[0] ^ 0x02, 9: hw[1], 10: hw[2], 11: 0xff, 12: 0xfe, 13: hw[3], 14: hw[4], 15: hw[5]}
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// routeDestination is r's destination, "default" taking the family of
// its gateway.
func routeDestination(r GuestIPRoute) (netip.Prefix, error) {
	if r.Destination == "default" {
		if gw, err := netip.ParseAddr(r.Gateway); err == nil && gw.Is6() {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), nil
		}
	}
	return parseDestination(r.Destination)
}

func parseDestination(s string) (netip.Prefix, error) {
	if s == "default" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
	}
	p, err := parsePrefix(s)
	if err != nil {
		return p, err
	}
	return p.Masked(), nil
}

// boot is what a guest has after booting with cfg: its addresses, and the
// routes the kernel accepts in order — a route through a gateway needs the
// gateway on the link of its interface first.
func boot(cfg GuestNetwork) GuestNetwork {
	out := GuestNetwork{Interfaces: cloneNetwork(cfg).Interfaces, Routes: []GuestIPRoute{}}
	for _, r := range cfg.Routes {
		if reachable(out, r) == nil {
			out.Routes = append(out.Routes, r)
		}
	}
	return out
}

// reachable says whether the kernel would accept route r on top of net: its
// gateway, if any, must be covered by an on-link route or an address prefix
// of the route's interface. The error is the kernel's.
func reachable(net GuestNetwork, r GuestIPRoute) error {
	if _, err := routeDestination(r); err != nil {
		return fmt.Errorf("esxisim: route destination %q: %w", r.Destination, err)
	}
	if r.Gateway == "" {
		return nil
	}
	gw, err := netip.ParseAddr(r.Gateway)
	if err != nil {
		return fmt.Errorf("esxisim: gateway %q: %w", r.Gateway, err)
	}
	if gw.Is6() && gw.IsLinkLocalUnicast() {
		// fe80::/64 is on every interface that is up, which here is one
		// with an address (render gives it its link-local one).
		for _, iface := range net.Interfaces {
			if iface.NIC == r.NIC && len(iface.Addresses) > 0 {
				return nil
			}
		}
	}
	for _, iface := range net.Interfaces {
		for _, a := range iface.Addresses {
			if p, err := parsePrefix(a); err == nil && iface.NIC == r.NIC && p.Bits() < p.Addr().BitLen() && p.Masked().Contains(gw) {
				return nil
			}
		}
	}
	for _, o := range net.Routes {
		if o.Gateway != "" || o.NIC != r.NIC {
			continue
		}
		if p, err := routeDestination(o); err == nil && p.Bits() > 0 && p.Contains(gw) {
			return nil
		}
	}
	if gw.Is6() {
		// IPv6's refusal of an off-link gateway, as test/kernel's lab
		// captured it on Linux 6.x (net/ipv6/route.c ip6_validate_gw; the
		// router simulator's checkGateway6 says the same).
		return errors.New("esxisim: the guest's kernel refuses the route: RTNETLINK answers: No route to host")
	}
	// iproute2 prints the kernel's extended ack: `ip route add default via
	// 198.51.100.254` without the on-link route fails this way.
	return errors.New("esxisim: the guest's kernel refuses the route: Error: Nexthop has invalid gateway")
}

// cloneNetwork copies n; its lists are never nil, so that JSON shows [].
func cloneNetwork(n GuestNetwork) GuestNetwork {
	out := GuestNetwork{Interfaces: []GuestInterface{}, Routes: append([]GuestIPRoute{}, n.Routes...)}
	for _, i := range n.Interfaces {
		out.Interfaces = append(out.Interfaces, GuestInterface{NIC: i.NIC, Addresses: slices.Clone(i.Addresses)})
	}
	return out
}

// sameRoute says whether a and b go to the same destination (the kernel's
// EEXIST).
func sameRoute(a, b GuestIPRoute) bool {
	pa, errA := routeDestination(a)
	pb, errB := routeDestination(b)
	return errA == nil && errB == nil && pa == pb
}

// sameDestination says whether route r goes to destination (as `ip route
// del` names one: "default" is IPv4's, "::/0" IPv6's).
func sameDestination(r GuestIPRoute, destination string) bool {
	pa, errA := routeDestination(r)
	pb, errB := parseDestination(destination)
	return errA == nil && errB == nil && pa == pb
}
