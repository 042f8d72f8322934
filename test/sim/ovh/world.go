package ovhsim

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// World is what the simulator knows: credentials, servers, IPs and virtual
// MACs. It seeds a Server (Options.World, LoadWorld for YAML) and is what
// Server.World returns, so a test can assert the state it drove the API into.
type World struct {
	Applications []Application     `json:"applications,omitempty"`
	AccessTokens []string          `json:"accessTokens,omitempty"`
	Servers      []DedicatedServer `json:"servers,omitempty"`
	IPs          []IP              `json:"ips,omitempty"`
	VirtualMACs  []VirtualMAC      `json:"virtualMacs,omitempty"`
	// Reverses are the reverse DNS names (PTR) OVH serves for addresses of
	// the IPs above.
	Reverses []Reverse `json:"reverses,omitempty"`
	// DNS is forward DNS as OVH's resolvers see it: OVH sets a reverse only
	// when its name resolves to the address (see createReverse).
	DNS []DNSRecord `json:"dns,omitempty"`
}

// Reverse is the reverse DNS name of one address.
type Reverse struct {
	IP      string `json:"ip"`
	Reverse string `json:"reverse"`
}

// DNSRecord is a name and the IPv4 addresses it resolves to (A records).
type DNSRecord struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
}

// Application is an OVH API application (application key and secret) and the
// consumer keys made for it: ConsumerKeys are validated and granted every
// call (GET, POST, PUT and DELETE on "/*"); Credentials say their rules and
// state.
type Application struct {
	Key          string       `json:"key"`
	Secret       string       `json:"secret"`
	ConsumerKeys []string     `json:"consumerKeys,omitempty"`
	Credentials  []Credential `json:"credentials,omitempty"`
}

// Credential is a consumer key with its access rules and state.
type Credential struct {
	ConsumerKey string `json:"consumerKey"`
	// Rules default to every call (nil); an empty list grants nothing.
	Rules []AccessRule `json:"rules"`
	// State defaults to CredentialValidated.
	State string `json:"state,omitempty"`
}

// DedicatedServer is one rented server.
type DedicatedServer struct {
	Name   string `json:"name"`
	MainIP string `json:"mainIP"`
	// Gateway defaults to the .254 of the main IP's /24, OVH's historical rule.
	Gateway string `json:"gateway,omitempty"`
	// Network defaults to the main IP's /24.
	Network    string `json:"network,omitempty"`
	Datacenter string `json:"datacenter,omitempty"`
	// VirtualMACSupported defaults to true, except under the Kimsufi profile
	// where it is always false.
	VirtualMACSupported *bool `json:"vmacSupported,omitempty"`
	VirtualMACQuota     int   `json:"vmacQuota,omitempty"`
	// IPv6 is the server's IPv6 block (every OVH dedicated server has one,
	// listed by GET /ip with its main IP). Default: a /64 in 2001:db8::/32
	// derived from the name.
	IPv6 string `json:"ipv6,omitempty"`
	// IPv6Gateway is what routing.ipv6.gateway answers, exactly as given
	// (OVH may spell it with leading zeros, or answer fe80::1 on newer
	// ranges). Default: the older ranges' rule, see ipv6Gateway.
	IPv6Gateway string `json:"ipv6Gateway,omitempty"`
}

// IP is an additional IP block. A bare address means its /32.
type IP struct {
	IP          string `json:"ip"`
	Type        string `json:"type,omitempty"`     // default "failover"
	RoutedTo    string `json:"routedTo,omitempty"` // empty: parked
	Description string `json:"description,omitempty"`
	Country     string `json:"country,omitempty"`
}

// VirtualMAC is a virtual MAC of a server and the IPs bound to it.
type VirtualMAC struct {
	Server    string           `json:"server"`
	MAC       string           `json:"mac"`
	Type      string           `json:"type"` // "ovh" or "vmware"
	Addresses []VirtualAddress `json:"addresses,omitempty"`
}

// VirtualAddress is one IP bound to a virtual MAC.
type VirtualAddress struct {
	IP                 string `json:"ip"`
	VirtualMachineName string `json:"virtualMachineName,omitempty"`
}

