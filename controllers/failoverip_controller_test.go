package controllers

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

const (
	esxServer   = "ns123456.ip-198-51-100.eu"
	otherServer = "ns654321.ip-192-0-2.eu"
	wanIP       = "203.0.113.123"
	webIP       = "203.0.113.124"
	wanMAC      = "00:50:56:00:00:01"
	appKey      = "demo-app-key"
	appSecret   = "demo-app-secret-never-logged"
	consumerKey = "demo-consumer-key"
)

// seedOVH is the write-up's OVH side: the ESXi server and another one; the
// router's IP routed and bound to its vmware vMAC, the web IP routed without
// one.
func seedOVH() ovhsim.World {
	return ovhsim.World{
		Applications: []ovhsim.Application{{Key: appKey, Secret: appSecret, ConsumerKeys: []string{consumerKey}}},
		Servers: []ovhsim.DedicatedServer{
			{Name: esxServer, MainIP: "198.51.100.17"},
			{Name: otherServer, MainIP: "192.0.2.10"},
		},
		IPs: []ovhsim.IP{{IP: wanIP, RoutedTo: esxServer}, {IP: webIP, RoutedTo: esxServer}},
		VirtualMACs: []ovhsim.VirtualMAC{{Server: esxServer, MAC: wanMAC, Type: "vmware",
			Addresses: []ovhsim.VirtualAddress{{IP: wanIP, VirtualMachineName: "vyatta"}}}},
	}
}

type ovhEnv struct {
	sim *ovhsim.Server
	ns  string
	// tune changes the reconciler before it starts.
	tune []func(*FailoverIPReconciler)
	// keep runs the Observer with KeepObserved, as the operator does.
	keep bool
	// budget sizes the OVH request budget (requests per second, burst);
	// unlimited when zero.
	budget struct {
		perSecond float64
		burst     int
	}
	// clients is the operator's pool, once started.
	clients *ovh.Clients
}

func startOVHSim(t *testing.T, opts ovhsim.Options) *ovhsim.Server {
	t.Helper()
	if opts.World.Servers == nil {
		opts.World = seedOVH()
	}
	sim, err := ovhsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Close()
		// With opts.Conformance, every request the operator sent and every
		// answer it got was held to OVH's API description.
		for _, v := range sim.Violations() {
			t.Errorf("departs from OVH's API description: %s", v)
		}
	})
	return sim
}

func ovhSecret(ns, name, endpoint, secret string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		StringData: map[string]string{
			"endpoint": endpoint, "applicationKey": appKey, "applicationSecret": secret, "consumerKey": consumerKey,
		},
	}
}

// newOVHEnv starts the simulator, a namespace with the credentials Secret
// "ovh", and the FailoverIP controller (as a fresh operator process would).
func newOVHEnv(t *testing.T, opts ovhsim.Options, tune ...func(*FailoverIPReconciler)) *ovhEnv {
	t.Helper()
	e := &ovhEnv{sim: startOVHSim(t, opts), ns: testNamespace(t), tune: tune}
	if err := k8sClient.Create(context.Background(), ovhSecret(e.ns, "ovh", e.sim.Endpoint(), appSecret)); err != nil {
		t.Fatal(err)
	}
	e.startOperator(t)
	return e
}

func (e *ovhEnv) startOperator(t *testing.T) (stop func()) {
	_, stop = startStoppableManager(t, e.ns, func(mgr ctrl.Manager) error {
		perSecond := math.Inf(1)
		if e.budget.perSecond > 0 {
			perSecond = e.budget.perSecond
		}
		clients := ovh.NewClients(ovh.Options{
			RequestsPerSecond: perSecond, Burst: e.budget.burst,
			Retry: ovh.RetryPolicy{Attempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		})
		e.clients = clients
		r := &FailoverIPReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), OVH: clients,
			Observer: ovh.NewObserver(clients, ovh.ObserverOptions{KeepObserved: e.keep}), TaskPoll: 100 * time.Millisecond}
		for _, tune := range e.tune {
			tune(r)
		}
		return r.SetupWithManager(context.Background(), mgr, Options{
			SkipNameValidation: true, RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: time.Second,
		})
	})
	return stop
}

