package drift

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// GuestWant is what the guest needs for one NIC that takes its MAC from a
// FailoverIP: the write-up's configuration of a bridged VM (and OVH's
// guide): the failover IP as a /32 on the interface carrying the virtual
// MAC, a route saying the server's gateway — outside that /32 — is on that
// link, and the default route via the gateway.
type GuestWant struct {
	// NIC names the vNIC as the spec does ("Network adapter 1", or its
	// index), for status.drift; Index is its position among the VM's NICs.
	NIC   string
	Index int
	// MAC is the virtual MAC the vNIC carries (lower case).
	MAC string
	// FailoverIP names the FailoverIP the MAC comes from.
	FailoverIP string
	// Address is the FailoverIP's address as a /32, or its block.
	Address netip.Prefix
	// Gateway is the gateway of the server the IP is routed to.
	Gateway netip.Addr
	// Allowed are the addresses (or blocks) held by every FailoverIP bound
	// to this virtual MAC: OVH accepts traffic from these, and only these,
	// on the MAC.
	Allowed []netip.Prefix
	// Block6 and Gateway6 are the IPv6 block and gateway of the server the
	// IP is routed to (FailoverIP status.ipv6); invalid when not known.
	Block6   netip.Prefix
	Gateway6 netip.Addr
}

// GuestNIC is one interface of the guest, as VMware Tools list it.
type GuestNIC struct {
	MAC string
	// Addresses in CIDR notation; bare when Tools gave no prefix length.
	Addresses []string
}

// GuestRoute is one route of the guest, as Tools report it.
type GuestRoute struct {
	Network      string
	PrefixLength int
	// Gateway is "" (or 0.0.0.0) for a route on the link.
	Gateway string
	// Device is the position of the route's interface in the NIC list.
	Device string
}

// GuestState is what Tools report and what the guest needs: IPv4 (Guest)
// for every failover IP, and IPv6 (Guest6) for the server's block when the
// FailoverIPs know it, as IPv6 says.
type GuestState struct {
	VMName string
	// VNICMACs are the VM's vNICs' MACs, in vNIC order: a guest interface
	// is called eth<N> after the vNIC carrying its MAC.
	VNICMACs []string
	NICs     []GuestNIC
	Routes   []GuestRoute
	Want     []GuestWant
	// IPv6 is spec.guest.ipv6 (empty: IfConfigured).
	IPv6 v1.GuestIPv6
}

// guestAddr is one address of the guest; Bits is -1 when Tools gave none.
type guestAddr struct {
	Addr netip.Addr
	Bits int
}

func (a guestAddr) String() string {
	if a.Bits < 0 {
		return a.Addr.String()
	}
	return fmt.Sprintf("%s/%d", a.Addr, a.Bits)
}

func parseGuestAddrs(list []string) []guestAddr {
	var out []guestAddr
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, guestAddr{Addr: p.Addr(), Bits: p.Bits()})
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, guestAddr{Addr: a, Bits: -1})
		}
	}
	return out
}

type guestRoute struct {
	Dst     netip.Prefix
	Gateway netip.Addr // invalid on the link
	Device  int        // -1 unknown
}

func (r guestRoute) onLink() bool { return !r.Gateway.IsValid() || r.Gateway.IsUnspecified() }

func (r guestRoute) String(dev func(int) string) string {
	dst := r.Dst.String()
	switch {
	case r.Dst.Bits() == 0:
		dst = "default"
	case r.Dst.Bits() == 32:
		dst = r.Dst.Addr().String()
	}
	if r.onLink() {
		return fmt.Sprintf("%s dev %s", dst, dev(r.Device))
	}
	return fmt.Sprintf("%s via %s dev %s", dst, r.Gateway, dev(r.Device))
}

