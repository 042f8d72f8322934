package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/decide"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
)

const (
	indexVMName = "ovhbridge.io/vmname"
	// indexFailoverIPMAC indexes FailoverIPs by status.macAddress, lower-cased.
	indexFailoverIPMAC = "ovhbridge.io/failoverip-mac"
	esxiSecretKeys     = `"url", "username", "password" and "thumbprint" (or "ca.crt")`
	// defaultResync matches the CRD default of spec.esxi.resyncInterval.
	defaultResync = 10 * time.Minute
	// portGroupRetry paces the retry of a missing port group: creating one
	// on the host changes no VM, so no event announces it.
	portGroupRetry = time.Minute
)

// BridgedVMReconciler keeps a VM's NICs on the right port groups with the
// right MACs (the OVH virtual MACs of their failover IPs), and its power
// state as asked.
type BridgedVMReconciler struct {
	Client client.Client
	// Reader reads Secrets: in the operator, the shared secretReader
	// (secrets.go), which goes to the API server only when a Secret changed.
	Reader client.Reader
	ESXi   *esxi.Sessions
	// TaskPoll is how often an ESXi task in flight is looked at: the
	// --task-poll-interval flag (5s) in the operator, 2s when left zero.
	// Most tasks end sooner and announce themselves through the VM change
	// they make; the poll is the fallback.
	TaskPoll time.Duration
	// IntentGrace is how long a recorded write whose task reference was
	// never saved (the operator stopped in between) may take to show its
	// effect on the VM before it is deemed never sent (default 1m). Waiting
	// is what keeps a restart from powering a VM off or on twice.
	IntentGrace time.Duration
	// PollOnly observes VMs only on resyncInterval: no ESXi change watcher
	// is started or subscribed to (Options.DisableESXiChangeEvents).
	PollOnly bool
	Now      func() time.Time

	endpoints endpointRegistry
	recorder  events.EventRecorder
}

// setupBridgedVM registers the BridgedVM controller.
func setupBridgedVM(ctx context.Context, mgr ctrl.Manager, opts Options, sys Systems) error {
	if sys.ESXi == nil {
		return errors.New("no ESXi session pool")
	}
	r := &BridgedVMReconciler{
		Client: mgr.GetClient(), Reader: sys.secretsOr(mgr), ESXi: sys.ESXi, TaskPoll: opts.TaskPoll,
		PollOnly: opts.DisableESXiChangeEvents, IntentGrace: opts.ESXiIntentGrace,
	}
	return r.SetupWithManager(ctx, mgr, opts)
}