func (e *ovhEnv) fip(name, ip, vmName string, mutate ...func(*v1.FailoverIP)) *v1.FailoverIP {
	f := &v1.FailoverIP{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
		Spec: v1.FailoverIPSpec{
			IP: ip, Server: esxServer,
			OVH: v1.OVHConnection{
				CredentialsSecretRef: v1.SecretReference{Name: "ovh"},
				SyncInterval:         &metav1.Duration{Duration: time.Second},
			},
		},
	}
	if vmName != "" {
		f.Spec.VirtualMAC = &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: vmName}
	}
	for _, m := range mutate {
		m(f)
	}
	return f
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8sClient.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func observeOnly(f *v1.FailoverIP) { f.Spec.ManagementPolicy = v1.Observe }

func condMessage(obj managed, typ string) string {
	if c := meta.FindStatusCondition(obj.GetResourceStatus().Conditions, typ); c != nil {
		return c.Message
	}
	return ""
}

// The seed's first step: an IP routed to another server is moved to the
// ESXi server and given a vmware virtual MAC, with one write of each.
func TestFailoverIPMovedAndVirtualMACCreated(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{MoveDuration: time.Second, VirtualMACDuration: 300 * time.Millisecond})
	if err := e.sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	f := e.fip("web-wan", webIP, "web1")
	create(t, f)
	eventually(t, 10*time.Second, "MoveInProgress while OVH moves the IP",
		conditionIs(f, v1.TypeRouted, metav1.ConditionFalse, v1.ReasonMoveInProgress))
	if c := meta.FindStatusCondition(f.Status.Conditions, v1.TypeReconciling); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Reconciling must be True while a task runs: %+v", f.Status.Conditions)
	}
	if f.Status.PendingTask == nil || f.Status.PendingTask.Function != ovh.FunctionMoveIP || f.Status.PendingTask.ID == "" {
		t.Errorf("pendingTask = %+v", f.Status.PendingTask)
	}
	eventually(t, 20*time.Second, "Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	if f.Status.RoutedTo != esxServer || !strings.HasPrefix(f.Status.MACAddress, "00:50:56:") ||
		f.Status.VirtualMACType != v1.VirtualMACVMware || f.Status.Gateway != "198.51.100.254" ||
		f.Status.ServerMainIP != "198.51.100.17" || f.Status.PendingTask != nil {
		t.Errorf("status = %+v", f.Status)
	}
	// The server's IPv6 block and gateway, from the same observation.
	var block string
	for _, srv := range e.sim.World().Servers {
		if srv.Name == esxServer {
			block = srv.IPv6
		}
	}
	if v6 := f.Status.IPv6; block == "" || v6 == nil || v6.Block != block || !strings.HasSuffix(v6.Gateway, "ff:ff:ff:ff:ff") {
		t.Errorf("status.ipv6 = %+v, want block %q and the /56's last addresses as gateway", v6, block)
	}
	if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Errorf("move POSTs = %d, want 1", n)
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACCreate); n != 1 {
		t.Errorf("vMAC creations = %d, want 1", n)
	}
	// Where the IP is, read once to plan the move: while the move runs
	// (ten task polls) its task is followed, not the IP.
	if n := e.sim.CallCount(ovhsim.RouteIP); n != 1 {
		t.Errorf("reads of the IP = %d, want 1 (none while its move runs)", n)
	}
	if meta.FindStatusCondition(f.Status.Conditions, v1.TypeReconciling) != nil {
		t.Errorf("Reconciling must be gone once done")
	}
}

// An IP moved away behind the operator's back: reported under Observe,
// reported and moved back under Manage.
func TestFailoverIPOutOfBandMove(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{MoveDuration: 300 * time.Millisecond})
	managed := e.fip("router-wan", wanIP, "vyatta")
	observed := e.fip("web-wan", webIP, "", observeOnly)
	create(t, managed, observed)
	for _, f := range []*v1.FailoverIP{managed, observed} {
		eventually(t, 10*time.Second, f.Name+" Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	}
	for _, ip := range []string{wanIP, webIP} {
		if err := e.sim.MoveIP(ip, otherServer); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "Observe reports RoutedElsewhere",
		conditionIs(observed, v1.TypeReady, metav1.ConditionFalse, v1.ReasonRoutedElsewhere))
	if msg := condMessage(observed, v1.TypeRouted); !strings.Contains(msg, "routed to "+otherServer) ||
		!strings.Contains(msg, "managementPolicy is Observe") {
		t.Errorf("Routed message = %q", msg)
	}
	if len(observed.Status.Drift) != 1 || observed.Status.Drift[0].Observed != otherServer {
		t.Errorf("drift = %+v", observed.Status.Drift)
	}
	// Manage moves it back (its vMAC followed the IP and comes back with it).
	eventually(t, 15*time.Second, "Manage corrects", func() error {
		if err := conditionIs(managed, v1.TypeReady, metav1.ConditionTrue, "")(); err != nil {
			return err
		}
		if managed.Status.RoutedTo != esxServer || managed.Status.MACAddress != wanMAC {
			return fmt.Errorf("status %+v", managed.Status)
		}
		if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 1 {
			return fmt.Errorf("%d move POSTs so far", n)
		}
		return nil
	})
	// Observe never wrote: the only move is the managed one's.
	if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Errorf("move POSTs = %d, want 1 (Observe must never write)", n)
	}
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(observed), observed); err != nil {
		t.Fatal(err)
	}
	if observed.Status.RoutedTo != otherServer {
		t.Errorf("the observed IP must stay where it was moved: %q", observed.Status.RoutedTo)
	}
}