// ipv4Routes keeps the IPv4 routes Tools report.
func ipv4Routes(routes []GuestRoute) []guestRoute {
	var out []guestRoute
	for _, r := range routes {
		a, err := netip.ParseAddr(r.Network)
		if err != nil || !a.Is4() || r.PrefixLength < 0 || r.PrefixLength > 32 {
			continue
		}
		gr := guestRoute{Dst: netip.PrefixFrom(a, r.PrefixLength).Masked(), Device: -1}
		if gw, err := netip.ParseAddr(r.Gateway); err == nil {
			gr.Gateway = gw
		}
		if d, err := strconv.Atoi(r.Device); err == nil {
			gr.Device = d
		}
		out = append(out, gr)
	}
	return out
}

// linkLocal4 is IPv4's link-local range: a guest's autoconfigured address
// there is not one it answers the Internet with.
var linkLocal4 = netip.MustParsePrefix("169.254.0.0/16")

// Guest compares what Tools report from inside the guest with what its
// failover IPs need, IPv4 then IPv6 (Guest6). Findings come NIC by NIC (addresses, then the route to
// the gateway), then the default route, which is the guest's and not a
// NIC's: the order in which a person fixes them. Each message says what to
// run inside the guest; the interface is named eth<N> after the vNIC's
// position, with the MAC that identifies it whatever the guest calls it.
func Guest(s GuestState) []Finding {
	routes := ipv4Routes(s.Routes)
	devName := func(i int) string {
		if i < 0 || i >= len(s.NICs) {
			return "<unknown interface>"
		}
		for _, w := range s.Want {
			if strings.EqualFold(w.MAC, s.NICs[i].MAC) {
				return fmt.Sprintf("eth%d", w.Index)
			}
		}
		for v, mac := range s.VNICMACs {
			if strings.EqualFold(mac, s.NICs[i].MAC) {
				return fmt.Sprintf("eth%d", v)
			}
		}
		// A guest-side device (a bond, a bridge) no vNIC explains.
		return fmt.Sprintf("<the interface with MAC %s>", s.NICs[i].MAC)
	}
	var out []Finding
	var gateways []netip.Addr
	defaultDev := ""
	for _, w := range s.Want {
		g := guestCheck{s: s, w: w, routes: routes, dev: fmt.Sprintf("eth%d", w.Index), devName: devName, nic: -1}
		for i, n := range s.NICs {
			if strings.EqualFold(n.MAC, w.MAC) {
				g.nic = i
				break
			}
		}
		out = append(out, g.addresses()...)
		if g.nic < 0 {
			continue // no interface to route through: the address finding says so
		}
		out = append(out, g.gatewayRoute()...)
		if !containsAddr(gateways, w.Gateway) {
			gateways = append(gateways, w.Gateway)
			if defaultDev == "" {
				defaultDev = g.dev
			}
		}
	}
	if len(gateways) > 0 {
		out = append(out, defaultRoute(s.VMName, routes, gateways, defaultDev, devName)...)
	}
	// IPv6 after IPv4: the IPv4 reason, older and more often the cause,
	// names the condition.
	f6, _ := Guest6(s)
	return append(out, f6...)
}

// guestCheck checks one NIC taking its MAC from a FailoverIP.
type guestCheck struct {
	s       GuestState
	w       GuestWant
	routes  []guestRoute
	dev     string // eth<N>, the name the commands use
	devName func(int) string
	nic     int // position of the guest interface with the MAC; -1 none
}

func (g guestCheck) field() string { return "guest.nics[" + g.w.NIC + "]" }

// iface describes the interface for messages.
func (g guestCheck) iface() string {
	return fmt.Sprintf("the interface with MAC %s (%s in the commands: use the guest's own name for it)", g.w.MAC, g.dev)
}

func (g guestCheck) inside() string { return "inside the guest of VM " + g.s.VMName }

