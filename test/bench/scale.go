package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// scaleResult is one apply of the whole topology.
type scaleResult struct {
	Latency time.Duration // injected per call in all three simulators
	Objects int
	Apply   time.Duration // the kubectl apply itself
	ToReady time.Duration // kubectl apply started → the last object Ready
	AtReady usage         // operator's peak RSS and CPU when all were Ready
	// Kube counts the operator's Kubernetes API requests by method from its
	// start until all were Ready.
	Kube map[string]int
	End  usage       // the same when the operator was stopped
	Cost *costResult // steady state, measured after the zero-latency run
	// KindReady is, per kind, when half and when all of its objects had
	// become Ready, from the start of the apply.
	KindReady map[string][2]time.Duration
	// ESXiMethods are the SOAP methods the operator called; Undelayed those
	// of them that got no injected latency (should be none).
	ESXiMethods, Undelayed []string
}

// costResult is what the operator asked of each system at steady state.
type costResult struct {
	Interval  time.Duration // FailoverIP syncInterval = RouterConfig health.interval
	Window    time.Duration
	Intervals float64 // Window / Interval
	OVH       map[string]int
	ESXi      map[string]int64
	Router    map[string]int // summed over the routers
	// ESXiLogins counts SessionManager.Login over the whole run.
	ESXiLogins int64
	CPU        time.Duration  // operator CPU time during the window
	Kube       map[string]int // the operator's Kubernetes API requests by method
}

// esxiBaseMethods are the SOAP methods a govmomi client may call. The
// simulator delays per method, so the latency run delays these and every
// method the zero-latency run saw; any other is reported as undelayed.
var esxiBaseMethods = []string{
	"RetrieveServiceContent", "Login", "Logout", "CurrentTime", "SessionIsActive",
	"RetrieveProperties", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx",
	"FindByInventoryPath", "FindChild", "CreateContainerView", "DestroyView",
	"CreatePropertyCollector", "DestroyPropertyCollector", "CreateFilter", "DestroyPropertyFilter",
	"WaitForUpdatesEx", "ReconfigVM_Task", "PowerOnVM_Task", "PowerOffVM_Task",
}

// scale applies the whole topology at once and waits until every object is
// Ready; with cost set it then measures the steady state.
func (b *bench) scale(ctx context.Context, latency time.Duration, esxiMethods []string, cost bool) (res scaleResult, err error) {
	top := topology{Servers: b.servers, IPs: b.ips, Routers: b.routers, Namespace: "bench",
		OVHSync: b.costInterval, RouterHealth: b.costInterval}
	res = scaleResult{Latency: latency, Objects: 2*top.IPs + top.Routers}
	label := fmt.Sprintf("scale %d objects, %s latency", res.Objects, latency)
	b.logf("%s: starting the control plane and the simulators", label)
	e, err := b.startEnv(ctx, top, world.Options{})
	if err != nil {
		return res, err
	}
	defer e.close()
	if latency > 0 {
		e.injectLatency(latency, esxiMethods)
	}
	if err := e.startOperator(); err != nil {
		return res, err
	}
	manifest := top.objects(e.routers)

	b.logf("%s: kubectl apply of %d objects", label, res.Objects)
	if e.pprofAddr != "" {
		go e.profile("cpu-"+labelFile(latency), "debug/pprof/profile?seconds=30")
	}
	start := time.Now()
	if res.Apply, err = e.apply(manifest); err != nil {
		return res, e.fail(err)
	}
	wctx, cancel := context.WithTimeout(ctx, b.readyTimeout)
	last, err := e.tr.allReady(wctx, e.keys())
	cancel()
	if err != nil {
		return res, e.fail(err)
	}
	res.ToReady = last.Sub(start)
	res.KindReady = e.kindReady(start)
	if res.AtReady, err = e.usage(); err != nil {
		return res, err
	}
	if res.Kube, err = kubeRequests(e.op.MetricsAddr); err != nil {
		return res, err
	}
	b.logf("%s: all Ready %.1fs after the apply started (kubectl apply took %.1fs); half/all Ready per kind: %s",
		label, res.ToReady.Seconds(), res.Apply.Seconds(), kindReadyText(res.KindReady))
	if e.pprofAddr != "" {
		e.profile("heap-"+labelFile(latency), "debug/pprof/heap")
		e.profile("metrics-"+labelFile(latency), "metrics")
	}

	calls := e.w.ESXi.Calls()
	res.ESXiMethods = sortedKeys(calls)
	for _, m := range res.ESXiMethods {
		if latency > 0 && !slices.Contains(esxiMethods, m) {
			res.Undelayed = append(res.Undelayed, m)
		}
	}
	if cost {
		if res.Cost, err = e.steadyState(ctx, calls["Login"]); err != nil {
			return res, e.fail(err)
		}
	}
	res.End, err = e.stopOperator()
	return res, err
}