// A virtual MAC deleted in the OVH manager is reported, and recreated
// under Manage.
func TestFailoverIPVirtualMACDeleted(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{VirtualMACDuration: 200 * time.Millisecond})
	f := e.fip("router-wan", wanIP, "vyatta", observeOnly)
	create(t, f)
	eventually(t, 10*time.Second, "Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	if err := e.sim.DeleteVirtualMAC(esxServer, wanMAC); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "VirtualMACMissing",
		conditionIs(f, v1.TypeVirtualMACAssigned, metav1.ConditionFalse, v1.ReasonVirtualMACMissing))
	if n := e.sim.CallCount(ovhsim.RouteVMACCreate); n != 0 {
		t.Fatalf("Observe created a vMAC")
	}
	// Switching to Manage fixes it with one creation.
	patch := client.MergeFrom(f.DeepCopy())
	f.Spec.ManagementPolicy = v1.Manage
	if err := k8sClient.Patch(context.Background(), f, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready again with a new vMAC", func() error {
		if err := conditionIs(f, v1.TypeReady, metav1.ConditionTrue, "")(); err != nil {
			return err
		}
		if n := e.sim.CallCount(ovhsim.RouteVMACCreate); n != 1 {
			return fmt.Errorf("vMAC creations = %d, want 1", n)
		}
		return nil
	})
	var found bool
	for _, m := range e.sim.World().VirtualMACs {
		for _, a := range m.Addresses {
			found = found || (a.IP == wanIP && m.MAC == f.Status.MACAddress && a.VirtualMachineName == "vyatta")
		}
	}
	if !found {
		t.Errorf("status.macAddress %q is not the vMAC OVH has for %s", f.Status.MACAddress, wanIP)
	}
}

func TestFailoverIPVirtualMACConflicts(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{})
	router := e.fip("router-wan", wanIP, "vyatta")
	web := e.fip("web-wan", webIP, "", observeOnly)
	web.Spec.VirtualMAC = &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: "web1"}
	create(t, router, web)
	eventually(t, 10*time.Second, "router Ready", conditionIs(router, v1.TypeReady, metav1.ConditionTrue, ""))

	// Wrong type: OVH cannot change a MAC's type; a person must decide.
	if err := e.sim.SetVirtualMACType(esxServer, wanMAC, "ovh"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "conflict on type",
		conditionIs(router, v1.TypeVirtualMACAssigned, metav1.ConditionFalse, v1.ReasonVirtualMACConflict))
	if msg := condMessage(router, v1.TypeVirtualMACAssigned); !strings.Contains(msg, "of type ovh, the spec wants vmware") {
		t.Errorf("message = %q", msg)
	}
	if err := e.sim.SetVirtualMACType(esxServer, wanMAC, "vmware"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "resolved", conditionIs(router, v1.TypeReady, metav1.ConditionTrue, ""))

	// The router's MAC now also carries the web server's IP: two VMs, one MAC.
	if err := e.sim.BindVirtualMAC(esxServer, wanMAC, webIP, "web1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "conflict on sharing",
		conditionIs(router, v1.TypeVirtualMACAssigned, metav1.ConditionFalse, v1.ReasonVirtualMACConflict))
	if msg := condMessage(router, v1.TypeVirtualMACAssigned); !strings.Contains(msg, "also carries "+webIP) {
		t.Errorf("message = %q", msg)
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACCreate) + e.sim.CallCount(ovhsim.RouteVMACBind) + e.sim.CallCount(ovhsim.RouteVMACUnbind); n != 0 {
		t.Errorf("a conflict must not be 'fixed' by writes: %d vMAC writes", n)
	}
}

