package router

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// GatewayRouteMode is how the WAN gateway route and the default route are
// installed.
type GatewayRouteMode string

const (
	// InterfaceRouteMode configures them as static routes in the router's
	// configuration (correct with FRR, the seed's bug with Vyatta's Quagga).
	InterfaceRouteMode GatewayRouteMode = "InterfaceRoute"
	// BootScriptMode keeps them out of the configuration and installs them
	// with `ip route replace` from the post-config boot script — the
	// workaround for Vyatta 6.x.
	BootScriptMode GatewayRouteMode = "BootScript"
)

// Desired is the router state a RouterConfig asks for, already resolved
// (failover IP references replaced by addresses, Auto mode by a concrete one).
type Desired struct {
	Interfaces     []Interface
	WAN            WAN
	SourceNAT      []SourceNATRule
	DestinationNAT []DestinationNATRule
}

// Interface is one ethernet interface's owned settings.
type Interface struct {
	Name        string   // eth1
	Addresses   []string // 10.0.10.254/24
	Description string   // empty: description not owned
	// RouterAdvert sends router advertisements for the prefixes of the
	// interface's IPv6 addresses (owned only when set).
	RouterAdvert bool
}

// WAN names the uplink and OVH's gateway for it.
type WAN struct {
	Interface string // eth2
	Gateway   string // 198.51.100.254: the server's /24 .254, off-link for a /32 failover IP
	// Gateway6 is the server's IPv6 gateway (empty: IPv6 not owned): the
	// /56's last addresses, off-link for the server's /64 as the IPv4
	// gateway is for a /32, or fe80::1, on-link by definition.
	Gateway6 string
	// NDPProxy are addresses behind the router it answers neighbour
	// solicitations for on the WAN (owned each, only when listed).
	NDPProxy []string
	Mode     GatewayRouteMode
}

// SourceNATRule is one `nat source rule`.
type SourceNATRule struct {
	Rule              int
	Description       string
	OutboundInterface string
	SourceAddress     string // prefix, optional
	Translation       string // address, prefix, or "masquerade" (default)
}

// DestinationNATRule is one `nat destination rule` (port forwarding).
type DestinationNATRule struct {
	Rule               int
	Description        string
	InboundInterface   string
	Protocol           string // tcp, udp, tcp_udp; optional
	Port               string // destination port(s), optional
	TranslationAddress string
	TranslationPort    string // optional
}

// Rendered is the platform-specific form of a Desired state.
type Rendered struct {
	Platform Platform
	// Config is the desired owned configuration.
	Config Config
	// Owned are the prefixes the operator may read and change; everything
	// else on the router is left byte-for-byte alone.
	Owned []Path
	// BootRoutes are the kernel routes the boot script installs (BootScript
	// mode only), in the order they must be added: the on-link gateway route
	// before the default route that needs it.
	BootRoutes []Route
	// BootScriptBlock is the managed section of the boot script for
	// BootRoutes (empty unless BootScript mode).
	BootScriptBlock string
	// BootScriptPath is where the platform looks for the boot script.
	BootScriptPath string
}

var ifaceName = regexp.MustCompile(`^eth[0-9]{1,4}$`)

