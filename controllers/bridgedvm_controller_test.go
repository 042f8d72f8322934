package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

const (
	webMAC   = "00:50:56:00:00:02" // web-wan's virtual MAC
	otherMAC = "00:50:56:00:00:99" // what a person types by mistake
	// minutes: a test that sees a change within seconds saw an event.
	slowResync = 10 * time.Minute
)

// esxiEnv is one test's ESXi endpoint and namespace, with the Secret "esxi".
type esxiEnv struct {
	h  *esxisim.Harness
	ns string
}

func newESXiEnv(t *testing.T, opts esxisim.Options, secret ...func(map[string][]byte)) *esxiEnv {
	t.Helper()
	e := &esxiEnv{h: esxisim.StartT(t, opts), ns: testNamespace(t)}
	data := e.h.SecretData()
	for _, edit := range secret {
		edit(data)
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "esxi"}, Data: data})
	return e
}

// webWithMAC is the seed inventory with web1 already carrying its virtual
// MAC, for tests that start from a VM in sync.
func webWithMAC(poweredOn bool) []esxisim.VMSpec {
	vms := esxisim.DefaultVMs(poweredOn)
	vms[1].NICs[0].MAC = webMAC
	return vms
}

// startOperator starts the BridgedVM controller as a fresh operator process
// would: its own session pool, closed when the manager stops.
func (e *esxiEnv) startOperator(t *testing.T) (stop func()) {
	t.Helper()
	_, stop = startStoppableManager(t, e.ns, func(mgr ctrl.Manager) error {
		pool := newTestPool(mgr)
		r := &BridgedVMReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), ESXi: pool,
			TaskPoll: 100 * time.Millisecond, IntentGrace: 500 * time.Millisecond}
		return r.SetupWithManager(context.Background(), mgr, testOptions())
	})
	return stop
}

// newTestPool is an ESXi session pool closed with the manager. A short
// MaxWait keeps harness shutdown and expiry detection quick; the watcher's
// own periodic resync is off, so only real changes make events.
func newTestPool(mgr ctrl.Manager) *esxi.Sessions {
	pool := esxi.NewSessions(esxi.Options{WatchMaxWait: time.Second, WatchResync: -1, CallTimeout: 10 * time.Second})
	_ = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return pool.Close(context.Background())
	}))
	return pool
}

func testOptions() Options {
	return Options{SkipNameValidation: true, RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: time.Second,
		TaskPoll: 100 * time.Millisecond}
}

func (e *esxiEnv) bvm(name, vmName string, nics []v1.NICSpec, mutate ...func(*v1.BridgedVM)) *v1.BridgedVM {
	b := &v1.BridgedVM{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
		Spec: v1.BridgedVMSpec{
			ESXi: v1.ESXiConnection{
				CredentialsSecretRef: v1.SecretReference{Name: "esxi"},
				ResyncInterval:       &metav1.Duration{Duration: slowResync},
			},
			VMName: vmName, NICs: nics,
		},
	}
	for _, m := range mutate {
		m(b)
	}
	return b
}

func nicByLabel(label, portGroup, mac string) v1.NICSpec {
	return v1.NICSpec{Label: label, PortGroup: portGroup, MAC: mac}
}

func nicByIndex(i int32, portGroup string) v1.NICSpec {
	return v1.NICSpec{Index: &i, PortGroup: portGroup}
}

func macFrom(n v1.NICSpec, fip string) v1.NICSpec {
	n.MACFrom = &v1.MACSource{FailoverIPRef: v1.LocalObjectReference{Name: fip}}
	return n
}

func observe(b *v1.BridgedVM)         { b.Spec.ManagementPolicy = v1.Observe }
func allowPowerCycle(b *v1.BridgedVM) { b.Spec.AllowPowerCycle = true }

