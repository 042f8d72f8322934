package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/decide"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

const (
	taskMoveIP    = ovh.FunctionMoveIP
	taskAddVMAC   = ovh.FunctionAddVirtualMAC // also binds an IP to an existing MAC
	taskUnbindIP  = ovh.FunctionRemoveVirtualMAC
	scopeIP       = "ip"
	scopeServer   = "server"
	ovhSecretKeys = `"endpoint" and "applicationKey" + "applicationSecret" + "consumerKey" (or "accessToken", or "clientID" + "clientSecret")`
)

// indexServer indexes FailoverIPs by spec.server, so that news about a
// server reaches exactly its FailoverIPs.
const indexServer = "ovhbridge.io/server"

// errNotObservedYet: the server's first observation is under way; the
// Observer announces its end (see SetupWithManager).
var errNotObservedYet = errors.New("the server has not been observed yet")

// defaultIntentGrace is how long a recorded write intent without a task id
// waits for its task to show up in OVH's task list before the write is
// deemed never sent (the operator stopped between recording and sending).
const defaultIntentGrace = 2 * time.Minute

// FailoverIPReconciler keeps failover IPs routed to their server with the
// virtual MAC their VM needs.
type FailoverIPReconciler struct {
	Client client.Client
	// Reader reads Secrets: in the operator, the shared secretReader
	// (secrets.go), which goes to the API server only when a Secret changed.
	Reader   client.Reader
	OVH      *ovh.Clients
	Observer *ovh.Observer
	// TaskPoll is how often a pending OVH task is looked at (default 5s;
	// a move takes about a minute at OVH).
	TaskPoll time.Duration
	// IntentGrace is how long an intent without a task id waits for its
	// task in OVH's list (default 2m; Options.OVHIntentGrace).
	IntentGrace time.Duration
	// MACReappearGrace is how long after a move a virtual MAC that
	// followed the IP is waited for on the new server before a new one is
	// made (default decide.MACReappearGrace).
	MACReappearGrace time.Duration
	// QuietFirstSight is how long a new FailoverIP stays silent at
	// Ready=Unknown before saying what it waits for (default 10s).
	QuietFirstSight time.Duration
	Now             func() time.Time

	recorder events.EventRecorder
}

// SetupWithManager registers the controller.
func (r *FailoverIPReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.TaskPoll <= 0 {
		r.TaskPoll = 5 * time.Second
	}
	if r.IntentGrace <= 0 {
		r.IntentGrace = defaultIntentGrace
	}
	if r.MACReappearGrace <= 0 {
		r.MACReappearGrace = decide.MACReappearGrace
	}
	if r.QuietFirstSight <= 0 {
		r.QuietFirstSight = quietFirstSight
	}
	if err := indexBySecret(ctx, mgr.GetFieldIndexer(), &v1.FailoverIP{}, func(f *v1.FailoverIP) string {
		return f.Spec.OVH.CredentialsSecretRef.Name
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.FailoverIP{}, indexServer, func(o client.Object) []string {
		return []string{o.(*v1.FailoverIP).Spec.Server}
	}); err != nil {
		return err
	}
	r.recorder = mgr.GetEventRecorder("ovhbridge-failoverip")
	lc := &lifecycle[*v1.FailoverIP]{
		timeout: opts.withDefaults().ReconcileTimeout,
		client:  mgr.GetClient(), recorder: r.recorder, kind: "FailoverIP",
		newObj: func() *v1.FailoverIP { return &v1.FailoverIP{} }, logic: r,
		claims: failoverIPClaims(),
	}
	b := newBuilder(mgr, "failoverip", &v1.FailoverIP{}, opts).
		// A server's first observation ending, or a refresh finding the
		// server changed, wakes its FailoverIPs: they need not wait for their
		// own next pass (up to a syncInterval) to see what it found.
		WatchesRawSource(r.Observer.Source(r.requestsForServer))
	b, err := lc.claims.setup(ctx, mgr, &v1.FailoverIP{}, b)
	if err != nil {
		return err
	}
	return watchSecrets(b, mgr.GetClient(), &v1.FailoverIPList{}).Complete(lc)
}

// requestsForServer maps news about a server to the FailoverIPs routed to
// it, whatever their credentials: one reconcile too many is cheap.
func (r *FailoverIPReconciler) requestsForServer(ctx context.Context, e ovh.ServerObserved) []reconcile.Request {
	var list v1.FailoverIPList
	if err := r.Client.List(ctx, &list, client.MatchingFields{indexServer: e.Server}, client.UnsafeDisableDeepCopy); err != nil {
		// A map function cannot return an error: each FailoverIP still
		// comes back at its own syncInterval.
		log.FromContext(ctx).Error(err, "cannot list the FailoverIPs of a server observed at OVH", "server", e.Server)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, f := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&f)})
	}
	return reqs
}

