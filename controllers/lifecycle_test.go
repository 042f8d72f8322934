package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/metrics"
)

// funcLogic is a kindLogic made of functions, to test the shared lifecycle
// on its own against the real API server.
type funcLogic struct {
	mu         sync.Mutex
	syncs      map[string]int
	finalizes  map[string]int
	syncFn     func(ctx context.Context, f *v1.FailoverIP) (time.Duration, error)
	finalizeFn func(ctx context.Context, f *v1.FailoverIP) (bool, time.Duration, error)
}

func (l *funcLogic) Sync(ctx context.Context, f *v1.FailoverIP, _ func() error) (time.Duration, error) {
	l.mu.Lock()
	l.syncs[f.Name]++
	l.mu.Unlock()
	return l.syncFn(ctx, f)
}

func (l *funcLogic) Finalize(ctx context.Context, f *v1.FailoverIP, _ func() error) (bool, time.Duration, error) {
	l.mu.Lock()
	l.finalizes[f.Name]++
	l.mu.Unlock()
	return l.finalizeFn(ctx, f)
}

func (l *funcLogic) count(m map[string]int, name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return m[name]
}

func startLifecycle(t *testing.T, ns string, logic *funcLogic) {
	startManager(t, ns, func(mgr ctrl.Manager) error {
		lc := &lifecycle[*v1.FailoverIP]{
			client: mgr.GetClient(), recorder: mgr.GetEventRecorder("ovhbridge-test"),
			kind: "FailoverIP", newObj: func() *v1.FailoverIP { return &v1.FailoverIP{} }, logic: logic,
		}
		return newBuilder(mgr, "lifecycle-"+ns, &v1.FailoverIP{}, Options{
			SkipNameValidation: true, RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: time.Second,
		}).Complete(lc)
	})
}

func newFIP(ns, name string, deletion v1.DeletionPolicy, mgmt v1.ManagementPolicy) *v1.FailoverIP {
	return &v1.FailoverIP{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.FailoverIPSpec{
			IP: "203.0.113.123", Server: "ns123456.ip-198-51-100.eu",
			OVH:      v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}},
			Policies: v1.Policies{DeletionPolicy: deletion, ManagementPolicy: mgmt},
		},
	}
}

// readySync marks the object Ready and asks to be looked at again in an hour.
func readySync(_ context.Context, f *v1.FailoverIP) (time.Duration, error) {
	setCondition(f, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable, "routed and bound")
	return time.Hour, nil
}