func (e *esxiEnv) vm(t *testing.T, name string) esxisim.VMState {
	t.Helper()
	st, err := e.h.VM(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// calls is how many times the operator called method since the last reset.
func (e *esxiEnv) calls(method string) int64 { return e.h.Calls()[method] }

func patchSpec(t *testing.T, b *v1.BridgedVM, edit func(*v1.BridgedVM)) {
	t.Helper()
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(b), b); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(b.DeepCopy())
	edit(b)
	if err := k8sClient.Patch(context.Background(), b, patch); err != nil {
		t.Fatal(err)
	}
}

// readyAfter waits for Ready=True and returns how long it took.
func readyAfter(t *testing.T, b *v1.BridgedVM, timeout time.Duration, what string) {
	t.Helper()
	eventually(t, timeout, what, conditionIs(b, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
}

// The seed's router VM: NIC 1 on LAN, NIC 2 on WAN with router-wan's virtual
// MAC. The MAC is unknown at first (the FailoverIP has not observed it), so
// nothing is written; once the FailoverIP's status carries it, the watch on
// FailoverIPs brings the BridgedVM back, the MAC is set on the powered-off VM
// and only then is the VM powered on. Tools' report then shows in status.
func TestBridgedVMSeedRouterBecomesReady(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{})
	fip := &v1.FailoverIP{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "router-wan"},
		Spec: v1.FailoverIPSpec{IP: wanIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}},
			VirtualMAC: &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: "vyatta"}},
	}
	create(t, fip)
	e.startOperator(t)
	b := e.bvm("vyatta", "vyatta", []v1.NICSpec{
		nicByLabel("Network adapter 1", esxisim.PortGroupLAN, ""),
		macFrom(nicByIndex(1, esxisim.PortGroupWAN), "router-wan"),
	}, func(b *v1.BridgedVM) { b.Spec.PowerState = v1.PoweredOn })
	create(t, b)

	eventually(t, 15*time.Second, "FailoverIPNotReady",
		conditionIs(b, v1.TypeMACConfigured, metav1.ConditionFalse, v1.ReasonFailoverIPNotReady))
	if msg := condMessage(b, v1.TypeMACConfigured); !strings.Contains(msg, "router-wan") {
		t.Errorf("MACConfigured message %q does not name the FailoverIP", msg)
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, v1.TypeSynced); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("a FailoverIP not ready is a condition, not a sync error: %+v", c)
	}
	if n := e.calls("ReconfigVM_Task") + e.calls("PowerOnVM_Task"); n != 0 {
		t.Fatalf("%d writes while the MAC is unknown", n)
	}

	// The FailoverIP controller would write this; the test plays it.
	fip.Status.MACAddress = strings.ToUpper(wanMAC) // case must not matter
	fip.Status.RoutedTo, fip.Status.Gateway = esxServer, guestGateway
	if err := k8sClient.Status().Update(context.Background(), fip); err != nil {
		t.Fatal(err)
	}
	readyAfter(t, b, 15*time.Second, "Ready once the FailoverIP has its MAC")
	st := b.Status
	if !strings.HasPrefix(st.VMRef, "VirtualMachine:") || st.PowerState != v1.PoweredOn || len(st.NICs) != 2 {
		t.Fatalf("status = %+v", st)
	}
	if n := st.NICs[1]; n.MAC != wanMAC || n.AddressType != "manual" || n.PortGroup != esxisim.PortGroupWAN ||
		n.Label != "Network adapter 2" || n.Index != 1 || !n.Connected {
		t.Errorf("NIC 2 status = %+v", n)
	}
	if st.NICs[0].PortGroup != esxisim.PortGroupLAN || st.PendingTask != nil || len(st.Drift) != 0 {
		t.Errorf("status = %+v", st)
	}
	if vm := e.vm(t, "vyatta"); vm.PowerState != "poweredOn" || vm.NICs[1].MAC != wanMAC {
		t.Errorf("ESXi shows %+v", vm)
	}
	// The MAC was set while the VM was off, then the VM was powered on.
	if re, on, off := e.calls("ReconfigVM_Task"), e.calls("PowerOnVM_Task"), e.calls("PowerOffVM_Task"); re != 1 || on != 1 || off != 0 {
		t.Errorf("reconfigure/power on/power off = %d/%d/%d, want 1/1/0", re, on, off)
	}

	// The router's guest booted with the write-up's configuration, and
	// Tools report it: the WAN /32 on eth1 (the NIC with router-wan's MAC),
	// the on-link route to the gateway and the default route out of it.
	if err := conditionIs(b, v1.TypeGuestNetworkConfigured, metav1.ConditionTrue, v1.ReasonConfigured)(); err != nil {
		t.Error(err)
	}
	g := b.Status.Guest
	if g == nil || !g.ToolsRunning || len(g.NICs) != 2 || g.NICs[1].MAC != wanMAC || g.NICs[1].Addresses[0] != wanIP+"/32" {
		t.Fatalf("guest = %+v", g)
	}
	// Addresses follow the NICs' order: LAN first.
	if g.IPAddresses[0] != "10.0.10.254" || !slices.Contains(g.IPAddresses, wanIP) {
		t.Errorf("addresses = %v", g.IPAddresses)
	}
	if !slices.Contains(g.Routes, v1.GuestRoute{Network: "198.51.100.254/32", Device: "1"}) ||
		!slices.Contains(g.Routes, v1.GuestRoute{Network: "0.0.0.0/0", Gateway: "198.51.100.254", Device: "1"}) {
		t.Errorf("routes = %+v", g.Routes)
	}
}

