package decide

import (
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

// OVHWrite is the kind of write that fixes a FailoverIP.
type OVHWrite int

const (
	// NoWrite: nothing to do, or nothing the operator may do (a conflict, a
	// missing capability, Observe, a task that failed for this generation).
	NoWrite OVHWrite = iota
	// MoveIP routes the IP to spec.server.
	MoveIP
	// AddVirtualMAC gives the IP a virtual MAC: bound to the VM's existing
	// one when it has one (SiblingMAC), created otherwise.
	AddVirtualMAC
)

// FailoverIPWrite decides the one OVH write that fixes the first finding it
// can fix, and the address it is for (a virtual MAC finding's Subject).
// Findings come in the order they must be fixed (routing, then each
// address's MAC): a routing finding decides alone, since no MAC can be
// fixed before the IP is routed; among MAC findings, a conflict on one
// address of a block does not hold back another address's missing MAC.
//
// A task that failed for good is not retried for the same generation: OVH's
// comment ("quota reached", "customerError") usually needs a person, and
// sending the same write again would fail the same way.
func FailoverIPWrite(manage bool, findings []drift.Finding, lastFailed *v1.FailedTask, generation int64) (OVHWrite, string) {
	if !manage || len(findings) == 0 {
		return NoWrite, ""
	}
	if findings[0].Reason == v1.ReasonRoutedElsewhere {
		if FailedForGeneration(MoveIP, "", lastFailed, generation) {
			return NoWrite, ""
		}
		return MoveIP, ""
	}
	for _, f := range findings {
		if f.Reason == v1.ReasonVirtualMACMissing && !FailedForGeneration(AddVirtualMAC, f.Subject, lastFailed, generation) {
			return AddVirtualMAC, f.Subject
		}
	}
	return NoWrite, "" // conflicts and missing capabilities need a person
}

// FailedForGeneration reports whether the write w (for address, with a
// virtual MAC write) already failed at OVH for this generation of the
// spec. A failure recorded without an address (a single IP's) counts for
// any.
func FailedForGeneration(w OVHWrite, address string, lf *v1.FailedTask, generation int64) bool {
	if lf == nil || lf.Generation != generation {
		return false
	}
	switch w {
	case MoveIP:
		return lf.Function == ovh.FunctionMoveIP
	case AddVirtualMAC:
		return lf.Function == ovh.FunctionAddVirtualMAC && (lf.Address == "" || lf.Address == address)
	}
	return false
}

// VirtualMACRef is a virtual MAC as OVH lists it on a server.
type VirtualMACRef struct {
	MAC, Type string
}

// WantedMAC is an address for which a FailoverIP wants a virtual MAC.
type WantedMAC struct {
	// IP is the address, without prefix length.
	IP string
	// Type is the virtual MAC type asked for (vmware when unset).
	Type v1.VirtualMACType
	// VMName is the VM the MAC is for.
	VMName string
	// MAC is the virtual MAC the FailoverIP's status reports for the
	// address ("" before it has one).
	MAC string
}

// WantedMACs lists the addresses a FailoverIP wants virtual MACs for: the
// IP itself (spec.virtualMAC) or the addresses of its block
// (spec.addresses), with what its status reports for each.
func WantedMACs(f *v1.FailoverIP) []WantedMAC {
	entry := func(ip string, vm *v1.VirtualMACSpec, mac string) WantedMAC {
		t := vm.Type
		if t == "" {
			t = v1.VirtualMACVMware
		}
		return WantedMAC{IP: ip, Type: t, VMName: vm.VMName, MAC: mac}
	}
	var out []WantedMAC
	if f.Spec.VirtualMAC != nil {
		out = append(out, entry(strings.TrimSuffix(f.Spec.IP, "/32"), f.Spec.VirtualMAC, f.Status.MACAddress))
	}
	for _, a := range f.Spec.Addresses {
		if a.VirtualMAC == nil {
			continue
		}
		mac := ""
		for _, st := range f.Status.Addresses {
			if st.IP == a.IP {
				mac = st.MACAddress
			}
		}
		out = append(out, entry(a.IP, a.VirtualMAC, mac))
	}
	return out
}

// WantedMACFor returns the entry of WantedMACs(f) for addr.
func WantedMACFor(f *v1.FailoverIP, addr string) (WantedMAC, bool) {
	for _, w := range WantedMACs(f) {
		if w.IP == addr {
			return w, true
		}
	}
	return WantedMAC{}, false
}

// SiblingMAC returns the virtual MAC that another address of the same VM,
// server and MAC type already carries (another FailoverIP's, or another
// address of self's block) and that still exists on the server, "" when
// there is none. One VM, one MAC, several IPs: OVH's rule for bridged VMs
// (a VM answering for several IPs with several MACs confuses its guest).
// all is the namespace's FailoverIPs; self may be among them.
func SiblingMAC(self *v1.FailoverIP, addr string, all []v1.FailoverIP, onServer []VirtualMACRef) string {
	want, ok := WantedMACFor(self, addr)
	if !ok {
		return ""
	}
	seenSelf := false
	for i := range len(all) + 1 {
		var o *v1.FailoverIP
		switch {
		case i < len(all):
			o = &all[i]
		case seenSelf:
			continue
		}
		me := o == nil || o.Name == self.Name && o.Namespace == self.Namespace
		if me {
			// self as this pass knows it, not the cache's older copy: its
			// other addresses may have got their MAC in this very pass.
			o, seenSelf = self, true
		}
		if o.Spec.Server != self.Spec.Server {
			continue
		}
		for _, w := range WantedMACs(o) {
			if (me && w.IP == addr) || w.MAC == "" || w.VMName != want.VMName || w.Type != want.Type {
				continue
			}
			for _, vm := range onServer {
				if strings.EqualFold(vm.MAC, w.MAC) && vm.Type == string(want.Type) {
					return vm.MAC
				}
			}
		}
	}
	return ""
}

// ForeignIPs returns the IPs among onMAC (the addresses bound to the
// virtual MAC of self's address addr) that FailoverIPs of another VM claim:
// two VMs cannot share a MAC. An address self wants no virtual MAC for
// names no VM, so nothing on its MAC is foreign to it (and drift does not
// judge its MAC at all).
func ForeignIPs(self *v1.FailoverIP, addr string, all []v1.FailoverIP, onMAC []string) []string {
	want, ok := WantedMACFor(self, addr)
	if !ok || len(onMAC) < 2 {
		return nil
	}
	var out []string
	for i := range all {
		for _, w := range WantedMACs(&all[i]) {
			if w.VMName == want.VMName || w.IP == addr {
				continue
			}
			if slices.Contains(onMAC, w.IP) && !slices.Contains(out, w.IP) {
				out = append(out, w.IP)
			}
		}
	}
	return out
}

// Reverse DNS back-off: after OVH refused a name, the same name is sent
// again only after ReverseRetryBase, doubling with each refusal up to
// ReverseRetryMax, unless the spec changed. OVH refuses a name that does not
// resolve to the IP; the A record is made outside Kubernetes, so nothing
// announces it, and a fast retry would only spend the consumer key's budget.
const (
	ReverseRetryBase = 5 * time.Minute
	ReverseRetryMax  = time.Hour
)

// ReverseRetryAfter is how long after the n-th refusal the same name is
// sent again.
func ReverseRetryAfter(attempts int32) time.Duration {
	d := ReverseRetryBase
	for i := int32(1); i < attempts && d < ReverseRetryMax; i++ {
		d *= 2
	}
	return min(d, ReverseRetryMax)
}

// ReverseWrite decides whether to send spec.reverse (want) to OVH now,
// given what OVH serves (observed) and its last refusal. A refusal of
// another name, or for another generation of the spec, does not hold the
// write back: the person changed something.
func ReverseWrite(manage bool, want, observed string, refused *v1.ReverseRefusal, generation int64, now time.Time) bool {
	if !manage || want == "" || drift.ReverseName(want) == drift.ReverseName(observed) {
		return false
	}
	if refused == nil || refused.Generation != generation || drift.ReverseName(refused.Reverse) != drift.ReverseName(want) {
		return true
	}
	return !now.Before(refused.LastAttempt.Add(ReverseRetryAfter(refused.Attempts)))
}

// ReverseRefused returns the refusal to record after OVH refused want:
// one more attempt of the same name and generation, or a first one.
func ReverseRefused(prev *v1.ReverseRefusal, want, message string, generation int64, now time.Time) *v1.ReverseRefusal {
	n := int32(1)
	if prev != nil && prev.Generation == generation && drift.ReverseName(prev.Reverse) == drift.ReverseName(want) {
		n = prev.Attempts + 1
	}
	return &v1.ReverseRefusal{Reverse: want, Message: message, Attempts: n, LastAttempt: metav1.NewTime(now), Generation: generation}
}