func TestLifecycleFirstSightThenReady(t *testing.T) {
	ns := testNamespace(t)
	conflictsBefore := testutil.ToFloat64(metrics.StatusConflicts.WithLabelValues("FailoverIP"))
	release := make(chan struct{})
	logic := &funcLogic{syncs: map[string]int{}, finalizes: map[string]int{},
		syncFn: func(ctx context.Context, f *v1.FailoverIP) (time.Duration, error) {
			<-release // a slow external observation
			return readySync(ctx, f)
		}}
	startLifecycle(t, ns, logic)
	f := newFIP(ns, "wan", "", "")
	if err := k8sClient.Create(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	// While the first observation is still running, READY already says Unknown.
	eventually(t, 10*time.Second, "Ready=Unknown on first sight",
		conditionIs(f, v1.TypeReady, metav1.ConditionUnknown, v1.ReasonFirstObservation))
	close(release)
	eventually(t, 10*time.Second, "Ready=True", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	eventually(t, 5*time.Second, "Synced=True", conditionIs(f, v1.TypeSynced, metav1.ConditionTrue, ""))
	if f.Status.ObservedGeneration != f.Generation {
		t.Errorf("status.observedGeneration = %d, want %d", f.Status.ObservedGeneration, f.Generation)
	}
	for _, c := range f.Status.Conditions {
		if c.ObservedGeneration != f.Generation {
			t.Errorf("condition %s observedGeneration = %d, want %d", c.Type, c.ObservedGeneration, f.Generation)
		}
	}
	// Orphan (the default) needs no finalizer: deleting must never hang on the operator.
	if controllerutil.ContainsFinalizer(f, v1.Finalizer) {
		t.Errorf("finalizer set with deletionPolicy Orphan: %v", f.Finalizers)
	}

	// A spec change bumps the generation and is reflected everywhere.
	// A patch, not an update: the controller writes the status meanwhile.
	patch := client.MergeFrom(f.DeepCopy())
	f.Spec.OVH.SyncInterval = &metav1.Duration{Duration: 2 * time.Second}
	if err := k8sClient.Patch(context.Background(), f, patch); err != nil {
		t.Fatal(err)
	}
	gen := f.Generation
	eventually(t, 10*time.Second, "observedGeneration follows the spec", func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(f), f); err != nil {
			return err
		}
		if f.Status.ObservedGeneration != gen {
			return fmt.Errorf("observedGeneration %d, want %d", f.Status.ObservedGeneration, gen)
		}
		if c := meta.FindStatusCondition(f.Status.Conditions, v1.TypeReady); c.ObservedGeneration != gen {
			return fmt.Errorf("Ready observedGeneration %d, want %d", c.ObservedGeneration, gen)
		}
		return nil
	})
	// Our own status writes do not trigger reconciles: two syncs, one per
	// generation, plus one per status write refused as a conflict (a stale
	// cached copy is reconciled again, once). The window lets a loop show.
	time.Sleep(300 * time.Millisecond)
	conflicts := int(testutil.ToFloat64(metrics.StatusConflicts.WithLabelValues("FailoverIP")) - conflictsBefore)
	if n := logic.count(logic.syncs, "wan"); n != 2+conflicts {
		t.Errorf("Sync called %d times, want 2 + %d conflict requeue(s) (one per generation; status writes must not loop)", n, conflicts)
	}
}

