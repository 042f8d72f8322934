package controllers

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// startEveryKind runs the FailoverIP and BridgedVM controllers (and, with
// routers, the RouterConfig one) in one manager, as the operator does.
func startEveryKind(t *testing.T, ns string, opts Options, routers bool) {
	t.Helper()
	startManager(t, ns, func(mgr ctrl.Manager) error {
		clients := ovh.NewClients(ovh.Options{RequestsPerSecond: math.Inf(1)})
		fr := &FailoverIPReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), OVH: clients,
			Observer: ovh.NewObserver(clients, ovh.ObserverOptions{}), TaskPoll: 100 * time.Millisecond}
		if err := fr.SetupWithManager(context.Background(), mgr, opts); err != nil {
			return err
		}
		br := &BridgedVMReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), ESXi: newTestPool(mgr),
			TaskPoll: 100 * time.Millisecond}
		if err := br.SetupWithManager(context.Background(), mgr, opts); err != nil || !routers {
			return err
		}
		rr := &RouterConfigReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader()}
		return rr.SetupWithManager(context.Background(), mgr, opts)
	})
}

// blackHole accepts TCP connections and never answers, not even the SSH
// banner: a router whose sshd is wedged, or a firewall that swallows
// packets after the handshake.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// Four routers that accept a connection and never answer hold every
// RouterConfig worker (4). The per-reconcile deadline frees them: a healthy
// RouterConfig queued behind them is reconciled, a FailoverIP and a BridgedVM
// are too, and the hung ones say in Synced that the deadline cut them off.
// Without the deadline each hung pass lasts the router call timeout (2m) and
// the healthy RouterConfig waits that long.
func TestHungRoutersDoNotStarveWorkers(t *testing.T) {
	ns := testNamespace(t)
	rsim, err := routersim.New(routersim.VyOS14, routersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rsim.Close)
	re := &routerEnv{sim: rsim, ns: ns}
	osim := startOVHSim(t, ovhsim.Options{})
	eh := esxisim.StartT(t, esxisim.Options{VMs: webWithMAC(true)})
	create(t, re.secret("router", rsim.HostKeyLine()),
		ovhSecret(ns, "ovh", osim.Endpoint(), appSecret),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "esxi"}, Data: eh.SecretData()})

	const timeout = 8 * time.Second
	opts := testOptions()
	opts.ReconcileTimeout = timeout
	startEveryKind(t, ns, opts, true)

	var hung []*v1.RouterConfig
	for i := range 4 {
		rc := re.edge(v1.DriverSSH, func(rc *v1.RouterConfig) {
			rc.Name = fmt.Sprintf("hung-%d", i)
			rc.Spec.Router.Address = blackHole(t)
			rc.Spec.Router.Platform = v1.PlatformVyOS14
		})
		hung = append(hung, rc)
		create(t, rc)
	}
	// Every worker is inside a hung pass once each hung object has had its
	// first sight written (that happens before the external calls).
	for _, rc := range hung {
		eventually(t, 10*time.Second, rc.Name+" seen", conditionIs(rc, v1.TypeReady, metav1.ConditionUnknown, ""))
	}
	healthy := re.edge(v1.DriverSSH)
	f := &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "router-wan"},
		Spec: v1.FailoverIPSpec{IP: wanIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}},
			VirtualMAC: &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: "vyatta"}}}
	b := &v1.BridgedVM{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web1"},
		Spec: v1.BridgedVMSpec{ESXi: v1.ESXiConnection{CredentialsSecretRef: v1.SecretReference{Name: "esxi"}},
			VMName: "web1", NICs: []v1.NICSpec{nicByLabel("Network adapter 1", "WAN", webMAC)}}}
	create(t, healthy, f, b)

	// A generous bound for a loaded machine, well under the 2m a hung pass
	// lasts without the deadline.
	for _, obj := range []managed{healthy, f, b} {
		eventually(t, 60*time.Second, obj.GetName()+" Ready behind the hung routers",
			conditionIs(obj, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	}
	for _, rc := range hung {
		eventually(t, 30*time.Second, rc.Name+" cut off by the deadline",
			conditionIs(rc, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonUnreachable))
		if msg := condMessage(rc, v1.TypeSynced); !strings.Contains(msg, "within the reconcile timeout (8s") {
			t.Errorf("%s: Synced message %q does not name the deadline", rc.Name, msg)
		}
	}
	if n := rsim.Count("commit"); n != 1 {
		t.Errorf("healthy router commits = %d, want 1", n)
	}
}

// Adoption is quiet: a FailoverIP and the BridgedVM taking its MAC, applied
// together onto a world that already matches them, each write their status
// once (the verdict: no first sight nor "waiting for..." before it, the
// first observation being quick) and no Event (nothing changed but what the
// person applied; READY says it), however the two reconciles interleave.
func TestAdoptionWritesOneStatusAndNoEvent(t *testing.T) {
	ns := testNamespace(t)
	world := seedOVH()
	world.VirtualMACs = append(world.VirtualMACs, ovhsim.VirtualMAC{Server: esxServer, MAC: webMAC, Type: "vmware",
		Addresses: []ovhsim.VirtualAddress{{IP: webIP, VirtualMachineName: "web1"}}})
	osim := startOVHSim(t, ovhsim.Options{World: world})
	eh := esxisim.StartT(t, esxisim.Options{VMs: webWithMAC(true)})
	create(t, ovhSecret(ns, "ovh", osim.Endpoint(), appSecret),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "esxi"}, Data: eh.SecretData()})

	writes := countWrites(t, ns, &v1.FailoverIPList{}, &v1.BridgedVMList{})
	startEveryKind(t, ns, testOptions(), false)
	f := &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-wan"},
		Spec: v1.FailoverIPSpec{IP: webIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}},
			VirtualMAC: &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: "web1"}}}
	b := &v1.BridgedVM{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web1"},
		Spec: v1.BridgedVMSpec{ESXi: v1.ESXiConnection{CredentialsSecretRef: v1.SecretReference{Name: "esxi"}},
			VMName: "web1", NICs: []v1.NICSpec{macFrom(nicByLabel("Network adapter 1", "WAN", ""), "web-wan")}}}
	create(t, b, f) // the BridgedVM first: it waits for the FailoverIP's MAC
	for _, obj := range []managed{f, b} {
		eventually(t, 30*time.Second, obj.GetName()+" Ready", conditionIs(obj, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	}
	// Let a late write show, if there is one.
	time.Sleep(time.Second)
	for _, name := range []string{"web-wan", "web1"} {
		if n := writes(name); n != 1 {
			t.Errorf("%s: %d status writes, want 1 (Ready)", name, n)
		}
	}
	perObject := eventsByObject(t, ns)
	for _, name := range []string{"web-wan", "web1"} {
		if len(perObject[name]) != 0 {
			t.Errorf("%s: Events %q, want none", name, perObject[name])
		}
	}
}

// countWrites counts, through a watch of each list's kind in ns, the
// modifications of each object by name (status writes, once the spec is
// left alone).
func countWrites(t *testing.T, ns string, lists ...client.ObjectList) func(name string) int {
	t.Helper()
	writes := map[string]int{}
	var mu sync.Mutex
	for _, list := range lists {
		wc, err := client.NewWithWatch(cp.Config, client.Options{Scheme: scheme})
		if err != nil {
			t.Fatal(err)
		}
		w, err := wc.Watch(context.Background(), list, client.InNamespace(ns))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		go func() {
			for ev := range w.ResultChan() {
				if m, ok := ev.Object.(managed); ok && ev.Type == watch.Modified {
					mu.Lock()
					writes[m.GetName()]++
					mu.Unlock()
				}
			}
		}()
	}
	return func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return writes[name]
	}
}

// eventsByObject lists ns's events.k8s.io Events as "reason: note" by the
// name of the object they regard.
func eventsByObject(t *testing.T, ns string) map[string][]string {
	t.Helper()
	var evs eventsv1.EventList
	if err := k8sClient.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range evs.Items {
		out[e.Regarding.Name] = append(out[e.Regarding.Name], e.Reason+": "+e.Note)
	}
	return out
}
