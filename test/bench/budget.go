package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// defaultBudget undoes world.StartOperator's --ovh-requests-per-second
// 1000 (the last flag given wins): 0 is the operator's default, OVH's fair
// use of 60 requests a minute per consumer key.
const defaultBudget = "--ovh-requests-per-second=0"

// budgetResult is the 10× fleet's OVH traffic under the default budget.
type budgetResult struct {
	// Start-up: every FailoverIP of the 10× topology (with its virtual
	// MAC) applied at once, watched for Window from the apply.
	Window  time.Duration
	Objects int
	Keys    []string // consumer keys, in account order
	// Peak is, per key, the most requests in any 60 s; Calls all of them;
	// MACReads the virtual MACs whose details were read (GET
	// .../virtualMac/{mac}); MACs those on the key's servers.
	Peak, Calls, MACReads, MACs map[string]int
	Servers                     map[string]int // per key
	// FirstLook is, per key, the calls a first look at its servers needs:
	// network specification, IP list and virtual MAC list per server, and
	// two per virtual MAC.
	FirstLook map[string]int
	Ready     int // FailoverIPs Ready at the end of the window
	// Observed is how many servers had an effective interval (a finished
	// first observation) at the end of the window.
	Observed int

	Steady *budgetSteady
}

// budgetSteady is the 10× fleet's steady state under the default budget,
// and drift detection there.
type budgetSteady struct {
	Objects, MACs int
	Sync          time.Duration // FailoverIP syncInterval asked for
	ToReady       time.Duration // apply → all Ready, first look included
	// StartPeak is the most requests per key in any 60 s from the
	// operator's start until all were Ready; Peak during the steady
	// window, Calls all of the window's, per key.
	StartPeak, Peak, Calls map[string]int
	Window                 time.Duration
	// Intervals are the effective observation intervals, per server
	// (ovhbridge_ovh_observation_interval_seconds).
	Intervals map[string]time.Duration
	// Trials: a failover IP moved away at a random instant; Detected the
	// time to Ready=False on the bench's watch, Interval the effective
	// interval of its server.
	Trials []budgetTrial
}

type budgetTrial struct {
	Moved              time.Time
	Object             string
	Server             string
	Detected, Interval time.Duration
	Reason             string
}