// SetupWithManager registers the controller. Besides the object itself, it
// watches the Secrets and FailoverIPs BridgedVMs name (status included: a
// FailoverIP's MAC lives there) and the ESXi endpoints' change streams.
func (r *BridgedVMReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.TaskPoll <= 0 {
		r.TaskPoll = 2 * time.Second
	}
	if r.IntentGrace <= 0 {
		r.IntentGrace = time.Minute
	}
	fi := mgr.GetFieldIndexer()
	if err := indexBySecret(ctx, fi, &v1.BridgedVM{}, func(b *v1.BridgedVM) string {
		return b.Spec.ESXi.CredentialsSecretRef.Name
	}); err != nil {
		return err
	}
	if err := indexByFailoverIP(ctx, fi, &v1.BridgedVM{}, func(b *v1.BridgedVM) []string {
		var names []string
		for _, n := range b.Spec.NICs {
			if n.MACFrom != nil {
				names = append(names, n.MACFrom.FailoverIPRef.Name)
			}
		}
		return uniq(names...)
	}); err != nil {
		return err
	}
	if err := fi.IndexField(ctx, &v1.BridgedVM{}, indexVMName, func(o client.Object) []string {
		return []string{o.(*v1.BridgedVM).Spec.VMName}
	}); err != nil {
		return err
	}
	// The guest check looks up the FailoverIPs bound to one virtual MAC:
	// indexed, a pass reads those few, not the namespace's thousands.
	if err := fi.IndexField(ctx, &v1.FailoverIP{}, indexFailoverIPMAC, func(o client.Object) []string {
		if mac := o.(*v1.FailoverIP).Status.MACAddress; mac != "" {
			return []string{strings.ToLower(mac)}
		}
		return nil
	}); err != nil {
		return err
	}
	c := mgr.GetClient()
	r.recorder = mgr.GetEventRecorder("ovhbridge-bridgedvm")
	lc := &lifecycle[*v1.BridgedVM]{
		timeout: opts.withDefaults().ReconcileTimeout,
		client:  c, recorder: r.recorder,
		kind: "BridgedVM", newObj: func() *v1.BridgedVM { return &v1.BridgedVM{} }, logic: r,
		claims: bridgedVMClaims(r.Reader),
	}
	b, err := lc.claims.setup(ctx, mgr, &v1.BridgedVM{}, newBuilder(mgr, "bridgedvm", &v1.BridgedVM{}, opts))
	if err != nil {
		return err
	}
	b = watchSecrets(b, c, &v1.BridgedVMList{})
	b = b.Watches(&v1.FailoverIP{}, enqueueUsers(c, &v1.BridgedVMList{}, indexFailoverIP),
		builder.WithPredicates(predicate.Funcs{UpdateFunc: macUpdate}))
	if !r.PollOnly {
		b = b.WatchesRawSource(r.ESXi.Source(r.requestsFor))
	}
	return b.Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := lc.Reconcile(ctx, req)
		var gone v1.BridgedVM
		if err == nil && apierrors.IsNotFound(c.Get(ctx, req.NamespacedName, &gone)) {
			r.endpoints.forget(req.NamespacedName)
		}
		return res, err
	}))
}

// macUpdate passes the FailoverIP updates a BridgedVM reads: its MAC
// (decide.MACUpdateMatters) and what its guest must hold
// (decide.GuestUpdateMatters).
func macUpdate(e event.UpdateEvent) bool {
	old, okOld := e.ObjectOld.(*v1.FailoverIP)
	cur, okNew := e.ObjectNew.(*v1.FailoverIP)
	return !okOld || !okNew || decide.MACUpdateMatters(old, cur) || decide.GuestUpdateMatters(old, cur)
}

// endpointRegistry remembers which ESXi endpoint each BridgedVM last synced
// with. A VM change names an endpoint and a VM; the VM name is found through
// the cache's spec.vmName index, always current, but the endpoint comes from
// the BridgedVM's Secret, which is never cached (see readSecret): Sync
// records it here instead of the map function reading Secrets on every VM
// change.
type endpointRegistry struct {
	mu sync.Mutex
	m  map[types.NamespacedName]esxi.Key
}

func (e *endpointRegistry) set(name types.NamespacedName, key esxi.Key) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[types.NamespacedName]esxi.Key{}
	}
	e.m[name] = key
}

func (e *endpointRegistry) get(name types.NamespacedName) (esxi.Key, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, ok := e.m[name]
	return k, ok
}

func (e *endpointRegistry) forget(name types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, name)
}

// requestsFor maps a VM change to the BridgedVMs that name the VM on that
// endpoint. A BridgedVM not synced yet is included: its endpoint is unknown,
// and one reconcile too many is cheaper than a missed change.
func (r *BridgedVMReconciler) requestsFor(ctx context.Context, c esxi.VMChange) []reconcile.Request {
	var list v1.BridgedVMList
	if err := r.Client.List(ctx, &list, client.MatchingFields{indexVMName: c.VMName}); err != nil {
		// A map function cannot return an error: the VM's BridgedVMs still
		// come back at their resyncInterval.
		log.FromContext(ctx).Error(err, "cannot list the BridgedVMs of a VM that changed", "vm", c.VMName)
		return nil
	}
	var reqs []reconcile.Request
	for _, b := range list.Items {
		name := client.ObjectKeyFromObject(&b)
		if key, ok := r.endpoints.get(name); ok && key != c.Endpoint {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: name})
	}
	return reqs
}