func TestLifecyclePause(t *testing.T) {
	ns := testNamespace(t)
	logic := &funcLogic{syncs: map[string]int{}, finalizes: map[string]int{}, syncFn: readySync}
	startLifecycle(t, ns, logic)
	f := newFIP(ns, "paused", v1.Delete, "")
	f.Annotations = map[string]string{v1.PausedAnnotation: "true"}
	if err := k8sClient.Create(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Synced=False ReconcilePaused",
		conditionIs(f, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonReconcilePaused))
	if c := meta.FindStatusCondition(f.Status.Conditions, v1.TypeReady); c == nil || c.Status != metav1.ConditionUnknown {
		t.Errorf("Ready = %+v, want Unknown", c)
	}
	if n := logic.count(logic.syncs, "paused"); n != 0 {
		t.Fatalf("Sync called %d times while paused, want 0 (no external calls)", n)
	}
	// Paused with deletionPolicy Delete: deletion waits, nothing external is undone.
	if err := k8sClient.Delete(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(f), f); err != nil {
		t.Fatalf("paused object with deletionPolicy Delete vanished: %v", err)
	}
	if n := logic.count(logic.finalizes, "paused"); n != 0 {
		t.Fatalf("Finalize called %d times while paused", n)
	}
	// Unpausing resumes: the finalizer's work runs and the object goes away.
	logic.finalizeFn = func(context.Context, *v1.FailoverIP) (bool, time.Duration, error) { return true, 0, nil }
	patch := client.MergeFrom(f.DeepCopy())
	f.Annotations[v1.PausedAnnotation] = "false"
	if err := k8sClient.Patch(context.Background(), f, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "object deleted after unpause", func() error {
		err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(f), f)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	if n := logic.count(logic.finalizes, "paused"); n != 1 {
		t.Errorf("Finalize called %d times, want 1", n)
	}
}

func TestLifecycleUnpauseResumesSync(t *testing.T) {
	ns := testNamespace(t)
	logic := &funcLogic{syncs: map[string]int{}, finalizes: map[string]int{}, syncFn: readySync}
	startLifecycle(t, ns, logic)
	f := newFIP(ns, "resume", "", "")
	if err := k8sClient.Create(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	patch := client.MergeFrom(f.DeepCopy())
	f.Annotations = map[string]string{v1.PausedAnnotation: "true"}
	if err := k8sClient.Patch(context.Background(), f, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "paused", conditionIs(f, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonReconcilePaused))
	// Ready keeps its last known value while paused.
	if c := meta.FindStatusCondition(f.Status.Conditions, v1.TypeReady); c.Status != metav1.ConditionTrue {
		t.Errorf("Ready changed while paused: %+v", c)
	}
	patch = client.MergeFrom(f.DeepCopy())
	delete(f.Annotations, v1.PausedAnnotation)
	if err := k8sClient.Patch(context.Background(), f, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Synced again", conditionIs(f, v1.TypeSynced, metav1.ConditionTrue, v1.ReasonReconcileSuccess))
}

func TestLifecycleFinalizerFollowsDeletionPolicy(t *testing.T) {
	ns := testNamespace(t)
	var undoPasses atomic.Int32
	logic := &funcLogic{syncs: map[string]int{}, finalizes: map[string]int{}, syncFn: readySync,
		finalizeFn: func(context.Context, *v1.FailoverIP) (bool, time.Duration, error) {
			// The undo takes two passes, like an external task that must finish.
			return undoPasses.Add(1) >= 2, 100 * time.Millisecond, nil
		}}
	startLifecycle(t, ns, logic)
	ctx := context.Background()

	del := newFIP(ns, "delete", v1.Delete, "")
	orphan := newFIP(ns, "orphan", v1.Orphan, "")
	observed := newFIP(ns, "observe", v1.Delete, v1.Observe)
	for _, f := range []*v1.FailoverIP{del, orphan, observed} {
		if err := k8sClient.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, f.Name+" Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, ""))
	}
	if !controllerutil.ContainsFinalizer(del, v1.Finalizer) || !controllerutil.ContainsFinalizer(observed, v1.Finalizer) {
		t.Fatalf("deletionPolicy Delete must add the finalizer: %v / %v", del.Finalizers, observed.Finalizers)
	}
	if controllerutil.ContainsFinalizer(orphan, v1.Finalizer) {
		t.Fatalf("deletionPolicy Orphan must not add a finalizer")
	}

	for _, f := range []*v1.FailoverIP{del, orphan, observed} {
		if err := k8sClient.Delete(ctx, f); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, f.Name+" gone", func() error {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(f), f); apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still present, finalizers %v", f.Finalizers)
		})
	}
	if n := logic.count(logic.finalizes, "delete"); n != 2 {
		t.Errorf("Finalize for Delete called %d times, want 2 (until the undo is done)", n)
	}
	if n := logic.count(logic.finalizes, "orphan"); n != 0 {
		t.Errorf("Finalize for Orphan called %d times, want 0", n)
	}
	if n := logic.count(logic.finalizes, "observe"); n != 0 {
		t.Errorf("Finalize under Observe called %d times, want 0: Observe never writes", n)
	}

	// Switching an existing object from Delete to Orphan drops the finalizer.
	sw := newFIP(ns, "switch", v1.Delete, "")
	if err := k8sClient.Create(ctx, sw); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "finalizer added", func() error {
		_ = k8sClient.Get(ctx, client.ObjectKeyFromObject(sw), sw)
		if !controllerutil.ContainsFinalizer(sw, v1.Finalizer) {
			return fmt.Errorf("no finalizer yet")
		}
		return nil
	})
	patch := client.MergeFrom(sw.DeepCopy())
	sw.Spec.DeletionPolicy = v1.Orphan
	if err := k8sClient.Patch(ctx, sw, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "finalizer removed", func() error {
		_ = k8sClient.Get(ctx, client.ObjectKeyFromObject(sw), sw)
		if controllerutil.ContainsFinalizer(sw, v1.Finalizer) {
			return fmt.Errorf("finalizer still there")
		}
		return nil
	})
}