func (g guestCheck) addresses() []Finding {
	want, field := g.w.Address, g.field()+".addresses"
	wantText := want.String()
	if want.Bits() == 32 {
		wantText = want.Addr().String() + "/32"
	}
	var have []guestAddr
	if g.nic >= 0 {
		have = parseGuestAddrs(g.s.NICs[g.nic].Addresses)
	}
	observed := addrList(have)
	var out []Finding
	missing := Finding{
		Reason: v1.ReasonGuestAddressMissing, Field: field, Expected: wantText, Observed: observed,
		Message: fmt.Sprintf("%s, %s does not have %s (FailoverIP %s): run `ip addr add %s dev %s` and add it to the guest's network configuration",
			g.inside(), g.iface(), wantText, g.w.FailoverIP, wantText, g.dev),
	}
	if g.nic < 0 {
		missing.Observed = "no interface with MAC " + g.w.MAC
		missing.Message = fmt.Sprintf("%s, Tools report no interface with MAC %s (FailoverIP %s's virtual MAC): check that the guest brings up %s, then run `ip addr add %s dev %s`",
			g.inside(), g.w.MAC, g.w.FailoverIP, g.dev, wantText, g.dev)
		return []Finding{missing}
	}
	found := false
	for _, a := range have {
		if !a.Addr.Is4() || !want.Contains(a.Addr) {
			continue
		}
		found = true
		if want.Bits() == 32 && a.Bits >= 0 && a.Bits != 32 {
			// A wider prefix makes the guest take its neighbours in that
			// range for on-link hosts and ARP for them: OVH answers none.
			missing.Message = fmt.Sprintf("%s, %s has %s instead of %s: the guest takes the rest of that range for on-link hosts; run `ip addr del %s dev %s && ip addr add %s dev %s`",
				g.inside(), g.iface(), a, wantText, a, g.dev, wantText, g.dev)
			out = append(out, missing)
		}
	}
	if !found {
		for i, n := range g.s.NICs {
			if i == g.nic {
				continue
			}
			for _, a := range parseGuestAddrs(n.Addresses) {
				if a.Addr.Is4() && want.Contains(a.Addr) {
					found = true
					out = append(out, Finding{
						Reason: v1.ReasonGuestAddressOnWrongNIC, Field: field, Expected: wantText + " on MAC " + g.w.MAC,
						Observed: fmt.Sprintf("%s on MAC %s", a, n.MAC),
						Message: fmt.Sprintf("%s, %s is on the interface with MAC %s, but OVH delivers it only to FailoverIP %s's virtual MAC %s: run `ip addr del %s dev %s && ip addr add %s dev %s`",
							g.inside(), a, n.MAC, g.w.FailoverIP, g.w.MAC, a, g.devName(i), wantText, g.dev),
					})
				}
			}
		}
	}
	if !found {
		out = append(out, missing)
	}
	for _, a := range have {
		if !a.Addr.Is4() || linkLocal4.Contains(a.Addr) || coveredBy(g.w.Allowed, a.Addr) {
			continue
		}
		out = append(out, Finding{
			Reason: v1.ReasonGuestForeignAddress, Field: field, Expected: prefixList(g.w.Allowed), Observed: a.String(),
			Message: fmt.Sprintf("%s, %s also has %s, which no FailoverIP bound to virtual MAC %s holds: OVH drops (and may flag) traffic from it; run `ip addr del %s dev %s`, or bind that IP to this MAC with a FailoverIP",
				g.inside(), g.iface(), a, g.w.MAC, a, g.dev),
		})
	}
	return out
}