func resyncInterval(b *v1.BridgedVM) time.Duration {
	if d := b.Spec.ESXi.ResyncInterval; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return defaultResync
}

// bridgedVMConditions are the kind's own conditions, in the order a person
// fixes them: the guest last, as its interface needs its virtual MAC first.
var bridgedVMConditions = []string{v1.TypeMACConfigured, v1.TypeNetworkAttached, v1.TypePowerStateMatches, v1.TypeGuestNetworkConfigured}

// bvmSession is one pass over one BridgedVM.
type bvmSession struct {
	r        *BridgedVMReconciler
	b        *v1.BridgedVM
	api      esxi.Client
	endpoint string
	want     []drift.WantNIC
	guest    []guestNeed
	pgs      []string
	save     func() error
	manage   bool
	// cycle is true while a power cycle the operator started is not over:
	// the VM must be powered on again once its MACs are set.
	cycle bool
}

// Sync observes the VM, fixes drift under Manage, and reports.
func (r *BridgedVMReconciler) Sync(ctx context.Context, b *v1.BridgedVM, save func() error) (time.Duration, error) {
	s, err := r.session(ctx, b, save)
	if err != nil {
		return 0, err
	}
	for _, w := range s.want {
		if w.MACNotReady == "" {
			continue
		}
		// Applied together with its FailoverIP, whose MAC is a moment
		// away: its watch brings this object back with it. While that
		// FailoverIP is itself in its first observation (at 10×, minutes
		// for the last ones), it tells why; this one stays quiet longer.
		quiet := quietFirstSight
		if w.MACSourceNew {
			quiet = quietBehindNewSource
		}
		if d := deferFirstSight(b, r.Now(), quiet); d != nil {
			return 0, d
		}
	}
	vm, err := s.api.FindVM(ctx, b.Spec.VMName)
	if cause.Is(err, cause.NotFound) {
		// Not Stalled: the VM may be created or renamed later, and the
		// watcher announces it when it is.
		s.reportMissingVM()
		return resyncInterval(b), nil
	}
	if err != nil {
		return 0, err
	}
	if s.pgs, err = s.api.PortGroups(ctx); err != nil {
		return 0, err
	}
	if b.Status.PendingTask != nil {
		done, err := s.followTask(ctx, vm)
		if err != nil || !done {
			s.report(vm, s.plan(vm))
			return r.TaskPoll, err
		}
		// The task changed the VM: look again before deciding what is next.
		if vm, err = s.api.FindVM(ctx, b.Spec.VMName); err != nil {
			return 0, err
		}
	}
	plan := s.plan(vm)
	if s.manage {
		if len(plan.Findings) > 0 {
			// The drift goes into the status with the first write of the
			// repair (its recorded intent), not two writes and a task later:
			// watchers see Ready=False as soon as the operator knows.
			s.report(vm, plan)
		}
		if err := s.act(ctx, vm, plan); err != nil {
			s.report(vm, plan)
			return 0, err
		}
	}
	if len(plan.Findings) == 0 && !s.restoreFailed(vm) {
		b.Status.LastFailedTask = nil
	}
	s.report(vm, plan)
	switch {
	case b.Status.PendingTask != nil:
		return r.TaskPoll, nil
	case drift.HasReason(plan.Findings, v1.ReasonPortGroupNotFound):
		// A slow retry rather than Stalled: the port group may be created
		// later, and nothing else would tell.
		return min(resyncInterval(b), portGroupRetry), nil
	}
	return resyncInterval(b), nil
}

