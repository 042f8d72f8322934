package main

import (
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
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// trialSet is one kind of out-of-band change, made once on each of the
// topology's objects of that kind, under one observation mode.
type trialSet struct {
	Failure  string // what was done out of band
	Kind     string
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
}

// failure is one kind of drift the trials cause. Trial i breaks object(i).
type failure struct {
	name    string
	kind    string
	object  func(i int) string
	reasons []string
	do      func(i int) error
}

// failures are the three kinds of drift. The drift topology has three
// failover IPs per trial so that no trial's object is touched by another
// kind's trial: BridgedVM trial i breaks bvm-i (whose MAC comes from fip-i),
// FailoverIP trial i moves fip-(n+i) (used by an unmeasured BridgedVM),
// router trial i breaks rtc-i (whose WAN is fip-(2n+i)). Otherwise the
// FailoverIP watch of the other two kinds would wake a polling object early
// and flatter the figures.
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
	top := topology{Servers: b.servers, IPs: 3 * b.trials, Routers: b.trials, Namespace: "drift",
		OVHSync: b.shortInterval, RouterHealth: b.shortInterval}
	b.logf("drift: %d trials of each failure", b.trials)
	e, err := b.startEnv(ctx, top, world.Options{OVHMoveDuration: time.Second})
	if err != nil {
		return nil, err
	}
	defer e.close()

	var sets []trialSet
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
		var wg sync.WaitGroup
		results := make([]trialSet, 0, 3)
		var mu sync.Mutex
		var firstErr error
		for _, f := range e.failures() {
			if len(b.failures) > 0 && !slices.Contains(b.failures, f.kind) {
				continue
			}
			interval := map[string]time.Duration{kindBVM: m.bvm, kindRTC: m.router, kindFIP: m.ovh}[f.kind]
			wg.Go(func() {
				set, err := e.trials(ctx, f, m.name, interval)
				mu.Lock()
				defer mu.Unlock()
				results = append(results, set)
				if err != nil && firstErr == nil {
					firstErr = err
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			return nil, e.fail(firstErr)
		}
		if b.profileDir != "" {
			e.profile("metrics-drift-"+m.name, "metrics")
		}
		slices.SortFunc(results, func(a, b trialSet) int { return cmpKind(a.Kind, b.Kind) })
		sets = append(sets, results...)
	}
	return sets, nil
}

func cmpKind(a, b string) int {
	order := map[string]int{kindBVM: 0, kindRTC: 1, kindFIP: 2}
	return order[a] - order[b]
}

// trials breaks every object of f's kind once, each at a random instant in
// one interval (so that the change falls at an independent phase of that
// object's polling), and times each detection; then it waits for the
// operator to have repaired them all.
func (e *env) trials(ctx context.Context, f failure, mode string, interval time.Duration) (trialSet, error) {
	set := trialSet{Failure: f.name, Kind: f.kind, Mode: mode, Interval: interval, Reasons: map[string]int{}}
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
			d, reason, err := e.trial(ctx, f, i, time.Duration(rand.Int64N(int64(spread))), timeout)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			set.Latencies = append(set.Latencies, d)
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
	e.b.logf("drift (%s): %s: p50 %.2fs p95 %.2fs; all: %v", mode, f.name, pct(set.Latencies, 50).Seconds(),
		pct(set.Latencies, 95).Seconds(), roundAll(set.Latencies))
	return set, nil
}

// trial is one out-of-band change and its detection; it returns once the
// operator has repaired the object (Ready again).
func (e *env) trial(ctx context.Context, f failure, i int, delay, timeout time.Duration) (time.Duration, string, error) {
	if err := sleep(ctx, delay); err != nil {
		return 0, "", err
	}
	key := f.kind + "/" + f.object(i)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !e.tr.current(key).ready() {
		return 0, "", fmt.Errorf("%s is not Ready before the trial: %s", key, e.tr.describe(key))
	}
	start := time.Now()
	if err := f.do(i); err != nil {
		return 0, "", fmt.Errorf("%s: %s: %w", key, f.name, err)
	}
	seen, err := e.tr.first(ctx, key, start, func(r readiness) bool { return r.Status != metav1.ConditionTrue })
	if err != nil {
		return 0, "", fmt.Errorf("%s: %s not detected: %w", key, f.name, err)
	}
	if _, err := e.tr.first(ctx, key, seen.At, readiness.ready); err != nil {
		return 0, "", fmt.Errorf("%s: %s not repaired: %w", key, f.name, err)
	}
	return seen.At.Sub(start), seen.Reason, nil
}

// setIntervals patches every object's polling interval (zero: leave it).
func (e *env) setIntervals(ctx context.Context, bvm, ovh, router time.Duration) error {
	d := func(v time.Duration) *metav1.Duration { return &metav1.Duration{Duration: v} }
	for i := range e.top.IPs {
		if ovh > 0 {
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
		if bvm > 0 {
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
