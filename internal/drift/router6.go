package drift

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"

	"github.com/ovhbridge/ovhbridge-operator/internal/router"
)

// IPv6 on the WAN. OVH gives a dedicated server a /64 and an IPv6 gateway
// outside it — the last addresses of the enclosing /56 on the older ranges
// (2001:db8:1:ff:ff:ff:ff:ff for 2001:db8:1:1::/64), fe80::1 on some newer
// ones — and its guide installs exactly IPv4's pair: an on-link route to the
// gateway on the interface, then the default via it (ovh/docs, branch
// develop, pages/bare_metal_cloud/dedicated_servers/network_ipv6/
// guide.en-gb.md: `ip -f inet6 route add IPv6_GATEWAY dev eth0`, `ip -f
// inet6 route add default via IPv6_GATEWAY`). The failure is IPv4's too: a
// default route without its gateway makes every destination on-link, and
// the kernel runs neighbour discovery for each one (test/kernel's ipv6
// states capture it from a real kernel).

// RouterWAN6 is the IPv6 side of the uplink the checks are about.
type RouterWAN6 struct {
	Interface string // eth2
	Gateway   string // 2001:db8:1:ff:ff:ff:ff:ff, or fe80::1
	// OnLink are the prefixes of the WAN's own IPv6 addresses (the server's
	// /64 when the router's WAN address comes from it): neighbours there
	// are on-link peers — the host, WAN-side VMs — not a flood. Link-local
	// addresses (fe80::/10) are always on-link.
	OnLink []netip.Prefix
}

func (w RouterWAN6) gateway() netip.Addr {
	a, _ := netip.ParseAddr(w.Gateway)
	return a.Unmap()
}

// gatewayLinkLocal: a link-local gateway is on-link by definition (RFC 4291
// 2.5.6) and needs no route of its own.
func (w RouterWAN6) gatewayLinkLocal() bool { return w.gateway().IsLinkLocalUnicast() }

func (w RouterWAN6) wantDefault() string {
	return fmt.Sprintf("default via %s dev %s", w.Gateway, w.Interface)
}

// sameAddr compares two spellings of one address (iproute2 prints IPv6
// compressed, a person may not: 2001:db8:1:ff:00ff:00ff:00ff:00ff).
func sameAddr(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}

// RouterObservedRoutes6 picks, from the IPv6 main table, the default route
// the kernel uses (lowest metric) and the on-link route to the gateway on
// the WAN; either may be nil.
func RouterObservedRoutes6(routes []router.Route, wan RouterWAN6) (def, gw *router.Route) {
	for i := range routes {
		r := routes[i]
		if r.IsDefault() && (def == nil || r.Metric < def.Metric) {
			def = &routes[i]
		}
		if sameAddr(r.Dst, wan.Gateway) && r.Dev == wan.Interface && r.Gateway == "" && (gw == nil || r.Metric < gw.Metric) {
			gw = &routes[i]
		}
	}
	return def, gw
}

// RouterRoutes6 checks the IPv6 default route and the route to the IPv6
// gateway, as RouterRoutes does for IPv4: the default must go via the
// gateway on the WAN (DefaultRoute6WithoutGateway when it names no gateway,
// GatewayRoute6Missing otherwise), and a global gateway, outside the
// server's block, needs an on-link route on the WAN or the onlink flag on
// the default (FRR's form).
func RouterRoutes6(routes []router.Route, wan RouterWAN6) []Finding {
	def, gw := RouterObservedRoutes6(routes, wan)
	var out []Finding
	switch {
	case def == nil:
		out = append(out, Finding{
			Reason: v1.ReasonGatewayRoute6Missing, Field: "routes6.default", Expected: wan.wantDefault(), Observed: "none",
			Message: "there is no IPv6 default route: nothing beyond the OVH IPv6 gateway is reachable over IPv6",
		})
	case def.Gateway == "":
		out = append(out, Finding{
			Reason: v1.ReasonDefaultRoute6WithoutGateway, Field: "routes6.default", Expected: wan.wantDefault(), Observed: def.String(),
			Message: fmt.Sprintf("the IPv6 default route has no gateway (%s): the kernel treats every IPv6 destination as on-link and "+
				"sends a neighbour solicitation for each one, an NDP flood on OVH's network; route it via %s", def.String(), wan.Gateway),
		})
	case !sameAddr(def.Gateway, wan.Gateway) || def.Dev != wan.Interface:
		out = append(out, Finding{
			Reason: v1.ReasonGatewayRoute6Missing, Field: "routes6.default", Expected: wan.wantDefault(), Observed: def.String(),
			Message: fmt.Sprintf("the IPv6 default route is %s, not via the OVH IPv6 gateway %s on %s", def.String(), wan.Gateway, wan.Interface),
		})
	}
	onlinkDefault := def != nil && sameAddr(def.Gateway, wan.Gateway) && def.Dev == wan.Interface && def.HasFlag("onlink")
	if gw == nil && !onlinkDefault && !wan.gatewayLinkLocal() {
		out = append(out, Finding{
			Reason: v1.ReasonGatewayRoute6Missing, Field: "routes6.gateway", Expected: fmt.Sprintf("%s dev %s", wan.Gateway, wan.Interface), Observed: "none",
			Message: fmt.Sprintf("no on-link route to the IPv6 gateway %s on %s: it is outside the server's block, so the kernel cannot reach it without one",
				wan.Gateway, wan.Interface),
		})
	}
	return out
}