func (r *BridgedVMReconciler) session(ctx context.Context, b *v1.BridgedVM, save func() error) (*bvmSession, error) {
	ref := b.Spec.ESXi.CredentialsSecretRef.Name
	data, err := readSecret(ctx, r.Reader, b.Namespace, ref, esxiSecretKeys)
	if err != nil {
		return nil, err
	}
	creds, err := esxi.CredentialsFromSecret(data)
	if err != nil {
		return nil, credentialsError(b.Namespace, ref, err)
	}
	// Recorded before logging in, so that once the endpoint works its
	// changes reach this object even if this pass fails.
	r.endpoints.set(client.ObjectKeyFromObject(b), creds.Key())
	api, err := r.ESXi.Get(ctx, creds)
	if err != nil {
		return nil, err
	}
	if !r.PollOnly {
		if err := r.ESXi.Watch(ctx, creds); err != nil {
			return nil, err
		}
	}
	want, err := r.wantedNICs(ctx, b)
	if err != nil {
		return nil, err
	}
	guest, err := r.guestNeeds(ctx, b)
	if err != nil {
		return nil, err
	}
	return &bvmSession{
		r: r, b: b, api: api, endpoint: creds.Key().String(), want: want, guest: guest, save: save,
		manage: b.GetPolicies().ManagementPolicy == v1.Manage,
	}, nil
}

// wantedNICs resolves each NIC's MAC, from the spec or from the FailoverIP
// it names. A FailoverIP that cannot give one yet blocks that NIC only.
func (r *BridgedVMReconciler) wantedNICs(ctx context.Context, b *v1.BridgedVM) ([]drift.WantNIC, error) {
	out := make([]drift.WantNIC, 0, len(b.Spec.NICs))
	for _, n := range b.Spec.NICs {
		w := drift.WantNIC{Label: n.Label, PortGroup: n.PortGroup, MAC: strings.ToLower(n.MAC)}
		if n.Index != nil {
			w.Index = int(*n.Index)
		}
		if n.MACFrom != nil {
			w.MACFrom = n.MACFrom.FailoverIPRef.Name
			if n.MACFrom.Address != "" {
				w.MACFrom += " address " + n.MACFrom.Address
			}
			mac, err := nicMAC(ctx, r.Client, b.Namespace, n.MACFrom)
			var re *refError
			switch {
			case errors.As(err, &re):
				w.MACNotReady, w.MACSourceNew = re.Error(), re.newSource
			case err != nil:
				return nil, err
			}
			w.MAC = strings.ToLower(mac)
		}
		out = append(out, w)
	}
	return out, nil
}

func (s *bvmSession) plan(vm esxi.VM) drift.BridgedVMPlan {
	return drift.BridgedVM(s.state(vm))
}

func (s *bvmSession) state(vm esxi.VM) drift.BridgedVMState {
	st := drift.BridgedVMState{
		VMName: vm.Name, PowerState: string(apiPowerState(vm.PowerState)), WantPower: string(s.b.Spec.PowerState),
		AllowPowerCycle: s.b.Spec.AllowPowerCycle, Want: s.want, PortGroups: s.pgs,
	}
	for _, n := range vm.NICs {
		st.NICs = append(st.NICs, drift.VMNIC{Index: n.Index, Label: n.Label, MAC: n.MAC, PortGroup: n.PortGroup})
	}
	return st
}

func apiPowerState(p esxi.PowerState) v1.PowerState {
	switch p {
	case esxi.PoweredOn:
		return v1.PoweredOn
	case esxi.PoweredOff:
		return v1.PoweredOff
	case esxi.Suspended:
		return v1.Suspended
	}
	return v1.PowerState(p)
}