func (r *FailoverIPReconciler) credentials(ctx context.Context, f *v1.FailoverIP) (ovh.Credentials, error) {
	ref := f.Spec.OVH.CredentialsSecretRef.Name
	data, err := readSecret(ctx, r.Reader, f.Namespace, ref, ovhSecretKeys)
	if err != nil {
		return ovh.Credentials{}, err
	}
	creds, err := ovh.CredentialsFromSecret(data)
	if err != nil {
		return ovh.Credentials{}, credentialsError(f.Namespace, ref, err)
	}
	return creds, nil
}

func syncInterval(f *v1.FailoverIP) time.Duration {
	if d := f.Spec.OVH.SyncInterval; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return time.Minute
}

// fipSession is one pass over one FailoverIP.
type fipSession struct {
	r      *FailoverIPReconciler
	f      *v1.FailoverIP
	creds  ovh.Credentials
	api    ovh.Client
	snap   ovh.ServerSnapshot
	block  string // "203.0.113.123/32"
	addr   string // "203.0.113.123" (vMAC operations take a plain address)
	save   func() error
	manage bool
	// siblings caches the namespace's FailoverIPs for one pass.
	siblings []v1.FailoverIP
	// reverse is the reverse DNS finding of this pass (syncReverse).
	reverse []drift.Finding
	// move is how the IP can be moved, when it must be (planMove).
	move *decide.MoveStep
}

// Sync observes the IP at OVH, fixes drift under Manage, and reports.
func (r *FailoverIPReconciler) Sync(ctx context.Context, f *v1.FailoverIP, save func() error) (time.Duration, error) {
	s, err := r.session(ctx, f, save, syncInterval(f), false)
	if errors.Is(err, errNotObservedYet) {
		// Not waiting here keeps this worker for the FailoverIPs of servers
		// already observed; the Observer's announcement brings this one
		// back, the interval is only a safety net. A Ready already known
		// (an operator restart) is kept meanwhile, and so is a first sight
		// still quiet: most first observations end within it.
		if d := deferFirstSight(f, r.Now(), r.QuietFirstSight); d != nil {
			return 0, d
		}
		if c := meta.FindStatusCondition(f.Status.Conditions, v1.TypeReady); c != nil && c.Status == metav1.ConditionUnknown {
			setCondition(f, v1.TypeReady, metav1.ConditionUnknown, v1.ReasonFirstObservation, fmt.Sprintf(
				"waiting for the first observation of server %s at OVH (its IPs and virtual MACs are read once for all its FailoverIPs)",
				f.Spec.Server))
			return syncInterval(f), nil
		}
		return 0, &deferred{after: syncInterval(f)}
	}
	if err != nil {
		return 0, err
	}
	// The reverse DNS needs no task and depends on nothing else: it is
	// looked at (and set) on every pass, tasks in flight or not.
	if err := s.syncReverse(ctx); err != nil {
		return 0, err
	}
	if f.Status.PendingTask != nil {
		done, err := s.followTask(ctx)
		if err != nil {
			return 0, err
		}
		if !done {
			st, err := s.observe(ctx)
			if err != nil {
				return 0, err
			}
			s.report(st, drift.FailoverIP(st))
			return r.TaskPoll, nil
		}
		if s.snap, err = r.Observer.Snapshot(ctx, s.creds, f.Spec.Server, 0); err != nil {
			return 0, err
		}
	}
	st, err := s.observe(ctx)
	if err != nil {
		return 0, err
	}
	findings := drift.FailoverIP(st)
	if drift.HasReason(findings, v1.ReasonVirtualMACMissing) && !conditionReason(f, v1.TypeVirtualMACAssigned, v1.ReasonVirtualMACMissing) {
		// OVH lists a server's IPs and its virtual MACs in two calls: an IP
		// moved here between them (its virtual MAC comes with it) looks
		// routed here without one. A newly missing MAC is looked at once more before
		// it is reported or created; one seen missing before is confirmed.
		r.Observer.Invalidate(s.creds, f.Spec.Server)
		if s.snap, err = r.Observer.Snapshot(ctx, s.creds, f.Spec.Server, 0); err != nil {
			return 0, err
		}
		if st, err = s.observe(ctx); err != nil {
			return 0, err
		}
		findings = drift.FailoverIP(st)
	}
	if drift.HasReason(findings, v1.ReasonRoutedElsewhere) {
		if err := s.planMove(ctx); err != nil {
			return 0, err
		}
	}
	if w, addr := decide.FailoverIPWrite(s.manage, findings, f.Status.LastFailedTask, f.Generation); w != decide.NoWrite && s.mayAct(w) {
		// The drift goes into the status with the write's recorded intent,
		// so watchers see it before the OVH call, not after (and before the
		// wait for the write's turn when the budget is busy: startTask).
		s.report(st, findings)
		if err := s.act(ctx, w, addr); err != nil {
			s.report(st, findings)
			return 0, err
		}
	}
	if len(findings) == 0 {
		f.Status.LastFailedTask = nil
	}
	s.report(st, findings)
	if f.Status.PendingTask != nil {
		return r.TaskPoll, nil
	}
	if len(findings) == 0 && r.Observer.KeepsObserved() {
		// The Observer refreshes the server every syncInterval (stretched
		// to the budget) on its own and announces every change, which
		// brings this FailoverIP back: its own pass is only a safety net.
		return max(syncInterval(f), keptResync), nil
	}
	return syncInterval(f), nil
}