// onLink reports whether a neighbour address is a legitimate peer on the
// WAN: link-local, or inside one of the WAN's own prefixes.
func (w RouterWAN6) onLink(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range w.OnLink {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// SummariseNeighbours6 counts the WAN's IPv6 neighbour table. OffLink counts
// entries neither the gateway's nor on-link (link-local or in the WAN's own
// prefixes): each is a destination the kernel solicited directly.
func SummariseNeighbours6(ns []router.Neighbour, wan RouterWAN6) (s NeighbourSummary, unresolved int) {
	s = NeighbourSummary{Interface: wan.Interface, GatewayState: GatewayMissing}
	macs := map[string]int{}
	for _, n := range ns {
		if n.Dev != wan.Interface {
			continue
		}
		s.Entries++
		if sameAddr(n.IP, wan.Gateway) {
			s.GatewayState, s.GatewayMAC = n.State, n.MAC
			continue
		}
		if wan.onLink(n.IP) {
			continue
		}
		s.OffLink++
		if !n.Resolved() {
			unresolved++
			continue
		}
		macs[n.MAC]++
	}
	keys := make([]string, 0, len(macs))
	for m := range macs {
		keys = append(keys, m)
	}
	sort.Strings(keys)
	for _, m := range keys {
		if macs[m] > s.DominantMACEntries {
			s.DominantMAC, s.DominantMACEntries = m, macs[m]
		}
	}
	return s, unresolved
}

// RouterNeighbours6 checks the WAN's IPv6 neighbour table: NDPFlood when the
// off-link entries exceed threshold (DefaultARPFloodThreshold if <= 0) and
// most share one MAC or most never resolved; GatewayNDPMissing when
// off-link entries exist but the gateway has no usable entry. Whether OVH's
// router answers neighbour solicitations for off-link addresses, as it
// answered ARP by proxy in the seed, is not documented: answered, the
// entries share its MAC (test/kernel's lab answers them that way);
// unanswered, they pile up INCOMPLETE and FAILED. Either is the flood.
func RouterNeighbours6(ns []router.Neighbour, wan RouterWAN6, threshold int) (NeighbourSummary, []Finding) {
	if threshold <= 0 {
		threshold = DefaultARPFloodThreshold
	}
	s, unresolved := SummariseNeighbours6(ns, wan)
	var out []Finding
	if s.OffLink > threshold && (2*s.DominantMACEntries > s.OffLink || 2*unresolved > s.OffLink) {
		observed := fmt.Sprintf("%d off-link entries, %d with MAC %s", s.OffLink, s.DominantMACEntries, s.DominantMAC)
		what := fmt.Sprintf("%d of them share %s %s", s.DominantMACEntries, whoseMAC(s), s.DominantMAC)
		if 2*s.DominantMACEntries <= s.OffLink {
			observed = fmt.Sprintf("%d off-link entries, %d never resolved", s.OffLink, unresolved)
			what = fmt.Sprintf("%d of them never resolved", unresolved)
		}
		out = append(out, Finding{
			Reason: v1.ReasonNDPFlood, Field: fmt.Sprintf("neighbours6[%s]", wan.Interface),
			Expected: fmt.Sprintf("at most %d off-link entries", threshold), Observed: observed,
			Message: fmt.Sprintf("%d IPv6 neighbour entries on %s are for off-link addresses and %s: "+
				"the router solicits every IPv6 destination instead of sending to the gateway", s.OffLink, wan.Interface, what),
		})
	}
	if s.OffLink > 0 && !gatewayResolved6(ns, wan) {
		out = append(out, Finding{
			Reason: v1.ReasonGatewayNDPMissing, Field: fmt.Sprintf("neighbours6[%s].gateway", wan.Interface),
			Expected: wan.Gateway + " resolved", Observed: s.GatewayState,
			Message: fmt.Sprintf("the IPv6 gateway %s has no resolved neighbour entry on %s while %d off-link addresses do: IPv6 traffic is not being sent through the gateway",
				wan.Gateway, wan.Interface, s.OffLink),
		})
	}
	return s, out
}

func whoseMAC(s NeighbourSummary) string {
	if s.DominantMAC == s.GatewayMAC && s.GatewayMAC != "" {
		return "the gateway's MAC"
	}
	return "one MAC"
}

func gatewayResolved6(ns []router.Neighbour, wan RouterWAN6) bool {
	for _, n := range ns {
		if n.Dev == wan.Interface && sameAddr(n.IP, wan.Gateway) && n.Resolved() {
			return true
		}
	}
	return false
}

// RouterNDPProxy checks the WAN's NDP proxy entries (observed) against the
// addresses the spec proxies (want): each one missing is NDPProxyMissing.
// OVH's gateway reaches an address of the server's block by soliciting it
// on the WAN's link; without the router's answer, the machine behind it
// gets no IPv6 traffic.
func RouterNDPProxy(observed, want []string, dev string) []Finding {
	have := map[netip.Addr]bool{}
	for _, o := range observed {
		if a, err := netip.ParseAddr(o); err == nil {
			have[a] = true
		}
	}
	var out []Finding
	for _, w := range want {
		a, err := netip.ParseAddr(w)
		if err != nil || have[a] {
			continue
		}
		out = append(out, Finding{
			Reason: v1.ReasonNDPProxyMissing, Field: fmt.Sprintf("ndpProxy[%s]", a), Expected: fmt.Sprintf("%s proxied on %s", a, dev),
			Observed: "no proxy entry",
			Message: fmt.Sprintf("no NDP proxy entry for %s on %s: the router does not answer OVH's gateway for it, so %s is unreachable over IPv6",
				a, dev, a),
		})
	}
	return out
}

// MissingNDPProxies are the addresses of findings from RouterNDPProxy.
func MissingNDPProxies(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Reason == v1.ReasonNDPProxyMissing {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(f.Field, "ndpProxy["), "]"))
		}
	}
	return out
}