// A task OVH ends in customerError: the condition carries OVH's comment and
// the write is not repeated for the same spec.
func TestFailoverIPTaskFailureCarriesOVHComment(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{MoveDuration: 200 * time.Millisecond})
	comment := "There is some VMAC used and the destination server do not support VMAC"
	if err := e.sim.FailNextTasks(ovhsim.FunctionMoveIP, 1, ovhsim.TaskOutcome{Status: "customerError", Comment: comment}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	f := e.fip("web-wan", webIP, "")
	create(t, f)
	eventually(t, 10*time.Second, "Stalled with OVH's comment", func() error {
		if err := conditionIs(f, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonTaskFailed)(); err != nil {
			return err
		}
		if msg := condMessage(f, v1.TypeStalled); !strings.Contains(msg, comment) {
			return fmt.Errorf("Stalled message %q lacks OVH's comment", msg)
		}
		return nil
	})
	if msg := condMessage(f, v1.TypeRouted); !strings.Contains(msg, comment) || !strings.Contains(msg, "not retried") {
		t.Errorf("Routed message = %q", msg)
	}
	if f.Status.LastFailedTask == nil || f.Status.LastFailedTask.Status != "customerError" {
		t.Errorf("lastFailedTask = %+v", f.Status.LastFailedTask)
	}
	time.Sleep(1500 * time.Millisecond) // more than a sync interval
	if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Fatalf("move POSTs = %d, want 1: a failed task is not retried for the same spec", n)
	}
	// A spec change is a new decision: the move is tried again and works.
	patch := client.MergeFrom(f.DeepCopy())
	f.Spec.OVH.SyncInterval = &metav1.Duration{Duration: 2 * time.Second}
	if err := k8sClient.Patch(context.Background(), f, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready after spec change", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	if f.Status.LastFailedTask != nil || meta.FindStatusCondition(f.Status.Conditions, v1.TypeStalled) != nil {
		t.Errorf("the failure must be cleared once fixed: %+v", f.Status)
	}
}

// OVH's flaky moments: task reads answering 404/500 just after creation,
// 5xx and 429 on reads. All retried, nothing written twice.
func TestFailoverIPTransientErrorsAreRetried(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{MoveDuration: 500 * time.Millisecond})
	e.sim.SetTaskVisibility(700*time.Millisecond, 404)
	if err := e.sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	e.sim.InjectFault(ovhsim.RouteIPList, ovhsim.Fault{Status: 503, Body: ovhsim.HTMLErrorPage(503), Count: 3})
	e.sim.InjectFault(ovhsim.RouteIP, ovhsim.Fault{Status: 429, Count: 3})
	f := e.fip("web-wan", webIP, "")
	create(t, f)
	eventually(t, 20*time.Second, "Ready despite the faults", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Errorf("move POSTs = %d, want 1", n)
	}
	if n := e.sim.CallCount(ovhsim.RouteIPTask); n < 2 {
		t.Errorf("task reads = %d: the 404 window must have been read through", n)
	}

	// A 500 window on task reads, and an outage long enough to surface.
	e.sim.SetTaskVisibility(500*time.Millisecond, 500)
	if err := e.sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "moved back through task 500s", func() error {
		if err := conditionIs(f, v1.TypeReady, metav1.ConditionTrue, "")(); err != nil {
			return err
		}
		if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 2 {
			return fmt.Errorf("move POSTs = %d, want 2", n)
		}
		return nil
	})
	e.sim.InjectFault(ovhsim.RouteIPList, ovhsim.Fault{Status: 503, Body: ovhsim.HTMLErrorPage(503)})
	eventually(t, 10*time.Second, "Synced=False Unreachable during an outage",
		conditionIs(f, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonUnreachable))
	e.sim.ClearFaults()
	eventually(t, 10*time.Second, "Synced again", conditionIs(f, v1.TypeSynced, metav1.ConditionTrue, ""))
	e.sim.InjectFault(ovhsim.RouteIPList, ovhsim.Fault{Status: 429})
	eventually(t, 10*time.Second, "RateLimited", conditionIs(f, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonRateLimited))
	e.sim.ClearFaults()
	eventually(t, 10*time.Second, "Synced after 429s", conditionIs(f, v1.TypeSynced, metav1.ConditionTrue, ""))
}

