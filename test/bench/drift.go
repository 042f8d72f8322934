package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// trialSet is one kind of out-of-band change, made once on each of the
// topology's objects of that kind, under one observation mode.
type trialSet struct {
	Failure  string // what was done out of band
	Kind     string
	Key      string        // the report's row: Kind, or keyGuest
	Mode     string        // how the operator looked: change events or polling
	Interval time.Duration // the polling interval in effect
	// Latencies run from the instant before the out-of-band change to the
	// arrival, on the bench's watch, of the object's first Ready that is
	// not True.
	Latencies []time.Duration
	Reasons   map[string]int // Ready reasons first reported
	// Unexpected counts detections whose reason was not one of the
	// failure's own (the object turned not-Ready for another cause).
	Unexpected int
	// Delivered, with -esxi-probe, runs from the change to its arrival as
	// a VM change event at a watcher in the bench (the operator's own
	// watcher code): the simulator's share of the BridgedVM latencies.
	Delivered []time.Duration
}

// failure is one kind of drift the trials cause. Trial i breaks object(i).
type failure struct {
	name    string
	kind    string
	object  func(i int) string
	reasons []string
	do      func(i int) error
	// key names the report row when a kind has two (keyGuest); fix is a
	// person's repair, for drift the operator only reports.
	key string
	fix func(i int) error
}

// keyGuest is the row of a change inside a BridgedVM's guest.
const keyGuest = "BridgedVM guest"

// failures are the three kinds of drift. The drift topology has three
// failover IPs per trial so that no trial's object is touched by another
// kind's trial: BridgedVM trial i breaks bvm-i (whose MAC comes from fip-i),
// FailoverIP trial i moves fip-(n+i), router trial i breaks rtc-i (whose
// WAN is fip-(2n+i)). Otherwise the FailoverIP watch of the other two kinds
// would wake a polling object early and flatter the figures.
func (e *env) failures() []failure {
	t, n := e.top, e.b.trials
	return []failure{
		{
			name: "vNIC MAC changed on the ESXi host", kind: kindBVM, object: t.bvmName,
			reasons: []string{"MACMismatch", "PowerOffRequired"},
			do: func(i int) error {
				return e.w.ESXi.RestoreNICMAC(t.vmName(i), "Network adapter 1", fmt.Sprintf("00:50:56:3f:%02x:%02x", i>>8, i&0xff))
			},
		},
		{
			name: "guest's default route deleted inside the VM (VMware Tools report it)", kind: kindBVM, key: keyGuest,
			object: t.bvmName, reasons: []string{"GuestDefaultRouteMissing"},
			do: func(i int) error { return e.w.ESXi.DeleteGuestRoute(t.vmName(i), "default") },
			fix: func(i int) error {
				return e.w.ESXi.AddGuestRoute(t.vmName(i), esxisim.GuestIPRoute{Destination: "default", Gateway: world.Gateway})
			},
		},
		{
			name: "default route deleted on the router", kind: kindRTC, object: t.rtcName,
			reasons: []string{"GatewayRouteMissing", "DefaultRouteWithoutGateway"},
			do: func(i int) error {
				if !e.routers[i].DeleteRoute("default") {
					return errors.New("the router has no default route to delete")
				}
				return nil
			},
		},
		{
			name: "failover IP moved to another server at OVH", kind: kindFIP,
			object:  func(i int) string { return t.fipName(n + i) },
			reasons: []string{"RoutedElsewhere", "MoveInProgress"},
			do:      func(i int) error { return e.w.OVH.MoveIP(t.ip(n+i), elsewhere) },
		},
	}
}

