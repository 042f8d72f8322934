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

// FailoverIPWrite decides the one OVH write that fixes the first finding.
// Findings come in the order they must be fixed (routing, then the MAC).
//
// A task that failed for good is not retried for the same generation: OVH's
// comment ("quota reached", "customerError") usually needs a person, and
// sending the same write again would fail the same way.
func FailoverIPWrite(manage bool, findings []drift.Finding, lastFailed *v1.FailedTask, generation int64) OVHWrite {
	if !manage || len(findings) == 0 {
		return NoWrite
	}
	var w OVHWrite
	switch findings[0].Reason {
	case v1.ReasonRoutedElsewhere:
		w = MoveIP
	case v1.ReasonVirtualMACMissing:
		w = AddVirtualMAC
	default:
		return NoWrite // conflicts and missing capabilities need a person
	}
	if FailedForGeneration(w, lastFailed, generation) {
		return NoWrite
	}
	return w
}

// FailedForGeneration reports whether the write w already failed at OVH for
// this generation of the spec.
func FailedForGeneration(w OVHWrite, lf *v1.FailedTask, generation int64) bool {
	if lf == nil || lf.Generation != generation {
		return false
	}
	switch w {
	case MoveIP:
		return lf.Function == ovh.FunctionMoveIP
	case AddVirtualMAC:
		return lf.Function == ovh.FunctionAddVirtualMAC
	}
	return false
}

// VirtualMACRef is a virtual MAC as OVH lists it on a server.
type VirtualMACRef struct {
	MAC, Type string
}

// SiblingMAC returns the virtual MAC that another FailoverIP of the same VM,
// server and MAC type already carries and that still exists on the server,
// "" when there is none. One VM, one MAC, several IPs: OVH's rule for bridged
// VMs (a VM answering for several IPs with several MACs confuses its guest).
func SiblingMAC(self *v1.FailoverIP, others []v1.FailoverIP, onServer []VirtualMACRef) string {
	want := self.Spec.VirtualMAC
	if want == nil {
		return ""
	}
	for _, o := range others {
		if o.Name == self.Name && o.Namespace == self.Namespace {
			continue
		}
		if o.Spec.Server != self.Spec.Server || o.Spec.VirtualMAC == nil || o.Status.MACAddress == "" ||
			o.Spec.VirtualMAC.VMName != want.VMName || o.Spec.VirtualMAC.Type != want.Type {
			continue
		}
		for _, vm := range onServer {
			if strings.EqualFold(vm.MAC, o.Status.MACAddress) && vm.Type == string(want.Type) {
				return vm.MAC
			}
		}
	}
	return ""
}

// ForeignIPs returns the IPs among onMAC (the addresses bound to self's
// virtual MAC) that FailoverIPs of another VM claim: two VMs cannot share a
// MAC. A FailoverIP without spec.virtualMAC names no VM, so nothing on its MAC
// is foreign to it (and drift does not judge its MAC at all).
func ForeignIPs(self *v1.FailoverIP, others []v1.FailoverIP, onMAC []string) []string {
	if self.Spec.VirtualMAC == nil || len(onMAC) < 2 {
		return nil
	}
	selfAddr := strings.TrimSuffix(self.Spec.IP, "/32")
	var out []string
	for _, o := range others {
		if o.Spec.VirtualMAC == nil || o.Spec.VirtualMAC.VMName == self.Spec.VirtualMAC.VMName {
			continue
		}
		addr := strings.TrimSuffix(o.Spec.IP, "/32")
		if addr != selfAddr && slices.Contains(onMAC, addr) && !slices.Contains(out, addr) {
			out = append(out, addr)
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
