package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/decide"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

// A FailoverIP is a single IP (spec.ip 203.0.113.123, its virtual MAC in
// spec.virtualMAC, its reverse in spec.reverse) or a block (spec.ip
// 203.0.113.120/29, each address's virtual MAC and reverse under
// spec.addresses). OVH moves the block as a whole, and binds virtual MACs
// and reverses per address: this file is the per-address half.

// isBlock reports whether the FailoverIP is a block wider than one address.
func isBlock(f *v1.FailoverIP) bool {
	return strings.Contains(f.Spec.IP, "/") && !strings.HasSuffix(f.Spec.IP, "/32")
}

// addressField is the spec path of an address's field, for drift.
func addressField(f *v1.FailoverIP, addr, field string) string {
	if isBlock(f) {
		return fmt.Sprintf("addresses[%s].%s", addr, field)
	}
	return field
}

// addressStatus returns the status entry of an address of a block,
// creating it in spec order.
func addressStatus(f *v1.FailoverIP, addr string) *v1.AddressStatus {
	for i := range f.Status.Addresses {
		if f.Status.Addresses[i].IP == addr {
			return &f.Status.Addresses[i]
		}
	}
	f.Status.Addresses = append(f.Status.Addresses, v1.AddressStatus{IP: addr})
	return &f.Status.Addresses[len(f.Status.Addresses)-1]
}

// pruneAddressStatus keeps status.addresses to the spec's addresses, in
// the spec's order.
func pruneAddressStatus(f *v1.FailoverIP) {
	if len(f.Spec.Addresses) == 0 {
		f.Status.Addresses = nil
		return
	}
	out := make([]v1.AddressStatus, 0, len(f.Spec.Addresses))
	for _, a := range f.Spec.Addresses {
		out = append(out, *addressStatus(f, a.IP))
	}
	f.Status.Addresses = out
}

// setMAC records the virtual MAC OVH shows for an address.
func setMAC(f *v1.FailoverIP, addr, mac, typ string) {
	if isBlock(f) {
		st := addressStatus(f, addr)
		st.MACAddress, st.VirtualMACType = mac, v1.VirtualMACType(typ)
		return
	}
	f.Status.MACAddress, f.Status.VirtualMACType = mac, v1.VirtualMACType(typ)
}