// The operator stops in the middle of a move and a new one starts: the move
// is followed to its end, never sent again.
func TestFailoverIPRestartMidMoveSendsOneMove(t *testing.T) {
	sim := startOVHSim(t, ovhsim.Options{MoveDuration: 2 * time.Second})
	e := &ovhEnv{sim: sim, ns: testNamespace(t)}
	create(t, ovhSecret(e.ns, "ovh", sim.Endpoint(), appSecret))
	if err := sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	stop := e.startOperator(t)
	f := e.fip("web-wan", webIP, "")
	create(t, f)
	eventually(t, 10*time.Second, "move started", conditionIs(f, v1.TypeRouted, metav1.ConditionFalse, v1.ReasonMoveInProgress))
	stop()
	if n := sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Fatalf("move POSTs before the restart = %d", n)
	}
	e.startOperator(t) // a new process: empty caches, only the status remains
	eventually(t, 15*time.Second, "Ready after restart", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	if n := sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Fatalf("move POSTs = %d, want exactly 1 across the restart", n)
	}
}

// The operator stopped after recording the intent of a move and sending it,
// before recording the task id: the next process finds the task by listing.
func TestFailoverIPIntentWithoutTaskIDIsResolved(t *testing.T) {
	sim := startOVHSim(t, ovhsim.Options{MoveDuration: time.Second})
	e := &ovhEnv{sim: sim, ns: testNamespace(t)}
	create(t, ovhSecret(e.ns, "ovh", sim.Endpoint(), appSecret))
	if err := sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	// The world after the crash: OVH has the move task, the status only the intent.
	id, err := sim.AddTask(ovhsim.ScopeIP, webIP+"/32", ovhsim.FunctionMoveIP, "doing")
	if err != nil {
		t.Fatal(err)
	}
	f := e.fip("web-wan", webIP, "")
	f.Annotations = map[string]string{v1.PausedAnnotation: "true"}
	create(t, f)
	eventually(t, 5*time.Second, "object seen", func() error { return k8sClient.Get(context.Background(), client.ObjectKeyFromObject(f), f) })
	f.Status.PendingTask = &v1.PendingTask{Function: ovh.FunctionMoveIP, Scope: scopeIP, Target: esxServer, StartedAt: metav1.Now()}
	if err := k8sClient.Status().Update(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(f.DeepCopy())
	delete(f.Annotations, v1.PausedAnnotation)
	if err := k8sClient.Patch(context.Background(), f, patch); err != nil {
		t.Fatal(err)
	}
	e.startOperator(t)
	eventually(t, 10*time.Second, "task adopted", func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(f), f); err != nil {
			return err
		}
		if f.Status.PendingTask == nil || f.Status.PendingTask.ID != fmt.Sprint(id) {
			return fmt.Errorf("pendingTask = %+v, want id %d", f.Status.PendingTask, id)
		}
		return nil
	})
	if n := sim.CallCount(ovhsim.RouteIPMove); n != 0 {
		t.Fatalf("the move was sent again (%d POSTs) instead of adopting task %d", n, id)
	}
	if err := sim.SetTaskStatus(id, "done", ""); err != nil {
		t.Fatal(err)
	}
	if err := sim.MoveIP(webIP, esxServer); err != nil { // what the adopted task did
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	if n := sim.CallCount(ovhsim.RouteIPMove); n != 0 {
		t.Errorf("move POSTs = %d, want 0", n)
	}
}

func TestFailoverIPWrongCredentials(t *testing.T) {
	sim := startOVHSim(t, ovhsim.Options{})
	e := &ovhEnv{sim: sim, ns: testNamespace(t)}
	create(t, ovhSecret(e.ns, "ovh", sim.Endpoint(), "wrong-secret"))
	e.startOperator(t)
	f := e.fip("router-wan", wanIP, "vyatta")
	create(t, f)
	eventually(t, 10*time.Second, "Synced=False CredentialsInvalid",
		conditionIs(f, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonCredentialsInvalid))
	for _, c := range f.Status.Conditions {
		if strings.Contains(c.Message, "wrong-secret") {
			t.Fatalf("the secret leaked into condition %s: %q", c.Type, c.Message)
		}
	}
	// Fixing the Secret is picked up without a restart (the Secret is watched).
	var s corev1.Secret
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: "ovh"}, &s); err != nil {
		t.Fatal(err)
	}
	s.StringData = map[string]string{"applicationSecret": appSecret}
	if err := k8sClient.Update(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready after rotation", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))

	// A missing Secret is a condition too.
	g := e.fip("web-wan", webIP, "", func(f *v1.FailoverIP) { f.Spec.OVH.CredentialsSecretRef.Name = "absent" })
	create(t, g)
	eventually(t, 10*time.Second, "SecretNotFound", conditionIs(g, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonSecretNotFound))
}

