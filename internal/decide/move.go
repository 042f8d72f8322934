package decide

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

// Moving a block that carries virtual MACs. OVH refuses the move of a block
// whose virtual MAC also serves an address outside it (a "duplicate"), and
// one that would take the destination over its virtual MAC quota; it
// suspends the block's MACs during the move and shows them on the new
// server once the move is done (test/sim/ovh/moves.go cites the guide).
// The operator binds every address of one VM to one MAC, so a VM with two
// failover IPs has exactly such a duplicate: to move it, every IP but one
// (the carrier) leaves the shared MAC first, each IP moves once, the
// carrier's block brings the MAC, and the others bind to it again on the
// new server instead of getting a second MAC.

// MoveFacts is what the move of a FailoverIP's block to spec.server
// depends on.
type MoveFacts struct {
	// Self is the FailoverIP to move; All the FailoverIPs of its namespace
	// (Self may be among them, in an older copy).
	Self *v1.FailoverIP
	All  []v1.FailoverIP
	// Source is the server the block is routed to now, SourceMACs its
	// virtual MACs; SourceKnown is false when that server could not be
	// observed (another kind of service, parked, another account): OVH
	// then decides alone.
	Source      string
	SourceMACs  []ovh.VirtualMAC
	SourceKnown bool
	// The destination (spec.server): vMAC support, quota, MACs it has.
	DestSupported bool
	DestQuota     int
	DestMACs      int
}

// MoveAction is what to do about a block to move.
type MoveAction int

const (
	// MoveNow: ask OVH to move the block.
	MoveNow MoveAction = iota
	// MoveUnbindFirst: unbind Address from MAC on the source server first
	// (it shares the MAC with a sibling that carries it over).
	MoveUnbindFirst
	// MoveWait: siblings must leave the shared MAC first; no write.
	MoveWait
	// MoveBlocked: OVH would refuse the move; a person must act. No write.
	MoveBlocked
)

// MoveStep is the decision about a block to move.
type MoveStep struct {
	Action MoveAction
	// MAC and Address: the unbinding to do first (MoveUnbindFirst).
	MAC, Address string
	// Reason and Message say why a move waits or is blocked.
	Reason, Message string
}

// owner is a FailoverIP's wish for the virtual MAC of one address.
type owner struct {
	f    *v1.FailoverIP
	want WantedMAC
}

// owners indexes the namespace's wanted MACs by address, Self's own entries
// taken from Self (the pass's copy), not from the list's.
func owners(self *v1.FailoverIP, all []v1.FailoverIP) map[string]owner {
	out := map[string]owner{}
	add := func(f *v1.FailoverIP) {
		for _, w := range WantedMACs(f) {
			out[w.IP] = owner{f, w}
		}
	}
	for i := range all {
		if all[i].Name != self.Name || all[i].Namespace != self.Namespace {
			add(&all[i])
		}
	}
	add(self)
	return out
}