// Render produces the owned configuration, owned prefixes and boot-script
// routes for d on platform p, in the exact syntax the platform expects (the
// per-release statements are in platform.go and the syntax notes above each
// rule below). Invalid input is a cause.Invalid error.
func Render(p Platform, d Desired) (Rendered, error) {
	if !p.Valid() {
		return Rendered{}, invalid("Render", fmt.Sprintf("unknown platform %q", p), nil)
	}
	r := Rendered{Platform: p, BootScriptPath: p.BootScriptPath()}
	var lines []Path
	add := func(words ...string) { lines = append(lines, Path(words)) }
	own := func(words ...string) { r.Owned = append(r.Owned, Path(words)) }

	seenIface := map[string]bool{}
	for _, in := range d.Interfaces {
		if !ifaceName.MatchString(in.Name) {
			return Rendered{}, invalid("Render", fmt.Sprintf("interface %q: only ethernet interfaces (ethN) are supported", in.Name), nil)
		}
		if seenIface[in.Name] {
			return Rendered{}, invalid("Render", fmt.Sprintf("interface %q listed twice", in.Name), nil)
		}
		seenIface[in.Name] = true
		own("interfaces", "ethernet", in.Name, "address")
		for _, a := range in.Addresses {
			// IPv4 and IPv6 share the address leaf on every platform
			// (vyos-1x interface-definitions/interfaces-ethernet.xml.in,
			// include/interface/address-ipv4-ipv6-dhcp.xml.i: ipv4net or
			// ipv6net; Vyatta 6.5 the same, vyatta-cfg-system
			// templates/interfaces/ethernet/node.tag/address).
			pfx, err := netip.ParsePrefix(a)
			if err != nil || pfx.Addr().Is4In6() || pfx.Addr().Is6() && pfx.Addr().IsLinkLocalUnicast() {
				return Rendered{}, invalid("Render", fmt.Sprintf("interface %s: address %q is not an IPv4 or global IPv6 address/prefix-length", in.Name, a), nil)
			}
			add("interfaces", "ethernet", in.Name, "address", pfx.String())
		}
		if in.RouterAdvert {
			if err := renderRouterAdvert(p, in, add, own); err != nil {
				return Rendered{}, err
			}
		}
		if in.Description != "" {
			if err := checkText(p, in.Description); err != nil {
				return Rendered{}, invalid("Render", fmt.Sprintf("interface %s description: %v", in.Name, err), nil)
			}
			own("interfaces", "ethernet", in.Name, "description")
			add("interfaces", "ethernet", in.Name, "description", in.Description)
		}
	}

	if d.WAN.Interface != "" || d.WAN.Gateway != "" {
		if !ifaceName.MatchString(d.WAN.Interface) {
			return Rendered{}, invalid("Render", fmt.Sprintf("WAN interface %q: only ethernet interfaces (ethN) are supported", d.WAN.Interface), nil)
		}
		gw, err := netip.ParseAddr(d.WAN.Gateway)
		if err != nil || !gw.Is4() {
			return Rendered{}, invalid("Render", fmt.Sprintf("WAN gateway %q is not an IPv4 address", d.WAN.Gateway), nil)
		}
		g, dev := gw.String(), d.WAN.Interface
		// Every spelling of "route to the gateway" and "default route" the
		// platform has is owned, so that switching modes (or fixing the
		// seed's 2013 configuration) deletes the old form.
		own("protocols", "static", "route", "0.0.0.0/0")
		own("protocols", "static", "route", g+"/32")
		if p == Vyatta6 || p == VyOS13 {
			own("protocols", "static", "interface-route", g+"/32")
		}
		if p == Vyatta6 {
			// gateway-address is Vyatta's other spelling of a default
			// route, and half of the seed's bug.
			own("system", "gateway-address")
		}
		switch d.WAN.Mode {
		case InterfaceRouteMode:
			if p == Vyatta6 || p == VyOS13 {
				add("protocols", "static", "interface-route", g+"/32", "next-hop-interface", dev)
			} else {
				add("protocols", "static", "route", g+"/32", "interface", dev)
			}
			add("protocols", "static", "route", "0.0.0.0/0", "next-hop", g)
		case BootScriptMode:
			r.BootRoutes = []Route{
				{Dst: g, Dev: dev, Scope: "link"},
				{Dst: "default", Gateway: g, Dev: dev},
			}
			r.BootScriptBlock = bootScriptBlock(r.BootRoutes)
		default:
			return Rendered{}, invalid("Render", fmt.Sprintf("gateway route mode %q: want %s or %s (resolve Auto first)", d.WAN.Mode, InterfaceRouteMode, BootScriptMode), nil)
		}
	}

	if d.WAN.Gateway6 != "" {
		boot, err := renderGateway6(p, d.WAN, add, own)
		if err != nil {
			return Rendered{}, err
		}
		r.BootRoutes = append(r.BootRoutes, boot...)
		if d.WAN.Mode == BootScriptMode {
			r.BootScriptBlock = bootScriptBlock(r.BootRoutes)
		}
	}
	if len(d.WAN.NDPProxy) > 0 {
		if err := renderNDPProxy(p, d.WAN, add, own); err != nil {
			return Rendered{}, err
		}
	}

	// VyOS 1.4 made the NAT interface a node ("outbound-interface name
	// eth2") to allow interface groups.
	ifaceWords := func(node, name string) []string {
		if p == VyOS14 || p == VyOS15 {
			return []string{node, "name", name}
		}
		return []string{node, name}
	}
	seenRule := map[string]bool{}
	checkRule := func(kind string, n int) error {
		if n < 1 || n > 9999 {
			return invalid("Render", fmt.Sprintf("%s NAT rule %d: rule numbers go from 1 to 9999", kind, n), nil)
		}
		k := kind + strconv.Itoa(n)
		if seenRule[k] {
			return invalid("Render", fmt.Sprintf("%s NAT rule %d listed twice", kind, n), nil)
		}
		seenRule[k] = true
		return nil
	}
	for _, s := range d.SourceNAT {
		if err := checkRule("source", s.Rule); err != nil {
			return Rendered{}, err
		}
		rule := []string{"nat", "source", "rule", strconv.Itoa(s.Rule)}
		own(rule...)
		at := func(words ...string) { add(append(append([]string{}, rule...), words...)...) }
		if s.Description != "" {
			if err := checkText(p, s.Description); err != nil {
				return Rendered{}, invalid("Render", fmt.Sprintf("source NAT rule %d description: %v", s.Rule, err), nil)
			}
			at("description", s.Description)
		}
		if !ifaceName.MatchString(s.OutboundInterface) {
			return Rendered{}, invalid("Render", fmt.Sprintf("source NAT rule %d: outbound interface %q is not ethN", s.Rule, s.OutboundInterface), nil)
		}
		at(ifaceWords("outbound-interface", s.OutboundInterface)...)
		if s.SourceAddress != "" {
			a, err := natAddress(p, s.SourceAddress)
			if err != nil {
				return Rendered{}, invalid("Render", fmt.Sprintf("source NAT rule %d source address: %v", s.Rule, err), nil)
			}
			at("source", "address", a)
		}
		tr := s.Translation
		if tr == "" {
			tr = "masquerade"
		}
		if tr != "masquerade" {
			a, err := natAddress(p, tr)
			if err != nil {
				return Rendered{}, invalid("Render", fmt.Sprintf("source NAT rule %d translation: %v", s.Rule, err), nil)
			}
			tr = a
		}
		at("translation", "address", tr)
	}
	for _, dn := range d.DestinationNAT {
		if err := checkRule("destination", dn.Rule); err != nil {
			return Rendered{}, err
		}
		rule := []string{"nat", "destination", "rule", strconv.Itoa(dn.Rule)}
		own(rule...)
		at := func(words ...string) { add(append(append([]string{}, rule...), words...)...) }
		if dn.Description != "" {
			if err := checkText(p, dn.Description); err != nil {
				return Rendered{}, invalid("Render", fmt.Sprintf("destination NAT rule %d description: %v", dn.Rule, err), nil)
			}
			at("description", dn.Description)
		}
		if !ifaceName.MatchString(dn.InboundInterface) {
			return Rendered{}, invalid("Render", fmt.Sprintf("destination NAT rule %d: inbound interface %q is not ethN", dn.Rule, dn.InboundInterface), nil)
		}
		at(ifaceWords("inbound-interface", dn.InboundInterface)...)
		if dn.Protocol != "" {
			switch dn.Protocol {
			case "tcp", "udp", "tcp_udp":
			default:
				return Rendered{}, invalid("Render", fmt.Sprintf("destination NAT rule %d: protocol %q (want tcp, udp or tcp_udp)", dn.Rule, dn.Protocol), nil)
			}
			at("protocol", dn.Protocol)
		}
		if dn.Port != "" {
			if err := checkPorts(dn.Port); err != nil {
				return Rendered{}, invalid("Render", fmt.Sprintf("destination NAT rule %d port: %v", dn.Rule, err), nil)
			}
			at("destination", "port", dn.Port)
		}
		a, err := netip.ParseAddr(dn.TranslationAddress)
		if err != nil || !a.Is4() {
			return Rendered{}, invalid("Render", fmt.Sprintf("destination NAT rule %d: translation address %q is not an IPv4 address", dn.Rule, dn.TranslationAddress), nil)
		}
		at("translation", "address", a.String())
		if dn.TranslationPort != "" {
			if err := checkPorts(dn.TranslationPort); err != nil {
				return Rendered{}, invalid("Render", fmt.Sprintf("destination NAT rule %d translation port: %v", dn.Rule, err), nil)
			}
			at("translation", "port", dn.TranslationPort)
		}
	}
	r.Config = NewConfig(lines...)
	return r, nil
}

