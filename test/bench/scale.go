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

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// size is one scale topology and how it is applied.
type size struct {
	Name string // "1×", "10×"
	Top  topology
	// ServerSide applies with `kubectl apply --server-side`; Parallel
	// splits the manifest among that many kubectl processes (0, 1: one).
	ServerSide bool
	Parallel   int
}

// scaleResult is one apply of the whole topology.
type scaleResult struct {
	Size    size
	Latency time.Duration // injected per call in all three simulators
	Objects int
	Apply   time.Duration // the kubectl apply itself
	ToReady time.Duration // kubectl apply started → the last object Ready
	AtReady usage         // operator's peak RSS and CPU when all were Ready
	// Kube counts the operator's Kubernetes API requests by method from its
	// start until all were Ready.
	Kube map[string]int
	// StatusPatches are, per kind, the status writes the API server
	// received from the start of the apply until all were Ready (its own
	// apiserver_request_total: PATCH on the status subresource answered 200).
	StatusPatches map[string]int
	// StatusConflicts are the status patches refused with 409 (not writes).
	StatusConflicts map[string]int
	// Events are, per kind of the object they are about, the Events in
	// the namespace when all were Ready (events.k8s.io, listed from the
	// API): objects, and occurrences (an Event's series count).
	Events, EventOccurrences map[string]int
	EventReasons             map[string]int // "Kind/Reason" -> occurrences
	End                      usage          // the same when the operator was stopped
	Cost                     *costResult    // steady state, measured after the zero-latency run
	// KindReady is, per kind, when half and when all of its objects had
	// become Ready, from the start of the apply.
	KindReady map[string][2]time.Duration
	// ESXiMethods are the SOAP methods the operator called; Undelayed those
	// of them that got no injected latency (should be none).
	ESXiMethods, Undelayed []string
	// Hosts are, per ESXi host, the sessions opened (Login) and watches
	// started (CreateFilter) from the operator's start until all were
	// Ready.
	Hosts []hostCalls
	// OVHPeak is, per consumer key, the most OVH requests in any 60 s from
	// the operator's start until all were Ready.
	OVHPeak map[string]int
	// Profiles summarise the operator's CPU and allocation profiles.
	Profiles []profileTop
	// ESXiCalls and OVHCalls are the simulators' counts from the operator's
	// start until all were Ready, by SOAP method and route.
	ESXiCalls map[string]int64
	OVHCalls  map[string]int
}

type hostCalls struct{ Logins, Watches int64 }

