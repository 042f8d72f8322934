package decide

import (
	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

// BridgedVMFacts is what the next ESXi write of a BridgedVM depends on.
type BridgedVMFacts struct {
	// Power is the VM's observed power state (drift.PoweredOn, ...).
	Power string
	// Plan is the comparison of the VM with its spec.
	Plan drift.BridgedVMPlan
	// WantPower is spec.powerState ("" leaves power alone).
	WantPower v1.PowerState
	// AllowPowerCycle is spec.allowPowerCycle.
	AllowPowerCycle bool
	// InCycle is true while a power cycle the operator started is not over:
	// the VM must be powered on again once its MACs are set.
	InCycle bool
	// LastFailed and Generation: a step that failed for this generation is
	// not tried again.
	LastFailed *v1.ESXiTaskFailure
	Generation int64
}

// BridgedVMWrite is one ESXi call that starts a task.
type BridgedVMWrite struct {
	Step v1.PowerCycleStep
	// Cycle marks a step of a power cycle (the VM is powered on again at
	// the end, whatever spec.powerState says).
	Cycle bool
	// Change is the NIC edit of a reconfigure step.
	Change drift.NICChange
}

func (f BridgedVMFacts) failed(step v1.PowerCycleStep) bool {
	lf := f.LastFailed
	return lf != nil && lf.Generation == f.Generation && lf.Step == step
}

// BridgedVMNext decides the one write to make now. Order matters: ESXi
// changes a MAC only on a powered-off VM, so a MAC change on a running VM
// first powers it off (when allowed, or when it is to be off anyway), and a
// VM the operator powered off is powered on only once every NIC is right.
// ok is false when there is nothing to do (or nothing the operator may do).
func BridgedVMNext(f BridgedVMFacts) (w BridgedVMWrite, ok bool) {
	var changes []drift.NICChange
	if !f.failed(v1.StepReconfigure) {
		changes = f.Plan.Changes
	}
	off := f.Power == drift.PoweredOff
	macs := false
	for _, c := range changes {
		macs = macs || c.MAC != ""
	}
	reconfigure := func(c drift.NICChange, cycle bool) (BridgedVMWrite, bool) {
		return BridgedVMWrite{Step: v1.StepReconfigure, Cycle: cycle, Change: c}, true
	}
	power := func(step v1.PowerCycleStep, cycle bool) (BridgedVMWrite, bool) {
		return BridgedVMWrite{Step: step, Cycle: cycle}, true
	}

	if len(changes) > 0 && (off || !macs) {
		return reconfigure(changes[0], f.InCycle)
	}
	if macs {
		switch {
		case f.WantPower == v1.PoweredOff && !f.failed(v1.StepPowerOff):
			return power(v1.StepPowerOff, false) // it is to be off anyway
		case f.AllowPowerCycle && f.Power == drift.PoweredOn && !f.failed(v1.StepPowerOff):
			return power(v1.StepPowerOff, true)
		}
		// Waiting for a person to power the VM off: port groups can still
		// be fixed on a running VM.
		for _, c := range changes {
			if c.PortGroup != "" {
				c.MAC = ""
				return reconfigure(c, false)
			}
		}
	}
	switch {
	case (f.InCycle || RestoreFailed(f.LastFailed, f.WantPower, f.Power)) && off && f.WantPower != v1.PoweredOff && !f.failed(v1.StepPowerOn):
		return power(v1.StepPowerOn, true) // restore what the cycle found
	case f.WantPower == v1.PoweredOn && f.Power != drift.PoweredOn && !MACsPending(f.Plan) && !f.failed(v1.StepPowerOn):
		return power(v1.StepPowerOn, false)
	case f.WantPower == v1.PoweredOff && !off && !f.failed(v1.StepPowerOff):
		return power(v1.StepPowerOff, false)
	}
	return BridgedVMWrite{}, false
}

// RestoreFailed reports that the power-on ending a power cycle failed and the
// VM is still off. The operator powers a VM on only for a cycle or for
// spec.powerState PoweredOn, so a failed power-on without the latter was a
// cycle's: the VM is not where the operator found it, so it is not Ready,
// and the power-on is tried again with the next generation.
func RestoreFailed(lf *v1.ESXiTaskFailure, wantPower v1.PowerState, power string) bool {
	return lf != nil && lf.Step == v1.StepPowerOn && wantPower != v1.PoweredOn && power == drift.PoweredOff
}

// MACsPending reports whether a NIC does not carry its MAC yet. A VM is not
// powered on before: OVH flags traffic from MACs it does not know on its
// network, and the guest would come up with the wrong identity.
func MACsPending(plan drift.BridgedVMPlan) bool {
	return len(drift.FindingsOf(plan.Findings,
		v1.ReasonFailoverIPNotReady, v1.ReasonMACMismatch, v1.ReasonPowerOffRequired)) > 0
}

// EffectVisible reports whether what a step was meant to do shows on the VM:
// how a write whose task reference was never recorded is found done.
// changesLeft is the number of NIC edits the VM still needs.
func EffectVisible(step v1.PowerCycleStep, power string, changesLeft int) bool {
	switch step {
	case v1.StepPowerOff:
		return power == drift.PoweredOff
	case v1.StepPowerOn:
		return power == drift.PoweredOn
	default:
		return changesLeft == 0
	}
}

// IntentOutcome is what becomes of a recorded ESXi write intent whose task
// reference was never saved.
type IntentOutcome int

const (
	// IntentWait: neither the effect nor the grace period's end is there;
	// wait rather than send the same power operation twice.
	IntentWait IntentOutcome = iota
	// IntentDone: the effect shows on the VM; the step is over.
	IntentDone
	// IntentAbandoned: no effect within the grace period; the write is
	// deemed never sent and the next pass decides afresh (said in an Event).
	IntentAbandoned
)

// ESXiIntent decides a write intent without a task reference.
func ESXiIntent(effectVisible, graceOver bool) IntentOutcome {
	switch {
	case effectVisible:
		return IntentDone
	case graceOver:
		return IntentAbandoned
	}
	return IntentWait
}