// steadyState lets the operator settle for one interval, then counts every
// call the simulators receive over b.costIntervals intervals.
func (e *env) steadyState(ctx context.Context, logins int64) (*costResult, error) {
	b := e.b
	c := &costResult{Interval: b.costInterval, ESXiLogins: logins}
	b.logf("steady state: settling for one interval (%s), then counting for %d intervals", b.costInterval, b.costIntervals)
	if err := sleep(ctx, b.costInterval); err != nil {
		return nil, err
	}
	e.w.OVH.ResetCalls()
	e.w.ESXi.ResetCalls()
	routerBefore := e.routerCalls()
	before, err := e.usage()
	if err != nil {
		return nil, err
	}
	kubeBefore, err := kubeRequests(e.op.MetricsAddr)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := sleep(ctx, time.Duration(b.costIntervals)*b.costInterval); err != nil {
		return nil, err
	}
	c.OVH, c.ESXi = e.w.OVH.Calls(), e.w.ESXi.Calls()
	c.Window = time.Since(start)
	c.Intervals = float64(c.Window) / float64(c.Interval)
	after, err := e.usage()
	if err != nil {
		return nil, err
	}
	c.CPU = after.CPU - before.CPU
	kubeAfter, err := kubeRequests(e.op.MetricsAddr)
	if err != nil {
		return nil, err
	}
	c.Kube = subtract(kubeAfter, kubeBefore)
	c.Router = subtract(e.routerCalls(), routerBefore)
	// Nothing may have drifted meanwhile: the counts are of a quiet world.
	for _, k := range e.keys() {
		if !e.tr.current(k).ready() {
			return nil, fmt.Errorf("%s left Ready during the steady-state window: %s", k, e.tr.describe(k))
		}
	}
	return c, nil
}

// profile saves one of the operator's pprof profiles (or its metrics) into
// the profile directory; a failure only loses the file.
func (e *env) profile(name, path string) {
	addr := e.pprofAddr
	if path == "metrics" {
		addr = e.op.MetricsAddr
	}
	resp, err := http.Get("http://" + addr + "/" + path)
	if err != nil {
		e.b.logf("profile %s: %v", name, err)
		return
	}
	defer resp.Body.Close()
	ext := ".pprof"
	if path == "metrics" {
		ext = ".txt"
	}
	f, err := os.Create(filepath.Join(e.b.profileDir, name+ext))
	if err != nil {
		e.b.logf("profile %s: %v", name, err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		e.b.logf("profile %s: %v", name, err)
	}
}

// kindReady reads, per kind, when half and when all of the objects had last
// become Ready (each object's latest change is its Ready=True).
func (e *env) kindReady(start time.Time) map[string][2]time.Duration {
	at := map[string][]time.Duration{}
	for _, k := range e.keys() {
		kind, _, _ := strings.Cut(k, "/")
		at[kind] = append(at[kind], e.tr.current(k).At.Sub(start))
	}
	out := map[string][2]time.Duration{}
	for kind, ds := range at {
		slices.Sort(ds)
		out[kind] = [2]time.Duration{pct(ds, 50), pct(ds, 100)}
	}
	return out
}

func labelFile(latency time.Duration) string { return "scale-" + latency.String() }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func kindReadyText(m map[string][2]time.Duration) string {
	var out []string
	for _, k := range []string{kindFIP, kindBVM, kindRTC} {
		if v, ok := m[k]; ok {
			out = append(out, fmt.Sprintf("%s %.1fs/%.1fs", k, v[0].Seconds(), v[1].Seconds()))
		}
	}
	return strings.Join(out, ", ")
}
