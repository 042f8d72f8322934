package controllers

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// startManagerIn is startManager for a cache spanning several namespaces
// (claims on an IP cross namespaces).
func startManagerIn(t *testing.T, namespaces []string, setup func(ctrl.Manager) error) {
	t.Helper()
	nsCache := map[string]cache.Config{}
	for _, ns := range namespaces {
		nsCache[ns] = cache.Config{}
	}
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{DefaultNamespaces: nsCache},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	})
}

// createdAfter creates obj once the clock has passed the second earlier
// was created in, so that obj is the later claimant by creationTimestamp
// alone, whatever the names.
func createdAfter(t *testing.T, earlier client.Object, obj client.Object) {
	t.Helper()
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(earlier), earlier); err != nil {
		t.Fatal(err)
	}
	next := earlier.GetCreationTimestamp().Add(time.Second)
	eventually(t, 3*time.Second, "the next second", func() error {
		if time.Now().Before(next) {
			return fmt.Errorf("not yet %s", next)
		}
		return nil
	})
	create(t, obj)
}

// claimedBy waits for obj to yield to winner: Ready=False, Synced=False and
// Stalled=True with reason ClaimedByAnother and a message naming winner.
func claimedBy(t *testing.T, obj managed, winner client.Object, what string) {
	t.Helper()
	want := winner.GetNamespace() + "/" + winner.GetName()
	eventually(t, 15*time.Second, obj.GetName()+" yields to "+want, func() error {
		if err := conditionIs(obj, v1.TypeReady, metav1.ConditionFalse, v1.ReasonClaimedByAnother)(); err != nil {
			return err
		}
		if msg := condMessage(obj, v1.TypeReady); !strings.Contains(msg, want) {
			return fmt.Errorf("message %q does not name %s", msg, want)
		}
		return nil
	})
	msg := condMessage(obj, v1.TypeReady)
	if !strings.Contains(msg, what) || !strings.Contains(msg, "takes over by itself") {
		t.Errorf("message %q should say what is claimed (%q) and what to do", msg, what)
	}
	for _, typ := range []string{v1.TypeSynced, v1.TypeStalled} {
		status := metav1.ConditionFalse
		if typ == v1.TypeStalled {
			status = metav1.ConditionTrue
		}
		if err := conditionIs(obj, typ, status, v1.ReasonClaimedByAnother)(); err != nil {
			t.Error(err)
		}
	}
}

func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, obj.GetName()+" gone", func() error {
		err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (finalizers %v, err %v)", obj.GetFinalizers(), err)
	})
}

// Two FailoverIPs of one IP in two namespaces: the later ones yield and
// never write — not even a loser with deletionPolicy Delete on its way out,
// which would unbind the winner's virtual MAC. Once the winner is gone, the
// next claimant takes over and routes the IP its way.
func TestClaimsFailoverIPSameIPAcrossNamespaces(t *testing.T) {
	sim := startOVHSim(t, ovhsim.Options{MoveDuration: 300 * time.Millisecond, VirtualMACDuration: 200 * time.Millisecond})
	nsA, nsB := testNamespace(t), testNamespace(t)
	for _, ns := range []string{nsA, nsB} {
		create(t, ovhSecret(ns, "ovh", sim.Endpoint(), appSecret))
	}
	startManagerIn(t, []string{nsA, nsB}, func(mgr ctrl.Manager) error {
		clients := ovh.NewClients(ovh.Options{RequestsPerSecond: math.Inf(1),
			Retry: ovh.RetryPolicy{Attempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}})
		r := &FailoverIPReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), OVH: clients,
			Observer: ovh.NewObserver(clients, ovh.ObserverOptions{}), TaskPoll: 100 * time.Millisecond}
		return r.SetupWithManager(context.Background(), mgr, testOptions())
	})
	a := &ovhEnv{sim: sim, ns: nsA}
	b := &ovhEnv{sim: sim, ns: nsB}

	winner := a.fip("router-wan", wanIP, "vyatta")
	create(t, winner)
	eventually(t, 15*time.Second, "winner Ready", conditionIs(winner, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	sim.ResetCalls()

	// Same IP written as a /32, the winner's vMAC, and Delete: deleting it
	// would unbind the winner's MAC.
	deleter := b.fip("wan-copy", wanIP+"/32", "vyatta", func(f *v1.FailoverIP) { f.Spec.DeletionPolicy = v1.Delete })
	// Wants the IP on another server: acting would move it away.
	mover := b.fip("wan-elsewhere", wanIP, "other", func(f *v1.FailoverIP) { f.Spec.Server = otherServer })
	createdAfter(t, winner, deleter)
	create(t, mover)
	claimedBy(t, deleter, winner, "IP "+wanIP)
	claimedBy(t, mover, winner, "IP "+wanIP)
	if deleter.Status.ObservedGeneration != deleter.Generation {
		t.Errorf("observedGeneration %d, want %d: the spec was evaluated", deleter.Status.ObservedGeneration, deleter.Generation)
	}

	deleteAndWait(t, deleter)
	for _, route := range []string{ovhsim.RouteIPMove, ovhsim.RouteVMACCreate, ovhsim.RouteVMACBind, ovhsim.RouteVMACUnbind} {
		if n := sim.CallCount(route); n != 0 {
			t.Errorf("%s called %d times by the losers, want 0", route, n)
		}
	}
	if err := conditionIs(winner, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable)(); err != nil {
		t.Errorf("the winner: %v", err)
	}
	if winner.Status.MACAddress != wanMAC || winner.Status.RoutedTo != esxServer {
		t.Errorf("the winner's status was disturbed: %+v", winner.Status)
	}
	bound := false
	for _, m := range sim.World().VirtualMACs {
		for _, ad := range m.Addresses {
			bound = bound || (m.MAC == wanMAC && ad.IP == wanIP)
		}
	}
	if !bound {
		t.Errorf("the winner's virtual MAC lost its IP: %+v", sim.World().VirtualMACs)
	}

	// The winner goes (Orphan): the remaining claimant takes over at once.
	deleteAndWait(t, winner)
	eventually(t, 20*time.Second, "the next claimant routes the IP its way", func() error {
		if err := conditionIs(mover, v1.TypeRouted, metav1.ConditionTrue, "")(); err != nil {
			return err
		}
		if mover.Status.RoutedTo != otherServer {
			return fmt.Errorf("routed to %q", mover.Status.RoutedTo)
		}
		return nil
	})
	if n := sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Errorf("moves = %d, want 1 (the new winner's only)", n)
	}
}