// keptResync is how often a FailoverIP with nothing to fix passes when the
// Observer keeps its server observed (a BridgedVM's resyncInterval plays
// the same part beside ESXi's change events). It stays well within
// ObserverOptions.KeptFor, so that its passes keep the server observed.
const keptResync = 10 * time.Minute

// session prepares one pass. Without wait, a server never observed yet
// answers errNotObservedYet instead of holding the caller for its first
// observation.
func (r *FailoverIPReconciler) session(ctx context.Context, f *v1.FailoverIP, save func() error, maxAge time.Duration, wait bool) (*fipSession, error) {
	creds, err := r.credentials(ctx, f)
	if err != nil {
		return nil, err
	}
	api, err := r.OVH.Get(creds)
	if err != nil {
		return nil, err
	}
	block, err := ovh.Block(f.Spec.IP)
	if err != nil {
		return nil, &specError{reason: v1.ReasonInvalidSpec, stalled: true, msg: err.Error()}
	}
	// One observation per server and credential, shared by every
	// FailoverIP routed there: OVH calls grow with servers, not IPs.
	var snap ovh.ServerSnapshot
	if wait {
		snap, err = r.Observer.Snapshot(ctx, creds, f.Spec.Server, maxAge)
	} else {
		var ok bool
		snap, ok, err = r.Observer.TrySnapshot(ctx, creds, f.Spec.Server, maxAge)
		if err == nil && !ok {
			err = errNotObservedYet
		}
	}
	if err != nil {
		return nil, err
	}
	f.Status.Gateway = snap.Network.Gateway
	f.Status.ServerMainIP = snap.Network.MainIP
	f.Status.IPv6 = nil
	if n := snap.Network; n.IPv6Block != "" || n.IPv6Gateway != "" {
		f.Status.IPv6 = &v1.ServerIPv6{Block: n.IPv6Block, Gateway: n.IPv6Gateway}
	}
	return &fipSession{
		r: r, f: f, creds: creds, api: api, snap: snap, block: block,
		addr: strings.TrimSuffix(block, "/32"), save: save,
		manage: f.GetPolicies().ManagementPolicy == v1.Manage,
	}, nil
}