// drift measures detection latency: first with ESXi change events and short
// OVH and router intervals, then, on the same world and objects, with events
// off and every interval at b.pollInterval (a Crossplane-style provider).
func (b *bench) drift(ctx context.Context) ([]trialSet, error) {
	// Only the BridgedVMs under trial have VMs: the simulated host re-reads
	// every VM it is asked to watch on each change (see README), so VMs
	// nobody breaks would only slow its change events down.
	top := topology{Servers: b.servers, IPs: 3 * b.trials, Routers: b.trials, VMs: b.trials, Namespace: "drift",
		OVHSync: b.shortInterval, RouterHealth: b.shortInterval}
	b.logf("drift: %d trials of each failure", b.trials)
	e, err := b.startEnv(ctx, top, world.Options{OVHMoveDuration: time.Second})
	if err != nil {
		return nil, err
	}
	defer e.close()

	var sets []trialSet
	if b.esxiProbe {
		if err := e.startProbe(ctx); err != nil {
			return nil, err
		}
	}
	if err := e.startOperator(); err != nil {
		return nil, err
	}
	if _, err := e.apply(top.objects(e.routers)); err != nil {
		return nil, e.fail(err)
	}
	modes := []struct {
		name             string
		bvm, ovh, router time.Duration
	}{
		{"events", 0, b.shortInterval, b.shortInterval},
		{"polling", b.pollInterval, b.pollInterval, b.pollInterval},
	}
	for _, m := range modes {
		if !b.phases["drift"] && !b.phases["drift-"+m.name] {
			continue
		}
		if m.name == "polling" {
			// Same objects, same world: only how the operator looks changes.
			if _, err := e.stopOperator(); err != nil {
				return nil, err
			}
			if err := e.setIntervals(ctx, m.bvm, m.ovh, m.router); err != nil {
				return nil, err
			}
			if err := e.startOperator("--esxi-change-events=false"); err != nil {
				return nil, err
			}
		}
		wctx, cancel := context.WithTimeout(ctx, b.readyTimeout)
		_, err := e.tr.allReady(wctx, e.keys())
		cancel()
		if err != nil {
			return nil, e.fail(err)
		}
		b.logf("drift (%s): all Ready; %d trials of each failure", m.name, b.trials)
		// One kind after the other: each row measures its own path, not
		// the other kinds' repairs competing for the two cores.
		for _, f := range e.failures() {
			if len(b.failures) > 0 && !slices.Contains(b.failures, f.kind) {
				continue
			}
			interval := map[string]time.Duration{kindBVM: m.bvm, kindRTC: m.router, kindFIP: m.ovh}[f.kind]
			set, err := e.trials(ctx, f, m.name, interval)
			if err != nil {
				return nil, e.fail(err)
			}
			sets = append(sets, set)
		}
		if b.profileDir != "" {
			e.profile("metrics-drift-"+m.name, "metrics")
		}
	}
	return sets, nil
}