// BridgedVMs on one NIC of one VM on one host — through another Secret
// naming the same host, by index where the winner says label — yield; one
// on another NIC does not. The winner's deletion hands the NIC to the next.
func TestClaimsBridgedVMSameNIC(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "esxi-copy"}, Data: e.h.SecretData()})
	e.startOperator(t)
	winner := e.bvm("a-web", "web1", []v1.NICSpec{nicByLabel("Network adapter 1", esxisim.PortGroupWAN, webMAC)})
	create(t, winner)
	readyAfter(t, winner, 15*time.Second, "winner Ready")
	e.h.ResetCalls()

	// Index 0 is "Network adapter 1" (the winner observed it so).
	byIndex := e.bvm("b-web", "web1", []v1.NICSpec{{Index: ptr(int32(0)), PortGroup: esxisim.PortGroupLAN, MAC: otherMAC}},
		func(b *v1.BridgedVM) { b.Spec.ESXi.CredentialsSecretRef.Name = "esxi-copy" })
	sameLabel := e.bvm("c-web", "web1", []v1.NICSpec{nicByLabel("network adapter 1", esxisim.PortGroupLAN, "")})
	// Two BridgedVMs on two different NICs of one VM coexist.
	lan := e.bvm("d-vyatta-lan", "vyatta", []v1.NICSpec{nicByIndex(0, esxisim.PortGroupLAN)})
	wan := e.bvm("e-vyatta-wan", "vyatta", []v1.NICSpec{nicByLabel("Network adapter 2", esxisim.PortGroupWAN, "")})
	create(t, byIndex, sameLabel, lan, wan)
	claimedBy(t, byIndex, winner, "NIC index 0 of VM web1")
	claimedBy(t, sameLabel, winner, `NIC "network adapter 1" of VM web1`)
	readyAfter(t, lan, 15*time.Second, "a BridgedVM on another NIC")
	readyAfter(t, wan, 15*time.Second, "a BridgedVM on another NIC")
	if n := e.calls("ReconfigVM_Task") + e.calls("PowerOnVM_Task") + e.calls("PowerOffVM_Task"); n != 0 {
		t.Errorf("%d writes to ESXi by the losers, want 0", n)
	}
	if vm := e.vm(t, "web1"); vm.NICs[0].MAC != webMAC || vm.NICs[0].PortGroup != esxisim.PortGroupWAN {
		t.Errorf("web1's NIC changed: %+v", vm.NICs[0])
	}
	if err := conditionIs(winner, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable)(); err != nil {
		t.Errorf("the winner: %v", err)
	}

	deleteAndWait(t, winner)
	readyAfter(t, byIndex, 15*time.Second, "the next claimant takes the NIC over")
	if vm := e.vm(t, "web1"); vm.NICs[0].MAC != otherMAC || vm.NICs[0].PortGroup != esxisim.PortGroupLAN {
		t.Errorf("web1's NIC after the takeover: %+v", vm.NICs[0])
	}
	if n := e.calls("ReconfigVM_Task"); n != 1 {
		t.Errorf("reconfigurations = %d, want 1 (the new winner's)", n)
	}
	claimedBy(t, sameLabel, byIndex, `NIC "network adapter 1" of VM web1`)

	// The winner points at another VM: the last claimant takes web1 over,
	// long before its slow re-check would.
	patchSpec(t, byIndex, func(b *v1.BridgedVM) { b.Spec.VMName = "web2" })
	readyAfter(t, sameLabel, 15*time.Second, "the last claimant takes web1 over")
}