// followTask looks at the task in flight. done=true when it is over (a
// failure recorded) and the VM can be looked at afresh; s.cycle then says
// whether it was part of a power cycle that must go on.
func (s *bvmSession) followTask(ctx context.Context, vm esxi.VM) (bool, error) {
	b, p := s.b, s.b.Status.PendingTask
	s.cycle = p.PowerCycle
	if p.Ref == "" {
		// The operator stopped between recording the intent and recording
		// the task, or the host did not answer the call. If the effect is
		// already there, the step is done; otherwise wait a little for it
		// rather than send the same power operation twice.
		waited := s.r.Now().Sub(p.StartedAt.Time)
		visible := decide.EffectVisible(p.Step, s.power(vm), len(s.plan(vm).Changes))
		switch decide.ESXiIntent(visible, waited >= s.r.IntentGrace) {
		case decide.IntentWait:
			return false, nil
		case decide.IntentDone:
			log.FromContext(ctx).V(1).Info("write intent resolved: its effect shows on the VM", "step", p.Step)
		case decide.IntentAbandoned:
			s.abandoned(ctx, p, waited)
		}
		b.Status.PendingTask = nil
		return true, nil
	}
	info, err := s.api.Task(ctx, p.Ref)
	switch {
	case cause.Is(err, cause.NotFound):
		// Hosts forget finished tasks: the VM's state decides what is next.
		b.Status.PendingTask = nil
		return true, nil
	case err != nil:
		return false, err
	case !info.Done():
		return false, nil
	}
	log.FromContext(ctx).V(1).Info("ESXi task finished", "step", p.Step, "task", p.Ref, "state", info.State)
	if info.State == esxi.TaskError {
		s.recordFailure(p.Step, p.Ref, info.Fault, info.Error)
	}
	b.Status.PendingTask = nil
	return true, nil
}

// abandoned says that an intent without a task reference showed no effect
// within the grace period: the write is deemed never sent, and the next pass
// decides afresh (possibly sending it).
func (s *bvmSession) abandoned(ctx context.Context, p *v1.ESXiTask, waited time.Duration) {
	msg := fmt.Sprintf("gave up the recorded intent (%s): its effect did not show on VM %s in %s; deciding again from the VM's state",
		esxiTaskWork(p), s.b.Spec.VMName, waited.Round(time.Second))
	log.FromContext(ctx).V(1).Info("write intent abandoned", "step", p.Step, "powerCycle", p.PowerCycle, "waited", waited.Round(time.Second).String())
	if s.r.recorder != nil {
		s.r.recorder.Eventf(s.b, nil, corev1.EventTypeWarning, v1.ReasonIntentAbandoned, "ResolveIntent", "%s", eventNote(msg))
	}
}

// power is the VM's power state in the API's words (drift.PoweredOn, ...).
func (s *bvmSession) power(vm esxi.VM) string { return string(apiPowerState(vm.PowerState)) }

func (s *bvmSession) recordFailure(step v1.PowerCycleStep, ref, fault, msg string) {
	s.b.Status.LastFailedTask = &v1.ESXiTaskFailure{
		Step: step, Ref: ref, Fault: fault, Error: msg,
		Generation: s.b.Generation, FinishedAt: metav1.NewTime(s.r.Now()),
	}
}

// write is one ESXi call that starts a task.
type write struct {
	step  v1.PowerCycleStep
	cycle bool
	call  func() (string, error)
}

// act starts the next write decide.BridgedVMNext calls for. A write ESXi
// refuses is recorded as failed and the next one is chosen at once: after a
// refused reconfiguration in a power cycle the VM must still be powered on
// again.
func (s *bvmSession) act(ctx context.Context, vm esxi.VM, plan drift.BridgedVMPlan) error {
	for range 3 {
		d, ok := decide.BridgedVMNext(decide.BridgedVMFacts{
			Power: s.power(vm), Plan: plan, WantPower: s.b.Spec.PowerState, AllowPowerCycle: s.b.Spec.AllowPowerCycle,
			InCycle: s.cycle, LastFailed: s.b.Status.LastFailedTask, Generation: s.b.Generation,
		})
		if !ok {
			return nil
		}
		refused, err := s.start(ctx, s.write(ctx, vm, d))
		if err != nil || !refused {
			return err
		}
	}
	return nil
}

