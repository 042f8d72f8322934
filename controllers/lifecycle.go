// Package controllers holds one reconciler per kind. The straight line every
// kind shares — get, paused?, deleting?, finalizer, first sight, sync, status,
// events — lives here once; each kind only supplies how to sync with its
// external system and how to undo what it created.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/decide"
	"github.com/ovhbridge/ovhbridge-operator/internal/metrics"
)

// managed is what every kind of this operator looks like to the plumbing.
type managed interface {
	client.Object
	GetResourceStatus() *v1.ResourceStatus
	GetPolicies() v1.Policies
}

// kindLogic is what a kind supplies to the shared lifecycle.
type kindLogic[T managed] interface {
	// Sync observes the external system and, under Manage, corrects it. It
	// sets the kind's own conditions and Ready on obj and returns when to look
	// again. An error means the external system could not be seen or changed;
	// the lifecycle turns it into Synced=False (and Stalled when retrying
	// cannot help) and keeps the last known Ready.
	//
	// save writes obj's status at once. Call it to record the intent of an
	// external write before issuing it, so that a restart in between never
	// issues the same write twice.
	Sync(ctx context.Context, obj T, save func() error) (requeueAfter time.Duration, err error)

	// Finalize undoes what obj created, for deletionPolicy Delete under
	// Manage. done=false asks to be called again after requeueAfter (an
	// external task is still running).
	Finalize(ctx context.Context, obj T, save func() error) (done bool, requeueAfter time.Duration, err error)
}

// lifecycle runs the shared reconcile steps for one kind.
type lifecycle[T managed] struct {
	client   client.Client
	recorder events.EventRecorder
	kind     string
	newObj   func() T
	logic    kindLogic[T]
	// claims finds an earlier object claiming the same external thing
	// (claims.go); nil for none.
	claims *claimRule[T]
	// quietSaves: the kind's saves within a pass (Sync's save) tell no
	// Event; the pass's last write tells the transitions over the whole
	// pass. For a kind whose logic tells its own corrections (RouterConfig's
	// repair Event); a kind whose save records an intent before a slow
	// external write tells the drift at the save.
	quietSaves bool
	// timeout bounds one reconcile (Options.ReconcileTimeout); zero: none.
	timeout time.Duration
	// written is this process's last write to each object (readYourWrites).
	written writeLog
}

// writeLog remembers the resourceVersion of this process's last write to
// each object. The informer cache can lag behind that write by a few
// milliseconds (much more on a loaded API server), and a pass deciding from
// a copy without it would not see its own recorded intent or save hash —
// and send the same external write again. Such a pass waits for the cache
// instead.
type writeLog struct {
	mu sync.Mutex
	rv map[types.NamespacedName]uint64
}

// record notes obj's resourceVersion after a write this process made.
func (w *writeLog) record(obj client.Object) {
	v, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		return // not an etcd revision: no ordering to rely on
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rv == nil {
		w.rv = map[types.NamespacedName]uint64{}
	}
	w.rv[client.ObjectKeyFromObject(obj)] = v
}

// behind reports whether the cached obj predates this process's last write
// to it. resourceVersions are opaque to clients by contract; every
// kube-apiserver backed by etcd issues them as its increasing revision, and
// one that does not parse only turns the check off.
func (w *writeLog) behind(obj client.Object) bool {
	v, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return v < w.rv[client.ObjectKeyFromObject(obj)]
}

func (w *writeLog) forget(name types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.rv, name)
}

// statusReserve is the part of a reconcile's time kept for writing the
// status once the external calls are cut off.
const statusReserve = 10 * time.Second

// externalContext bounds the external calls of one pass: they get the
// reconcile timeout minus statusReserve (at least half of it), so that the
// status is still written when a system hangs.
func (l *lifecycle[T]) externalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if l.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, max(l.timeout-statusReserve, l.timeout/2))
}