func (b *bench) budget(ctx context.Context) (*budgetResult, error) {
	res, err := b.budgetStartup(ctx)
	if err != nil {
		return nil, err
	}
	if res.Steady, err = b.budgetSteady(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// keyOf names account a's consumer key as the request log does.
func keyOf(a int) string { return consumerKey(a) }

// budgetKeys are the consumer keys of the 10× fleet, in account order.
func (b *bench) budgetKeys() []string {
	var keys []string
	for a := range max(b.big().Top.Accounts, 1) {
		keys = append(keys, keyOf(a))
	}
	return keys
}

// budgetStartup applies the 10× FailoverIPs to an operator under OVH's
// default budget and watches the first b.budgetWindow: a first look at 2500
// virtual MACs per key takes more than 80 minutes at 60 a minute, so the
// window is measured and the rest projected.
func (b *bench) budgetStartup(ctx context.Context) (*budgetResult, error) {
	big := b.big().Top
	top := topology{Servers: big.Servers, IPs: big.IPs, Accounts: big.Accounts, FIPsOnly: true, Namespace: "budget",
		OVHSync: b.costInterval}
	res := &budgetResult{Window: b.budgetWindow, Objects: top.objectCount(),
		Peak: map[string]int{}, Calls: map[string]int{}, MACReads: map[string]int{}, MACs: map[string]int{},
		Servers: map[string]int{}, FirstLook: map[string]int{}, Keys: b.budgetKeys()}
	for s := range top.Servers {
		k := keyOf(top.account(s))
		res.Servers[k]++
		res.FirstLook[k] += 3
	}
	for i := range top.macCount() {
		k := keyOf(top.account(top.serverOf(i)))
		res.MACs[k]++
		res.FirstLook[k] += 2
	}
	b.logf("budget: start-up of %d FailoverIPs under the default budget, watched for %s", res.Objects, b.budgetWindow)
	e, opStart, err := b.startBudgeted(ctx, top, world.Options{})
	if err != nil {
		return nil, err
	}
	defer e.close()
	start := opStart
	if err := sleep(ctx, time.Until(start.Add(b.budgetWindow))); err != nil {
		return nil, err
	}
	reqs := e.ovhLog.Requests(opStart, time.Now())
	res.Peak = ovhsim.MaxInWindow(reqs, time.Minute)
	for _, r := range reqs {
		res.Calls[r.Key]++
		if r.Route == ovhsim.RouteVMAC {
			res.MACReads[r.Key]++
		}
	}
	for _, k := range e.keys() {
		if e.tr.current(k).ready() {
			res.Ready++
		}
	}
	intervals, err := e.observationIntervals(ctx)
	if err != nil {
		return nil, err
	}
	res.Observed = len(intervals)
	b.logf("budget: after %s: calls per key %v, most in any 60 s %v, virtual MACs read %v of %v, %d servers observed, %d FailoverIPs Ready",
		b.budgetWindow, res.Calls, res.Peak, res.MACReads, res.MACs, res.Observed, res.Ready)
	return res, nil
}

// observationIntervals reads the operator's effective observation interval
// per server.
func (e *env) observationIntervals(ctx context.Context) (map[string]time.Duration, error) {
	m, err := e.op.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Duration{}
	for _, s := range m.Filter("ovhbridge_ovh_observation_interval_seconds", func(map[string]string) bool { return true }) {
		if s.Value > 0 {
			out[s.Labels["server"]] = time.Duration(s.Value * float64(time.Second))
		}
	}
	return out, nil
}

// budgetSteady is the same fleet — 50 servers on 2 consumer keys, 5000
// FailoverIPs — with one virtual MAC per server instead of 100, so that its
// first look takes minutes rather than hours. Its steady state costs OVH
// the same as the full fleet's: a refresh reads the IP list, the virtual
// MAC list and one known MAC (round robin) whatever the number of MACs.
// Then failover IPs are moved away, one per trial, and timed to
// Ready=False.
func (b *bench) budgetSteady(ctx context.Context) (*budgetSteady, error) {
	big := b.big().Top
	top := topology{Servers: big.Servers, IPs: big.IPs, Accounts: big.Accounts, MACs: big.Servers, FIPsOnly: true,
		Namespace: "budget", OVHSync: b.costInterval}
	res := &budgetSteady{Objects: top.objectCount(), MACs: top.macCount(), Sync: b.costInterval}
	label := "budget (steady state)"
	b.logf("%s: %d FailoverIPs, %d virtual MACs, under the default budget", label, res.Objects, res.MACs)
	e, opStart, err := b.startBudgeted(ctx, top, world.Options{OVHMoveDuration: time.Second})
	if err != nil {
		return nil, err
	}
	defer e.close()
	start := opStart
	wctx, cancel := context.WithTimeout(ctx, b.readyTimeout)
	last, err := e.tr.allReady(wctx, e.keys())
	cancel()
	if err != nil {
		return nil, e.fail(err)
	}
	res.ToReady = last.Sub(start)
	res.StartPeak = ovhsim.MaxInWindow(e.ovhLog.Requests(opStart, time.Now()), time.Minute)
	b.logf("%s: all Ready %.1fs after the apply; most requests in any 60 s per key %v", label, res.ToReady.Seconds(), res.StartPeak)

	// Settle for one effective interval, then count for another two.
	if res.Intervals, err = e.observationIntervals(ctx); err != nil {
		return nil, err
	}
	longest := slices.Max(mapValues(res.Intervals))
	if err := sleep(ctx, longest); err != nil {
		return nil, err
	}
	wstart := time.Now()
	if err := sleep(ctx, 2*longest); err != nil {
		return nil, err
	}
	reqs := e.ovhLog.Requests(wstart, time.Now())
	res.Window = time.Since(wstart)
	res.Peak = ovhsim.MaxInWindow(reqs, time.Minute)
	res.Calls = map[string]int{}
	for _, r := range reqs {
		res.Calls[r.Key]++
	}
	if res.Intervals, err = e.observationIntervals(ctx); err != nil {
		return nil, err
	}
	b.logf("%s: steady window %s: calls per key %v, most in any 60 s %v; effective intervals %v",
		label, res.Window.Round(time.Second), res.Calls, res.Peak, distinctDurations(res.Intervals))

	// Trials: IPs without a virtual MAC, on servers spread over both keys.
	n := min(b.budgetTrials, top.Servers)
	pick := func(i int) int { s := i * top.Servers / n; return top.Servers*(1+i) + s }
	f := failure{
		name: "failover IP moved to another server at OVH", kind: kindFIP,
		object:  func(i int) string { return top.fipName(pick(i)) },
		reasons: []string{"RoutedElsewhere", "MoveInProgress"},
		do:      func(i int) error { return e.w.OVH.MoveIP(top.ip(pick(i)), elsewhere) },
	}
	spread := longest
	timeout := spread + 3*longest + time.Minute
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for i := range n {
		wg.Go(func() {
			o, err := e.trial(ctx, f, i, time.Duration(rand.Int64N(int64(spread))), timeout)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmpErr(firstErr, err)
				return
			}
			server := top.ipServer(pick(i))
			res.Trials = append(res.Trials, budgetTrial{Moved: o.changed, Object: f.object(i), Server: server,
				Detected: o.detected, Interval: res.Intervals[server], Reason: o.reason})
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, e.fail(firstErr)
	}
	slices.SortFunc(res.Trials, func(a, b budgetTrial) int { return int(a.Detected - b.Detected) })
	var lat []time.Duration
	for _, t := range res.Trials {
		lat = append(lat, t.Detected)
	}
	b.logf("%s: moved IPs detected after %v", label, roundAll(lat))
	if b.ovhDump != "" {
		if err := dumpOVH(b.ovhDump, e.ovhLog.Requests(wstart, time.Now()), res.Trials); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// distinctDurations lists the distinct values of m with how many keys have
// each: "125s ×50".
func distinctDurations(m map[string]time.Duration) string {
	count := map[time.Duration]int{}
	for _, d := range m {
		count[d.Round(100*time.Millisecond)]++
	}
	ds := make([]time.Duration, 0, len(count))
	for d := range count {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	out := ""
	for i, d := range ds {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s ×%d", d, count[d])
	}
	return out
}

// startBudgeted starts a world for top, the operator at OVH's default
// budget, and applies top's objects; it returns the operator's start. The
// caller closes the env.
func (b *bench) startBudgeted(ctx context.Context, top topology, opts world.Options) (*env, time.Time, error) {
	e, err := b.startEnv(ctx, top, opts)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := e.startOperator(defaultBudget); err != nil {
		e.close()
		return nil, time.Time{}, err
	}
	opStart := time.Now()
	if _, err := e.applySize(top.objects(nil), b.big()); err != nil {
		err = e.fail(err)
		e.close()
		return nil, time.Time{}, err
	}
	return e, opStart, nil
}

// dumpOVH writes the OVH requests of the steady window and the trials, one
// per line (tab-separated, times in seconds from the first request), for a
// person looking at where detection waited (-ovh-dump).
func dumpOVH(file string, reqs []ovhsim.LoggedRequest, trials []budgetTrial) error {
	if len(reqs) == 0 {
		return nil
	}
	t0 := reqs[0].At
	var buf bytes.Buffer
	for _, r := range reqs {
		fmt.Fprintf(&buf, "%.3f\treq\t%s\t%s\t%s\n", r.At.Sub(t0).Seconds(), r.Key, r.Route, r.Path)
	}
	for _, t := range trials {
		fmt.Fprintf(&buf, "%.3f\tmove\t%s\t%s\tdetected after %.1fs (interval %s)\n", t.Moved.Sub(t0).Seconds(), t.Server, t.Object,
			t.Detected.Seconds(), t.Interval)
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}
