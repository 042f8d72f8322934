package decide

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// Claims. Every object claims the external things it manages: a FailoverIP
// its IP (global at OVH, whatever the namespace), a BridgedVM the NICs (and,
// when it manages power, the power) of a VM on one host, a RouterConfig its
// router. Two objects claiming the same thing would undo each other's writes
// forever. The rule needs no coordination, because both sides compute the
// same answer from the same cache: the earliest claimant (creationTimestamp,
// then namespace/name) wins; every later one makes no external call.

// ClaimedFirst orders claimants: creationTimestamp (one-second resolution),
// then namespace/name, so that both sides of a tie agree.
func ClaimedFirst(a, b metav1.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}

// ClaimWinner returns the earliest of others created before self for which
// conflict names something both claim, and what. found is false when self
// may act. conflict may do I/O (a BridgedVM's host is in its Secret); its
// error stops the decision.
//
// A loser yields to every earlier conflicting claimant, even one that itself
// yields to a third: exact for one shared key (FailoverIP, RouterConfig); for
// BridgedVMs with several NICs it can keep waiting on a NIC nobody acts on,
// which errs on the side of never fighting.
func ClaimWinner[T metav1.Object](self T, others []T, conflict func(self, other T) (string, error)) (winner T, what string, found bool, err error) {
	var zero T
	for _, other := range others {
		if !ClaimedFirst(other, self) || (found && !ClaimedFirst(other, winner)) {
			continue
		}
		w, err := conflict(self, other)
		if err != nil {
			return zero, "", false, err
		}
		if w != "" {
			winner, what, found = other, w, true
		}
	}
	return winner, what, found, nil
}

// RouterEndpoint normalises spec.router.address to host:port with the
// driver's default port, the host lower-cased and an IP in canonical form:
// the claim key of a RouterConfig. The same router reached through two
// endpoints (ssh and the HTTPS API, or two addresses) is not recognised.
func RouterEndpoint(rt v1.RouterConnection) string {
	port := "22"
	if rt.Driver == v1.DriverVyOSAPI {
		port = "443"
	}
	raw := strings.TrimSpace(rt.Address)
	host := raw
	if strings.Contains(raw, "://") {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			host = u.Hostname()
			if p := u.Port(); p != "" {
				port = p
			}
		}
	} else if h, p, err := net.SplitHostPort(raw); err == nil {
		host, port = h, p
	}
	return HostPort(host, port)
}

// HostPort joins a lower-cased host (an IP in canonical form) and a port.
func HostPort(host, port string) string {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	return net.JoinHostPort(host, port)
}

// SharedVMPart names the first NIC (or the power) two BridgedVMs of the same
// VM on the same host both manage, "" when none.
func SharedVMPart(a, b *v1.BridgedVM) string {
	for _, n := range a.Spec.NICs {
		for _, m := range b.Spec.NICs {
			if sameNIC(n, m, a, b) {
				if n.Label != "" {
					return fmt.Sprintf("NIC %q", n.Label)
				}
				if n.Index != nil {
					return fmt.Sprintf("NIC index %d", *n.Index)
				}
				return "a NIC"
			}
		}
	}
	if ManagesPower(a) && ManagesPower(b) {
		return "the power state"
	}
	return ""
}

// sameNIC says whether two selectors may name the same NIC of the VM. A
// label is turned into an index through the NICs either object last
// observed (status.nics); while neither has observed any, a label and an
// index are taken to name the same NIC: the earliest claimant is never
// blocked, and its first observation wakes the others to look again.
func sameNIC(n, m v1.NICSpec, a, b *v1.BridgedVM) bool {
	layout := map[string]int32{}
	for _, obj := range []*v1.BridgedVM{b, a} {
		for _, s := range obj.Status.NICs {
			layout[strings.ToLower(s.Label)] = s.Index
		}
	}
	index := func(s v1.NICSpec) (int32, bool) {
		if s.Index != nil {
			return *s.Index, true
		}
		i, ok := layout[strings.ToLower(s.Label)]
		return i, ok
	}
	i, okN := index(n)
	j, okM := index(m)
	switch {
	case okN && okM:
		return i == j
	case n.Label != "" && m.Label != "":
		return strings.EqualFold(n.Label, m.Label)
	}
	// One index, one label not in the layout: a label the VM does not show
	// names no NIC; with no layout at all, it may name any.
	return len(layout) == 0
}