// renderGateway6 renders the IPv6 pair of the WAN gateway routes: an on-link
// route to the gateway (none for a link-local one, on-link by definition)
// and the default via it — OVH's guide's two `ip -f inet6 route add` lines
// (ovh/docs pages/bare_metal_cloud/dedicated_servers/network_ipv6/
// guide.en-gb.md) in each platform's syntax:
//   - Vyatta 6.5 and VyOS 1.3: `protocols static interface-route6 GW/128
//     next-hop-interface eth2`, `protocols static route6 ::/0 next-hop GW
//     [interface eth2]` (vyos/vyatta-cfg-quagga templates/protocols/static/
//     interface-route6 and route6, branches pacifica and equuleus; the
//     `interface` child of next-hop exists on both);
//   - VyOS 1.4 and 1.5: `protocols static route6 GW/128 interface eth2`,
//     `protocols static route6 ::/0 next-hop GW [interface eth2]` (vyos-1x
//     interface-definitions/include/static/static-route6.xml.i, sagitta and
//     circinus).
//
// A link-local next hop names its interface (the kernel needs one to
// choose the link). In BootScript mode the same two routes are `ip -6 route
// replace` lines: on Vyatta 6.5 the next hop resolved through the
// interface route is expected to meet IPv4's Quagga bug (a default route
// without its gateway: the NDP flood) — inferred from the IPv4 bug, not
// observed; every spelling is owned so that switching modes deletes it.
func renderGateway6(p Platform, w WAN, add, own func(...string)) ([]Route, error) {
	gw, err := netip.ParseAddr(w.Gateway6)
	if err != nil || !gw.Is6() || gw.Is4In6() || gw.IsMulticast() || gw.IsUnspecified() {
		return nil, invalid("Render", fmt.Sprintf("WAN IPv6 gateway %q is not an IPv6 unicast address", w.Gateway6), nil)
	}
	if !ifaceName.MatchString(w.Interface) {
		return nil, invalid("Render", fmt.Sprintf("WAN interface %q: only ethernet interfaces (ethN) are supported", w.Interface), nil)
	}
	g, dev, linkLocal := gw.String(), w.Interface, gw.IsLinkLocalUnicast()
	oldSyntax := p == Vyatta6 || p == VyOS13
	own("protocols", "static", "route6", "::/0")
	if !linkLocal {
		own("protocols", "static", "route6", g+"/128")
		if oldSyntax {
			own("protocols", "static", "interface-route6", g+"/128")
		}
	}
	switch w.Mode {
	case InterfaceRouteMode:
		if !linkLocal {
			if oldSyntax {
				add("protocols", "static", "interface-route6", g+"/128", "next-hop-interface", dev)
			} else {
				add("protocols", "static", "route6", g+"/128", "interface", dev)
			}
			add("protocols", "static", "route6", "::/0", "next-hop", g)
		} else {
			add("protocols", "static", "route6", "::/0", "next-hop", g, "interface", dev)
		}
		return nil, nil
	case BootScriptMode:
		var routes []Route
		if !linkLocal {
			routes = append(routes, Route{Dst: g, Dev: dev})
		}
		return append(routes, Route{Dst: "default", Gateway: g, Dev: dev}), nil
	}
	return nil, invalid("Render", fmt.Sprintf("gateway route mode %q: want %s or %s (resolve Auto first)", w.Mode, InterfaceRouteMode, BootScriptMode), nil)
}