// PlanMove decides how to move the block: at once, after unbinding one of
// its addresses from a MAC it shares with a sibling, after the siblings
// left (waiting), or not at all (OVH would refuse: the reason names the
// virtual MAC or the quota).
func PlanMove(f MoveFacts) MoveStep {
	if !f.SourceKnown {
		return MoveStep{Action: MoveNow}
	}
	self := f.Self
	block, err := parseIPv4Prefix(self.Spec.IP)
	if err != nil {
		return MoveStep{Action: MoveNow}
	}
	inside := func(ip string) bool {
		a, err := netip.ParseAddr(ip)
		return err == nil && block.Contains(a)
	}
	own := owners(self, f.All)
	var moving []string // MACs that go with the block (or with a carrier)
	var unbind, wait *MoveStep
	for _, vm := range f.SourceMACs {
		var in, out []string
		for _, ip := range vm.IPs {
			if inside(ip) {
				in = append(in, ip)
			} else {
				out = append(out, ip)
			}
		}
		if len(in) == 0 {
			continue
		}
		moving = append(moving, vm.MAC)
		if len(out) == 0 {
			continue // unique to the block: it follows the move
		}
		slices.Sort(in)
		mine, wanted := own[in[0]]
		members := []netip.Prefix{block}
		for _, ip := range out {
			o, ok := own[ip]
			switch {
			case !ok:
				return blocked(v1.ReasonDuplicateVirtualMAC, fmt.Sprintf(
					"virtual MAC %s of %s also serves %s, which no FailoverIP moves with it: OVH does not move a block "+
						"whose virtual MAC serves addresses outside it; unbind %s from %s in the OVH manager, or manage it "+
						"with a FailoverIP of the same VM moving to %s", vm.MAC, in[0], ip, ip, vm.MAC, self.Spec.Server))
			case !wanted || o.want.VMName != mine.want.VMName || o.want.Type != mine.want.Type:
				return blocked(v1.ReasonDuplicateVirtualMAC, fmt.Sprintf(
					"virtual MAC %s of %s also serves %s (FailoverIP %s, VM %s): OVH does not move a block whose virtual "+
						"MAC serves addresses outside it, and two VMs cannot share a MAC; unbind one of them from %s in the "+
						"OVH manager", vm.MAC, in[0], ip, o.f.Name, o.want.VMName, vm.MAC))
			case o.f.Spec.Server != self.Spec.Server:
				return blocked(v1.ReasonDuplicateVirtualMAC, fmt.Sprintf(
					"virtual MAC %s of %s also serves %s (FailoverIP %s), which stays on %s: one VM cannot be on two "+
						"servers; move both (set the same spec.server) or unbind %s from %s", vm.MAC, in[0], ip, o.f.Name,
					o.f.Spec.Server, ip, vm.MAC))
			}
			if p, err := parseIPv4Prefix(o.f.Spec.IP); err == nil && !slices.Contains(members, p) {
				members = append(members, p)
			}
		}
		// The carrier keeps the MAC: the lowest block, which every member
		// computes alike.
		slices.SortFunc(members, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		if members[0] == block {
			if wait == nil {
				wait = &MoveStep{Action: MoveWait, Reason: v1.ReasonVirtualMACShared, Message: fmt.Sprintf(
					"waiting for %s to leave virtual MAC %s on %s: OVH does not move a block whose virtual MAC serves "+
						"addresses outside it; those addresses belong to the same VM, leave the MAC, move, and bind to it "+
						"again on %s once it arrives with %s", strings.Join(out, ", "), vm.MAC, f.Source, self.Spec.Server, self.Spec.IP)}
			}
		} else if unbind == nil {
			unbind = &MoveStep{Action: MoveUnbindFirst, MAC: vm.MAC, Address: in[0], Message: fmt.Sprintf(
				"unbinding %s from virtual MAC %s on %s before the move: the MAC also serves %s, which carries it to %s; "+
					"%s binds to it again there", in[0], vm.MAC, f.Source, strings.Join(out, ", "), self.Spec.Server, in[0])}
		}
	}
	if len(moving) > 0 && !f.DestSupported {
		return blocked(v1.ReasonCapabilityMissing, fmt.Sprintf(
			"%s carries virtual MACs (%s) and server %s does not support virtual MACs: OVH refuses the move; remove them "+
				"from the spec and unbind them in the OVH manager, or choose a server that has them",
			self.Spec.IP, strings.Join(moving, ", "), self.Spec.Server))
	}
	if len(moving) > 0 && f.DestMACs+len(moving) > f.DestQuota {
		return blocked(v1.ReasonVirtualMACQuotaExceeded, fmt.Sprintf(
			"server %s has %d virtual MACs and a quota of %d (vmac.quota): the %d virtual MAC(s) of %s (%s) would exceed it, "+
				"and OVH refuses the move; delete unused virtual MACs on %s first",
			self.Spec.Server, f.DestMACs, f.DestQuota, len(moving), self.Spec.IP, strings.Join(moving, ", "), self.Spec.Server))
	}
	switch {
	case unbind != nil:
		return *unbind
	case wait != nil:
		return *wait
	}
	return MoveStep{Action: MoveNow}
}

func blocked(reason, msg string) MoveStep {
	return MoveStep{Action: MoveBlocked, Reason: reason, Message: msg}
}

// MACReappearGrace is, by default, how long after its move a FailoverIP waits for the
// virtual MAC that followed it to show on the new server before deciding
// it is lost (and creating a new one). OVH shows moved MACs once the move is
// complete; how long that takes is not published.
const MACReappearGrace = 5 * time.Minute

// movingBlocked are the Routed reasons of a FailoverIP whose move will not
// happen without a person.
var movingBlocked = []string{v1.ReasonDuplicateVirtualMAC, v1.ReasonVirtualMACQuotaExceeded, v1.ReasonPartOfBlock, v1.ReasonCapabilityMissing}

// AwaitedMAC says whether the address addr of self, routed to its server
// but bound to no virtual MAC there, is to wait for prevMAC (the MAC its
// status reports, which its VM carries) instead of getting one: the MAC
// follows a move, self's own (done less than grace ago, MACReappearGrace
// by default) or a sibling's (the same VM's address, carrying the MAC to
// this server; as long as that sibling is on its way and not blocked). why
// says so, for the condition; "" when nothing is awaited.
func AwaitedMAC(self *v1.FailoverIP, addr, prevMAC string, onServer []VirtualMACRef, all []v1.FailoverIP, now time.Time, grace time.Duration) (why string) {
	if prevMAC == "" || slices.ContainsFunc(onServer, func(r VirtualMACRef) bool { return strings.EqualFold(r.MAC, prevMAC) }) {
		return ""
	}
	within := func(t *metav1.Time) bool { return t != nil && now.Before(t.Add(grace)) }
	if within(self.Status.MovedAt) {
		return fmt.Sprintf("virtual MAC %s follows the move of %s, done at %s: OVH shows a moved block's virtual MACs on the "+
			"new server once the move is complete (waited for until %s, then a new MAC is made)",
			prevMAC, self.Spec.IP, self.Status.MovedAt.UTC().Format(time.RFC3339), self.Status.MovedAt.Add(grace).UTC().Format(time.RFC3339))
	}
	me, ok := WantedMACFor(self, addr)
	if !ok {
		return ""
	}
	for i := range all {
		o := &all[i]
		if o.Name == self.Name && o.Namespace == self.Namespace || o.Spec.Server != self.Spec.Server {
			continue
		}
		for _, w := range WantedMACs(o) {
			if !strings.EqualFold(w.MAC, prevMAC) || w.VMName != me.VMName || w.Type != me.Type {
				continue
			}
			c := meta.FindStatusCondition(o.Status.Conditions, v1.TypeRouted)
			stuck := c != nil && slices.Contains(movingBlocked, c.Reason) ||
				o.Status.LastFailedTask != nil && o.Status.LastFailedTask.Function == ovh.FunctionMoveIP && o.Status.LastFailedTask.Generation == o.Generation
			onItsWay := o.Status.RoutedTo != o.Spec.Server || o.Status.PendingTask != nil && o.Status.PendingTask.Function == ovh.FunctionMoveIP ||
				within(o.Status.MovedAt)
			if onItsWay && !stuck {
				return fmt.Sprintf("virtual MAC %s comes with %s (FailoverIP %s, the same VM), moving to %s", prevMAC, w.IP, o.Name, self.Spec.Server)
			}
		}
	}
	return ""
}

// SameVM removes from ips the addresses FailoverIPs want for the same VM
// (and MAC type) as self's address addr: a MAC that carries only those is
// the VM's, to bind to, not someone else's.
func SameVM(self *v1.FailoverIP, addr string, all []v1.FailoverIP, ips []string) []string {
	me, ok := WantedMACFor(self, addr)
	if !ok {
		return ips
	}
	own := owners(self, all)
	var out []string
	for _, ip := range ips {
		if o, ok := own[ip]; ok && o.want.VMName == me.VMName && o.want.Type == me.Type {
			continue
		}
		out = append(out, ip)
	}
	return out
}