// observe gathers the IP's state from the shared snapshot, asking OVH about
// the IP alone only when it is not routed to the expected server.
func (s *fipSession) observe(ctx context.Context) (drift.FailoverIPState, error) {
	f := s.f
	pruneAddressStatus(f)
	st := drift.FailoverIPState{IP: f.Spec.IP, WantServer: f.Spec.Server, VMACSupported: s.snap.Network.VMACSupported}
	if b, ok := s.snap.BlockFor(s.block); ok {
		st.RoutedTo = f.Spec.Server
		if b != s.block {
			st.InBlock = b
		}
	} else if p := f.Status.PendingTask; p != nil && p.Function == taskMoveIP && p.ID != "" && f.Status.RoutedTo != "" {
		// A move under way: its task is followed, and OVH would answer
		// where the IP was until the task ends (one read per task poll,
		// for nothing).
		st.RoutedTo = f.Status.RoutedTo
	} else {
		rctx := ctx
		if f.Status.RoutedTo == f.Spec.Server {
			// The IP was here and the server's list no longer has it:
			// where it went is part of the detection the observation
			// interval promises (ovh.Urgent).
			rctx = ovh.Urgent(ctx)
		}
		rec, err := s.api.IP(rctx, s.block)
		if err != nil {
			return st, err
		}
		st.RoutedTo = rec.RoutedTo
		if rec.IP != "" && rec.IP != s.block {
			st.InBlock = rec.IP
		}
	}
	f.Status.RoutedTo = st.RoutedTo
	if st.RoutedTo != f.Spec.Server {
		// The MACs the VMs carry are kept as they were: they come back
		// with the IP.
		return st, nil
	}
	wanted := map[string]decide.WantedMAC{}
	for _, w := range decide.WantedMACs(f) {
		wanted[w.IP] = w
	}
	// Every address the spec names is observed (a single IP's MAC is
	// reported even without spec.virtualMAC); only those wanting a virtual
	// MAC are judged.
	addrs := []string{s.addr}
	if isBlock(f) {
		addrs = addrs[:0]
		for _, a := range f.Spec.Addresses {
			addrs = append(addrs, a.IP)
		}
	}
	for _, addr := range addrs {
		w, judged := wanted[addr]
		a := drift.AddressState{IP: addr, Field: addressField(f, addr, "virtualMAC"), WantMACType: string(w.Type)}
		if vm, ok := s.snap.VirtualMACFor(addr); ok {
			a.BoundMAC, a.BoundMACType = vm.MAC, vm.Type
			if judged && len(vm.IPs) > 1 {
				all, err := s.namespaceFailoverIPs(ctx)
				if err != nil {
					return st, err
				}
				a.ForeignIPs = decide.ForeignIPs(f, addr, all, vm.IPs)
			}
		}
		prev := f.Status.MACAddress
		if isBlock(f) {
			prev = addressStatus(f, addr).MACAddress
		}
		if judged && a.BoundMAC == "" && prev != "" {
			all, err := s.namespaceFailoverIPs(ctx)
			if err != nil {
				return st, err
			}
			if a.Awaited = decide.AwaitedMAC(f, addr, prev, s.serverMACs(), all, s.r.Now(), s.r.MACReappearGrace); a.Awaited != "" {
				// The VM keeps the MAC it carries: it is on its way.
				st.Addresses = append(st.Addresses, a)
				continue
			}
		}
		vmsMAC := false // the previous MAC is here, serving only the same VM
		if prev != "" && prev != a.BoundMAC {
			for _, vm := range s.snap.VirtualMACs {
				if !strings.EqualFold(vm.MAC, prev) {
					continue
				}
				others := vm.IPs
				if judged {
					all, err := s.namespaceFailoverIPs(ctx)
					if err != nil {
						return st, err
					}
					// The VM's other addresses on it are no conflict: the
					// address binds to it again (decide.SiblingMAC).
					others = decide.SameVM(f, addr, all, vm.IPs)
				}
				if len(others) == 0 {
					vmsMAC = true
				} else {
					a.PreviousMAC, a.PreviousMACIPs = vm.MAC, others
				}
			}
		}
		if a.BoundMAC != "" || a.PreviousMACIPs == nil && !vmsMAC {
			// The MAC the VMs must carry. Kept while the address is merely
			// unbound from a MAC that still carries other IPs (a conflict
			// to show).
			setMAC(f, addr, a.BoundMAC, a.BoundMACType)
		}
		if judged {
			st.Addresses = append(st.Addresses, a)
		}
	}
	return st, nil
}

// reverseWant is one address whose reverse DNS the spec sets, with where
// its status goes.
type reverseWant struct {
	addr, want string
	observed   *string
	refused    **v1.ReverseRefusal
}

// reverseWants lists the reverses the spec asks for, and clears the status
// of those it no longer does.
func (s *fipSession) reverseWants() []reverseWant {
	f := s.f
	if !isBlock(f) {
		if f.Spec.Reverse == "" {
			f.Status.Reverse, f.Status.ReverseRefused = "", nil
			return nil
		}
		return []reverseWant{{s.addr, f.Spec.Reverse, &f.Status.Reverse, &f.Status.ReverseRefused}}
	}
	pruneAddressStatus(f)
	var out []reverseWant
	for i, a := range f.Spec.Addresses {
		st := &f.Status.Addresses[i]
		if a.Reverse == "" {
			st.Reverse, st.ReverseRefused = "", nil
			continue
		}
		out = append(out, reverseWant{a.IP, a.Reverse, &st.Reverse, &st.ReverseRefused})
	}
	return out
}