// renderRouterAdvert advertises the prefixes of an interface's IPv6
// addresses to the machines on its link:
//   - VyOS 1.3 to 1.5: `service router-advert interface ethN prefix P`
//     (vyos-1x interface-definitions/service_router-advert.xml.in, branches
//     equuleus, sagitta and circinus: radvd with the prefix's on-link and
//     autonomous flags on by default);
//   - Vyatta 6.5: `interfaces ethernet ethN ipv6 router-advert prefix P`
//     (vyos-legacy/vyatta-ipv6-rtradv interface-templates/ipv6/
//     router-advert/prefix/node.def, the Vyatta-era package; send-advert
//     defaults to true once router-advert exists).
//
// Only the interface's own advertisement node is owned, and only while
// asked for: other interfaces' advertisements are the user's.
func renderRouterAdvert(p Platform, in Interface, add, own func(...string)) error {
	var prefixes []string
	seen := map[string]bool{}
	for _, a := range in.Addresses {
		pfx, err := netip.ParsePrefix(a)
		if err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6() {
			continue
		}
		if m := pfx.Masked().String(); !seen[m] {
			seen[m] = true
			prefixes = append(prefixes, m)
		}
	}
	if len(prefixes) == 0 {
		return invalid("Render", fmt.Sprintf("interface %s: router advertisements need an IPv6 address to take the prefix from", in.Name), nil)
	}
	node := []string{"service", "router-advert", "interface", in.Name}
	if p == Vyatta6 {
		node = []string{"interfaces", "ethernet", in.Name, "ipv6", "router-advert"}
	}
	own(node...)
	for _, pfx := range prefixes {
		add(append(append([]string{}, node...), "prefix", pfx)...)
	}
	return nil
}