// namespaceFailoverIPs lists the FailoverIPs of this one's namespace (from
// the cache), once per pass.
func (s *fipSession) namespaceFailoverIPs(ctx context.Context) ([]v1.FailoverIP, error) {
	if s.siblings != nil {
		return s.siblings, nil
	}
	var list v1.FailoverIPList
	// Read-only (decide's functions never write them): the cache's own
	// copies, not a deep copy of every FailoverIP of the namespace.
	if err := s.r.Client.List(ctx, &list, client.InNamespace(s.f.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the FailoverIPs of namespace %s: %w", s.f.Namespace, err)
	}
	s.siblings = list.Items
	if s.siblings == nil {
		s.siblings = []v1.FailoverIP{}
	}
	return s.siblings, nil
}

// act starts the write decide.FailoverIPWrite chose; addr is the address a
// virtual MAC write is for.
func (s *fipSession) act(ctx context.Context, w decide.OVHWrite, addr string) error {
	f := s.f
	switch w {
	case decide.MoveIP:
		if m := s.move; m != nil && m.Action == decide.MoveUnbindFirst {
			// The address leaves the MAC it shares (OVH refuses the move
			// otherwise); it binds to it again on the new server.
			return s.startOn(ctx, f.Status.RoutedTo, taskUnbindIP, m.MAC, s.taskAddress(m.Address), func(ctx context.Context) (ovh.Task, error) {
				return s.api.UnbindIP(ctx, f.Status.RoutedTo, m.MAC, m.Address)
			})
		}
		return s.start(ctx, taskMoveIP, scopeIP, f.Spec.Server, "", func(ctx context.Context) (ovh.Task, error) {
			return s.api.MoveIP(ctx, s.block, f.Spec.Server)
		})
	case decide.AddVirtualMAC:
		want, ok := decide.WantedMACFor(f, addr)
		if !ok {
			return nil
		}
		all, err := s.namespaceFailoverIPs(ctx)
		if err != nil {
			// Not knowing the VM's other IPs would create a second virtual
			// MAC for the same VM: no write without the list.
			return err
		}
		if mac := decide.SiblingMAC(f, addr, all, s.serverMACs()); mac != "" {
			return s.start(ctx, taskAddVMAC, scopeServer, mac, s.taskAddress(addr), func(ctx context.Context) (ovh.Task, error) {
				return s.api.BindIP(ctx, f.Spec.Server, mac, addr, want.VMName)
			})
		}
		return s.start(ctx, taskAddVMAC, scopeServer, "", s.taskAddress(addr), func(ctx context.Context) (ovh.Task, error) {
			return s.api.CreateVirtualMAC(ctx, f.Spec.Server, addr, string(want.Type), want.VMName)
		})
	}
	return nil
}

// taskAddress is what a task records as its address: the address of a
// block, nothing for a single IP (the FailoverIP's IP says it).
func (s *fipSession) taskAddress(addr string) string {
	if isBlock(s.f) {
		return addr
	}
	return ""
}

// serverMACList lists the MACs of the server's snapshot.
func (s *fipSession) serverMACList() []string {
	out := make([]string, 0, len(s.snap.VirtualMACs))
	for _, vm := range s.snap.VirtualMACs {
		out = append(out, vm.MAC)
	}
	return out
}

// serverMACs lists the server's virtual MACs for decide.SiblingMAC.
func (s *fipSession) serverMACs() []decide.VirtualMACRef {
	out := make([]decide.VirtualMACRef, 0, len(s.snap.VirtualMACs))
	for _, vm := range s.snap.VirtualMACs {
		out = append(out, decide.VirtualMACRef{MAC: vm.MAC, Type: vm.Type})
	}
	return out
}

// start records the intent of a write, sends it, then records its task id.
// The intent is saved first: if the operator stops after sending, the next
// pass finds the task in OVH's list instead of sending the write again.
func (s *fipSession) start(ctx context.Context, function, scope, target, address string, write func(context.Context) (ovh.Task, error)) error {
	return s.startTask(ctx, &v1.PendingTask{Function: function, Scope: scope, Target: target, Address: address}, write)
}

// startOn starts a server task on another server than spec.server (the one
// the IP is moving from).
func (s *fipSession) startOn(ctx context.Context, server, function, target, address string, write func(context.Context) (ovh.Task, error)) error {
	return s.startTask(ctx, &v1.PendingTask{Function: function, Scope: scopeServer, Server: server, Target: target, Address: address}, write)
}

// startTask is start with the intent p (its StartedAt set here).
func (s *fipSession) startTask(ctx context.Context, p *v1.PendingTask, write func(context.Context) (ovh.Task, error)) error {
	function, scope, target := p.Function, p.Scope, p.Target
	// The rate limiter's turn is taken before the intent is saved, so that
	// the write follows the intent at once: a crash in between leaves an
	// intent that takes intentGrace to resolve, and the gap must stay short
	// even when many FailoverIPs start writing together.
	turn, free := ovh.TryTurn(ctx, s.api)
	if !free {
		// The turn comes behind other writes of the credential (tens of
		// seconds when many repairs start together): the drift found is
		// written now, not with the intent after the wait, so that watchers
		// learn of it when it was seen (one status patch more, only when
		// the budget is busy).
		if err := s.save(); err != nil {
			return err
		}
		var err error
		if turn, err = ovh.TakeTurn(ctx, s.api); err != nil {
			return err
		}
	}
	ctx = turn
	p.StartedAt = metav1.NewTime(s.r.Now())
	s.f.Status.PendingTask = p
	if err := s.save(); err != nil {
		s.f.Status.PendingTask = nil
		return err
	}
	logger := log.FromContext(ctx)
	logger.V(1).Info("write intent recorded", "function", function, "scope", scope, "target", target)
	task, err := write(ctx)
	if err != nil {
		if cause.KindOf(err) != cause.Unreachable {
			// Refused: nothing was started. A refusal may come from a view
			// of the server older than OVH's (a MAC's IPs are cached):
			// read it all again before deciding anew.
			s.r.Observer.Invalidate(s.creds, s.f.Spec.Server, s.serverMACList()...)
			s.f.Status.PendingTask = nil
			logger.V(1).Info("OVH refused the write; nothing was started", "function", function, "error", err.Error())
			return err
		}
		// Unreachable may hide a write that went through: keep the intent,
		// the next pass looks for its task.
		logger.V(1).Info("write sent without an answer; the intent is kept", "function", function, "error", err.Error())
		return err
	}
	s.f.Status.PendingTask.ID = strconv.FormatInt(task.ID, 10)
	logger.V(1).Info("OVH task started", "function", function, "task", task.ID)
	// No Invalidate yet: OVH shows the change only when the task is over,
	// and followTask invalidates then. A refresh now would read the server
	// as it was, for nothing (four calls of the budget per write).
	if s.r.recorder != nil {
		s.r.recorder.Eventf(s.f, nil, corev1.EventTypeNormal, v1.ReasonTaskStarted, function,
			"started OVH task %s %d (%s)", function, task.ID, pendingWork(s.f.Status.PendingTask, s.f))
	}
	return s.save()
}

// followTask looks at the pending task. done=true when it is over (success
// or failure recorded) and the state can be observed afresh.
func (s *fipSession) followTask(ctx context.Context) (bool, error) {
	f, p := s.f, s.f.Status.PendingTask
	if p.ID == "" {
		return s.resolveIntent(ctx)
	}
	id, err := strconv.ParseInt(p.ID, 10, 64)
	if err != nil {
		// Not an id OVH gave (status edited by hand): forget it and decide
		// from OVH's state, as for a purged task.
		f.Status.PendingTask = nil
		return true, nil //nolint:nilerr // a malformed id is dropped, not retried
	}
	var task ovh.Task
	if p.Scope == scopeIP {
		task, err = s.api.IPTask(ctx, s.block, id)
	} else {
		task, err = s.api.ServerTask(ctx, taskServer(p, f), id)
	}
	switch {
	case err != nil && ovh.TaskNotVisibleYet(err, p.StartedAt.Time):
		return false, nil // OVH's propagation delay: keep the id, never re-send
	case cause.Is(err, cause.NotFound):
		// Purged: OVH forgets old tasks. The resource state decides.
		f.Status.PendingTask = nil
		s.invalidateFor(p)
		return true, nil
	case err != nil:
		return false, err
	case task.Pending():
		return false, nil
	}
	task.RecordFinished()
	if p.Function == taskMoveIP && task.Succeeded() {
		// Its virtual MACs are awaited on the new server for a while
		// (decide.AwaitedMAC), not created again.
		now := metav1.NewTime(s.r.Now())
		f.Status.MovedAt = &now
	}
	log.FromContext(ctx).V(1).Info("OVH task finished", "function", p.Function, "task", p.ID, "status", task.Status)
	if task.Failed() {
		f.Status.LastFailedTask = &v1.FailedTask{
			ID: p.ID, Function: p.Function, Address: p.Address, Status: task.Status, Comment: task.Comment,
			Generation: f.Generation, FinishedAt: metav1.NewTime(s.r.Now()),
		}
	}
	f.Status.PendingTask = nil
	s.invalidateFor(p)
	return true, nil
}

// resolveIntent handles a write whose task id was never recorded: the
// operator stopped between recording the intent and recording the task, or
// OVH's answer was lost. The task is looked for in OVH's list; until it shows
// (or the grace period ends) the write is not sent again.
func (s *fipSession) resolveIntent(ctx context.Context) (bool, error) {
	f, p := s.f, s.f.Status.PendingTask
	logger := log.FromContext(ctx)
	var ids []int64
	var err error
	if p.Scope == scopeIP {
		ids, err = s.api.IPTasks(ctx, s.block, p.Function)
	} else {
		ids, err = s.api.ServerTasks(ctx, taskServer(p, f), p.Function)
	}
	if err != nil {
		return false, err
	}
	claimed, err := s.tasksClaimedByOthers(ctx)
	if err != nil {
		return false, err
	}
	// Newest first: OVH ids grow with time.
	for i := len(ids) - 1; i >= 0; i-- {
		if claimed[ids[i]] {
			continue // another FailoverIP of the server follows it
		}
		var t ovh.Task
		if p.Scope == scopeIP {
			t, err = s.api.IPTask(ctx, s.block, ids[i])
		} else {
			t, err = s.api.ServerTask(ctx, taskServer(p, f), ids[i])
		}
		switch {
		case cause.Is(err, cause.NotFound):
			continue // purged between the list and the read: not ours to find
		case err != nil:
			// Skipping a task that could not be read could miss ours and,
			// after the grace period, send the write a second time.
			return false, err
		}
		if !t.Started.IsZero() && t.Started.Before(p.StartedAt.Add(-time.Minute)) {
			break // older than our intent (allowing for clock skew)
		}
		p.ID = strconv.FormatInt(t.ID, 10)
		logger.V(1).Info("write intent resolved: its OVH task was found", "function", p.Function, "task", p.ID)
		return false, s.save()
	}
	waited := s.r.Now().Sub(p.StartedAt.Time)
	if waited < s.r.IntentGrace {
		return false, nil // may still appear
	}
	// No task in OVH's list since the intent, for a whole grace period: the
	// write never reached OVH (the operator stopped before sending it). Say
	// so, then decide afresh from what OVH shows.
	msg := fmt.Sprintf("gave up the recorded intent %q (%s): no OVH task %s appeared in %s; deciding again from OVH's state",
		p.Function, pendingWork(p, f), p.Function, waited.Round(time.Second))
	logger.V(1).Info("write intent abandoned", "function", p.Function, "scope", p.Scope, "target", p.Target, "waited", waited.Round(time.Second).String())
	if s.r.recorder != nil {
		s.r.recorder.Eventf(f, nil, corev1.EventTypeWarning, v1.ReasonIntentAbandoned, "ResolveIntent", "%s", eventNote(msg))
	}
	f.Status.PendingTask = nil
	return true, nil
}

// tasksClaimedByOthers lists the server tasks other FailoverIPs of the same
// server record as theirs. OVH's virtual MAC tasks name no IP, so an intent
// looking for its task skips those: it must not adopt a neighbour's.
func (s *fipSession) tasksClaimedByOthers(ctx context.Context) (map[int64]bool, error) {
	if s.f.Status.PendingTask.Scope != scopeServer {
		return nil, nil // IP tasks belong to the IP
	}
	var list v1.FailoverIPList
	server := taskServer(s.f.Status.PendingTask, s.f)
	if err := s.r.Client.List(ctx, &list, client.MatchingFields{indexServer: server}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the FailoverIPs of server %s: %w", server, err)
	}
	// FailoverIPs leaving a shared MAC before their move run tasks on a
	// server that is not their spec.server: the namespace's are looked at
	// too.
	ns, err := s.namespaceFailoverIPs(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64]bool{}
	for _, o := range slices.Concat(list.Items, ns) {
		p := o.Status.PendingTask
		if o.UID == s.f.UID || p == nil || p.Scope != scopeServer || taskServer(p, &o) != server {
			continue
		}
		if id, err := strconv.ParseInt(p.ID, 10, 64); err == nil {
			out[id] = true
		}
	}
	return out, nil
}

// invalidateFor makes the next observation read again what the task p
// changes: the server, the source server of a move, the MAC of a bind or an
// unbind (its IPs are cached otherwise, and a finished bind would not show).
func (s *fipSession) invalidateFor(p *v1.PendingTask) {
	s.r.Observer.Invalidate(s.creds, s.f.Spec.Server)
	if p != nil && p.Scope == scopeIP && s.f.Status.RoutedTo != "" && s.f.Status.RoutedTo != s.f.Spec.Server {
		s.r.Observer.Invalidate(s.creds, s.f.Status.RoutedTo)
	}
	if p != nil && p.Target != "" && p.Scope == scopeServer {
		s.r.Observer.Invalidate(s.creds, taskServer(p, s.f), p.Target)
	}
}

// report turns the state into conditions and status.drift.
func (s *fipSession) report(st drift.FailoverIPState, findings []drift.Finding) {
	f := s.f
	p := f.Status.PendingTask
	f.Status.Drift = driftItems(slices.Concat(findings, s.reverse))
	notFixed := ""
	if !s.manage {
		notFixed = " (not corrected: managementPolicy is Observe)"
	} else if lf := f.Status.LastFailedTask; lf != nil && lf.Generation == f.Generation {
		notFixed = fmt.Sprintf(" (not retried: OVH task %s %s ended %s: %s; change the spec or fix it at OVH)",
			lf.Function, lf.ID, lf.Status, lf.Comment)
	}

	switch {
	case p != nil && p.Function == taskMoveIP:
		setCondition(f, v1.TypeRouted, metav1.ConditionFalse, v1.ReasonMoveInProgress,
			fmt.Sprintf("moving %s from %s to %s (OVH task %s)", f.Spec.IP, orNowhere(st.RoutedTo), f.Spec.Server, orPending(p.ID)))
	case p != nil && p.Server != "":
		setCondition(f, v1.TypeRouted, metav1.ConditionFalse, v1.ReasonMoveInProgress,
			fmt.Sprintf("preparing the move of %s to %s: %s (OVH task %s)", f.Spec.IP, f.Spec.Server, pendingMACWork(p, f), orPending(p.ID)))
	case s.move != nil && (s.move.Action == decide.MoveWait || s.move.Action == decide.MoveBlocked) && drift.HasReason(findings, v1.ReasonRoutedElsewhere):
		msg := fmt.Sprintf("%s is routed to %s, not %s, and is not moved: %s", f.Spec.IP, orNowhere(st.RoutedTo), f.Spec.Server, s.move.Message)
		if !s.manage {
			msg += " (and managementPolicy is Observe)"
		}
		setCondition(f, v1.TypeRouted, metav1.ConditionFalse, s.move.Reason, msg)
	case drift.HasReason(findings, v1.ReasonRoutedElsewhere):
		setCondition(f, v1.TypeRouted, metav1.ConditionFalse, v1.ReasonRoutedElsewhere, findings[0].Message+notFixed)
	case drift.HasReason(findings, v1.ReasonPartOfBlock):
		setCondition(f, v1.TypeRouted, metav1.ConditionFalse, v1.ReasonPartOfBlock, findings[0].Message)
	default:
		setCondition(f, v1.TypeRouted, metav1.ConditionTrue, v1.ReasonRouted, fmt.Sprintf("%s is routed to %s", f.Spec.IP, f.Spec.Server))
	}

	s.reportMAC(st, findings, notFixed)

	if p != nil {
		setCondition(f, v1.TypeReconciling, metav1.ConditionTrue, v1.ReasonTaskInProgress,
			fmt.Sprintf("OVH task %s %s in progress", p.Function, orPending(p.ID)))
	} else {
		removeCondition(f, v1.TypeReconciling)
	}
	if lf := f.Status.LastFailedTask; lf != nil && lf.Generation == f.Generation && len(findings) > 0 {
		setCondition(f, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonTaskFailed,
			fmt.Sprintf("OVH task %s %s ended %s: %s", lf.Function, lf.ID, lf.Status, lf.Comment))
	}
	if fd, ok := firstOf(findings, v1.ReasonPartOfBlock); ok {
		// Nothing the operator may do changes it: the spec must.
		setCondition(f, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonPartOfBlock, fd.Message)
	}
	s.reportReverse()
	summarizeReady(f, []string{v1.TypeRouted, v1.TypeVirtualMACAssigned, v1.TypeReverseConfigured},
		fmt.Sprintf("%s is routed to %s%s", f.Spec.IP, f.Spec.Server, macSuffix(f)))
}

// conditionReason reports whether obj's condition typ has reason.
func conditionReason(obj managed, typ, reason string) bool {
	c := meta.FindStatusCondition(obj.GetResourceStatus().Conditions, typ)
	return c != nil && c.Reason == reason
}

func macSuffix(f *v1.FailoverIP) string {
	if isBlock(f) {
		if n := len(decide.WantedMACs(f)); n > 0 {
			return fmt.Sprintf(" with the virtual MACs of its %d address(es)", n)
		}
		return ""
	}
	if f.Status.MACAddress == "" {
		return ""
	}
	return " with virtual MAC " + f.Status.MACAddress
}

func pendingWork(p *v1.PendingTask, f *v1.FailoverIP) string {
	if p.Function == taskMoveIP {
		return fmt.Sprintf("moving %s to %s", f.Spec.IP, p.Target)
	}
	return pendingMACWork(p, f)
}

func pendingMACWork(p *v1.PendingTask, f *v1.FailoverIP) string {
	ip := f.Spec.IP
	if p.Address != "" {
		ip = p.Address
	}
	want, wanted := decide.WantedMACFor(f, strings.TrimSuffix(ip, "/32"))
	switch {
	case p.Function == taskUnbindIP:
		return fmt.Sprintf("unbinding %s from virtual MAC %s", ip, p.Target)
	case p.Target != "":
		return fmt.Sprintf("binding %s to the VM's existing virtual MAC %s", ip, p.Target)
	case !wanted:
		// The virtual MAC was removed from the spec while the creation was
		// in flight.
		return fmt.Sprintf("creating a virtual MAC for %s", ip)
	default:
		return fmt.Sprintf("creating a %s virtual MAC for %s", want.Type, ip)
	}
}

func orNowhere(s string) string {
	if s == "" {
		return "nowhere"
	}
	return s
}

func orPending(id string) string {
	if id == "" {
		return "(being started)"
	}
	return id
}

func firstOf(fs []drift.Finding, reasons ...string) (drift.Finding, bool) {
	for _, f := range fs {
		for _, r := range reasons {
			if f.Reason == r {
				return f, true
			}
		}
	}
	return drift.Finding{}, false
}

// Finalize unbinds the IP (or each address of the block) from its virtual
// MAC (deletionPolicy Delete), one address per pass. The IP itself stays
// where it is: the operator never gives an IP away. Reverses stay too.
func (r *FailoverIPReconciler) Finalize(ctx context.Context, f *v1.FailoverIP, save func() error) (bool, time.Duration, error) {
	wanted := decide.WantedMACs(f)
	if len(wanted) == 0 {
		return true, 0, nil
	}
	s, err := r.session(ctx, f, save, 0, true)
	if err != nil {
		if cause.Is(err, cause.CapabilityMissing) {
			return true, 0, nil
		}
		return false, 0, err
	}
	if f.Status.PendingTask != nil {
		done, err := s.followTask(ctx)
		if err != nil || !done {
			return false, r.TaskPoll, err
		}
		if s.snap, err = r.Observer.Snapshot(ctx, s.creds, f.Spec.Server, 0); err != nil {
			return false, 0, err
		}
	}
	for _, w := range wanted {
		vm, ok := s.snap.VirtualMACFor(w.IP)
		if !ok {
			continue
		}
		if lf := f.Status.LastFailedTask; lf != nil && lf.Function == taskUnbindIP && lf.Address == s.taskAddress(w.IP) {
			return false, 0, fmt.Errorf("unbinding %s from %s failed at OVH (%s: %s); remove the binding by hand or set deletionPolicy Orphan", w.IP, vm.MAC, lf.Status, lf.Comment)
		}
		err = s.start(ctx, taskUnbindIP, scopeServer, vm.MAC, s.taskAddress(w.IP), func(ctx context.Context) (ovh.Task, error) {
			return s.api.UnbindIP(ctx, f.Spec.Server, vm.MAC, w.IP)
		})
		return false, r.TaskPoll, err
	}
	return true, 0, nil
}
