package decide

import (
	"fmt"
	"net/netip"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

// IPv6 on the router follows IPv4's repair order (router.go): the IPv6
// gateway routes live where the IPv4 ones do (the configuration, or the
// boot script and `ip -6 route replace`), and the neighbour table an NDP
// flood filled is flushed once the default route goes through the gateway
// again.

// AddressInBlock is the address a RouterConfig takes from the server's
// IPv6 block: the block's prefix with host's bits below it, on the
// interface with prefixLen (the block's own when 0). A host part with bits
// inside the block's prefix, or a prefix length shorter than the block's
// (it would claim addresses OVH routes elsewhere), is an error saying so.
func AddressInBlock(block, host string, prefixLen int) (netip.Prefix, error) {
	b, err := netip.ParsePrefix(block)
	if err != nil || !b.Addr().Is6() || b.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("the server's IPv6 block %q is not an IPv6 prefix", block)
	}
	b = b.Masked()
	h, err := netip.ParseAddr(host)
	if err != nil || !h.Is6() || h.Is4In6() {
		return netip.Prefix{}, fmt.Errorf("host part %q is not an IPv6 address such as ::1", host)
	}
	hb, bb := h.As16(), b.Addr().As16()
	for i := 0; i < b.Bits(); i++ {
		if hb[i/8]&(0x80>>(i%8)) != 0 {
			return netip.Prefix{}, fmt.Errorf("host part %s has bits inside the block %s's /%d prefix: write only the bits after it, e.g. ::1",
				host, b, b.Bits())
		}
	}
	var out [16]byte
	for i := range out {
		out[i] = bb[i] | hb[i]
	}
	if prefixLen == 0 {
		prefixLen = b.Bits()
	}
	if prefixLen < b.Bits() || prefixLen > 128 {
		return netip.Prefix{}, fmt.Errorf("prefix length /%d is shorter than the block %s: the addresses outside it are not the server's", prefixLen, b)
	}
	a := netip.AddrFrom16(out)
	if a == b.Addr() {
		return netip.Prefix{}, fmt.Errorf("host part %s gives the block's own network address %s: choose a host part such as ::1", host, a)
	}
	return netip.PrefixFrom(a, prefixLen), nil
}

// Gateway6InPrefixes names the WAN prefix an IPv6 gateway falls inside, if
// any. OVH's gateway is outside the server's block (ovh/docs, branch
// develop, pages/bare_metal_cloud/dedicated_servers/network_ipv6/
// guide.en-gb.md: on the older ranges the last addresses of the enclosing
// /56), so one inside it is a mistake in the spec — the router would take
// it for an on-link peer and never install the on-link route OVH's gateway
// needs.
func Gateway6InPrefixes(gateway string, prefixes []netip.Prefix) (netip.Prefix, bool) {
	g, err := netip.ParseAddr(gateway)
	if err != nil {
		return netip.Prefix{}, false
	}
	for _, p := range prefixes {
		if p.Bits() < 128 && p.Masked().Contains(g) {
			return p.Masked(), true
		}
	}
	return netip.Prefix{}, false
}

// RouterFlushNeighbours6 decides IPv6's step 5: flush the WAN's IPv6
// neighbour table once the IPv6 default route goes through the gateway
// (routeFindingsAfter empty), when the gateway-less default or its NDP
// flood was seen.
func RouterFlushNeighbours6(routeFindingsBefore, routeFindingsAfter, neighFindings []drift.Finding) bool {
	if len(routeFindingsAfter) > 0 {
		return false
	}
	return drift.HasReason(routeFindingsBefore, v1.ReasonDefaultRoute6WithoutGateway) ||
		drift.HasReason(neighFindings, v1.ReasonNDPFlood)
}

// RouterAddNDPProxies decides whether the missing NDP proxy entries are put
// back with `ip -6 neigh replace proxy` (SSH): VyOS fills the proxy table
// from its configuration only when that node changes, so a commit does not
// bring back an entry lost outside it. missing is read after this pass's
// commit, which may have created them.
func RouterAddNDPProxies(missing []string, shell bool) bool { return shell && len(missing) > 0 }