// deadlineError explains an error that came from the pass's deadline.
func (l *lifecycle[T]) deadlineError(ext, parent context.Context, err error) error {
	if err == nil || parent.Err() != nil {
		return err
	}
	// The drivers set their sockets' deadlines from ext's: a socket can
	// time out a moment before ext itself reports it.
	deadline, ok := ext.Deadline()
	if !errors.Is(ext.Err(), context.DeadlineExceeded) && !(ok && time.Until(deadline) < 100*time.Millisecond) {
		return err
	}
	return cause.New(cause.Unreachable, l.kind, "reconcile", fmt.Sprintf(
		"the external system did not answer within the reconcile timeout (%s; --reconcile-timeout): %s", l.timeout, err.Error()), err)
}

// Reconcile implements reconcile.Reconciler.
func (l *lifecycle[T]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	res, err := l.reconcile(ctx, req)
	if apierrors.IsConflict(err) {
		// Our cached copy was older than the server's: not a failure, just
		// look again once the cache has caught up.
		metrics.StatusConflicts.WithLabelValues(l.kind).Inc()
		log.FromContext(ctx).V(1).Info("write refused: the cached copy was older than the server's, looking again", "error", err.Error())
		return reconcile.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	return res, err
}

func (l *lifecycle[T]) reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := l.newObj()
	if err := l.client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			forgetDrift(l.kind, req.Namespace, req.Name)
			l.written.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if l.written.behind(obj) {
		// Our own last write has not reached the cache yet: decide from it,
		// not from the copy before it.
		return reconcile.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	before := obj.DeepCopyObject().(T)
	policies := obj.GetPolicies()

	if !obj.GetDeletionTimestamp().IsZero() {
		return l.delete(ctx, obj, before, policies)
	}
	if err := l.ensureFinalizer(ctx, obj, policies.DeletionPolicy == v1.Delete); err != nil {
		return reconcile.Result{}, err
	}
	before = obj.DeepCopyObject().(T)

	st := obj.GetResourceStatus()
	firstSight := meta.FindStatusCondition(st.Conditions, v1.TypeReady) == nil
	if firstSight {
		// First sight: Ready is Unknown since the object was created. Every
		// status this pass writes says so; the pass writes it on its own
		// only if its first observation is slow (firstSightWrite).
		setCondition(obj, v1.TypeReady, metav1.ConditionUnknown, v1.ReasonFirstObservation,
			fmt.Sprintf("%s %s is being observed for the first time", l.kind, obj.GetName()))
		meta.FindStatusCondition(st.Conditions, v1.TypeReady).LastTransitionTime = obj.GetCreationTimestamp()
	}

	if isPaused(obj) {
		setCondition(obj, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonReconcilePaused,
			fmt.Sprintf("reconciliation is paused by the %s annotation; remove it to resume", v1.PausedAnnotation))
		removeCondition(obj, v1.TypeReconciling)
		return reconcile.Result{}, l.patchStatus(ctx, before, obj)
	}
	if winner, what, lost, err := l.claimedBy(ctx, obj); err != nil {
		return reconcile.Result{}, err
	} else if lost {
		return l.yield(ctx, before, obj, winner, what)
	}

	// Stalled is re-derived on every pass: from the error below, or by the
	// kind's logic (an external task that failed for good).
	removeCondition(obj, v1.TypeStalled)
	ext, cancel := l.externalContext(ctx)
	defer cancel()
	// Events compare the last write with the last one told (base): with
	// quietSaves, a condition that went wrong and was put right within the
	// pass (a router repaired in one go) was written by save for watchers,
	// but is told once, by the repair's own Event.
	base := before
	var first *firstSightWrite[T]
	if firstSight {
		first = l.writeFirstSightAfter(ctx, before, obj)
		defer first.settle(&base, &before) // never left to fire after the pass
	}
	requeue, syncErr := l.logic.Sync(ext, obj, l.saver(ctx, &base, &before, obj, first))
	first.settle(&base, &before)
	var later *deferred
	if errors.As(syncErr, &later) {
		// Nothing to report yet: no status write (whatever Sync touched),
		// the object comes back by a watch or after the delay.
		return reconcile.Result{RequeueAfter: later.after}, nil
	}
	syncErr = l.deadlineError(ext, ctx, syncErr)
	result := l.recordSyncOutcome(obj, syncErr, requeue)
	if err := l.patchStatusSince(ctx, base, before, obj); err != nil {
		return reconcile.Result{}, err
	}
	recordDrift(l.kind, obj)
	if syncErr != nil && retryable(syncErr) {
		// Let the workqueue's exponential backoff pace retries of transient
		// failures (network, 5xx, 429).
		return reconcile.Result{}, syncErr
	}
	return result, nil
}

// recordSyncOutcome sets Synced and Stalled from the outcome of Sync.
func (l *lifecycle[T]) recordSyncOutcome(obj T, err error, requeue time.Duration) reconcile.Result {
	st := obj.GetResourceStatus()
	if err == nil || !retryable(err) {
		// The spec was fully evaluated: either acted on, or judged
		// impossible (Stalled). After a transient failure it was not, and
		// the old observedGeneration tells kstatus and Argo CD so.
		st.ObservedGeneration = obj.GetGeneration()
	}
	if err == nil {
		setCondition(obj, v1.TypeSynced, metav1.ConditionTrue, v1.ReasonReconcileSuccess,
			"the external system was observed successfully")
		return reconcile.Result{RequeueAfter: jitter(requeue)}
	}
	reason, stalled := reasonFor(err)
	msg := fmt.Sprintf("%s %s/%s: %s", l.kind, obj.GetNamespace(), obj.GetName(), err.Error())
	setCondition(obj, v1.TypeSynced, metav1.ConditionFalse, reason, msg)
	if stalled {
		setCondition(obj, v1.TypeStalled, metav1.ConditionTrue, reason, msg)
		removeCondition(obj, v1.TypeReconciling)
	}
	if ready := meta.FindStatusCondition(st.Conditions, v1.TypeReady); ready != nil && ready.Status == metav1.ConditionUnknown {
		// Still never seen: keep Unknown, but say why.
		setCondition(obj, v1.TypeReady, metav1.ConditionUnknown, reason, msg)
	}
	if requeue <= 0 {
		requeue = time.Minute
	}
	// A terminal error waits for a spec or Secret change (both are watched),
	// with a slow retry in case the fix happened outside Kubernetes.
	return reconcile.Result{RequeueAfter: jitter(requeue)}
}

// reasonFor maps a sync error to a Synced reason and whether it is terminal.
func reasonFor(err error) (reason string, stalled bool) {
	var se *specError
	if errors.As(err, &se) {
		return se.reason, se.stalled
	}
	switch cause.KindOf(err) {
	case cause.CredentialsInvalid:
		return v1.ReasonCredentialsInvalid, true
	case cause.TrustFailure:
		return v1.ReasonTrustFailure, true
	case cause.RateLimited:
		return v1.ReasonRateLimited, false
	case cause.CapabilityMissing:
		return v1.ReasonCapabilityMissing, true
	case cause.Invalid:
		return v1.ReasonInvalidSpec, true
	case cause.Unreachable:
		return v1.ReasonUnreachable, false
	default:
		return v1.ReasonExternalError, false
	}
}

// deferred is what a kind's Sync returns when it has nothing to report yet
// and another pass will soon have (a reference about to be ready, a first
// observation under way): the lifecycle writes no status, so that an object
// adopted in one apply goes from its first-sight status straight to its
// verdict, two status writes in all, and its watchers see no intermediate
// noise.
type deferred struct{ after time.Duration }

func (d *deferred) Error() string { return fmt.Sprintf("nothing to report yet; again in %s", d.after) }

// quietFirstSight is how long after its first sight an object may stay at
// Ready=Unknown/FirstObservation, its status unwritten, while what it waits
// for (its server's first OVH observation, the MAC of a FailoverIP created
// in the same apply) is expected to arrive. After that, it says what it
// waits for.
const quietFirstSight = 10 * time.Second

// quietBehindNewSource is the quiet first sight of an object waiting on one
// in its own first observation (a BridgedVM's MAC from a FailoverIP whose
// server OVH has not answered about yet): that one says why.
const quietBehindNewSource = 3 * time.Minute

// deferFirstSight returns a deferred for an object still in its quiet first
// sight (quiet long after its first sight), nil otherwise.
func deferFirstSight(obj managed, now time.Time, quiet time.Duration) error {
	c := meta.FindStatusCondition(obj.GetResourceStatus().Conditions, v1.TypeReady)
	if c == nil || c.Status != metav1.ConditionUnknown || c.Reason != v1.ReasonFirstObservation {
		return nil
	}
	left := quiet - now.Sub(c.LastTransitionTime.Time)
	if left <= 0 {
		return nil
	}
	return &deferred{after: left}
}

// specError is a problem with the object or what it references (a missing
// Secret, an invalid combination only known at run time). It is not retried
// with backoff: a watch brings the object back when the cause changes.
type specError struct {
	reason  string
	msg     string
	stalled bool
}

func (e *specError) Error() string { return e.msg }

// retryable says whether a sync error deserves a fast backoff retry.
func retryable(err error) bool {
	var se *specError
	if errors.As(err, &se) {
		return false
	}
	return cause.Retryable(err)
}

func (l *lifecycle[T]) delete(ctx context.Context, obj, before T, policies v1.Policies) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, v1.Finalizer) {
		return reconcile.Result{}, nil
	}
	undo := policies.DeletionPolicy == v1.Delete && policies.ManagementPolicy == v1.Manage
	if undo {
		// What a loser would undo is the winner's: its vMAC binding, its
		// NAT rules. It goes without touching anything.
		_, _, lost, err := l.claimedBy(ctx, obj)
		if err != nil {
			return reconcile.Result{}, err
		}
		undo = !lost
	}
	if undo && isPaused(obj) {
		setCondition(obj, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonReconcilePaused,
			"deletion waits: reconciliation is paused, and deletionPolicy Delete needs to undo external changes")
		return reconcile.Result{}, l.patchStatus(ctx, before, obj)
	}
	if undo {
		ext, cancel := l.externalContext(ctx)
		defer cancel()
		base := before
		done, after, err := l.logic.Finalize(ext, obj, l.saver(ctx, &base, &before, obj, nil))
		err = l.deadlineError(ext, ctx, err)
		if err != nil || !done {
			msg := "undoing external changes before deletion (deletionPolicy Delete)"
			if err != nil {
				msg = fmt.Sprintf("cannot undo external changes before deletion: %s", err.Error())
			}
			setCondition(obj, v1.TypeReady, metav1.ConditionFalse, v1.ReasonDeleting, msg)
			if perr := l.patchStatusSince(ctx, base, before, obj); perr != nil {
				return reconcile.Result{}, perr
			}
			if err != nil {
				return reconcile.Result{}, err
			}
			return reconcile.Result{RequeueAfter: after}, nil
		}
	}
	forgetDrift(l.kind, obj.GetNamespace(), obj.GetName())
	return reconcile.Result{}, l.ensureFinalizer(ctx, obj, false)
}