// The acceptance check of the issue: a MAC changed by a person with another
// vSphere client shows within about a second, while the periodic resync is
// ten minutes away. Observe reports it and never writes; Manage then puts it
// back.
func TestBridgedVMOutOfBandMACChangeArrivesAsEvent(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{VMs: webWithMAC(false)})
	e.startOperator(t)
	b := e.bvm("web1", "web1", []v1.NICSpec{nicByLabel("Network adapter 1", esxisim.PortGroupWAN, webMAC)}, observe)
	create(t, b)
	readyAfter(t, b, 15*time.Second, "Ready")

	start := time.Now()
	if err := e.h.SetNICMAC(context.Background(), "web1", "Network adapter 1", otherMAC); err != nil {
		t.Fatal(err)
	}
	// Far below the resync interval: only the change event can explain it.
	eventually(t, 5*time.Second, "MACMismatch through the change event",
		conditionIs(b, v1.TypeMACConfigured, metav1.ConditionFalse, v1.ReasonMACMismatch))
	t.Logf("out-of-band MAC change reported after %v (resync interval %v)", time.Since(start), slowResync)
	if msg := condMessage(b, v1.TypeMACConfigured); !strings.Contains(msg, "has MAC "+otherMAC+", not "+webMAC) ||
		!strings.Contains(msg, "managementPolicy is Observe") {
		t.Errorf("message = %q", msg)
	}
	if len(b.Status.Drift) != 1 || b.Status.Drift[0].Field != "nics[Network adapter 1].mac" ||
		b.Status.Drift[0].Observed != otherMAC || b.Status.Drift[0].Expected != webMAC {
		t.Errorf("drift = %+v", b.Status.Drift)
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, v1.TypeReady); c.Reason != v1.ReasonMACMismatch {
		t.Errorf("Ready = %+v", c)
	}
	if n := e.calls("ReconfigVM_Task"); n != 0 {
		t.Fatalf("Observe reconfigured the VM %d times", n)
	}

	patchSpec(t, b, func(b *v1.BridgedVM) { b.Spec.ManagementPolicy = v1.Manage })
	readyAfter(t, b, 10*time.Second, "Manage puts the MAC back")
	if vm := e.vm(t, "web1"); vm.NICs[0].MAC != webMAC {
		t.Errorf("ESXi shows %+v", vm.NICs[0])
	}
	if n := e.calls("ReconfigVM_Task"); n != 1 {
		t.Errorf("reconfigurations = %d, want 1", n)
	}
}