func TestFailoverIPKimsufiHasNoVirtualMACs(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{Profile: ovhsim.ProfileKimsufi, World: ovhsim.World{
		Applications: []ovhsim.Application{{Key: appKey, Secret: appSecret, ConsumerKeys: []string{consumerKey}}},
		Servers:      []ovhsim.DedicatedServer{{Name: esxServer, MainIP: "198.51.100.17"}, {Name: otherServer, MainIP: "192.0.2.10"}},
		IPs:          []ovhsim.IP{{IP: wanIP, RoutedTo: esxServer}, {IP: webIP, RoutedTo: otherServer}},
	}})
	f := e.fip("router-wan", wanIP, "vyatta")
	create(t, f)
	eventually(t, 10*time.Second, "CapabilityMissing",
		conditionIs(f, v1.TypeVirtualMACAssigned, metav1.ConditionFalse, v1.ReasonCapabilityMissing))
	if msg := condMessage(f, v1.TypeReady); !strings.Contains(msg, "does not support virtual MACs") {
		t.Errorf("Ready message = %q", msg)
	}
	// Moving needs a route Kimsufi does not have: a clear condition, not a crash loop.
	g := e.fip("web-wan", webIP, "")
	create(t, g)
	eventually(t, 10*time.Second, "move refused", conditionIs(g, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonCapabilityMissing))
	eventually(t, 5*time.Second, "stalled", conditionIs(g, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonCapabilityMissing))
}

// deletionPolicy Delete unbinds the IP from its virtual MAC; Orphan leaves
// it. Neither ever moves or releases the IP.
func TestFailoverIPDeletionPolicy(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{VirtualMACDuration: 200 * time.Millisecond, World: func() ovhsim.World {
		w := seedOVH()
		w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{Server: esxServer, MAC: "00:50:56:00:00:02", Type: "vmware",
			Addresses: []ovhsim.VirtualAddress{{IP: webIP, VirtualMachineName: "web1"}}})
		return w
	}()})
	del := e.fip("router-wan", wanIP, "vyatta", func(f *v1.FailoverIP) { f.Spec.DeletionPolicy = v1.Delete })
	orphan := e.fip("web-wan", webIP, "web1")
	create(t, del, orphan)
	for _, f := range []*v1.FailoverIP{del, orphan} {
		eventually(t, 10*time.Second, f.Name+" Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	}
	for _, f := range []*v1.FailoverIP{del, orphan} {
		if err := k8sClient.Delete(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, f.Name+" gone", func() error {
			if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(f), f); !apierrors.IsNotFound(err) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
	}
	w := e.sim.World()
	bound := map[string]bool{}
	for _, m := range w.VirtualMACs {
		for _, a := range m.Addresses {
			bound[a.IP] = true
		}
	}
	if bound[wanIP] || !bound[webIP] {
		t.Errorf("after delete: %s bound=%v (want unbound), %s bound=%v (want bound)", wanIP, bound[wanIP], webIP, bound[webIP])
	}
	for _, ip := range w.IPs {
		if ip.RoutedTo != esxServer {
			t.Errorf("%s was moved to %q: deletion never touches routing", ip.IP, ip.RoutedTo)
		}
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACUnbind); n != 1 {
		t.Errorf("unbind calls = %d, want 1", n)
	}
}

// Observation is shared per server: with 100 FailoverIPs on 2 servers the
// steady-state OVH calls per interval do not depend on the number of IPs.
func TestFailoverIPObservationScalesWithServers(t *testing.T) {
	const perServer = 50
	w := seedOVH()
	w.IPs, w.VirtualMACs = nil, nil
	var fips []*v1.FailoverIP
	for s, server := range []string{esxServer, otherServer} {
		for i := 0; i < perServer; i++ {
			ip := fmt.Sprintf("203.0.113.%d", s*perServer+i+1)
			mac := fmt.Sprintf("00:50:56:00:%02x:%02x", s, i)
			vm := fmt.Sprintf("vm-%d-%d", s, i)
			w.IPs = append(w.IPs, ovhsim.IP{IP: ip, RoutedTo: server})
			w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{Server: server, MAC: mac, Type: "vmware",
				Addresses: []ovhsim.VirtualAddress{{IP: ip, VirtualMachineName: vm}}})
			fips = append(fips, &v1.FailoverIP{Spec: v1.FailoverIPSpec{IP: ip, Server: server,
				VirtualMAC: &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: vm}}})
		}
	}
	e := newOVHEnv(t, ovhsim.Options{World: w})
	for i, f := range fips {
		f.Namespace, f.Name = e.ns, fmt.Sprintf("fip-%03d", i)
		f.Spec.OVH = v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"},
			SyncInterval: &metav1.Duration{Duration: time.Second}}
		create(t, f)
	}
	eventually(t, 60*time.Second, "all Ready", func() error {
		var list v1.FailoverIPList
		if err := k8sClient.List(context.Background(), &list, client.InNamespace(e.ns)); err != nil {
			return err
		}
		n := 0
		for _, f := range list.Items {
			if ready(f.Status.Conditions, f.Generation) {
				n++
			}
		}
		if n != len(fips) {
			return fmt.Errorf("%d/%d Ready", n, len(fips))
		}
		return nil
	})
	e.sim.ResetCalls()
	const window = 5 * time.Second
	time.Sleep(window)
	calls := e.sim.Calls()
	total := e.sim.TotalCalls()
	perInterval := float64(total) / window.Seconds()
	t.Logf("steady state, %d FailoverIPs on 2 servers: %d OVH calls in %s = %.1f per 1s interval (%v)",
		len(fips), total, window, perInterval, calls)
	// Per server and interval: the IP list, the vMAC list and one vMAC
	// re-verified (2 calls) — 8 for 2 servers, whatever the number of IPs.
	if perInterval > 10 {
		t.Errorf("%.1f calls per interval for %d FailoverIPs: observation is not shared per server", perInterval, len(fips))
	}
	if calls[ovhsim.RouteIP] != 0 {
		t.Errorf("%d per-IP reads at steady state, want 0", calls[ovhsim.RouteIP])
	}
}