// renderNDPProxy makes the router answer neighbour solicitations on the WAN
// for addresses behind it. OVH routes the server's block on-link on the
// WAN (its guide configures the block's addresses on the interface
// itself: ovh/docs pages/bare_metal_cloud/dedicated_servers/network_ipv6/
// guide.en-gb.md), so its gateway sends a neighbour solicitation for each
// destination and a machine behind the router is reached only if the
// router answers for it. VyOS 1.4 and 1.5: `protocols static neighbor-proxy
// nd A interface eth2` (vyos-1x interface-definitions/
// protocols_static_neighbor-proxy.xml.in, sagitta and circinus; its conf
// script src/conf_mode/protocols_static_neighbor-proxy.py runs `ip -6
// neighbor add proxy A dev eth2`), plus `system sysctl parameter
// net.ipv6.conf.eth2.proxy_ndp value 1`: the kernel answers for a proxy
// entry only with proxy_ndp on the interface and forwarding on (Linux
// net/ipv6/ndisc.c ndisc_recv_ns; VyOS sets net.ipv6.conf.all.forwarding=1
// in src/etc/sysctl.d/30-vyos-router.conf) and the conf script does not
// set it. Vyatta 6.5 and VyOS 1.3 have neither node (equuleus has no
// neighbor-proxy), hence the refusal.
func renderNDPProxy(p Platform, w WAN, add, own func(...string)) error {
	if p == Vyatta6 || p == VyOS13 {
		return invalid("Render", fmt.Sprintf("NDP proxy (wan.ipv6.ndpProxy) needs VyOS 1.4 or later: %s has no configuration for it "+
			"(protocols static neighbor-proxy came with VyOS 1.4); without it OVH's gateway cannot reach the addresses behind the router", p), nil)
	}
	if !ifaceName.MatchString(w.Interface) {
		return invalid("Render", fmt.Sprintf("WAN interface %q: only ethernet interfaces (ethN) are supported", w.Interface), nil)
	}
	for _, s := range w.NDPProxy {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Is4In6() || !a.IsGlobalUnicast() {
			return invalid("Render", fmt.Sprintf("NDP proxy address %q is not a global IPv6 address", s), nil)
		}
		own("protocols", "static", "neighbor-proxy", "nd", a.String())
		add("protocols", "static", "neighbor-proxy", "nd", a.String(), "interface", w.Interface)
	}
	key := "net.ipv6.conf." + w.Interface + ".proxy_ndp"
	own("system", "sysctl", "parameter", key)
	add("system", "sysctl", "parameter", key, "value", "1")
	return nil
}