func TestLifecycleErrorsAndEvents(t *testing.T) {
	ns := testNamespace(t)
	var fail atomic.Pointer[error]
	setFail := func(err error) { fail.Store(&err) }
	setFail(cause.New(cause.CredentialsInvalid, "ovh", "ListIPs", "This credential does not exist", nil))
	logic := &funcLogic{syncs: map[string]int{}, finalizes: map[string]int{},
		syncFn: func(ctx context.Context, f *v1.FailoverIP) (time.Duration, error) {
			if err := *fail.Load(); err != nil {
				return time.Minute, err
			}
			return readySync(ctx, f)
		}}
	startLifecycle(t, ns, logic)
	ctx := context.Background()
	f := newFIP(ns, "creds", "", "")
	if err := k8sClient.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	// Bad credentials: cannot see, retrying will not help → Synced=False and Stalled.
	eventually(t, 10*time.Second, "Synced=False CredentialsInvalid",
		conditionIs(f, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonCredentialsInvalid))
	eventually(t, 5*time.Second, "Stalled", conditionIs(f, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonCredentialsInvalid))
	c := meta.FindStatusCondition(f.Status.Conditions, v1.TypeSynced)
	if !strings.Contains(c.Message, "FailoverIP "+ns+"/creds") || !strings.Contains(c.Message, "This credential does not exist") {
		t.Errorf("message must name the object and keep the remote's text: %q", c.Message)
	}
	// Never seen: Ready stays Unknown, explained.
	eventually(t, 5*time.Second, "Ready Unknown with reason", conditionIs(f, v1.TypeReady, metav1.ConditionUnknown, v1.ReasonCredentialsInvalid))

	// A transient failure is retried with backoff without any trigger.
	setFail(cause.New(cause.Unreachable, "ovh", "ListIPs", "connection refused", nil))
	before := logic.count(logic.syncs, "creds")
	patch := client.MergeFrom(f.DeepCopy())
	f.Spec.OVH.SyncInterval = &metav1.Duration{Duration: 2 * time.Second} // a spec change brings it back now
	if err := k8sClient.Patch(ctx, f, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Unreachable", conditionIs(f, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonUnreachable))
	if meta.FindStatusCondition(f.Status.Conditions, v1.TypeStalled) != nil {
		t.Errorf("Stalled must go away for a transient error")
	}
	eventually(t, 10*time.Second, "retries with backoff", func() error {
		if n := logic.count(logic.syncs, "creds"); n < before+3 {
			return fmt.Errorf("%d syncs since the change", n-before)
		}
		return nil
	})
	setFail(nil)
	eventually(t, 10*time.Second, "recovers", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))

	// Every transition left an Event a person can read with kubectl describe.
	eventually(t, 10*time.Second, "events", func() error {
		var list eventsv1.EventList
		if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		seen := map[string]string{}
		for _, e := range list.Items {
			if e.Regarding.Name == "creds" {
				seen[e.Reason] = e.Type
			}
		}
		for reason, typ := range map[string]string{
			v1.ReasonCredentialsInvalid: "Warning", v1.ReasonUnreachable: "Warning",
			v1.ReasonAvailable: "Normal", v1.ReasonReconcileSuccess: "Normal",
		} {
			if seen[reason] != typ {
				return fmt.Errorf("no %s event %s; seen %v", typ, reason, seen)
			}
		}
		return nil
	})
}

// A pass on a cached copy older than this process's own last write waits for
// the cache; newer copies (someone else's write since) and unparsable
// versions go ahead.
func TestWriteLogReadYourWrites(t *testing.T) {
	obj := func(rv string) *v1.FailoverIP {
		return &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "wan", ResourceVersion: rv}}
	}
	var w writeLog
	if w.behind(obj("5")) {
		t.Error("nothing written yet: not behind")
	}
	w.record(obj("10"))
	for rv, want := range map[string]bool{"9": true, "10": false, "11": false, "opaque": false} {
		if got := w.behind(obj(rv)); got != want {
			t.Errorf("cached %s after writing 10: behind=%v, want %v", rv, got, want)
		}
	}
	w.forget(types.NamespacedName{Namespace: "ns", Name: "wan"})
	if w.behind(obj("9")) {
		t.Error("forgotten: not behind")
	}
}