// A NIC moved to the wrong port group: moved back on a running VM (ESXi
// allows it) under Manage, reported only under Observe.
func TestBridgedVMWrongPortGroup(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{PoweredOn: true})
	e.startOperator(t)
	router := e.bvm("vyatta", "vyatta", []v1.NICSpec{
		nicByLabel("Network adapter 1", esxisim.PortGroupLAN, ""), nicByIndex(1, esxisim.PortGroupWAN),
	})
	web := e.bvm("web1", "web1", []v1.NICSpec{nicByIndex(0, esxisim.PortGroupWAN)}, observe)
	create(t, router, web)
	for _, b := range []*v1.BridgedVM{router, web} {
		readyAfter(t, b, 15*time.Second, b.Name+" Ready")
	}
	ctx := context.Background()
	if err := e.h.SetNICPortGroup(ctx, "vyatta", "Network adapter 1", esxisim.PortGroupWAN); err != nil {
		t.Fatal(err)
	}
	if err := e.h.SetNICPortGroup(ctx, "web1", "Network adapter 1", esxisim.PortGroupLAN); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "WrongPortGroup under Observe",
		conditionIs(web, v1.TypeNetworkAttached, metav1.ConditionFalse, v1.ReasonWrongPortGroup))
	if msg := condMessage(web, v1.TypeNetworkAttached); !strings.Contains(msg, "is on port group LAN, not WAN") {
		t.Errorf("message = %q", msg)
	}
	eventually(t, 10*time.Second, "the router's LAN NIC back on LAN", func() error {
		if vm := e.vm(t, "vyatta"); vm.NICs[0].PortGroup != esxisim.PortGroupLAN {
			return fmt.Errorf("NIC 1 on %s", vm.NICs[0].PortGroup)
		}
		return conditionIs(router, v1.TypeReady, metav1.ConditionTrue, "")()
	})
	if e.vm(t, "web1").NICs[0].PortGroup != esxisim.PortGroupLAN {
		t.Error("Observe moved web1's NIC")
	}
	if n := e.calls("ReconfigVM_Task"); n != 1 {
		t.Errorf("reconfigurations = %d, want 1 (the router's only)", n)
	}
	if n := e.calls("PowerOffVM_Task"); n != 0 {
		t.Errorf("a port group change needs no power-off, yet %d were sent", n)
	}
}

// A MAC change on a running VM waits for a person (PowerOffRequired) until
// allowPowerCycle lets the operator power it off, set the MAC and power it
// on again, one task at a time.
func TestBridgedVMRunningVMNeedsPowerCycle(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{PoweredOn: true})
	e.startOperator(t)
	b := e.bvm("web1", "web1", []v1.NICSpec{nicByLabel("Network adapter 1", esxisim.PortGroupWAN, webMAC)})
	create(t, b)
	eventually(t, 15*time.Second, "PowerOffRequired",
		conditionIs(b, v1.TypeReady, metav1.ConditionFalse, v1.ReasonPowerOffRequired))
	if msg := condMessage(b, v1.TypeMACConfigured); !strings.Contains(msg, "allowPowerCycle") {
		t.Errorf("message = %q", msg)
	}
	if n := e.calls("ReconfigVM_Task") + e.calls("PowerOffVM_Task"); n != 0 {
		t.Fatalf("%d writes without allowPowerCycle", n)
	}
	if vm := e.vm(t, "web1"); vm.PowerState != "poweredOn" {
		t.Fatalf("VM is %s", vm.PowerState)
	}

	patchSpec(t, b, allowPowerCycle)
	readyAfter(t, b, 15*time.Second, "Ready after the power cycle")
	if vm := e.vm(t, "web1"); vm.PowerState != "poweredOn" || vm.NICs[0].MAC != webMAC {
		t.Errorf("ESXi shows %+v", vm)
	}
	if off, re, on := e.calls("PowerOffVM_Task"), e.calls("ReconfigVM_Task"), e.calls("PowerOnVM_Task"); off != 1 || re != 1 || on != 1 {
		t.Errorf("power off/reconfigure/power on = %d/%d/%d, want 1/1/1", off, re, on)
	}
	if b.Status.PendingTask != nil || meta.FindStatusCondition(b.Status.Conditions, v1.TypeReconciling) != nil {
		t.Errorf("nothing may be left in flight: %+v", b.Status)
	}
}