// syncReverse reads the reverse DNS of each address the spec names one for
// (one call per address per syncInterval at most, through the Observer)
// and, under Manage, sets it. OVH answers at once, so there is no intent to
// record: a write repeated after a crash sets the same name again. A
// refusal is recorded and the name sent again only after
// decide.ReverseWrite's back-off.
func (s *fipSession) syncReverse(ctx context.Context) error {
	f := s.f
	s.reverse = nil
	block := s.block
	if b, ok := s.snap.BlockFor(s.block); ok {
		block = b // an address of a wider block: OVH keeps its reverse there
	}
	for _, rw := range s.reverseWants() {
		observed, err := s.r.Observer.Reverse(ctx, s.creds, f.Spec.Server, block, rw.addr, syncInterval(f))
		if err != nil {
			return err
		}
		*rw.observed = observed
		if decide.ReverseWrite(s.manage, rw.want, observed, *rw.refused, f.Generation, s.r.Now()) {
			// Sent fully qualified, as OVH stores it.
			name := drift.ReverseName(rw.want) + "."
			set, err := s.api.SetReverse(ctx, block, rw.addr, name)
			switch {
			case cause.Is(err, cause.Invalid):
				// OVH's 400: the name does not resolve to the address (its
				// texts vary, none is matched; see test/sim/ovh/reverse.go).
				msg := ovh.RemoteMessage(err)
				if msg == "" {
					msg = err.Error()
				}
				*rw.refused = decide.ReverseRefused(*rw.refused, rw.want, msg, f.Generation, s.r.Now())
				log.FromContext(ctx).V(1).Info("OVH refused the reverse DNS", "address", rw.addr, "reverse", name,
					"attempts", (*rw.refused).Attempts, "error", err.Error())
			case err != nil:
				return err
			default:
				if set == "" {
					set = name
				}
				*rw.observed = set
				s.r.Observer.SetReverse(s.creds, f.Spec.Server, rw.addr, set)
				log.FromContext(ctx).V(1).Info("reverse DNS set", "address", rw.addr, "reverse", set)
			}
		}
		found := drift.Reverse(rw.addr, rw.want, *rw.observed)
		for i := range found {
			found[i].Field, found[i].Subject = addressField(f, rw.addr, "reverse"), rw.addr
		}
		s.reverse = append(s.reverse, found...)
		if r := *rw.refused; len(found) == 0 || (r != nil && drift.ReverseName(r.Reverse) != drift.ReverseName(rw.want)) {
			*rw.refused = nil // set, or another name is wanted now
		}
	}
	return nil
}

// reportReverse sets ReverseConfigured from the first address whose
// reverse is not right.
func (s *fipSession) reportReverse() {
	f := s.f
	cond := func(status metav1.ConditionStatus, reason, msg string) {
		setCondition(f, v1.TypeReverseConfigured, status, reason, msg)
	}
	wants := s.reverseWants()
	if len(wants) == 0 {
		cond(metav1.ConditionTrue, v1.ReasonNotRequested, "no reverse DNS is set in the spec: reverses are left as they are")
		return
	}
	for _, rw := range wants {
		found := drift.Reverse(rw.addr, rw.want, *rw.observed)
		if len(found) == 0 {
			continue
		}
		if rf := *rw.refused; rf != nil && s.manage {
			next := rf.LastAttempt.Add(decide.ReverseRetryAfter(rf.Attempts))
			cond(metav1.ConditionFalse, v1.ReasonReverseRefused, fmt.Sprintf(
				"OVH refused to set the reverse DNS of %s to %s (%d time(s)): %q. OVH sets a reverse only when the name "+
					"resolves to the address: create the DNS record %s A %s first (and let it propagate); the operator "+
					"sends it again at %s, or at once when the spec changes",
				rw.addr, rf.Reverse, rf.Attempts, rf.Message, drift.ReverseName(rf.Reverse), rw.addr, next.UTC().Format(time.RFC3339)))
			return
		}
		msg := found[0].Message
		if !s.manage {
			msg += " (not corrected: managementPolicy is Observe)"
		}
		cond(metav1.ConditionFalse, v1.ReasonReverseMismatch, msg)
		return
	}
	var names []string
	for _, rw := range wants {
		names = append(names, rw.addr+" is "+*rw.observed)
	}
	cond(metav1.ConditionTrue, v1.ReasonConfigured, "the reverse DNS of "+strings.Join(names, ", "))
}