// LoadWorld reads a World from a YAML (or JSON) file.
func LoadWorld(path string) (World, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return World{}, err
	}
	var w World
	if err := yaml.UnmarshalStrict(data, &w); err != nil {
		return World{}, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// The simulator's live state. Every access happens under Server.mu.
type state struct {
	servers    map[string]*dedicated
	ips        map[string]*ipBlock // by canonical block
	tasks      map[int64]*task
	nextTaskID int64
	macSeq     uint32
	// reverses maps an address to its reverse, fully qualified as OVH
	// serves it ("mail.example.com.").
	reverses map[string]string
	// dns maps a name (lower case, no trailing dot) to its addresses.
	dns map[string][]string
	// appearing are moved virtual MACs not on their new server yet.
	appearing []appearing
}

type dedicated struct {
	name          string
	datacenter    string
	mainIP        netip.Addr
	gateway       netip.Addr
	network       netip.Prefix
	ipv6          netip.Prefix
	ipv6Gateway   string // as OVH would spell it; "" for the rule's
	vmacSupported bool
	vmacQuota     int
	macs          map[string]*vmac
}

type vmac struct {
	mac   string
	typ   string
	addrs map[string]string // bound IP -> virtual machine name
	// binding holds IPs whose bind task is not done yet: they already count
	// for "one virtual MAC per IP" but are not listed.
	binding map[string]string
	// creating is true until the creation task is done.
	creating bool
}

type ipBlock struct {
	prefix      netip.Prefix
	typ         string
	routedTo    string
	description string
	country     string
	moveTask    int64 // unfinished move task, 0 if none
	own         bool  // a server's main IP or IPv6 block, never stored in state.ips
}

// firstTaskID is deliberately beyond int32: real task ids are large and a
// client that stores them in 32 bits must fail here, not in production.
const firstTaskID = 4_100_000_000

func newState() *state {
	return &state{
		servers:    map[string]*dedicated{},
		ips:        map[string]*ipBlock{},
		tasks:      map[int64]*task{},
		nextTaskID: firstTaskID,
		reverses:   map[string]string{},
		dns:        map[string][]string{},
	}
}

// parseBlock accepts "203.0.113.123", "203.0.113.123/32" or a wider block and
// returns the canonical block.
func parseBlock(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func normalizeMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("invalid MAC %q", s)
	}
	return strings.ToLower(hw.String()), nil
}

func validMACType(t string) bool { return t == "ovh" || t == "vmware" }

// seed loads w into an empty state.
func (st *state) seed(w World, profile Profile) error {
	for _, s := range w.Servers {
		if err := st.addServer(s, profile); err != nil {
			return err
		}
	}
	for _, ip := range w.IPs {
		if err := st.addIP(ip); err != nil {
			return err
		}
	}
	for _, m := range w.VirtualMACs {
		if err := st.addVirtualMAC(m); err != nil {
			return err
		}
	}
	for _, r := range w.DNS {
		if err := st.setDNS(r.Name, r.Addresses...); err != nil {
			return err
		}
	}
	for _, r := range w.Reverses {
		addr, err := netip.ParseAddr(r.IP)
		if err != nil {
			return fmt.Errorf("reverse of %q: not an IP address", r.IP)
		}
		if st.blockOf(addr) == nil && st.ownerOf(netip.PrefixFrom(addr, addr.BitLen())) == nil {
			return fmt.Errorf("reverse of %s: no IP block holds it", addr)
		}
		st.reverses[addr.String()] = fqdn(r.Reverse)
	}
	return nil
}

func (st *state) addServer(s DedicatedServer, profile Profile) error {
	if s.Name == "" {
		return fmt.Errorf("server without a name")
	}
	if _, dup := st.servers[s.Name]; dup {
		return fmt.Errorf("server %s declared twice", s.Name)
	}
	d := &dedicated{name: s.Name, datacenter: s.Datacenter, vmacQuota: s.VirtualMACQuota, macs: map[string]*vmac{}}
	if err := d.setNetwork(s.MainIP, s.Gateway, s.Network); err != nil {
		return fmt.Errorf("server %s: %w", s.Name, err)
	}
	if err := d.setIPv6(s.IPv6); err != nil {
		return fmt.Errorf("server %s: %w", s.Name, err)
	}
	if err := d.setIPv6Gateway(s.IPv6Gateway); err != nil {
		return fmt.Errorf("server %s: %w", s.Name, err)
	}
	d.vmacSupported = profile != ProfileKimsufi
	if s.VirtualMACSupported != nil && profile != ProfileKimsufi {
		d.vmacSupported = *s.VirtualMACSupported
	}
	if d.vmacQuota == 0 && d.vmacSupported {
		d.vmacQuota = 256
	}
	if d.datacenter == "" {
		d.datacenter = "rbx"
	}
	st.servers[s.Name] = d
	return nil
}