// write turns a decision into the ESXi call that carries it out.
func (s *bvmSession) write(ctx context.Context, vm esxi.VM, d decide.BridgedVMWrite) write {
	w := write{step: d.Step, cycle: d.Cycle}
	switch d.Step {
	case v1.StepReconfigure:
		key, c := vm.NICs[d.Change.NIC.Index].Key, d.Change
		w.call = func() (string, error) { return s.api.ReconfigureNIC(ctx, vm.Ref, key, c.MAC, c.PortGroup) }
	case v1.StepPowerOff:
		w.call = func() (string, error) { return s.api.PowerOff(ctx, vm.Ref) }
	case v1.StepPowerOn:
		w.call = func() (string, error) { return s.api.PowerOn(ctx, vm.Ref) }
	}
	return w
}

// restoreFailed: the power-on ending a power cycle failed (decide.RestoreFailed).
func (s *bvmSession) restoreFailed(vm esxi.VM) bool {
	return decide.RestoreFailed(s.b.Status.LastFailedTask, s.b.Spec.PowerState, s.power(vm))
}

// start records the intent of a write, sends it, then records its task.
// The intent is saved first: if the operator stops after sending, the next
// pass waits for the effect instead of sending the write again.
func (s *bvmSession) start(ctx context.Context, w write) (refused bool, err error) {
	b := s.b
	b.Status.PendingTask = &v1.ESXiTask{Step: w.step, StartedAt: metav1.NewTime(s.r.Now()), PowerCycle: w.cycle}
	if err := s.save(); err != nil {
		b.Status.PendingTask = nil
		return false, err
	}
	logger := log.FromContext(ctx)
	logger.V(1).Info("write intent recorded", "step", w.step, "powerCycle", w.cycle)
	ref, err := w.call()
	switch {
	case err == nil && ref == "":
		b.Status.PendingTask = nil // the NIC already matched: nothing was started
		return false, nil
	case err == nil:
		b.Status.PendingTask.Ref = ref
		logger.V(1).Info("ESXi task started", "step", w.step, "task", ref)
		return false, s.save()
	case cause.Is(err, cause.Unreachable):
		// The call may have reached the host: keep the intent, the next
		// pass looks for its effect.
		return false, err
	case cause.Is(err, cause.CredentialsInvalid), cause.Is(err, cause.TrustFailure):
		// The session, not the write, was refused: nothing was started.
		if w.cycle {
			// Within a power cycle the VM this operator powered off must
			// still be powered on again once the session works: keep the
			// cycle, dated a grace ago so that the next pass, seeing no
			// effect, goes on with it at once instead of waiting.
			b.Status.PendingTask.StartedAt = metav1.NewTime(s.r.Now().Add(-s.r.IntentGrace))
			return false, err
		}
		b.Status.PendingTask = nil
		return false, err
	}
	b.Status.PendingTask = nil
	s.recordFailure(w.step, "", "", err.Error())
	logger.V(1).Info("ESXi refused the write; not retried for this generation", "step", w.step, "error", err.Error())
	return true, nil
}

