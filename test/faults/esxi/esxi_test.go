// Package esxifaults is the ESXi part of the fault matrix: each case breaks
// the (simulated, SOAP over HTTPS) host while a BridgedVM needs a
// reconfiguration, checks that the conditions name the fault, lets it end,
// and checks that the BridgedVM converges with exactly the writes its change
// needed, a correct neighbour VM never touched.
package esxifaults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	h "github.com/ovhbridge/ovhbridge-operator/test/faults/harness"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

func TestMain(m *testing.M) { h.Main(m) }

const (
	nic1 = "Network adapter 1"
	// outOfBandMAC is what a restore from backup brings back.
	outOfBandMAC = "00:50:56:00:00:99"
)

// change is what the BridgedVM under test needs from ESXi.
type change int

const (
	// macCycle: web1 runs with a generated MAC and must carry WebMAC: a
	// power cycle (off, reconfigure, on).
	macCycle change = iota
	// portGroup: web1's NIC is on LAN and must be on WAN: one
	// reconfiguration, no power change.
	portGroup
	// outOfBand: web1 is already right (powered off, WebMAC); the fault
	// hits the change watcher, then a restore changes the MAC behind the
	// operator's back (one reconfiguration to undo it).
	outOfBand
)

type env struct {
	t     *testing.T
	ns    string
	sim   *esxisim.Harness
	proxy *h.Proxy
	bvm   *v1.BridgedVM
	trail *h.Trail
	// refused counts writes the fault refused, reported apart.
	refused map[string]int
}

type esxiCase struct {
	name   string
	change change
	op     h.OperatorOptions
	proxy  bool
	before func(e *env)
	fault  func(e *env)
	// during: one of these transitions must be seen; empty when the fault
	// is absorbed without a visible condition (a re-login), which the case
	// then proves with whileFaulty.
	during      []string
	whileFaulty func(e *env)
	clear       func(e *env)
	writes      map[string]int
}