// ensureFinalizer adds or removes the finalizer. Only deletionPolicy Delete
// needs one: with Orphan there is nothing to undo, and a finalizer would only
// block deletion while the operator is down.
func (l *lifecycle[T]) ensureFinalizer(ctx context.Context, obj T, want bool) error {
	if controllerutil.ContainsFinalizer(obj, v1.Finalizer) == want {
		return nil
	}
	patch := client.MergeFromWithOptions(obj.DeepCopyObject().(T), client.MergeFromWithOptimisticLock{})
	if want {
		controllerutil.AddFinalizer(obj, v1.Finalizer)
	} else {
		controllerutil.RemoveFinalizer(obj, v1.Finalizer)
	}
	if err := l.client.Patch(ctx, obj, patch); err != nil {
		if apierrors.IsNotFound(err) && !want {
			return nil
		}
		return err
	}
	l.written.record(obj)
	return nil
}

// saver returns a function that writes obj's status now and makes it the new
// baseline for later patches. It tells the transitions since base and moves
// base, unless the kind has quietSaves: then the pass's last write tells
// what changed over the whole pass.
func (l *lifecycle[T]) saver(ctx context.Context, base, before *T, obj T, first *firstSightWrite[T]) func() error {
	return func() error {
		first.settle(base, before)
		if l.quietSaves {
			if _, err := l.writeStatus(ctx, *before, obj); err != nil {
				return err
			}
			carryReady(base, obj)
		} else {
			if err := l.patchStatusSince(ctx, *base, *before, obj); err != nil {
				return err
			}
			*base = obj.DeepCopyObject().(T)
		}
		*before = obj.DeepCopyObject().(T)
		return nil
	}
}