// setNetwork applies the defaults OVH customers learned to rely on: the
// gateway is the .254 of the main IP's /24. Newer ranges break that rule,
// which is why a test can set the gateway explicitly.
func (d *dedicated) setNetwork(mainIP, gateway, network string) error {
	main, err := netip.ParseAddr(mainIP)
	if err != nil || !main.Is4() {
		return fmt.Errorf("main IP %q is not an IPv4 address", mainIP)
	}
	d.mainIP = main
	if network == "" {
		d.network = netip.PrefixFrom(main, 24).Masked()
	} else if d.network, err = netip.ParsePrefix(network); err != nil {
		return fmt.Errorf("network %q: %w", network, err)
	}
	if gateway == "" {
		b := main.As4()
		b[3] = 254
		d.gateway = netip.AddrFrom4(b)
	} else if d.gateway, err = netip.ParseAddr(gateway); err != nil {
		return fmt.Errorf("gateway %q: %w", gateway, err)
	}
	return nil
}

// setIPv6 sets the server's IPv6 block, by default a /64 of the
// documentation range derived from the server's name.
func (d *dedicated) setIPv6(block string) error {
	if block == "" {
		h := fnv.New32a()
		_, _ = h.Write([]byte(d.name))
		sum := h.Sum32()
		block = fmt.Sprintf("2001:db8:%x:%x::/64", sum>>16, sum&0xffff)
	}
	p, err := netip.ParsePrefix(block)
	if err != nil || !p.Addr().Is6() {
		return fmt.Errorf("IPv6 block %q is not an IPv6 prefix", block)
	}
	d.ipv6 = p.Masked()
	return nil
}

// setIPv6Gateway sets what routing.ipv6.gateway answers ("" for the
// older ranges' rule).
func (d *dedicated) setIPv6Gateway(gw string) error {
	if gw != "" {
		if a, err := netip.ParseAddr(gw); err != nil || !a.Is6() {
			return fmt.Errorf("IPv6 gateway %q is not an IPv6 address", gw)
		}
	}
	d.ipv6Gateway = gw
	return nil
}

// ipv6GatewayText is routing.ipv6.gateway as OVH spells it.
func (d *dedicated) ipv6GatewayText() string {
	if d.ipv6Gateway != "" {
		return d.ipv6Gateway
	}
	return ipv6Gateway(d.ipv6).String()
}

// ownBlocks are the blocks that come with a server and never move: its main
// IPv4 address (as a /32) and its IPv6 block.
func (d *dedicated) ownBlocks() []netip.Prefix {
	return []netip.Prefix{netip.PrefixFrom(d.mainIP, 32), d.ipv6}
}

func (st *state) addIP(ip IP) error {
	p, err := parseBlock(ip.IP)
	if err != nil {
		return fmt.Errorf("ip %q: %w", ip.IP, err)
	}
	if _, dup := st.ips[p.String()]; dup {
		return fmt.Errorf("ip %s declared twice", p)
	}
	if owner := st.ownerOf(p); owner != nil {
		return fmt.Errorf("ip %s is server %s's own", p, owner.name)
	}
	if ip.RoutedTo != "" {
		if _, ok := st.servers[ip.RoutedTo]; !ok {
			return fmt.Errorf("ip %s routed to unknown server %s", p, ip.RoutedTo)
		}
	}
	typ := ip.Type
	if typ == "" {
		typ = "failover"
	}
	country := ip.Country
	if country == "" {
		country = "fr"
	}
	st.ips[p.String()] = &ipBlock{prefix: p, typ: typ, routedTo: ip.RoutedTo, description: ip.Description, country: country}
	return nil
}