// The operator stops in the middle of a power cycle — the VM is off with its
// new MAC, the power-on did not get through — and a new process takes over:
// it powers the VM on without powering it off or reconfiguring it again.
func TestBridgedVMRestartMidPowerCycleResumes(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{PoweredOn: true})
	// The host does not answer power-ons for now.
	e.h.AddFault(simulator.FaultInjectionRule{MethodName: "PowerOnVM_Task", ObjectType: "VirtualMachine", ObjectName: "web1",
		FaultType: simulator.FaultTypeNetworkFailure})
	stop := e.startOperator(t)
	b := e.bvm("web1", "web1", []v1.NICSpec{nicByLabel("Network adapter 1", esxisim.PortGroupWAN, webMAC)}, allowPowerCycle)
	create(t, b)
	eventually(t, 15*time.Second, "cycle stuck at power-on", func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(b), b); err != nil {
			return err
		}
		if p := b.Status.PendingTask; p == nil || p.Step != v1.StepPowerOn || !p.PowerCycle {
			return fmt.Errorf("pendingTask = %+v", p)
		}
		return nil
	})
	stop()
	if vm := e.vm(t, "web1"); vm.PowerState != "poweredOff" || vm.NICs[0].MAC != webMAC {
		t.Fatalf("before the restart ESXi shows %+v", vm)
	}
	off, re := e.calls("PowerOffVM_Task"), e.calls("ReconfigVM_Task")
	if off != 1 || re != 1 {
		t.Fatalf("before the restart: power off/reconfigure = %d/%d", off, re)
	}

	e.h.ClearFaults()
	e.startOperator(t) // a new process: only the status remains
	readyAfter(t, b, 15*time.Second, "Ready after the restart")
	if vm := e.vm(t, "web1"); vm.PowerState != "poweredOn" {
		t.Errorf("the cycle did not restore power: %+v", vm)
	}
	if n := e.calls("PowerOffVM_Task"); n != off {
		t.Errorf("power-offs = %d, want %d: a restart must never repeat a step", n, off)
	}
	if n := e.calls("ReconfigVM_Task"); n != re {
		t.Errorf("reconfigurations = %d, want %d", n, re)
	}
}

// The previous process recorded a power-off intent and sent it, then died
// before recording the task: the new one sees the VM already off, goes on
// with the MAC and powers the VM on again — it was on before the cycle —
// without a single power-off.
func TestBridgedVMIntentWithoutTaskFollowsTheVM(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{})
	b := e.bvm("web1", "web1", []v1.NICSpec{nicByLabel("Network adapter 1", esxisim.PortGroupWAN, webMAC)}, allowPowerCycle,
		func(b *v1.BridgedVM) { b.Annotations = map[string]string{v1.PausedAnnotation: "true"} })
	create(t, b)
	b.Status.PendingTask = &v1.ESXiTask{Step: v1.StepPowerOff, StartedAt: metav1.Now(), PowerCycle: true}
	if err := k8sClient.Status().Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	patchSpec(t, b, func(b *v1.BridgedVM) { delete(b.Annotations, v1.PausedAnnotation) })
	e.startOperator(t)
	readyAfter(t, b, 15*time.Second, "Ready")
	if vm := e.vm(t, "web1"); vm.PowerState != "poweredOn" || vm.NICs[0].MAC != webMAC {
		t.Errorf("ESXi shows %+v", vm)
	}
	if off, on := e.calls("PowerOffVM_Task"), e.calls("PowerOnVM_Task"); off != 0 || on != 1 {
		t.Errorf("power off/on = %d/%d, want 0/1", off, on)
	}
}