// firstSightAfter is how long an object's first pass may run before its
// first-sight status (Ready=Unknown/FirstObservation) is written on its own,
// so that `kubectl get` shows READY within about that long whatever the
// external system does. A first pass that ends sooner writes its verdict in
// one status write: at the size of a fleet adopted in one apply, that is a
// third of the operator's writes to the API server.
const firstSightAfter = 2 * time.Second

// firstSightWrite is a first-sight status write waiting for its delay.
type firstSightWrite[T managed] struct {
	timer   *time.Timer
	done    chan struct{}
	written T // the object as written, if ok
	ok      bool
	settled bool
}

// writeFirstSightAfter writes obj's status as it is now (the first-sight
// Ready) after firstSightAfter, from copies: the pass goes on meanwhile.
func (l *lifecycle[T]) writeFirstSightAfter(ctx context.Context, before, obj T) *firstSightWrite[T] {
	w := &firstSightWrite[T]{done: make(chan struct{})}
	b, o := before.DeepCopyObject().(T), obj.DeepCopyObject().(T)
	w.timer = time.AfterFunc(firstSightAfter, func() {
		defer close(w.done)
		if _, err := l.writeStatus(ctx, b, o); err == nil {
			w.written, w.ok = o, true
		}
	})
	return w
}

// settle cancels the first-sight write or, if it started, waits for it;
// once it is written, *before becomes the object as written (the base of
// the pass's next status write) and the Ready it wrote is where the pass's
// Events start from (carryReady). Only the first call does anything.
func (w *firstSightWrite[T]) settle(base, before *T) {
	if w == nil || w.settled {
		return
	}
	w.settled = true
	if w.timer.Stop() {
		return
	}
	<-w.done
	if w.ok {
		*before = w.written.DeepCopyObject().(T)
		carryReady(base, w.written)
	}
}