// reportMAC sets VirtualMACAssigned.
func (s *fipSession) reportMAC(st drift.FailoverIPState, findings []drift.Finding, notFixed string) {
	f := s.f
	p := f.Status.PendingTask
	macCond := func(status metav1.ConditionStatus, reason, msg string) {
		setCondition(f, v1.TypeVirtualMACAssigned, status, reason, msg)
	}
	switch {
	case len(decide.WantedMACs(f)) == 0:
		macCond(metav1.ConditionTrue, v1.ReasonNotRequested, "no virtual MAC is asked for (spec.virtualMAC, or spec.addresses[].virtualMAC for a block)")
	case p != nil && p.Scope == scopeServer:
		macCond(metav1.ConditionFalse, v1.ReasonVirtualMACMissing,
			fmt.Sprintf("%s (OVH task %s)", pendingMACWork(p, f), orPending(p.ID)))
	case st.RoutedTo != f.Spec.Server:
		macCond(metav1.ConditionUnknown, v1.ReasonWaitingForRoute,
			fmt.Sprintf("virtual MACs are checked once %s is routed to %s", f.Spec.IP, f.Spec.Server))
	default:
		if fd, ok := firstOf(findings, v1.ReasonVirtualMACMissing, v1.ReasonAwaitingVirtualMAC, v1.ReasonVirtualMACConflict, v1.ReasonCapabilityMissing); ok {
			msg := fd.Message
			if fd.Reason == v1.ReasonVirtualMACMissing {
				msg += notFixed
			}
			macCond(metav1.ConditionFalse, fd.Reason, msg)
			return
		}
		var bound []string
		for _, a := range st.Addresses {
			bound = append(bound, fmt.Sprintf("%s is bound to %s virtual MAC %s", a.IP, a.BoundMACType, a.BoundMAC))
		}
		macCond(metav1.ConditionTrue, v1.ReasonAssigned, strings.Join(bound, ", "))
	}
}

// taskServer is the server a server task of the FailoverIP runs on.
func taskServer(p *v1.PendingTask, f *v1.FailoverIP) string {
	if p != nil && p.Server != "" {
		return p.Server
	}
	return f.Spec.Server
}

// planMove decides how the IP can be moved (decide.PlanMove), from the
// server it is routed to now, observed like any server (shared, cached):
// OVH refuses some moves of blocks carrying virtual MACs, and a VM with
// several IPs must take its MAC along without getting a second one.
func (s *fipSession) planMove(ctx context.Context) error {
	f := s.f
	facts := decide.MoveFacts{
		Self: f, Source: f.Status.RoutedTo,
		DestSupported: s.snap.Network.VMACSupported, DestQuota: s.snap.Network.VMACQuota, DestMACs: len(s.snap.VirtualMACs),
	}
	if facts.Source != "" && facts.Source != f.Spec.Server {
		src, err := s.r.Observer.Snapshot(ctx, s.creds, facts.Source, syncInterval(f))
		switch {
		case err == nil:
			facts.SourceKnown, facts.SourceMACs = true, src.VirtualMACs
			// The MACs the addresses carry where they are now: what their
			// VMs carry, and what follows them (or is awaited) after the
			// move.
			for _, w := range decide.WantedMACs(f) {
				if vm, ok := src.VirtualMACFor(w.IP); ok {
					setMAC(f, w.IP, vm.MAC, vm.Type)
				}
			}
		case cause.Is(err, cause.NotFound), cause.Is(err, cause.CapabilityMissing), cause.Is(err, cause.Invalid):
			// Not a dedicated server these credentials see (a VPS, another
			// account): OVH alone decides whether the move goes.
		default:
			return err
		}
	}
	if facts.SourceKnown {
		all, err := s.namespaceFailoverIPs(ctx)
		if err != nil {
			return err
		}
		facts.All = all
	}
	step := decide.PlanMove(facts)
	s.move = &step
	if step.Action != decide.MoveNow {
		log.FromContext(ctx).V(1).Info("move planned", "action", step.Action, "reason", step.Reason, "mac", step.MAC, "address", step.Address)
	}
	return nil
}

// mayAct says whether the write w may go now, given the move plan: a move
// waiting or blocked does not, nor an unbinding that already failed for
// this generation.
func (s *fipSession) mayAct(w decide.OVHWrite) bool {
	m := s.move
	if w != decide.MoveIP || m == nil {
		return true
	}
	switch m.Action {
	case decide.MoveWait, decide.MoveBlocked:
		return false
	case decide.MoveUnbindFirst:
		lf := s.f.Status.LastFailedTask
		return lf == nil || lf.Function != taskUnbindIP || lf.Generation != s.f.Generation
	}
	return true
}