// natAddress validates a NAT address or prefix. VyOS 1.4 stores prefixes in
// network form (10.0.10.5/24 becomes 10.0.10.0/24); rendering them that way
// keeps the read-back equal to what was written.
func natAddress(p Platform, s string) (string, error) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil || !pfx.Addr().Is4() {
			return "", fmt.Errorf("%q is not an IPv4 prefix", s)
		}
		if p == VyOS14 || p == VyOS15 {
			pfx = pfx.Masked()
		}
		return pfx.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return "", fmt.Errorf("%q is not an IPv4 address", s)
	}
	return a.String(), nil
}

var portSpec = regexp.MustCompile(`^[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*$`)

func checkPorts(s string) error {
	if !portSpec.MatchString(s) {
		return fmt.Errorf("%q is not a port, range or comma-separated list", s)
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '-' }) {
		if n, _ := strconv.Atoi(part); n < 1 || n > 65535 {
			return fmt.Errorf("port %s out of range 1-65535", part)
		}
	}
	return nil
}

func checkText(p Platform, s string) error {
	if strings.ContainsAny(s, "\n\r\x00") {
		return fmt.Errorf("must be a single line")
	}
	if len(s) > 255 {
		return fmt.Errorf("longer than 255 characters")
	}
	if strings.Contains(s, "' '") {
		// cli-shell-api prints every word as '%s' without escaping
		// (listing.go, form 1): this sequence would read back as a word
		// boundary, so the description could never be seen as applied.
		return fmt.Errorf("must not contain a quote, a space and a quote in a row (the router's configuration listing cannot be read back)")
	}
	return checkRoundTrip(p, s)
}