// carryReady makes the Ready a pass wrote the one its Events start from,
// when the pass started without any (first sight): a person could see that
// status, so the verdict after it is a transition to tell (Newsworthy
// tells nothing of a Ready appearing healthy).
func carryReady[T managed](base *T, written T) {
	if meta.FindStatusCondition((*base).GetResourceStatus().Conditions, v1.TypeReady) != nil {
		return
	}
	c := meta.FindStatusCondition(written.GetResourceStatus().Conditions, v1.TypeReady)
	if c == nil {
		return
	}
	b := (*base).DeepCopyObject().(T)
	st := b.GetResourceStatus()
	st.Conditions = append(st.Conditions, *c)
	*base = b
}

// patchStatus writes the status if it changed and emits one Event per
// newsworthy condition transition.
func (l *lifecycle[T]) patchStatus(ctx context.Context, before, after T) error {
	return l.patchStatusSince(ctx, before, before, after)
}

// patchStatusSince writes the status if it differs from before (the last
// written) and emits the transitions since base (the status at the start of
// the pass, before any save).
func (l *lifecycle[T]) patchStatusSince(ctx context.Context, base, before, after T) error {
	gone, err := l.writeStatus(ctx, before, after)
	if err != nil || gone {
		return err
	}
	l.emitTransitions(base, after)
	return nil
}