// gatewayRoute checks that the gateway, outside the /32, is on the link of
// the interface. A default route via the gateway on that interface counts
// too: Tools do not report route flags, and `default via GW dev eth0
// onlink` (netplan's on-link: true) needs no other route — it is taken for
// one, as a default route through an unreachable gateway could not have
// been added otherwise.
func (g guestCheck) gatewayRoute() []Finding {
	gw, dev := g.w.Gateway, strconv.Itoa(g.nic)
	elsewhere := -1
	for _, r := range g.routes {
		reaches := r.onLink() && r.Dst.Bits() > 0 && r.Dst.Contains(gw)
		viaGW := r.Dst.Bits() == 0 && !r.onLink() && r.Gateway == gw
		switch {
		case (reaches || viaGW) && strconv.Itoa(r.Device) == dev:
			return nil
		case reaches:
			elsewhere = r.Device
		}
	}
	f := Finding{
		Reason: v1.ReasonGuestGatewayRouteMissing, Field: "guest.routes[" + gw.String() + "]",
		Expected: fmt.Sprintf("%s dev %s", gw, g.dev), Observed: "(none)",
		Message: fmt.Sprintf("%s, there is no route to the gateway %s on %s: the gateway is outside the /32, so the guest cannot reach it (the write-up's `route add`); run `ip route add %s dev %s` and add it to the guest's network configuration, or the next reboot loses it again",
			g.inside(), gw, g.iface(), gw, g.dev),
	}
	if elsewhere >= 0 {
		f.Observed = fmt.Sprintf("%s dev %s", gw, g.devName(elsewhere))
		f.Message = fmt.Sprintf("%s, the route to the gateway %s leaves through %s, not %s: run `ip route del %s dev %s && ip route add %s dev %s`",
			g.inside(), gw, g.devName(elsewhere), g.iface(), gw, g.devName(elsewhere), gw, g.dev)
	}
	return []Finding{f}
}

// defaultRoute checks the guest's default route: via the gateway, never
// without one (every destination would be on the link: the guest ARPs for
// each, the flood OVH complained about in the write-up).
func defaultRoute(vm string, routes []guestRoute, gateways []netip.Addr, dev string, devName func(int) string) []Finding {
	gw := gateways[0]
	expected := fmt.Sprintf("default via %s", gw)
	field := "guest.routes[default]"
	var other *guestRoute
	for _, r := range routes {
		if r.Dst.Bits() == 0 && r.onLink() {
			// Whatever other default routes there are, the kernel may pick
			// this one (Tools report no metrics).
			return []Finding{{
				Reason: v1.ReasonGuestDefaultRouteWithoutGateway, Field: field, Expected: expected, Observed: r.String(devName),
				Message: fmt.Sprintf("inside the guest of VM %s, the default route has no gateway (%s): the guest ARPs for every destination, the ARP flood OVH complains about; run `ip route del default dev %s && ip route add default via %s` (with the route to the gateway, `ip route add %s dev %s`, in place first)",
					vm, r.String(devName), devName(r.Device), gw, gw, dev),
			}}
		}
	}
	for i, r := range routes {
		if r.Dst.Bits() != 0 {
			continue
		}
		if containsAddr(gateways, r.Gateway) {
			return nil
		}
		other = &routes[i]
	}
	if other != nil {
		return []Finding{{
			Reason: v1.ReasonGuestDefaultRouteMissing, Field: field, Expected: expected, Observed: other.String(devName),
			Message: fmt.Sprintf("inside the guest of VM %s, the default route goes via %s, not via the server's gateway %s: replies from the failover IP leave the wrong way; run `ip route replace default via %s` and make it the guest's configured gateway",
				vm, other.Gateway, gw, gw),
		}}
	}
	return []Finding{{
		Reason: v1.ReasonGuestDefaultRouteMissing, Field: field, Expected: expected, Observed: "(none)",
		Message: fmt.Sprintf("inside the guest of VM %s, there is no default route: nothing beyond the server's gateway is reachable; run `ip route add default via %s` (after the route to the gateway) and make it the guest's configured gateway",
			vm, gw),
	}}
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

func coveredBy(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func addrList(as []guestAddr) string {
	var parts []string
	for _, a := range as {
		if a.Addr.Is4() {
			parts = append(parts, a.String())
		}
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, ", ")
}

func prefixList(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}