// RouterConfigs on one router: the later ones never commit; one with
// deletionPolicy Delete is deleted without removing the winner's NAT rules;
// the winner's deletion hands the router to the next, which commits its spec
// once.
func TestClaimsRouterConfigSameRouter(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	winner := e.edge(v1.DriverSSH)
	create(t, winner)
	eventually(t, 20*time.Second, "winner Ready", conditionIs(winner, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	commits, saves := e.sim.Count("commit"), e.sim.Count("save")

	forward := func(to string) func(*v1.RouterConfig) {
		return func(rc *v1.RouterConfig) { rc.Spec.NAT.Destination[0].TranslationAddress = to }
	}
	deleter := e.edge(v1.DriverSSH, forward("10.0.10.99"), func(rc *v1.RouterConfig) {
		rc.Name, rc.Spec.DeletionPolicy = "edge-copy", v1.Delete
	})
	next := e.edge(v1.DriverSSH, forward("10.0.10.77"), func(rc *v1.RouterConfig) { rc.Name = "edge-next" })
	create(t, deleter, next)
	endpoint := "router " + e.sim.SSHAddr()
	claimedBy(t, deleter, winner, endpoint)
	claimedBy(t, next, winner, endpoint)
	deleteAndWait(t, deleter)
	if c, s := e.sim.Count("commit"), e.sim.Count("save"); c != commits || s != saves {
		t.Errorf("commits/saves %d/%d, want %d/%d: a loser wrote to the router", c, s, commits, saves)
	}
	active := e.sim.ActiveCommands()
	if !strings.Contains(active, "nat destination rule 20 translation address '10.0.10.10'") {
		t.Errorf("the winner's NAT rule is gone or changed:\n%s", active)
	}
	if err := conditionIs(winner, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable)(); err != nil {
		t.Errorf("the winner: %v", err)
	}

	deleteAndWait(t, winner)
	eventually(t, 20*time.Second, "the next claimant Ready", conditionIs(next, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	if active := e.sim.ActiveCommands(); !strings.Contains(active, "nat destination rule 20 translation address '10.0.10.77'") {
		t.Errorf("the new winner's spec is not applied:\n%s", active)
	}
	if n := e.sim.Count("commit"); n != commits+1 {
		t.Errorf("commits = %d, want %d (one for the new winner)", n, commits+1)
	}
}

// reconcileErrors is how many reconciles of a controller ended in an error
// (and so in a backoff retry) in this process.
func reconcileErrors(t *testing.T, controller string) float64 {
	t.Helper()
	return controllerCounter(t, "controller_runtime_reconcile_errors_total", controller)
}

// reconcilePanics is how many reconciles of a controller panicked (and were
// recovered by controller-runtime) in this process.
func reconcilePanics(t *testing.T, controller string) float64 {
	t.Helper()
	return controllerCounter(t, "controller_runtime_reconcile_panics_total", controller)
}

func controllerCounter(t *testing.T, metric, controller string) float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelIs(m, "controller", controller) {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// A BridgedVM taking its MAC from a FailoverIP that does not exist, and one
// whose Secret does not exist: conditions that say what is missing, no
// error retries, no write; each recovers by itself once the object appears.
func TestClaimsBridgedVMMissingReferences(t *testing.T) {
	e := newESXiEnv(t, esxisim.Options{})
	e.startOperator(t)
	errorsBefore := reconcileErrors(t, "bridgedvm")
	web := e.bvm("web1", "web1", []v1.NICSpec{macFrom(nicByIndex(0, esxisim.PortGroupWAN), "web-wan")})
	router := e.bvm("vyatta", "vyatta", []v1.NICSpec{nicByIndex(0, esxisim.PortGroupLAN)},
		func(b *v1.BridgedVM) { b.Spec.ESXi.CredentialsSecretRef.Name = "esxi-later" })
	create(t, web, router)

	eventually(t, 15*time.Second, "FailoverIPNotReady", conditionIs(web, v1.TypeReady, metav1.ConditionFalse, v1.ReasonFailoverIPNotReady))
	if msg := condMessage(web, v1.TypeMACConfigured); !strings.Contains(msg, "FailoverIP "+e.ns+"/web-wan does not exist: create it") {
		t.Errorf("message %q does not say what to create", msg)
	}
	if err := conditionIs(web, v1.TypeSynced, metav1.ConditionTrue, "")(); err != nil {
		t.Errorf("a missing FailoverIP is a condition, not a sync failure: %v", err)
	}
	eventually(t, 15*time.Second, "SecretNotFound", conditionIs(router, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonSecretNotFound))
	if msg := condMessage(router, v1.TypeReady); !strings.Contains(msg, "Secret "+e.ns+"/esxi-later not found: create it with \"url\"") {
		t.Errorf("Ready message %q does not say which Secret to create", msg)
	}
	if err := conditionIs(router, v1.TypeStalled, metav1.ConditionTrue, "")(); err == nil {
		t.Errorf("a missing Secret may appear: not Stalled")
	}
	if n := reconcileErrors(t, "bridgedvm") - errorsBefore; n != 0 {
		t.Errorf("%v reconcile errors: a missing object must not be retried with backoff", n)
	}
	if n := e.calls("ReconfigVM_Task"); n != 0 {
		t.Errorf("%d reconfigurations while references are missing", n)
	}

	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "esxi-later"}, Data: e.h.SecretData()})
	readyAfter(t, router, 15*time.Second, "Ready once the Secret exists")

	fip := &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "web-wan"},
		Spec: v1.FailoverIPSpec{IP: webIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}},
			VirtualMAC: &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: "web1"}}}
	create(t, fip)
	eventually(t, 10*time.Second, "the FailoverIP's absence is over", func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(web), web); err != nil {
			return err
		}
		if msg := condMessage(web, v1.TypeMACConfigured); !strings.Contains(msg, "has no status.macAddress") {
			return fmt.Errorf("message %q", msg)
		}
		return nil
	})
	// The FailoverIP controller would write this; here the test plays it.
	fip.Status.MACAddress = webMAC
	if err := k8sClient.Status().Update(context.Background(), fip); err != nil {
		t.Fatal(err)
	}
	readyAfter(t, web, 15*time.Second, "Ready once the FailoverIP has its MAC")
	if vm := e.vm(t, "web1"); vm.NICs[0].MAC != webMAC {
		t.Errorf("web1's NIC: %+v", vm.NICs[0])
	}
}