// ManagesPower: spec.powerState or allowPowerCycle both drive the VM's
// power, and a power cycle for one object and a power state for another
// would fight.
func ManagesPower(b *v1.BridgedVM) bool { return b.Spec.PowerState != "" || b.Spec.AllowPowerCycle }

// NICLayout is the label-to-index map a BridgedVM observed, as a string: a
// change of it can change what the object's NIC labels claim.
func NICLayout(b *v1.BridgedVM) string {
	var sb strings.Builder
	for _, n := range b.Status.NICs {
		fmt.Fprintf(&sb, "%d=%s;", n.Index, strings.ToLower(n.Label))
	}
	return sb.String()
}

// claimNetworks are the /24 networks an IP or block lies in (a block wider
// than a /24 spans several; wider than a /16, its /16s).
func claimNetworks(p netip.Prefix) []string {
	keyBits := 24
	if p.Bits() < 16 {
		keyBits = 16
	}
	if p.Bits() >= keyBits {
		return []string{netip.PrefixFrom(p.Addr(), keyBits).Masked().String()}
	}
	var out []string
	n := 1 << (keyBits - p.Bits())
	a := p.Masked().Addr().As4()
	base := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	for i := range n {
		v := base + uint32(i)<<(32-keyBits)
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), keyBits).String())
	}
	return out
}

// IPClaimIndex and IPClaimLookup are the index keys of a FailoverIP's
// claim and the keys its claim check looks up. They differ so that an
// address never reads its neighbours (at 5000 addresses in twenty /24s,
// sharing a /24 key made every pass deep-copy 250 FailoverIPs): an
// address finds only the same address ("ip:") and the blocks around it
// ("blk:" under each /24 and /16 a block touches); a block (rare) also
// finds the addresses inside it ("in:" under an address's /24 and /16).
// Whatever two FailoverIPs IPOverlap finds conflicting, each one's lookup
// meets the other's index, so both sides compute the same winner
// (TestIPClaimKeysMeetWheneverIPsOverlap).
func IPClaimIndex(ip string) []string {
	p, err := parseIPv4Prefix(ip)
	if err != nil || !p.Addr().Is4() {
		// Not IPv4 (FailoverIP's CEL admits only IPv4): the same text is
		// the same claim.
		return []string{"ip:" + ip}
	}
	out := []string{"ip:" + p.String()}
	if p.Bits() == 32 {
		return append(out, "in:"+netOf(p, 24), "in:"+netOf(p, 16))
	}
	return append(out, blockKeys(p)...)
}

// IPClaimLookup: see IPClaimIndex.
func IPClaimLookup(ip string) []string {
	p, err := parseIPv4Prefix(ip)
	if err != nil || !p.Addr().Is4() {
		return []string{"ip:" + ip}
	}
	out := []string{"ip:" + p.String()}
	if p.Bits() == 32 {
		return append(out, "blk:"+netOf(p, 24), "blk:"+netOf(p, 16))
	}
	out = append(out, blockKeys(p)...)
	for _, n := range claimNetworks(p) {
		out = append(out, "in:"+n)
	}
	return out
}

// blockKeys are a block's "blk:" keys: the networks it spans, and the /16
// it lies in when that is wider (so that a wide block meets it).
func blockKeys(p netip.Prefix) []string {
	var out []string
	for _, n := range claimNetworks(p) {
		out = append(out, "blk:"+n)
	}
	if p.Bits() >= 16 {
		out = append(out, "blk:"+netOf(p, 16))
	}
	return out
}

// netOf is the network of bits around p's address, as a string.
func netOf(p netip.Prefix, bits int) string {
	return netip.PrefixFrom(p.Addr(), bits).Masked().String()
}

// IPOverlap names what two FailoverIPs' IPs both claim at OVH: the same IP,
// or an address and the block it lies in (OVH moves the block with every
// address in it, and both objects would manage that address's virtual
// MAC); "" when they are apart.
func IPOverlap(a, b string) string {
	pa, errA := parseIPv4Prefix(a)
	pb, errB := parseIPv4Prefix(b)
	switch {
	case errA != nil || errB != nil:
		if a == b {
			return "IP " + a
		}
		return ""
	case pa == pb:
		return "IP " + a
	case !pa.Overlaps(pb):
		return ""
	case pa.Bits() > pb.Bits():
		return fmt.Sprintf("IP %s, inside block %s", a, pb)
	default:
		return fmt.Sprintf("block %s, which holds %s", pa, b)
	}
}

// parseIPv4Prefix reads an address (as its /32) or a block.
func parseIPv4Prefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