func (st *state) addVirtualMAC(m VirtualMAC) error {
	d, ok := st.servers[m.Server]
	if !ok {
		return fmt.Errorf("virtual MAC %s on unknown server %s", m.MAC, m.Server)
	}
	if !d.vmacSupported {
		return fmt.Errorf("server %s does not support virtual MACs", m.Server)
	}
	mac, err := normalizeMAC(m.MAC)
	if err != nil {
		return err
	}
	if !validMACType(m.Type) {
		return fmt.Errorf("virtual MAC %s: type %q is neither ovh nor vmware", mac, m.Type)
	}
	if _, _, taken := st.findMAC(mac); taken {
		return fmt.Errorf("virtual MAC %s declared twice", mac)
	}
	v := &vmac{mac: mac, typ: m.Type, addrs: map[string]string{}, binding: map[string]string{}}
	for _, a := range m.Addresses {
		addr, err := netip.ParseAddr(a.IP)
		if err != nil || !addr.Is4() {
			return fmt.Errorf("virtual MAC %s: %q is not an IPv4 address", mac, a.IP)
		}
		if b := st.blockOf(addr); b == nil || b.routedTo != d.name {
			return fmt.Errorf("virtual MAC %s: %s is not routed to %s", mac, addr, d.name)
		}
		if owner := st.macOfIP(d, addr.String()); owner != nil {
			return fmt.Errorf("virtual MAC %s: %s already has virtual MAC %s", mac, addr, owner.mac)
		}
		v.addrs[addr.String()] = a.VirtualMachineName
	}
	d.macs[mac] = v
	return nil
}

// ownerOf returns the server a block comes with, if any.
func (st *state) ownerOf(p netip.Prefix) *dedicated {
	for _, d := range st.servers {
		for _, own := range d.ownBlocks() {
			if own == p {
				return d
			}
		}
	}
	return nil
}

// findMAC looks a MAC up on every server.
func (st *state) findMAC(mac string) (*dedicated, *vmac, bool) {
	for _, d := range st.servers {
		if v, ok := d.macs[mac]; ok {
			return d, v, true
		}
	}
	return nil, nil, false
}

// blockOf returns the additional IP block containing addr, if any.
func (st *state) blockOf(addr netip.Addr) *ipBlock {
	var best *ipBlock
	for _, b := range st.ips {
		if b.prefix.Contains(addr) && (best == nil || b.prefix.Bits() > best.prefix.Bits()) {
			best = b
		}
	}
	return best
}

// macOfIP returns the virtual MAC of d carrying (or being bound to) ip.
func (st *state) macOfIP(d *dedicated, ip string) *vmac {
	for _, v := range d.macs {
		if _, ok := v.addrs[ip]; ok {
			return v
		}
		if _, ok := v.binding[ip]; ok {
			return v
		}
	}
	return nil
}

// routedBlocks lists the blocks routed to a server, sorted.
func (st *state) routedBlocks(server string) []string {
	var out []string
	for k, b := range st.ips {
		if b.routedTo == server {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// world renders the state back into seed form.
func (st *state) world(auth *authRegistry) World {
	var w World
	if auth != nil {
		w.Applications, w.AccessTokens = auth.export()
	}
	names := make([]string, 0, len(st.servers))
	for n := range st.servers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := st.servers[n]
		supported := d.vmacSupported
		w.Servers = append(w.Servers, DedicatedServer{
			Name: d.name, MainIP: d.mainIP.String(), Gateway: d.gateway.String(), Network: d.network.String(),
			Datacenter: d.datacenter, VirtualMACSupported: &supported, VirtualMACQuota: d.vmacQuota, IPv6: d.ipv6.String(),
			IPv6Gateway: d.ipv6Gateway,
		})
		macs := make([]string, 0, len(d.macs))
		for m := range d.macs {
			macs = append(macs, m)
		}
		sort.Strings(macs)
		for _, m := range macs {
			v := d.macs[m]
			if v.creating {
				continue
			}
			vm := VirtualMAC{Server: d.name, MAC: v.mac, Type: v.typ}
			for _, ip := range sortedKeys(v.addrs) {
				vm.Addresses = append(vm.Addresses, VirtualAddress{IP: ip, VirtualMachineName: v.addrs[ip]})
			}
			w.VirtualMACs = append(w.VirtualMACs, vm)
		}
	}
	for _, k := range sortedKeys(st.ips) {
		b := st.ips[k]
		w.IPs = append(w.IPs, IP{IP: k, Type: b.typ, RoutedTo: b.routedTo, Description: b.description, Country: b.country})
	}
	for _, ip := range sortedKeys(st.reverses) {
		w.Reverses = append(w.Reverses, Reverse{IP: ip, Reverse: st.reverses[ip]})
	}
	for _, name := range sortedKeys(st.dns) {
		w.DNS = append(w.DNS, DNSRecord{Name: name, Addresses: append([]string(nil), st.dns[name]...)})
	}
	return w
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