// Someone powered the VM on in the middle of a power cycle, so the
// reconfiguration task failed with InvalidPowerState. The failure is a
// condition carrying the host's fault, not a loop of power cycles; a spec
// change is a new decision.
func TestBridgedVMTaskFailureIsAConditionNotALoop(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{PoweredOn: true})
	// The previous process's reconfiguration, refused because the VM runs.
	ctx := context.Background()
	creds, err := esxi.CredentialsFromSecret(e.h.SecretData())
	if err != nil {
		t.Fatal(err)
	}
	pool := esxi.NewSessions(esxi.Options{WatchMaxWait: time.Second})
	t.Cleanup(func() { _ = pool.Close(context.Background()) })
	api, err := pool.Get(ctx, creds)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := api.FindVM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := api.ReconfigureNIC(ctx, vm.Ref, vm.NICs[0].Key, webMAC, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Close(ctx); err != nil {
		t.Fatal(err)
	}

	b := e.bvm("web1", "web1", []v1.NICSpec{nicByLabel("Network adapter 1", esxisim.PortGroupWAN, webMAC)}, allowPowerCycle,
		func(b *v1.BridgedVM) { b.Annotations = map[string]string{v1.PausedAnnotation: "true"} })
	create(t, b)
	b.Status.PendingTask = &v1.ESXiTask{Step: v1.StepReconfigure, Ref: ref, StartedAt: metav1.Now(), PowerCycle: true}
	if err := k8sClient.Status().Update(ctx, b); err != nil {
		t.Fatal(err)
	}
	patchSpec(t, b, func(b *v1.BridgedVM) { delete(b.Annotations, v1.PausedAnnotation) })
	e.h.ResetCalls()
	e.startOperator(t)

	eventually(t, 15*time.Second, "Stalled with the task's fault", func() error {
		if err := conditionIs(b, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonTaskFailed)(); err != nil {
			return err
		}
		if msg := condMessage(b, v1.TypeStalled); !strings.Contains(msg, "InvalidPowerState") || !strings.Contains(msg, ref) {
			return fmt.Errorf("Stalled message %q lacks the fault or the task", msg)
		}
		return nil
	})
	if lf := b.Status.LastFailedTask; lf == nil || lf.Step != v1.StepReconfigure || lf.Fault != "InvalidPowerState" || lf.Generation != b.Generation {
		t.Errorf("lastFailedTask = %+v", lf)
	}
	if msg := condMessage(b, v1.TypeMACConfigured); !strings.Contains(msg, "not retried") {
		t.Errorf("MACConfigured message = %q", msg)
	}
	// Another pass, brought by an unrelated VM change, must not retry.
	if err := e.h.SetGuest("web1", esxisim.Guest{ToolsRunning: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a pass after the failure", func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return err
		}
		if b.Status.Guest == nil || !b.Status.Guest.ToolsRunning {
			return fmt.Errorf("guest = %+v", b.Status.Guest)
		}
		return nil
	})
	if n := e.calls("PowerOffVM_Task") + e.calls("ReconfigVM_Task"); n != 0 {
		t.Fatalf("%d writes after a failed task of the same generation", n)
	}
	if vm := e.vm(t, "web1"); vm.PowerState != "poweredOn" {
		t.Fatalf("VM is %s", vm.PowerState)
	}

	// Asking for the power state too is a new generation: tried again, and it works.
	patchSpec(t, b, func(b *v1.BridgedVM) { b.Spec.PowerState = v1.PoweredOn })
	readyAfter(t, b, 15*time.Second, "Ready after a spec change")
	if b.Status.LastFailedTask != nil || meta.FindStatusCondition(b.Status.Conditions, v1.TypeStalled) != nil {
		t.Errorf("the failure must be cleared once fixed: %+v", b.Status)
	}
	if vm := e.vm(t, "web1"); vm.PowerState != "poweredOn" || vm.NICs[0].MAC != webMAC {
		t.Errorf("ESXi shows %+v", vm)
	}
}

