package decide

import (
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

func TestBridgedVMNext(t *testing.T) {
	nic := drift.VMNIC{Index: 1, Label: "Network adapter 2", MAC: "00:0c:29:00:00:01", PortGroup: "VM Network"}
	macChange := drift.NICChange{NIC: nic, MAC: "00:50:56:00:00:01"}
	pgChange := drift.NICChange{NIC: nic, PortGroup: "WAN"}
	bothChange := drift.NICChange{NIC: nic, MAC: "00:50:56:00:00:01", PortGroup: "WAN"}
	macPlan := drift.BridgedVMPlan{Changes: []drift.NICChange{macChange}, Findings: []drift.Finding{{Reason: v1.ReasonMACMismatch}}}
	pgPlan := drift.BridgedVMPlan{Changes: []drift.NICChange{pgChange}, Findings: []drift.Finding{{Reason: v1.ReasonWrongPortGroup}}}
	bothPlan := drift.BridgedVMPlan{Changes: []drift.NICChange{bothChange},
		Findings: []drift.Finding{{Reason: v1.ReasonWrongPortGroup}, {Reason: v1.ReasonPowerOffRequired}}}
	notReady := drift.BridgedVMPlan{Findings: []drift.Finding{{Reason: v1.ReasonFailoverIPNotReady}}}
	failed := func(step v1.PowerCycleStep, gen int64) *v1.ESXiTaskFailure {
		return &v1.ESXiTaskFailure{Step: step, Generation: gen}
	}
	on, off := drift.PoweredOn, drift.PoweredOff
	type want struct {
		ok    bool
		step  v1.PowerCycleStep
		cycle bool
		mac   string
		pg    string
	}
	for _, c := range []struct {
		name string
		f    BridgedVMFacts
		want want
	}{
		{"nothing to do", BridgedVMFacts{Power: on}, want{}},
		{"port group on a running VM: reconfigure at once", BridgedVMFacts{Power: on, Plan: pgPlan},
			want{true, v1.StepReconfigure, false, "", "WAN"}},
		{"MAC on a powered-off VM: reconfigure", BridgedVMFacts{Power: off, Plan: macPlan},
			want{true, v1.StepReconfigure, false, "00:50:56:00:00:01", ""}},
		{"MAC on a running VM, cycle allowed: power off for a cycle", BridgedVMFacts{Power: on, Plan: macPlan, AllowPowerCycle: true},
			want{true, v1.StepPowerOff, true, "", ""}},
		{"MAC on a running VM to be off anyway: plain power off", BridgedVMFacts{Power: on, Plan: macPlan, WantPower: v1.PoweredOff},
			want{true, v1.StepPowerOff, false, "", ""}},
		{"MAC on a running VM, no cycle allowed: wait for a person", BridgedVMFacts{Power: on, Plan: macPlan}, want{}},
		{"MAC and port group, no cycle: the port group alone", BridgedVMFacts{Power: on, Plan: bothPlan},
			want{true, v1.StepReconfigure, false, "", "WAN"}},
		{"MAC on a suspended VM with a cycle allowed: a cycle needs it on", BridgedVMFacts{Power: drift.Suspended, Plan: macPlan, AllowPowerCycle: true}, want{}},
		{"inside a cycle, VM off, MAC pending: reconfigure as part of the cycle", BridgedVMFacts{Power: off, Plan: macPlan, InCycle: true},
			want{true, v1.StepReconfigure, true, "00:50:56:00:00:01", ""}},
		{"inside a cycle, MACs right: power on again", BridgedVMFacts{Power: off, InCycle: true},
			want{true, v1.StepPowerOn, true, "", ""}},
		{"inside a cycle, but the VM is to be off: stay off", BridgedVMFacts{Power: off, InCycle: true, WantPower: v1.PoweredOff}, want{}},
		{"reconfigure failed in a cycle: still power on again", BridgedVMFacts{Power: off, Plan: macPlan, InCycle: true,
			LastFailed: failed(v1.StepReconfigure, 4), Generation: 4}, want{true, v1.StepPowerOn, true, "", ""}},
		{"reconfigure failed for an older generation: tried again", BridgedVMFacts{Power: off, Plan: macPlan,
			LastFailed: failed(v1.StepReconfigure, 3), Generation: 4}, want{true, v1.StepReconfigure, false, "00:50:56:00:00:01", ""}},
		{"power-off failed: no cycle", BridgedVMFacts{Power: on, Plan: macPlan, AllowPowerCycle: true,
			LastFailed: failed(v1.StepPowerOff, 4), Generation: 4}, want{}},
		{"cycle's power-on failed, VM left off: tried once more next generation", BridgedVMFacts{Power: off,
			LastFailed: failed(v1.StepPowerOn, 3), Generation: 4}, want{true, v1.StepPowerOn, true, "", ""}},
		{"cycle's power-on failed for this generation: not again", BridgedVMFacts{Power: off,
			LastFailed: failed(v1.StepPowerOn, 4), Generation: 4}, want{}},
		{"spec PoweredOn, VM off: power on", BridgedVMFacts{Power: off, WantPower: v1.PoweredOn}, want{true, v1.StepPowerOn, false, "", ""}},
		{"spec PoweredOn, MAC unknown yet: stay off (OVH must not see a MAC it does not know)",
			BridgedVMFacts{Power: off, WantPower: v1.PoweredOn, Plan: notReady}, want{}},
		{"spec PoweredOff, VM on: power off", BridgedVMFacts{Power: on, WantPower: v1.PoweredOff}, want{true, v1.StepPowerOff, false, "", ""}},
		{"spec PoweredOff, power-off failed: not again", BridgedVMFacts{Power: on, WantPower: v1.PoweredOff,
			LastFailed: failed(v1.StepPowerOff, 1), Generation: 1}, want{}},
	} {
		got, ok := BridgedVMNext(c.f)
		if ok != c.want.ok || got.Step != c.want.step || got.Cycle != c.want.cycle || got.Change.MAC != c.want.mac || got.Change.PortGroup != c.want.pg {
			t.Errorf("%s: ok=%v %+v, want %+v", c.name, ok, got, c.want)
		}
	}
}

func TestRestoreFailed(t *testing.T) {
	on := &v1.ESXiTaskFailure{Step: v1.StepPowerOn}
	for _, c := range []struct {
		name  string
		lf    *v1.ESXiTaskFailure
		want  v1.PowerState
		power string
		exp   bool
	}{
		{"a cycle's power-on failed, VM off", on, "", drift.PoweredOff, true},
		{"spec PoweredOn owns the power-on", on, v1.PoweredOn, drift.PoweredOff, false},
		{"powered on since", on, "", drift.PoweredOn, false},
		{"another step failed", &v1.ESXiTaskFailure{Step: v1.StepReconfigure}, "", drift.PoweredOff, false},
		{"nothing failed", nil, "", drift.PoweredOff, false},
	} {
		if got := RestoreFailed(c.lf, c.want, c.power); got != c.exp {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}

func TestEffectVisibleAndIntent(t *testing.T) {
	for _, c := range []struct {
		step    v1.PowerCycleStep
		power   string
		changes int
		want    bool
	}{
		{v1.StepPowerOff, drift.PoweredOff, 1, true},
		{v1.StepPowerOff, drift.PoweredOn, 0, false},
		{v1.StepPowerOn, drift.PoweredOn, 0, true},
		{v1.StepPowerOn, drift.Suspended, 0, false},
		{v1.StepReconfigure, drift.PoweredOff, 0, true},
		{v1.StepReconfigure, drift.PoweredOff, 2, false},
	} {
		if got := EffectVisible(c.step, c.power, c.changes); got != c.want {
			t.Errorf("EffectVisible(%s, %s, %d) = %v", c.step, c.power, c.changes, got)
		}
	}
	if ESXiIntent(true, false) != IntentDone || ESXiIntent(true, true) != IntentDone {
		t.Error("a visible effect ends the intent as done, grace or not")
	}
	if ESXiIntent(false, false) != IntentWait {
		t.Error("no effect within the grace: wait, never re-send")
	}
	if ESXiIntent(false, true) != IntentAbandoned {
		t.Error("no effect after the grace: abandoned (and said)")
	}
}

func TestMACsPending(t *testing.T) {
	for _, c := range []struct {
		reason string
		want   bool
	}{
		{v1.ReasonMACMismatch, true}, {v1.ReasonPowerOffRequired, true}, {v1.ReasonFailoverIPNotReady, true},
		{v1.ReasonWrongPortGroup, false}, {v1.ReasonPowerStateMismatch, false},
	} {
		if got := MACsPending(drift.BridgedVMPlan{Findings: []drift.Finding{{Reason: c.reason}}}); got != c.want {
			t.Errorf("%s: %v", c.reason, got)
		}
	}
}