// writeStatus writes the status if it changed, without Events; gone says
// the object was deleted meanwhile.
func (l *lifecycle[T]) writeStatus(ctx context.Context, before, after T) (gone bool, err error) {
	keepTransitionTimes(before.GetResourceStatus().Conditions, after.GetResourceStatus().Conditions)
	if equality.Semantic.DeepEqual(before, after) {
		return false, nil
	}
	// The optimistic lock matters: `before` comes from the informer cache,
	// which can lag behind our own previous status write by a few
	// milliseconds. A plain merge patch computed against a stale copy would
	// silently omit fields that look unchanged and leave the previous pass's
	// values on the server; with the resourceVersion in the patch the server
	// refuses it instead, and the object is reconciled again from a fresh copy.
	patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	if err := l.client.Status().Patch(ctx, after, patch); err != nil {
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}
	l.written.record(after)
	return false, nil
}

// keepTransitionTimes carries lastTransitionTime over for conditions whose
// status did not change, including ones removed and set again during a pass:
// the time a condition last changed must not move on every reconcile.
func keepTransitionTimes(before, after []metav1.Condition) {
	for i := range after {
		if prev := meta.FindStatusCondition(before, after[i].Type); prev != nil && prev.Status == after[i].Status {
			after[i].LastTransitionTime = prev.LastTransitionTime
		}
	}
}

func (l *lifecycle[T]) emitTransitions(before, after T) {
	if l.recorder == nil {
		return
	}
	old := before.GetResourceStatus().Conditions
	for _, c := range after.GetResourceStatus().Conditions {
		if !decide.Newsworthy(meta.FindStatusCondition(old, c.Type), c) {
			continue
		}
		l.recorder.Eventf(after, nil, eventType(c), c.Reason, c.Type, "%s",
			eventNote(fmt.Sprintf("%s is %s: %s", c.Type, c.Status, c.Message)))
	}
}

// eventType is Warning for the conditions a person should look at.
func eventType(c metav1.Condition) string {
	switch c.Type {
	case v1.TypeStalled:
		return corev1.EventTypeWarning
	case v1.TypeReconciling:
		return corev1.EventTypeNormal
	}
	if c.Status == metav1.ConditionFalse {
		return corev1.EventTypeWarning
	}
	return corev1.EventTypeNormal
}

func isPaused(obj client.Object) bool {
	return obj.GetAnnotations()[v1.PausedAnnotation] == "true"
}

// setCondition sets a condition stamped with the object's generation.
func setCondition(obj managed, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&obj.GetResourceStatus().Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(msg, 32768),
		ObservedGeneration: obj.GetGeneration(),
	})
}

func removeCondition(obj managed, typ string) {
	meta.RemoveStatusCondition(&obj.GetResourceStatus().Conditions, typ)
}

// eventNote fits a message in an Event, whose note the API server caps at
// 1024 bytes (it rejects longer ones and the Event is lost).
func eventNote(s string) string { return truncate(s, 1024) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut-- // never split a character
	}
	return s[:cut] + "..."
}

// jitter spreads periodic re-observation by up to +10% so that many objects
// created together do not hit an external API in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// recordDrift exports one gauge series per drift reason the object shows.
func recordDrift(kind string, obj managed) {
	forgetDrift(kind, obj.GetNamespace(), obj.GetName())
	seen := map[string]bool{}
	for _, d := range obj.GetResourceStatus().Drift {
		if d.Reason != "" && !seen[d.Reason] {
			seen[d.Reason] = true
			metrics.Drift.WithLabelValues(kind, obj.GetNamespace(), obj.GetName(), d.Reason).Set(1)
		}
	}
}

func forgetDrift(kind, namespace, name string) {
	metrics.Drift.DeletePartialMatch(map[string]string{"kind": kind, "namespace": namespace, "name": name})
}