// ESXi ends the operator's session (idle timeout, an administrator): the
// watcher logs in again, rebuilds its view, and changes keep arriving as
// events.
func TestBridgedVMSessionExpiryRebuildsTheWatcher(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{VMs: webWithMAC(false)})
	e.startOperator(t)
	b := e.bvm("web1", "web1", []v1.NICSpec{nicByLabel("Network adapter 1", esxisim.PortGroupWAN, webMAC)}, observe)
	create(t, b)
	readyAfter(t, b, 15*time.Second, "Ready")

	ctx := context.Background()
	e.h.ResetCalls()
	if n, err := e.h.ExpireSessions(ctx); err != nil || n == 0 {
		t.Fatalf("expired %d sessions: %v", n, err)
	}
	// Nothing but the watcher's long poll talks to ESXi now: it is the one
	// to notice, and to log in again.
	eventually(t, 10*time.Second, "re-login", func() error {
		if n := e.calls("Login"); n != 1 {
			return fmt.Errorf("%d logins", n)
		}
		return nil
	})
	start := time.Now()
	if err := e.h.SetNICMAC(ctx, "web1", "Network adapter 1", otherMAC); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "MACMismatch through the rebuilt watcher",
		conditionIs(b, v1.TypeMACConfigured, metav1.ConditionFalse, v1.ReasonMACMismatch))
	t.Logf("change after session expiry reported after %v (resync interval %v)", time.Since(start), slowResync)
	if err := e.h.SetNICMAC(ctx, "web1", "Network adapter 1", webMAC); err != nil {
		t.Fatal(err)
	}
	readyAfter(t, b, 5*time.Second, "Ready again")
	if n := e.calls("Login"); n != 1 {
		t.Errorf("%d logins, want the one re-login", n)
	}
}

// A wrong password is CredentialsInvalid (and Stalled: retrying cannot
// help) without the password anywhere; fixing the Secret is picked up
// without a restart.
func TestBridgedVMBadCredentials(t *testing.T) {
	const wrong = "not-the-password-9f3c"
	e := newESXiEnv(t, esxisim.Options{}, func(d map[string][]byte) { d["password"] = []byte(wrong) })
	e.startOperator(t)
	b := e.bvm("web1", "web1", []v1.NICSpec{nicByIndex(0, esxisim.PortGroupWAN)})
	create(t, b)
	eventually(t, 15*time.Second, "CredentialsInvalid",
		conditionIs(b, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonCredentialsInvalid))
	eventually(t, 5*time.Second, "Stalled", conditionIs(b, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonCredentialsInvalid))
	for _, c := range b.Status.Conditions {
		if strings.Contains(c.Message, wrong) || strings.Contains(c.Message, e.h.Password) {
			t.Fatalf("a password leaked into condition %s: %q", c.Type, c.Message)
		}
	}

	var s corev1.Secret
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: "esxi"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["password"] = []byte(e.h.Password)
	if err := k8sClient.Update(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	readyAfter(t, b, 15*time.Second, "Ready after fixing the Secret")
}

// A host whose certificate is not the pinned one is refused before any
// login, with the thumbprint it presented so a person can check it.
func TestBridgedVMThumbprintMismatchIsRefused(t *testing.T) {
	pinned := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	e := newESXiEnv(t, esxisim.Options{}, func(d map[string][]byte) { d["thumbprint"] = []byte(pinned) })
	e.startOperator(t)
	b := e.bvm("web1", "web1", []v1.NICSpec{nicByIndex(0, esxisim.PortGroupWAN)})
	create(t, b)
	eventually(t, 15*time.Second, "TrustFailure", conditionIs(b, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonTrustFailure))
	eventually(t, 5*time.Second, "Stalled", conditionIs(b, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonTrustFailure))
	if msg := condMessage(b, v1.TypeSynced); !strings.Contains(msg, e.h.Thumbprint) {
		t.Errorf("message %q does not show the presented thumbprint", msg)
	}
	if n := e.calls("Login"); n != 0 {
		t.Errorf("%d logins to an untrusted host: the password was sent", n)
	}
}

// A VM that does not exist is a condition (not Stalled: it may appear), and
// its appearance — here a rename — is an event.
func TestBridgedVMMissingVM(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{})
	e.startOperator(t)
	b := e.bvm("web2", "web2", []v1.NICSpec{nicByIndex(0, esxisim.PortGroupWAN)})
	create(t, b)
	eventually(t, 15*time.Second, "VMNotFound", conditionIs(b, v1.TypeReady, metav1.ConditionFalse, v1.ReasonVMNotFound))
	if err := conditionIs(b, v1.TypeSynced, metav1.ConditionTrue, "")(); err != nil {
		t.Error(err)
	}
	if meta.FindStatusCondition(b.Status.Conditions, v1.TypeStalled) != nil {
		t.Error("a missing VM must not be Stalled")
	}
	if msg := condMessage(b, v1.TypeReady); !strings.Contains(msg, "VM web2 not found") {
		t.Errorf("message = %q", msg)
	}
	if err := e.h.RenameVM(context.Background(), "web1", "web2"); err != nil {
		t.Fatal(err)
	}
	readyAfter(t, b, 5*time.Second, "Ready once the VM exists")
	if b.Status.VMRef == "" || len(b.Status.NICs) != 1 {
		t.Errorf("status = %+v", b.Status)
	}
}