// costResult is what the operator asked of each system at steady state.
type costResult struct {
	Interval  time.Duration // FailoverIP syncInterval = RouterConfig health.interval
	Window    time.Duration
	Intervals float64 // Window / Interval
	OVH       map[string]int
	ESXi      map[string]int64 // summed over the hosts
	// SSHRouter and APIRouter are summed over the routers of each driver.
	SSHRouter, APIRouter map[string]int
	// ESXiLogins counts SessionManager.Login over the whole run, all hosts.
	ESXiLogins int64
	CPU        time.Duration  // operator CPU time during the window
	Kube       map[string]int // the operator's Kubernetes API requests by method
	// OVHPeak is, per consumer key, the most OVH requests in any 60 s of
	// the window.
	OVHPeak map[string]int
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

// small is the scale topology of the 1010-object rows; big the 10× one.
func (b *bench) small() size {
	return size{Name: "1×", Top: topology{Servers: b.servers, IPs: b.ips, Routers: b.routers, Namespace: "bench",
		OVHSync: b.costInterval, RouterHealth: b.costInterval}}
}

func (b *bench) big() size {
	return size{Name: "10×", ServerSide: b.bigServerSide, Parallel: b.bigApplyParallel, Top: topology{
		Servers: b.bigServers, IPs: b.bigIPs, Routers: b.bigRouters, APIRouters: b.bigAPIRouters,
		Accounts: b.bigAccounts, Hosts: b.bigHosts, Namespace: "bench",
		OVHSync: b.costInterval, RouterHealth: b.costInterval}}
}

// scale applies the whole topology at once and waits until every object is
// Ready; with cost set it then measures the steady state.
func (b *bench) scale(ctx context.Context, sz size, latency time.Duration, esxiMethods []string, cost bool) (res scaleResult, err error) {
	top := sz.Top
	res = scaleResult{Size: sz, Latency: latency, Objects: top.objectCount()}
	label := fmt.Sprintf("scale %s, %d objects, %s latency", sz.Name, res.Objects, latency)
	b.logf("%s: starting the control plane and the simulators", label)
	e, err := b.startEnv(ctx, top, world.Options{})
	if err != nil {
		return res, err
	}
	defer e.close()
	e.size = sz
	// The 10× run is always profiled: RESULTS.md says where its time goes.
	e.profiling = sz.Name != "1×"
	if latency > 0 {
		e.injectLatency(latency, esxiMethods)
	}
	if err := e.startOperator(); err != nil {
		return res, err
	}
	opStart := time.Now()
	manifest := top.objects(e.routers)

	b.logf("%s: kubectl apply of %d objects (server-side: %v, %d kubectl at once)", label, res.Objects, sz.ServerSide, max(sz.Parallel, 1))
	cpuDone := make(chan struct{})
	if e.pprofAddr != "" {
		go func() {
			defer close(cpuDone)
			e.profile(profileName("cpu", sz, latency), fmt.Sprintf("debug/pprof/profile?seconds=%d", int(b.profileSeconds.Seconds())))
		}()
	} else {
		close(cpuDone)
	}
	before, err := e.apiserverMetrics()
	if err != nil {
		return res, err
	}
	start := time.Now()
	if res.Apply, err = e.applySize(manifest, sz); err != nil {
		return res, e.fail(err)
	}
	b.logf("%s: kubectl apply took %.1fs", label, res.Apply.Seconds())
	wctx, cancel := context.WithTimeout(ctx, b.readyTimeout)
	last, err := e.tr.allReady(wctx, e.keys())
	cancel()
	if err != nil {
		return res, e.fail(err)
	}
	readyAt := time.Now()
	res.ToReady = last.Sub(start)
	res.KindReady = e.kindReady(start)
	if res.AtReady, err = e.usage(); err != nil {
		return res, err
	}
	if res.Kube, err = kubeRequests(e.op.MetricsAddr); err != nil {
		return res, err
	}
	after, err := e.apiserverMetrics()
	if err != nil {
		return res, err
	}
	res.StatusPatches, res.StatusConflicts = statusPatches(before, after)
	if res.Events, res.EventOccurrences, res.EventReasons, err = e.events(ctx); err != nil {
		return res, err
	}
	res.OVHPeak = ovhsim.MaxInWindow(e.ovhLog.Requests(opStart, readyAt), time.Minute)
	b.logf("%s: all Ready %.1fs after the apply started (kubectl apply took %.1fs); half/all Ready per kind: %s",
		label, res.ToReady.Seconds(), res.Apply.Seconds(), kindReadyText(res.KindReady))
	b.logf("%s: status patches %v, Events %v (occurrences %v; by reason %v), operator requests %v, peak RSS %s",
		label, res.StatusPatches, res.Events, res.EventOccurrences, res.EventReasons, res.Kube, mib(res.AtReady.PeakRSS))
	if e.pprofAddr != "" {
		e.profile(profileName("heap", sz, latency), "debug/pprof/heap")
		e.profile(profileName("metrics", sz, latency), "metrics")
	}

	calls := e.esxiCalls()
	res.ESXiCalls, res.OVHCalls = calls, e.w.OVH.Calls()
	res.ESXiMethods = sortedKeys(calls)
	for _, m := range res.ESXiMethods {
		if latency > 0 && !slices.Contains(esxiMethods, m) {
			res.Undelayed = append(res.Undelayed, m)
		}
	}
	for _, h := range e.hosts {
		c := h.Calls()
		res.Hosts = append(res.Hosts, hostCalls{Logins: c["Login"], Watches: c["CreateFilter"]})
	}
	if cost {
		<-cpuDone // one CPU profile at a time
		if res.Cost, err = e.steadyState(ctx, calls["Login"]); err != nil {
			return res, e.fail(err)
		}
	}
	if e.profiling {
		<-cpuDone
		res.Profiles = e.summarise(sz, latency)
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
	for _, h := range e.hosts {
		h.ResetCalls()
	}
	sshBefore, apiBefore := e.routerCalls()
	before, err := e.usage()
	if err != nil {
		return nil, err
	}
	kubeBefore, err := kubeRequests(e.op.MetricsAddr)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	window := time.Duration(b.costIntervals) * b.costInterval
	if e.pprofAddr != "" {
		go e.profile(profileName("cpu-steady", e.size, 0), fmt.Sprintf("debug/pprof/profile?seconds=%d", int(window.Seconds())))
	}
	if err := sleep(ctx, window); err != nil {
		return nil, err
	}
	c.OVH, c.ESXi = e.w.OVH.Calls(), e.esxiCalls()
	c.Window = time.Since(start)
	c.OVHPeak = ovhsim.MaxInWindow(e.ovhLog.Requests(start, time.Now()), time.Minute)
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
	sshAfter, apiAfter := e.routerCalls()
	c.SSHRouter, c.APIRouter = subtract(sshAfter, sshBefore), subtract(apiAfter, apiBefore)
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
	f, err := os.Create(filepath.Join(e.profDir, name+ext))
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

// profileName names a profile file: "cpu-scale-0s" for the 1× rows (as
// before), "cpu-scale10x-0s" for the 10× ones.
func profileName(kind string, sz size, latency time.Duration) string {
	n := "scale"
	if sz.Name != "1×" {
		n += strings.TrimSuffix(sz.Name, "×") + "x"
	}
	return kind + "-" + n + "-" + latency.String()
}

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