// checkRoundTrip refuses a value the router would not keep: one that makes
// its configuration unreadable to its own tools, now or at the next boot.
// Read from the sources named below, not run on a router.
//
// Every release boots with vyatta-cfg's cparse reading config.boot
// (`cli-shell-api loadFile`, src/cstore/cstore.cpp Cstore::loadFile,
// src/cparse/cparse_lex.l and cparse.ypp; called by
// scripts/vyatta-boot-config-loader on pacifica and by vyos-1x
// src/helpers/vyos-boot-config-loader.py through vyos.configsession
// load_config on equuleus, sagitta and circinus). Its lexer ends a
// double-quoted value at the first `"` not taken by a backslash, and keeps
// backslashes as they are.
//
//   - Vyatta 6.x and VyOS 1.3 save values unescaped (listing.go, form 3):
//     in `description "the "LAN" side"` the value ends at the second `"`,
//     the rest of the line is a second value, which the grammar (`node:
//     nodec | nodec VALUE`) rejects: the whole file fails to parse, the load
//     fails, and the router boots without its configuration. A bare value
//     starting with `"` is read as a quoted string too.
//   - From VyOS 1.2 on, the configuration scripts read the configuration
//     as `cli-shell-api showConfig` prints it, unescaped, and parse it with
//     vyos1x-config (vyos-1x python/vyos/configsource.py ConfigSourceSession
//     and, on 1.5, src/shim/vyshim.c feeding vyos-configd's
//     ConfigSourceString; vyos1x-config src/vyos1x_lexer.mll): a `"` inside a
//     value ends the string there and the parse fails, so the commit's
//     scripts, and VyOS 1.4's save (src/helpers/vyos-save-config.py reads
//     the same way), would fail. And a 1.4+ config.boot that held `\"` would
//     load back through cparse with the backslash kept.
//
// So a double quote is refused everywhere. The message for Vyatta 6.x and
// 1.3 names the boot; the one for 1.4+ the commit (the likelier first
// failure there; both are readings of the sources, not observations).
func checkRoundTrip(p Platform, s string) error {
	const boot = "would not load at the next boot on %s: save writes it unescaped into config.boot, and the boot loader " +
		"(vyatta-cfg cparse) would reject the whole file, so the router would start without its configuration"
	if strings.Contains(s, `"`) {
		if p.BootDialect() == DialectVyattaCfg {
			return fmt.Errorf("a double quote "+boot+"; remove it", p)
		}
		return fmt.Errorf("a double quote would break the configuration on %s: its configuration scripts re-read the "+
			"configuration unescaped and would fail to parse it, failing the commit and save, and the boot loader "+
			"(vyatta-cfg cparse) would keep config.boot's escaping backslash at the next boot; remove it", p)
	}
	if p == Vyatta6 && strings.HasSuffix(s, `\`) && strings.ContainsAny(s, vyattaCfgQuoteChars) {
		// Quoted by the printer, the value's last backslash escapes the
		// closing quote and the string runs on into the next lines:
		// vyatta-cfg commit 998b63e ("double quoted config values ending
		// in \ are not reboot safe", VyOS bug 593) fixed the lexer from
		// branch crux (VyOS 1.2) on; pacifica, hydrogen and helium (VyOS
		// 1.0/1.1) lack it.
		return fmt.Errorf("a trailing backslash in a value holding a space or one of *}{; (which the router saves in double quotes) "+boot+"; remove the backslash or the space", p)
	}
	return nil
}

// vyattaCfgQuoteChars make vyatta-cfg's _print_value_str double-quote a
// value (src/cnode/cnode-algorithm.cpp, strcspn with "*}{;\011\012\013\014\015 ").
const vyattaCfgQuoteChars = "*}{;\t\n\v\f\r "

// OpKind is a configuration operation.
type OpKind string

// The two operations a transaction is made of.
const (
	OpSet    OpKind = "set"
	OpDelete OpKind = "delete"
)

// Op is one set or delete in a transaction.
type Op struct {
	Kind OpKind
	Path Path
}

func (o Op) String() string { return string(o.Kind) + " " + o.Path.String() }

// Transaction is an ordered list of operations committed together.
type Transaction []Op

// Diff computes the ONE transaction that turns observed into desired within
// the owned prefixes: deletes first (so a changed single-value leaf is freed
// before it is set again), then sets. Where an owned prefix should hold
// nothing at all, the prefix itself is deleted rather than each leaf, so that
// no empty tag node is left behind (e.g. `delete protocols static
// interface-route GW/32`). Statements outside owned are never touched, even
// if desired holds some.
func Diff(observed, desired Config, owned []Path) Transaction {
	obs, des := observed.Owned(owned), desired.Owned(owned)
	var tx Transaction
	deleted := map[string]bool{}
	for _, o := range owned {
		ou, du := obs.Under(o), des.Under(o)
		if len(ou) == 0 {
			continue
		}
		if len(du) == 0 {
			if !deleted[o.key()] && !coveredBy(o, deleted) {
				tx = append(tx, Op{OpDelete, o})
				deleted[o.key()] = true
			}
			continue
		}
		for _, p := range ou {
			if !des.Contains(p) && !deleted[p.key()] && !coveredBy(p, deleted) {
				tx = append(tx, Op{OpDelete, p})
				deleted[p.key()] = true
			}
		}
	}
	for _, p := range des.Minus(obs) {
		tx = append(tx, Op{OpSet, p})
	}
	return tx
}

func coveredBy(p Path, deleted map[string]bool) bool {
	for i := 1; i < len(p); i++ {
		if deleted[p[:i].key()] {
			return true
		}
	}
	return false
}

// Validate refuses transactions that must never be sent: empty paths,
// multi-line words (they would break out of a shell line), and anything under
// `service https`, whose commit through the HTTP API runs in the background
// with an outcome nobody can read.
func (tx Transaction) Validate() error {
	for _, op := range tx {
		if op.Kind != OpSet && op.Kind != OpDelete {
			return invalid("Apply", fmt.Sprintf("unknown operation %q", op.Kind), nil)
		}
		if len(op.Path) == 0 {
			return invalid("Apply", "empty configuration path", nil)
		}
		for _, w := range op.Path {
			if w == "" || strings.ContainsAny(w, "\n\r\x00") {
				return invalid("Apply", fmt.Sprintf("%s: words must be non-empty single-line strings", op.Kind), nil)
			}
		}
		if op.Path.HasPrefix(Path{"service", "https"}) {
			return cause.New(cause.Invalid, system, "Apply", "refusing to change service https: its commit would cut the API connection carrying it", nil)
		}
	}
	return nil
}

// Boot-script markers: the operator rewrites only what lies between them and
// leaves the rest of the script (the platform's header, the user's own
// commands) as it found it.
const (
	BootScriptBegin = "### BEGIN ovhbridge-operator gateway routes (managed: edits here are overwritten)"
	BootScriptEnd   = "### END ovhbridge-operator gateway routes"
)

// defaultBootScriptHeader starts a boot script the operator creates.
const defaultBootScriptHeader = "#!/bin/sh\n# This script is executed at boot time after the router configuration is fully applied.\n"

func bootScriptBlock(routes []Route) string {
	var b strings.Builder
	b.WriteString(BootScriptBegin + "\n")
	b.WriteString("# The OVH gateway is off-link for a /32 failover IP: reach it through the WAN\n")
	b.WriteString("# interface, then use it as the default gateway. These routes stay out of the\n")
	b.WriteString("# router configuration because Quagga would install the default without its gateway.\n")
	for _, r := range routes {
		if r.IsIPv6() {
			b.WriteString("# The same for IPv6: the server's IPv6 gateway is outside its block.\n")
			break
		}
	}
	for _, r := range routes {
		b.WriteString(strings.Join(append([]string{"ip"}, RouteReplaceArgs(r)...), " ") + "\n")
	}
	b.WriteString(BootScriptEnd + "\n")
	return b.String()
}

// RouteReplaceArgs are the `ip` arguments that install r idempotently;
// an IPv6 route says -6 (a default route's family would otherwise hang on
// its gateway's spelling).
func RouteReplaceArgs(r Route) []string {
	args := []string{"route", "replace", r.Dst}
	if r.IsIPv6() {
		args = append([]string{"-6"}, args...)
	}
	if r.Gateway != "" {
		args = append(args, "via", r.Gateway)
	}
	if r.Dev != "" {
		args = append(args, "dev", r.Dev)
	}
	if r.Scope != "" {
		args = append(args, "scope", r.Scope)
	}
	return args
}

// ExtractBootScriptBlock returns the managed block of a boot script.
func ExtractBootScriptBlock(content string) (string, bool) {
	start := strings.Index(content, BootScriptBegin)
	if start < 0 {
		return "", false
	}
	rest := content[start:]
	end := strings.Index(rest, BootScriptEnd)
	if end < 0 {
		return "", false
	}
	return rest[:end+len(BootScriptEnd)] + "\n", true
}

// MergeBootScript puts block into an existing boot script: it replaces an
// existing managed block in place, or appends one; an empty script gets a
// shebang first. An empty block removes the managed section.
func MergeBootScript(existing, block string) string {
	if old, ok := ExtractBootScriptBlock(existing); ok {
		i := strings.Index(existing, old[:len(old)-1])
		after := existing[i+len(old)-1:]
		after = strings.TrimPrefix(after, "\n")
		return existing[:i] + block + after
	}
	if block == "" {
		return existing
	}
	if strings.TrimSpace(existing) == "" {
		return defaultBootScriptHeader + "\n" + block
	}
	if !strings.HasSuffix(existing, "\n") {
		existing += "\n"
	}
	return existing + "\n" + block
}