// report turns the observation into status, conditions and status.drift.
func (s *bvmSession) report(vm esxi.VM, plan drift.BridgedVMPlan) {
	b := s.b
	now := metav1.NewTime(s.r.Now())
	b.Status.LastObservedTime = &now
	b.Status.VMRef = vm.Ref
	b.Status.PowerState = apiPowerState(vm.PowerState)
	b.Status.NICs = nicStatuses(vm)
	b.Status.Guest = guestInfo(vm)
	// The guest is only reported on: the operator never logs into it.
	b.Status.Drift = driftItems(append(slices.Clone(plan.Findings), s.reportGuest(vm)...))

	p := b.Status.PendingTask
	suffix := ""
	switch lf := b.Status.LastFailedTask; {
	case p != nil:
		suffix = " (being corrected: " + esxiTaskWork(p) + ")"
	case !s.manage:
		suffix = " (not corrected: managementPolicy is Observe)"
	case lf != nil && lf.Generation == b.Generation:
		suffix = fmt.Sprintf(" (not retried: %s; change the spec or fix it in ESXi)", failureText(lf))
	}
	kindCondition := func(typ string, reasons []string, okReason, okMsg string) {
		fs := drift.FindingsOf(plan.Findings, reasons...)
		if len(fs) == 0 {
			setCondition(b, typ, metav1.ConditionTrue, okReason, okMsg)
			return
		}
		msgs := make([]string, len(fs))
		for i, f := range fs {
			msgs[i] = f.Message
		}
		setCondition(b, typ, metav1.ConditionFalse, fs[0].Reason, joinFindings(msgs)+suffix)
	}
	kindCondition(v1.TypeMACConfigured,
		[]string{v1.ReasonPowerOffRequired, v1.ReasonFailoverIPNotReady, v1.ReasonMACMismatch},
		v1.ReasonConfigured, fmt.Sprintf("every listed NIC of VM %s carries its MAC", vm.Name))
	kindCondition(v1.TypeNetworkAttached,
		[]string{v1.ReasonNICNotFound, v1.ReasonPortGroupNotFound, v1.ReasonWrongPortGroup},
		v1.ReasonAttached, fmt.Sprintf("every listed NIC of VM %s is on its port group", vm.Name))
	switch {
	case p != nil && p.PowerCycle:
		// Whatever spec.powerState says, a cycle ends with the VM powered
		// on again: until then it is not where it should be.
		setCondition(b, v1.TypePowerStateMatches, metav1.ConditionFalse, v1.ReasonTaskInProgress,
			fmt.Sprintf("VM %s is %s during a power cycle to change a MAC; it is powered on again once the MACs are set", vm.Name, vm.PowerState))
	case s.restoreFailed(vm):
		setCondition(b, v1.TypePowerStateMatches, metav1.ConditionFalse, v1.ReasonTaskFailed,
			fmt.Sprintf("VM %s is %s: powering it on again after a power cycle failed%s", vm.Name, vm.PowerState, suffix))
	case b.Spec.PowerState == "":
		setCondition(b, v1.TypePowerStateMatches, metav1.ConditionTrue, v1.ReasonNotManaged,
			fmt.Sprintf("spec.powerState is not set: VM %s is left %s", vm.Name, vm.PowerState))
	default:
		if s.manage && b.Spec.PowerState == v1.PoweredOn && p == nil && decide.MACsPending(plan) {
			suffix = " (powered on once every NIC carries its MAC: OVH must not see the VM with a MAC it does not know)"
		}
		kindCondition(v1.TypePowerStateMatches, []string{v1.ReasonPowerStateMismatch},
			v1.ReasonMatches, fmt.Sprintf("VM %s is %s", vm.Name, vm.PowerState))
	}

	if p != nil {
		setCondition(b, v1.TypeReconciling, metav1.ConditionTrue, v1.ReasonTaskInProgress,
			fmt.Sprintf("VM %s on %s: %s", vm.Name, s.endpoint, esxiTaskWork(p)))
	} else {
		removeCondition(b, v1.TypeReconciling)
	}
	if lf := b.Status.LastFailedTask; lf != nil && lf.Generation == b.Generation && (len(plan.Findings) > 0 || s.restoreFailed(vm)) {
		setCondition(b, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonTaskFailed,
			fmt.Sprintf("VM %s on %s: %s", vm.Name, s.endpoint, failureText(lf)))
	}
	summarizeReady(b, bridgedVMConditions,
		fmt.Sprintf("VM %s on %s has its NICs on the right port groups with the right MACs", vm.Name, s.endpoint))
}

