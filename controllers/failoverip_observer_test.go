package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

func hourly(f *v1.FailoverIP) { f.Spec.OVH.SyncInterval = &metav1.Duration{Duration: time.Hour} }

// A FailoverIP whose server is being observed for the first time does not
// hold a worker until the observation ends: it says what it waits for, and
// the Observer's announcement brings it back at once, not its syncInterval.
func TestFailoverIPWaitsForItsServersFirstObservationWithoutBlocking(t *testing.T) {
	// A quiet first sight of 1s, not 10s: the test is about what is said
	// after it, and 10s would sit at the edge of its wait.
	e := &ovhEnv{sim: startOVHSim(t, ovhsim.Options{}), ns: testNamespace(t),
		tune: []func(*FailoverIPReconciler){func(r *FailoverIPReconciler) { r.QuietFirstSight = time.Second }}}
	if err := k8sClient.Create(context.Background(), ovhSecret(e.ns, "ovh", e.sim.Endpoint(), appSecret)); err != nil {
		t.Fatal(err)
	}
	release := e.sim.Hold(ovhsim.RouteVMACList)
	defer release()
	e.startOperator(t)
	f := e.fip("router-wan", wanIP, "vyatta", hourly)
	create(t, f)
	eventually(t, 10*time.Second, "Ready says what it waits for", func() error {
		if err := conditionIs(f, v1.TypeReady, metav1.ConditionUnknown, v1.ReasonFirstObservation)(); err != nil {
			return err
		}
		if msg := condMessage(f, v1.TypeReady); !strings.Contains(msg, "first observation of server "+esxServer) {
			return fmt.Errorf("Ready message %q", msg)
		}
		return nil
	})
	if n := e.sim.Held(ovhsim.RouteVMACList); n != 1 {
		t.Fatalf("%d observations held at OVH, want the one", n)
	}
	release()
	eventually(t, 10*time.Second, "Ready once the observation ends (syncInterval is 1h)",
		conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
}

// A refresh made for one FailoverIP that finds the server changed wakes the
// others routed there: one with an hourly syncInterval sees its IP moved
// away as soon as a neighbour with a short one does.
func TestFailoverIPWokenByANeighboursRefresh(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{})
	watcher := e.fip("router-wan", wanIP, "vyatta", observeOnly) // syncInterval 1s
	sleeper := e.fip("web-wan", webIP, "", observeOnly, hourly)
	create(t, watcher, sleeper)
	for _, f := range []*v1.FailoverIP{watcher, sleeper} {
		eventually(t, 10*time.Second, f.Name+" Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	}
	if err := e.sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the hourly FailoverIP reports the move",
		conditionIs(sleeper, v1.TypeReady, metav1.ConditionFalse, v1.ReasonRoutedElsewhere))
}

// OVH lists a server's IPs and its virtual MACs in two calls. An IP moved
// away between them, its virtual MAC with it, looks routed here without a
// MAC: the FailoverIP must look again rather than report VirtualMACMissing
// and ask OVH to create a MAC for an IP that is not routed here.
func TestFailoverIPTornObservationIsNotAMissingMAC(t *testing.T) {
	w := seedOVH()
	w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{Server: esxServer, MAC: "00:50:56:00:00:02", Type: "vmware",
		Addresses: []ovhsim.VirtualAddress{{IP: webIP, VirtualMachineName: "web1"}}})
	e := newOVHEnv(t, ovhsim.Options{World: w, MoveDuration: 300 * time.Millisecond})
	f := e.fip("web-wan", webIP, "web1")
	create(t, f)
	eventually(t, 10*time.Second, "Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	history := readyHistory(t, f, &v1.FailoverIPList{})

	// Catch a periodic refresh between its two lists, move the IP, let it go.
	release := e.sim.Hold(ovhsim.RouteVMACList)
	eventually(t, 10*time.Second, "a refresh between the IP list and the MAC list", func() error {
		if n := e.sim.Held(ovhsim.RouteVMACList); n != 1 {
			return fmt.Errorf("%d held", n)
		}
		return nil
	})
	if err := e.sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	release()
	movedBackOnce(t, e, f)
	for _, r := range history() {
		if strings.HasSuffix(r, "/"+v1.ReasonVirtualMACMissing) {
			t.Errorf("Ready went through %s: %v", r, history())
		}
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACCreate); n != 0 {
		t.Errorf("%d virtual MAC creations for an IP that was only moved", n)
	}
}

// With the Observer keeping servers observed (the operator's setting), a
// FailoverIP with nothing to fix passes only every keptResync; a move at OVH
// reaches it through the Observer's own refresh of its server and the
// announcement, within its syncInterval.
func TestFailoverIPOfAKeptServerSeesAMoveWithoutItsOwnPass(t *testing.T) {
	e := &ovhEnv{sim: startOVHSim(t, ovhsim.Options{}), ns: testNamespace(t), keep: true}
	if err := k8sClient.Create(context.Background(), ovhSecret(e.ns, "ovh", e.sim.Endpoint(), appSecret)); err != nil {
		t.Fatal(err)
	}
	e.startOperator(t)
	f := e.fip("web-wan", webIP, "", observeOnly) // syncInterval 1s
	create(t, f)
	eventually(t, 10*time.Second, "Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	if err := e.sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the move reported", conditionIs(f, v1.TypeReady, metav1.ConditionFalse, v1.ReasonRoutedElsewhere))
}

// A repair waits for its credential's budget behind the other writes (tens
// of seconds when many start together, as in the bench's 10x budget phase):
// the drift it repairs is written when it is seen, before that wait, not
// with the write's intent after it.
func TestFailoverIPDriftIsWrittenBeforeTheRepairWaitsForItsTurn(t *testing.T) {
	e := &ovhEnv{sim: startOVHSim(t, ovhsim.Options{}), ns: testNamespace(t)}
	e.budget.perSecond, e.budget.burst = 5, 1
	if err := k8sClient.Create(context.Background(), ovhSecret(e.ns, "ovh", e.sim.Endpoint(), appSecret)); err != nil {
		t.Fatal(err)
	}
	e.startOperator(t)
	f := e.fip("web-wan", webIP, "")
	create(t, f)
	eventually(t, 15*time.Second, "Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	history := statusHistory(t, f, &v1.FailoverIPList{}, func(m managed) string {
		fip := m.(*v1.FailoverIP)
		c := meta.FindStatusCondition(fip.Status.Conditions, v1.TypeReady)
		if c == nil || c.Status != metav1.ConditionFalse {
			return ""
		}
		return fmt.Sprintf("%s pending=%t", c.Reason, fip.Status.PendingTask != nil)
	})

	// Two other callers of the credential keep a write waiting for the
	// budget at every moment, as other repairs would.
	api, err := e.clients.Get(ovh.Credentials{Endpoint: e.sim.Endpoint(), ApplicationKey: appKey,
		ApplicationSecret: appSecret, ConsumerKey: consumerKey})
	if err != nil {
		t.Fatal(err)
	}
	busy, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for busy.Err() == nil {
				_, _ = ovh.TakeTurn(busy, api)
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	if err := e.sim.MoveIP(webIP, otherServer); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the drift written before the move's intent", func() error {
		if h := history(); len(h) == 0 {
			return fmt.Errorf("Ready not False yet")
		} else if h[0] != v1.ReasonRoutedElsewhere+" pending=false" {
			return fmt.Errorf("first Ready=False seen: %v, want %s without a pending task", h, v1.ReasonRoutedElsewhere)
		}
		return nil
	})
	stop()
	wg.Wait()
	movedBackOnce(t, e, f)
	if h := history(); !slices.Contains(h, v1.ReasonRoutedElsewhere+" pending=true") {
		t.Errorf("the move's intent was never seen with the drift: %v", h)
	}
}

// movedBackOnce waits for f to be Ready again after its IP was moved away,
// with one move sent to OVH.
func movedBackOnce(t *testing.T, e *ovhEnv, f *v1.FailoverIP) {
	t.Helper()
	eventually(t, 15*time.Second, "moved back and Ready", func() error {
		if err := conditionIs(f, v1.TypeReady, metav1.ConditionTrue, "")(); err != nil {
			return err
		}
		if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 1 {
			return fmt.Errorf("%d moves", n)
		}
		return nil
	})
}
