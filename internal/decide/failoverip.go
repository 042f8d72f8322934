package decide

import (
	"slices"
	"strings"

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