// reportMissingVM says the VM cannot be found, and forgets what was seen of
// it: a task in flight on a VM that is gone has nothing left to do.
func (s *bvmSession) reportMissingVM() {
	b := s.b
	now := metav1.NewTime(s.r.Now())
	b.Status.LastObservedTime = &now
	b.Status.VMRef, b.Status.PowerState, b.Status.NICs, b.Status.Guest, b.Status.PendingTask = "", "", nil, nil, nil
	b.Status.Drift = []v1.DriftItem{{Field: "vmName", Expected: b.Spec.VMName, Observed: "not found", Reason: v1.ReasonVMNotFound}}
	msg := fmt.Sprintf("VM %s not found on %s: check spec.vmName (names are case-sensitive)", b.Spec.VMName, s.endpoint)
	setCondition(b, v1.TypeMACConfigured, metav1.ConditionFalse, v1.ReasonVMNotFound, msg)
	setCondition(b, v1.TypeNetworkAttached, metav1.ConditionFalse, v1.ReasonVMNotFound, msg)
	setCondition(b, v1.TypePowerStateMatches, metav1.ConditionUnknown, v1.ReasonVMNotFound, msg)
	setCondition(b, v1.TypeGuestNetworkConfigured, metav1.ConditionUnknown, v1.ReasonVMNotFound, msg)
	removeCondition(b, v1.TypeReconciling)
	summarizeReady(b, bridgedVMConditions, "")
}

func esxiTaskWork(p *v1.ESXiTask) string {
	what := map[v1.PowerCycleStep]string{
		v1.StepPowerOff: "powering the VM off", v1.StepReconfigure: "reconfiguring a NIC", v1.StepPowerOn: "powering the VM on",
	}[p.Step]
	if p.PowerCycle {
		what = "power cycle to change a MAC: " + what
	}
	if p.Ref == "" {
		return what + " (task being started)"
	}
	return fmt.Sprintf("%s (ESXi task %s)", what, p.Ref)
}

func failureText(lf *v1.ESXiTaskFailure) string {
	what := "ESXi refused step " + string(lf.Step)
	if lf.Ref != "" {
		what = fmt.Sprintf("ESXi task %s (step %s) failed", lf.Ref, lf.Step)
	}
	if lf.Fault != "" && !strings.Contains(lf.Error, lf.Fault) {
		return fmt.Sprintf("%s: %s: %s", what, lf.Fault, lf.Error)
	}
	return fmt.Sprintf("%s: %s", what, lf.Error)
}

func nicStatuses(vm esxi.VM) []v1.NICStatus {
	out := make([]v1.NICStatus, 0, len(vm.NICs))
	for _, n := range vm.NICs {
		out = append(out, v1.NICStatus{
			Label: n.Label, Index: int32(n.Index), MAC: strings.ToLower(n.MAC), AddressType: n.AddressType,
			PortGroup: n.PortGroup, Connected: n.Connected,
		})
	}
	return out
}

// guestInfo lists the guest's addresses NIC by NIC, then any Tools report
// for MACs ESXi does not show (a guest-side bond, say), and its routes.
func guestInfo(vm esxi.VM) *v1.GuestInfo {
	g := &v1.GuestInfo{ToolsRunning: vm.Guest.ToolsRunning}
	if !vm.Guest.ToolsRunning {
		return g
	}
	seen := map[string]bool{}
	for _, n := range vm.NICs {
		seen[n.MAC] = true
		g.IPAddresses = append(g.IPAddresses, vm.Guest.IPs[n.MAC]...)
	}
	var others []string
	for mac := range vm.Guest.IPs {
		if !seen[mac] {
			others = append(others, mac)
		}
	}
	sort.Strings(others)
	for _, mac := range others {
		g.IPAddresses = append(g.IPAddresses, vm.Guest.IPs[mac]...)
	}
	for _, n := range vm.Guest.NICs {
		g.NICs = append(g.NICs, v1.GuestNIC{MAC: n.MAC, Addresses: n.Addresses})
	}
	for _, rt := range vm.Guest.Routes {
		g.Routes = append(g.Routes, v1.GuestRoute{
			Network: fmt.Sprintf("%s/%d", rt.Network, rt.PrefixLength), Gateway: rt.Gateway, Device: rt.Device,
		})
	}
	return g
}

// Finalize has nothing to undo: the operator never creates or deletes a VM
// or a NIC, it only sets their MACs, port groups and power, and leaving
// those as they are is what deleting the BridgedVM means.
func (r *BridgedVMReconciler) Finalize(context.Context, *v1.BridgedVM, func() error) (bool, time.Duration, error) {
	return true, 0, nil
}