func TestESXiFaultMatrix(t *testing.T) {
	cycle := map[string]int{"off": 1, "reconfig": 1, "on": 1}
	one := map[string]int{"off": 0, "reconfig": 1, "on": 0}
	cases := []esxiCase{
		{
			// The host ends the operator's sessions in the middle of a power
			// cycle: the next call logs in again and the cycle goes on.
			name: "session-expired-mid-cycle", change: macCycle,
			fault: func(e *env) {
				waitCalls(e, "PowerOffVM_Task", 1)
				if _, err := e.sim.ExpireSessions(e.t.Context()); err != nil {
					e.t.Fatal(err)
				}
			},
			whileFaulty: func(e *env) { waitCalls(e, "Login", 2) },
			writes:      cycle,
		},
		{
			name: "not-authenticated-once-on-reconfigure", change: macCycle,
			before: func(e *env) {
				e.sim.AddFault(simulator.FaultInjectionRule{MethodName: "ReconfigVM_Task",
					FaultType: simulator.FaultTypeNotAuthenticated, MaxCount: 1})
				e.refused["reconfig"] = 1
			},
			whileFaulty: func(e *env) { waitCalls(e, "Login", 2) },
			writes:      map[string]int{"off": 1, "reconfig": 2, "on": 1},
		},
		{
			// Every reconfiguration is refused NotAuthenticated, even after a
			// fresh login (a role without the privilege): the condition names
			// credentials; the fix is made and the Secret touched.
			name: "not-authenticated-persistent", change: macCycle,
			before: func(e *env) {
				e.sim.AddFault(simulator.FaultInjectionRule{MethodName: "ReconfigVM_Task",
					FaultType: simulator.FaultTypeNotAuthenticated})
			},
			during: []string{"Synced=False/CredentialsInvalid"},
			clear: func(e *env) {
				e.refused["reconfig"] = int(e.sim.Calls()["ReconfigVM_Task"])
				e.sim.ClearFaults()
				h.UpdateSecret(e.t, e.ns, h.ESXiSecretName, nil)
			},
			writes: nil, // set in run: off 1, on 1, reconfig refused+1
		},
		taskFailure("task-error-reconfigure", "ReconfigVM_Task",
			&types.GenericVmConfigFault{Reason: "Failed to lock the file"}, "GenericVmConfigFault",
			map[string]int{"off": 2, "reconfig": 2, "on": 2}),
		taskFailure("task-error-power-off", "PowerOffVM_Task",
			&types.TaskInProgress{}, "TaskInProgress",
			map[string]int{"off": 2, "reconfig": 1, "on": 1}),
		taskFailure("task-error-power-on", "PowerOnVM_Task",
			&types.InsufficientResourcesFault{}, "InsufficientResourcesFault",
			map[string]int{"off": 1, "reconfig": 1, "on": 2}),
		{
			// Reads slower than the per-call deadline.
			name: "read-latency-beyond-deadline", change: portGroup,
			op: h.OperatorOptions{ESXiCallTimeout: time.Second},
			before: func(e *env) {
				e.sim.SetMethodDelay("RetrievePropertiesEx", 2*time.Second)
			},
			during:      []string{"Synced=False/Unreachable"},
			whileFaulty: func(e *env) { messageHas(e, v1.TypeSynced, "timed out") },
			clear:       func(e *env) { e.sim.SetMethodDelay("RetrievePropertiesEx", 0) },
			writes:      one,
		},
		{
			// The reconfiguration outlives the deadline, but the host does
			// it: the operator must see it done, not send it again.
			name: "write-latency-beyond-deadline", change: portGroup,
			op: h.OperatorOptions{ESXiCallTimeout: time.Second},
			before: func(e *env) {
				e.sim.SetMethodDelay("ReconfigVM_Task", 2500*time.Millisecond)
			},
			during: []string{"Synced=False/Unreachable"},
			clear:  func(e *env) { e.sim.SetMethodDelay("ReconfigVM_Task", 0) },
			writes: one,
		},
		{
			name: "watcher-session-expired", change: outOfBand,
			fault: func(e *env) {
				views := e.sim.Calls()["CreateContainerView"]
				if _, err := e.sim.ExpireSessions(e.t.Context()); err != nil {
					e.t.Fatal(err)
				}
				waitCalls(e, "CreateContainerView", int(views)+1) // the watch is rebuilt
				restoreMAC(e)
			},
			during: []string{"MACConfigured=False/MACMismatch"},
			writes: one,
		},
		{
			name: "watcher-wait-fails", change: outOfBand,
			fault: func(e *env) {
				views := e.sim.Calls()["CreateContainerView"]
				e.sim.AddFault(simulator.FaultInjectionRule{MethodName: "WaitForUpdatesEx",
					FaultType: simulator.FaultTypeNetworkFailure, MaxCount: 1})
				waitCalls(e, "CreateContainerView", int(views)+1)
				restoreMAC(e)
			},
			during: []string{"MACConfigured=False/MACMismatch"},
			writes: one,
		},
		{
			// The host stops answering after the power-off; it comes back.
			name: "host-unreachable-mid-cycle-then-back", change: macCycle, proxy: true,
			fault: func(e *env) {
				waitCalls(e, "PowerOffVM_Task", 1)
				e.proxy.Down()
			},
			during:      []string{"Synced=False/Unreachable"},
			whileFaulty: func(e *env) { messageHas(e, v1.TypeSynced, "connect") },
			clear:       func(e *env) { e.proxy.Up() },
			writes:      cycle,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			run(t, c)
		})
	}
}

// taskFailure is a case where one task of the repair ends in error: the
// fault reaches Stalled, nothing is retried for the same generation, the VM
// is powered on again if the operator had powered it off, and a spec change
// runs the repair once more.
func taskFailure(name, method string, fault types.BaseMethodFault, faultName string, writes map[string]int) esxiCase {
	return esxiCase{
		name: name, change: macCycle,
		before: func(e *env) { e.sim.FailNextTask(method, fault) },
		during: []string{"Stalled=True/TaskFailed"},
		whileFaulty: func(e *env) {
			messageHas(e, v1.TypeStalled, faultName)
			// More passes (a guest change is an event) without a retry.
			before := h.ESXiWrites(e.sim)
			if err := e.sim.SetGuest("web1", esxisim.Guest{ToolsRunning: true}); err != nil {
				e.t.Fatal(err)
			}
			h.Eventually(e.t, 15*time.Second, "a pass after the failure", func() error {
				if _, err := h.Condition(e.bvm, v1.TypeReady); err != nil {
					return err
				}
				if g := e.bvm.Status.Guest; g == nil || !g.ToolsRunning {
					return fmt.Errorf("guest = %+v", g)
				}
				return nil
			})
			h.ExpectCounts(e.t, "writes after the failure", h.ESXiWrites(e.sim), before)
		},
		clear: func(e *env) {
			h.Update(e.t, e.bvm, func(b *v1.BridgedVM) {
				b.Spec.ESXi.ResyncInterval = &metav1.Duration{Duration: 11 * time.Minute}
			})
		},
		writes: writes,
	}
}