// trials breaks every object of f's kind once, each at a random instant in
// one interval (so that the change falls at an independent phase of that
// object's polling), and times each detection; then it waits for the
// operator to have repaired them all.
func (e *env) trials(ctx context.Context, f failure, mode string, interval time.Duration) (trialSet, error) {
	set := trialSet{Failure: f.name, Kind: f.kind, Key: cmp.Or(f.key, f.kind), Mode: mode, Interval: interval, Reasons: map[string]int{}}
	// Changes come at random instants over one interval (each at an
	// independent phase of its object's polling), and never faster than one
	// per b.spacing on average: a realistic rate of out-of-band changes,
	// not a storm of power cycles on a shared two-core machine.
	spread := max(interval, time.Duration(e.b.trials)*e.b.spacing)
	timeout := spread + 2*max(interval, e.b.shortInterval) + time.Minute
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for i := range e.b.trials {
		wg.Go(func() {
			d, err := e.trial(ctx, f, i, time.Duration(rand.Int64N(int64(spread))), timeout)
			reason := d.reason
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			set.Latencies = append(set.Latencies, d.detected)
			if d.delivered > 0 {
				set.Delivered = append(set.Delivered, d.delivered)
			}
			set.Reasons[reason]++
			if !slices.Contains(f.reasons, reason) {
				set.Unexpected++
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return set, firstErr
	}
	slices.Sort(set.Latencies)
	slices.Sort(set.Delivered)
	e.b.logf("drift (%s): %s: p50 %.2fs p95 %.2fs; all: %v", mode, f.name, pct(set.Latencies, 50).Seconds(),
		pct(set.Latencies, 95).Seconds(), roundAll(set.Latencies))
	if len(set.Delivered) > 0 {
		e.b.logf("drift (%s): %s: delivered to a watcher in the bench: %v", mode, f.name, roundAll(set.Delivered))
	}
	return set, nil
}

// outcome is one trial's result.
type outcome struct {
	detected, delivered time.Duration
	reason              string
	changed             time.Time // when the change was made
}

// trial is one out-of-band change and its detection; it returns once the
// operator has repaired the object (Ready again).
func (e *env) trial(ctx context.Context, f failure, i int, delay, timeout time.Duration) (outcome, error) {
	var o outcome
	if err := sleep(ctx, delay); err != nil {
		return o, err
	}
	key := f.kind + "/" + f.object(i)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !e.tr.current(key).ready() {
		return o, fmt.Errorf("%s is not Ready before the trial: %s", key, e.tr.describe(key))
	}
	start := time.Now()
	o.changed = start
	if err := f.do(i); err != nil {
		return o, fmt.Errorf("%s: %s: %w", key, f.name, err)
	}
	seen, err := e.tr.first(ctx, key, start, func(r readiness) bool { return r.Status != metav1.ConditionTrue })
	if err != nil {
		return o, fmt.Errorf("%s: %s not detected: %w", key, f.name, err)
	}
	o.detected, o.reason = seen.At.Sub(start), seen.Reason
	if e.probe != nil && f.kind == kindBVM {
		if at, ok := e.probe.first(e.top.vmName(i), start); ok {
			o.delivered = at.Sub(start)
		}
	}
	if f.fix != nil {
		if err := f.fix(i); err != nil {
			return o, fmt.Errorf("%s: fixing by hand: %w", key, err)
		}
	}
	if _, err := e.tr.first(ctx, key, seen.At, readiness.ready); err != nil {
		return o, fmt.Errorf("%s: %s not repaired: %w", key, f.name, err)
	}
	return o, nil
}

// vmProbe records when VM change events reach a watcher in the bench.
type vmProbe struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

// startProbe watches the ESXi host with the operator's own watcher code.
func (e *env) startProbe(ctx context.Context) error {
	creds, err := esxi.CredentialsFromSecret(e.w.ESXi.SecretData())
	if err != nil {
		return err
	}
	sessions := esxi.NewSessions(esxi.Options{})
	changes, stop := sessions.Subscribe()
	if err := sessions.Watch(ctx, creds); err != nil {
		stop()
		return err
	}
	p := &vmProbe{seen: map[string][]time.Time{}}
	go func() {
		for c := range changes {
			p.mu.Lock()
			p.seen[c.VMName] = append(p.seen[c.VMName], time.Now())
			p.mu.Unlock()
		}
	}()
	e.probe = p
	e.closers = append(e.closers, func() { stop(); _ = sessions.Close(context.Background()) })
	return nil
}

func (p *vmProbe) first(vm string, since time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.seen[vm] {
		if !t.Before(since) {
			return t, true
		}
	}
	return time.Time{}, false
}

// setIntervals patches every object's polling interval (zero: leave it).
func (e *env) setIntervals(ctx context.Context, bvm, ovh, router time.Duration) error {
	d := func(v time.Duration) *metav1.Duration { return &metav1.Duration{Duration: v} }
	for i := range e.top.IPs {
		if ovh == 0 {
			break
		}
		f := &v1.FailoverIP{}
		if err := e.kube.Get(ctx, client.ObjectKey{Namespace: e.top.Namespace, Name: e.top.fipName(i)}, f); err != nil {
			return err
		}
		patch := client.MergeFrom(f.DeepCopy())
		f.Spec.OVH.SyncInterval = d(ovh)
		if err := e.kube.Patch(ctx, f, patch); err != nil {
			return err
		}
	}
	for i := range e.top.vmCount() {
		if bvm == 0 {
			break
		}
		o := &v1.BridgedVM{}
		if err := e.kube.Get(ctx, client.ObjectKey{Namespace: e.top.Namespace, Name: e.top.bvmName(i)}, o); err != nil {
			return err
		}
		patch := client.MergeFrom(o.DeepCopy())
		o.Spec.ESXi.ResyncInterval = d(bvm)
		if err := e.kube.Patch(ctx, o, patch); err != nil {
			return err
		}
	}
	if router > 0 {
		for r := range e.top.Routers {
			o := &v1.RouterConfig{}
			if err := e.kube.Get(ctx, client.ObjectKey{Namespace: e.top.Namespace, Name: e.top.rtcName(r)}, o); err != nil {
				return err
			}
			patch := client.MergeFrom(o.DeepCopy())
			o.Spec.Health.Interval = d(router)
			if err := e.kube.Patch(ctx, o, patch); err != nil {
				return err
			}
		}
	}
	return nil
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}