// A RouterConfig whose Secret does not exist says which one to create, is
// not retried with backoff, and recovers when it is created.
func TestClaimsRouterConfigMissingSecret(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	errorsBefore := reconcileErrors(t, "routerconfig")
	rc := e.edge(v1.DriverSSH, func(rc *v1.RouterConfig) { rc.Spec.Router.CredentialsSecretRef.Name = "router-later" })
	create(t, rc)
	eventually(t, 15*time.Second, "SecretNotFound", conditionIs(rc, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonSecretNotFound))
	if msg := condMessage(rc, v1.TypeSynced); !strings.Contains(msg, "Secret "+e.ns+"/router-later not found: create it with \"username\"") {
		t.Errorf("message %q does not say which Secret to create", msg)
	}
	if n := reconcileErrors(t, "routerconfig") - errorsBefore; n != 0 {
		t.Errorf("%v reconcile errors: a missing Secret must not be retried with backoff", n)
	}
	if n := e.sim.Count("commit"); n != 0 {
		t.Errorf("%d commits without credentials", n)
	}
	create(t, e.secret("router-later", e.sim.HostKeyLine()))
	eventually(t, 20*time.Second, "Ready once the Secret exists", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
}

func ptr[T any](v T) *T { return &v }

// A FailoverIP whose Secret does not exist says which one to create, is
// not retried with backoff, and recovers when it is created.
func TestClaimsFailoverIPMissingSecret(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{})
	errorsBefore := reconcileErrors(t, "failoverip")
	f := e.fip("router-wan", wanIP, "vyatta", func(f *v1.FailoverIP) { f.Spec.OVH.CredentialsSecretRef.Name = "ovh-later" })
	create(t, f)
	eventually(t, 10*time.Second, "SecretNotFound", conditionIs(f, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonSecretNotFound))
	if msg := condMessage(f, v1.TypeSynced); !strings.Contains(msg, "Secret "+e.ns+"/ovh-later not found: create it with \"endpoint\"") {
		t.Errorf("message %q does not say which Secret to create", msg)
	}
	if n := reconcileErrors(t, "failoverip") - errorsBefore; n != 0 {
		t.Errorf("%v reconcile errors: a missing Secret must not be retried with backoff", n)
	}
	if n := e.sim.TotalCalls(); n != 0 {
		t.Errorf("%d OVH calls without credentials", n)
	}
	create(t, ovhSecret(e.ns, "ovh-later", e.sim.Endpoint(), appSecret))
	eventually(t, 10*time.Second, "Ready once the Secret exists", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
}