func run(t *testing.T, c esxiCase) {
	e := &env{t: t, ns: h.Namespace(t), refused: map[string]int{}}
	opts := esxisim.Options{VMs: esxisim.DefaultVMs(true)}
	if c.change == outOfBand {
		opts.VMs[1].PoweredOn = false
		opts.VMs[1].NICs[0].MAC = h.WebMAC
	}
	if c.proxy {
		e.sim, e.proxy = h.ESXiBehindProxy(t, e.ns, opts)
	} else {
		e.sim = h.ESXi(t, e.ns, opts)
	}
	if c.change == portGroup {
		if err := e.sim.SetNICPortGroup(t.Context(), "web1", nic1, esxisim.PortGroupLAN); err != nil {
			t.Fatal(err)
		}
	}
	mac := h.WebMAC
	if c.change == portGroup {
		mac = ""
	}
	if c.before != nil {
		c.before(e)
	}
	h.StartOperator(t, e.ns, c.op)
	// A neighbour already right: it must never be written.
	router := h.BridgedVM(e.ns, "vyatta", "vyatta", "Network adapter 2", esxisim.PortGroupWAN, "")
	e.bvm = h.BridgedVM(e.ns, "web1", "web1", nic1, esxisim.PortGroupWAN, mac)
	e.trail = h.Follow(t, e.bvm, &v1.BridgedVMList{})
	h.Create(t, router, e.bvm)
	routerBefore := vmState(e, "vyatta")
	if c.change == outOfBand {
		h.Ready(t, e.bvm, 30*time.Second)
		h.ExpectCounts(t, "writes before the fault", h.ESXiWrites(e.sim), map[string]int{})
	}
	if c.fault != nil {
		c.fault(e)
	}
	during := "none (absorbed: re-login)"
	if len(c.during) > 0 {
		during = e.trail.Await(t, 30*time.Second, c.during...)
		parts := strings.SplitN(during, "=", 2)
		during = parts[1] + " (" + parts[0] + ")"
	}
	if c.whileFaulty != nil {
		c.whileFaulty(e)
	}
	cleared := time.Now()
	if c.clear != nil {
		c.clear(e)
	}
	h.Ready(t, e.bvm, 60*time.Second)
	converged := time.Since(cleared)
	h.Ready(t, router, 30*time.Second)

	writes := h.ESXiWrites(e.sim)
	want := c.writes
	if want == nil { // refused attempts, then the cycle once
		want = map[string]int{"off": 1, "reconfig": e.refused["reconfig"] + 1, "on": 1}
	}
	h.ExpectCounts(t, c.name+" writes", writes, want)
	web1 := vmState(e, "web1")
	wantPower := "poweredOn"
	if c.change == outOfBand {
		wantPower = "poweredOff"
	}
	if n := web1.NICs[0]; (mac != "" && !strings.EqualFold(n.MAC, mac)) || n.PortGroup != esxisim.PortGroupWAN || web1.PowerState != wantPower {
		t.Errorf("web1 ends %+v, want %s on WAN, %s", web1, h.WebMAC, wantPower)
	}
	if after := vmState(e, "vyatta"); fmt.Sprint(after) != fmt.Sprint(routerBefore) {
		t.Errorf("neighbour vyatta changed: %+v -> %+v", routerBefore, after)
	}
	line := h.FormatCounts(writes)
	if n := e.refused["reconfig"]; n > 0 {
		line += fmt.Sprintf(" (reconfig: %d refused by the fault, 1 done)", n)
	}
	h.Outcome(t, c.name, during, converged, line)
}

func vmState(e *env, name string) esxisim.VMState {
	e.t.Helper()
	st, err := e.sim.VM(e.t.Context(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// waitCalls waits until the operator made at least n calls of method.
func waitCalls(e *env, method string, n int) {
	e.t.Helper()
	h.Eventually(e.t, 20*time.Second, fmt.Sprintf("%d %s calls", n, method), func() error {
		if got := e.sim.Calls()[method]; got < int64(n) {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
}

// restoreMAC changes web1's MAC behind the operator's back; with a ten
// minute resync, only the (rebuilt) watcher can tell it.
func restoreMAC(e *env) {
	e.t.Helper()
	if err := e.sim.RestoreNICMAC("web1", nic1, outOfBandMAC); err != nil {
		e.t.Fatal(err)
	}
}

func messageHas(e *env, typ string, parts ...string) {
	e.t.Helper()
	h.Eventually(e.t, 15*time.Second, typ+" message", func() error {
		msg := h.ConditionMessage(e.bvm, typ)
		for _, p := range parts {
			if !strings.Contains(msg, p) {
				return fmt.Errorf("%s message %q lacks %q", typ, msg, p)
			}
		}
		return nil
	})
}