// Regression (issue 12): adopting an IP that OVH shows on a virtual MAC
// carrying two IPs, with a FailoverIP that has no spec.virtualMAC while
// another FailoverIP of the namespace has one, panicked in foreignIPs
// (controller-runtime recovered it, so the object looped without ever getting
// a status). It must be observed like any other: Routed, its MAC reported,
// Ready.
func TestFailoverIPWithoutVirtualMACOnASharedMAC(t *testing.T) {
	world := seedOVH()
	world.VirtualMACs[0].Addresses = append(world.VirtualMACs[0].Addresses, ovhsim.VirtualAddress{IP: webIP, VirtualMachineName: "vyatta"})
	panicsBefore, errorsBefore := reconcilePanics(t, "failoverip"), reconcileErrors(t, "failoverip")
	e := newOVHEnv(t, ovhsim.Options{World: world})
	router := e.fip("router-wan", wanIP, "vyatta", observeOnly)
	web := e.fip("web-wan", webIP, "", observeOnly) // no virtualMAC: adopted as it is
	create(t, router, web)
	eventually(t, 15*time.Second, "the FailoverIP without virtualMAC Ready",
		conditionIs(web, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	if web.Status.MACAddress != wanMAC {
		t.Errorf("status.macAddress = %q, want the shared MAC %s", web.Status.MACAddress, wanMAC)
	}
	if c := meta.FindStatusCondition(web.Status.Conditions, v1.TypeVirtualMACAssigned); c == nil || c.Reason != v1.ReasonNotRequested {
		t.Errorf("VirtualMACAssigned = %+v, want NotRequested", c)
	}
	// Both IPs are the same VM's: no conflict for the one that has a vMAC.
	eventually(t, 15*time.Second, "router-wan Ready", conditionIs(router, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	if n := reconcilePanics(t, "failoverip") - panicsBefore; n != 0 {
		t.Errorf("%v reconciles panicked", n)
	}
	if n := reconcileErrors(t, "failoverip") - errorsBefore; n != 0 {
		t.Errorf("%v reconcile errors", n)
	}
}

// Reverse DNS: set under Manage (the spec's name without its trailing dot
// is OVH's name with one), repaired when changed behind the operator's
// back, reported under Observe; a name OVH refuses (its A record missing)
// is a condition saying to create the record, and is not sent again in a
// loop, only after a back-off or a spec change.
func TestFailoverIPReverseDNS(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{Conformance: true})
	if err := e.sim.SetDNS("router.example.com", wanIP); err != nil {
		t.Fatal(err)
	}
	posts := func() int { return e.sim.CallCount(ovhsim.RouteReverseCreate) }
	router := e.fip("router-wan", wanIP, "vyatta", func(f *v1.FailoverIP) { f.Spec.Reverse = "router.example.com" })
	web := e.fip("web-wan", webIP, "", observeOnly, func(f *v1.FailoverIP) { f.Spec.Reverse = "web.example.com." })
	create(t, router, web)
	eventually(t, 10*time.Second, "router Ready with its reverse", func() error {
		if err := conditionIs(router, v1.TypeReverseConfigured, metav1.ConditionTrue, v1.ReasonConfigured)(); err != nil {
			return err
		}
		return conditionIs(router, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable)()
	})
	if router.Status.Reverse != "router.example.com." || e.sim.ReverseOf(wanIP) != "router.example.com." || posts() != 1 {
		t.Fatalf("status.reverse %q, OVH %q, %d POSTs", router.Status.Reverse, e.sim.ReverseOf(wanIP), posts())
	}

	// Observe: reported, never written.
	eventually(t, 10*time.Second, "web reports ReverseMismatch",
		conditionIs(web, v1.TypeReady, metav1.ConditionFalse, v1.ReasonReverseMismatch))
	if msg := condMessage(web, v1.TypeReverseConfigured); !strings.Contains(msg, "is none, spec.reverse wants web.example.com.") ||
		!strings.Contains(msg, "managementPolicy is Observe") {
		t.Errorf("message = %q", msg)
	}
	if len(web.Status.Drift) != 1 || web.Status.Drift[0].Reason != v1.ReasonReverseMismatch {
		t.Errorf("drift = %+v", web.Status.Drift)
	}

	// Changed in the OVH manager: set back.
	if err := e.sim.SetReverse(wanIP, "ns123456.ip-198-51-100.eu"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the reverse repaired", func() error {
		if got := e.sim.ReverseOf(wanIP); got != "router.example.com." {
			return fmt.Errorf("OVH has %q", got)
		}
		return nil
	})
	if posts() != 2 {
		t.Errorf("reverse POSTs = %d, want 2", posts())
	}

	// Manage, but web.example.com does not resolve: OVH refuses.
	patch := client.MergeFrom(web.DeepCopy())
	web.Spec.ManagementPolicy = v1.Manage
	if err := k8sClient.Patch(context.Background(), web, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "ReverseRefused",
		conditionIs(web, v1.TypeReverseConfigured, metav1.ConditionFalse, v1.ReasonReverseRefused))
	msg := condMessage(web, v1.TypeReverseConfigured)
	for _, want := range []string{"Cannot check if web.example.com. resolves to " + webIP, "create the DNS record web.example.com A " + webIP + " first"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if r := web.Status.ReverseRefused; r == nil || r.Attempts != 1 {
		t.Fatalf("reverseRefused = %+v", r)
	}
	// Several more passes (each reads the reverse once a second, the
	// syncInterval) send nothing more.
	refused, reads := posts(), e.sim.CallCount(ovhsim.RouteReverse)
	eventually(t, 15*time.Second, "three more passes", func() error {
		if n := e.sim.CallCount(ovhsim.RouteReverse); n < reads+6 {
			return fmt.Errorf("%d reverse reads since the refusal", n-reads)
		}
		return nil
	})
	if posts() != refused {
		t.Fatalf("a refused reverse was sent again %d times within its back-off", posts()-refused)
	}

	// The record is created and the spec touched: sent again at once.
	if err := e.sim.SetDNS("web.example.com", webIP); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(web.DeepCopy())
	web.Spec.Reverse = "web.example.com"
	if err := k8sClient.Patch(context.Background(), web, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "web Ready", conditionIs(web, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	if web.Status.ReverseRefused != nil || e.sim.ReverseOf(webIP) != "web.example.com." || posts() != refused+1 {
		t.Errorf("refusal %+v, OVH %q, %d POSTs after the refusal", web.Status.ReverseRefused, e.sim.ReverseOf(webIP), posts()-refused)
	}
}