// A port group that does not exist is never given a NIC. It is retried
// slowly (it may be created on the host, which no VM event announces), so
// creating it fixes the NIC without a person touching the BridgedVM.
func TestBridgedVMMissingPortGroup(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{})
	e.startOperator(t)
	b := e.bvm("web1", "web1", []v1.NICSpec{nicByLabel("Network adapter 1", "DMZ", webMAC)}, func(b *v1.BridgedVM) {
		b.Spec.ESXi.ResyncInterval = &metav1.Duration{Duration: time.Second}
	})
	create(t, b)
	eventually(t, 15*time.Second, "PortGroupNotFound",
		conditionIs(b, v1.TypeNetworkAttached, metav1.ConditionFalse, v1.ReasonPortGroupNotFound))
	if msg := condMessage(b, v1.TypeNetworkAttached); !strings.Contains(msg, "port group DMZ, which does not exist") {
		t.Errorf("message = %q", msg)
	}
	if err := conditionIs(b, v1.TypeSynced, metav1.ConditionTrue, "")(); err != nil {
		t.Error(err)
	}
	if meta.FindStatusCondition(b.Status.Conditions, v1.TypeStalled) != nil {
		t.Error("a missing port group must not be Stalled")
	}
	if n := e.calls("ReconfigVM_Task"); n != 0 {
		t.Fatalf("%d reconfigurations toward a missing port group", n)
	}
	if err := e.h.AddPortGroup(context.Background(), "DMZ"); err != nil {
		t.Fatal(err)
	}
	readyAfter(t, b, 15*time.Second, "Ready once the port group exists")
	if vm := e.vm(t, "web1"); vm.NICs[0].PortGroup != "DMZ" || vm.NICs[0].MAC != webMAC {
		t.Errorf("ESXi shows %+v", vm.NICs[0])
	}
}

// Through a vCenter, confined to a datacenter, wired as main.go wires it.
// deletionPolicy Delete has nothing to undo: the VM stays as it is.
func TestBridgedVMThroughVCenter(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{VCenter: true}, func(d map[string][]byte) { d["datacenter"] = []byte("DC0") })
	startManager(t, e.ns, func(mgr ctrl.Manager) error {
		return setupBridgedVM(context.Background(), mgr, testOptions(), Systems{ESXi: newTestPool(mgr)})
	})
	b := e.bvm("vyatta", "vyatta", []v1.NICSpec{
		nicByLabel("Network adapter 1", esxisim.PortGroupLAN, ""),
		nicByLabel("Network adapter 2", esxisim.PortGroupWAN, wanMAC),
	}, func(b *v1.BridgedVM) { b.Spec.DeletionPolicy = v1.Delete })
	create(t, b)
	readyAfter(t, b, 20*time.Second, "Ready through vCenter")
	if vm := e.vm(t, "vyatta"); vm.NICs[1].MAC != wanMAC || vm.NICs[1].PortGroup != esxisim.PortGroupWAN {
		t.Errorf("vCenter shows %+v", vm.NICs)
	}
	if !strings.Contains(condMessage(b, v1.TypeReady), "datacenter DC0") {
		t.Errorf("Ready message = %q", condMessage(b, v1.TypeReady))
	}

	if err := k8sClient.Delete(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "deleted", func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(b), b); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
	if vm := e.vm(t, "vyatta"); vm.NICs[1].MAC != wanMAC {
		t.Errorf("deletion changed the VM: %+v", vm.NICs)
	}
}
