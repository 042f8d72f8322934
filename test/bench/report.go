package main

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

type results struct {
	bench                 *bench
	command               string
	loadBefore, loadAfter string
	duration              time.Duration
	scale                 []scaleResult
	drift                 []trialSet
	apply                 []applyResult
	budget                *budgetResult
}

// pct is the p-th percentile by nearest rank: the smallest sample with at
// least p% of the samples at or below it (of 20 samples, p95 is the 19th).
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (nproc), %s, %s %s/%s", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func revision() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// render writes the results as Markdown: the table first, then what each
// figure means and the breakdowns behind them.
func (r *results) render() string {
	b := r.bench
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	w("# ovhbridge-operator benchmarks\n\n")
	w("- command: `%s`\n", r.command)
	w("- machine: %s; load average %s before, %s after (shared machine)\n", machine(), r.loadBefore, r.loadAfter)
	w("- operator: `%s` at %s; run %s, took %s\n\n", repoRelative(b.operator), revision(), b.started.UTC().Format(time.RFC3339), r.duration.Round(time.Second))

	w("| # | measure | conditions | figure | target | |\n|---|---|---|---|---|---|\n")
	r.renderDrift(w)
	r.renderCost(w)
	r.renderScale(w)
	r.renderBig(w)
	r.renderBudget(w)
	r.renderNotes(w)
	r.renderProfiles(w)
	return s.String()
}

func (r *results) renderDrift(w func(string, ...any)) {
	if len(r.drift) == 0 {
		return
	}
	b := r.bench
	byKey := map[string]trialSet{}
	for _, t := range r.drift {
		byKey[cmp.Or(t.Key, t.Kind)+"/"+t.Mode] = t
	}
	what := map[string]string{
		kindBVM:  "vNIC MAC changed on ESXi → BridgedVM Ready=False",
		keyGuest: "guest's default route deleted (seen through VMware Tools) → BridgedVM Ready=False",
		kindRTC:  "router's default route deleted → RouterConfig Ready=False",
		kindFIP:  "failover IP moved away at OVH → FailoverIP Ready=False",
	}
	rows := map[string]string{kindBVM: "1a", keyGuest: "1a′", kindRTC: "1b", kindFIP: "1c"}
	for _, kind := range []string{kindBVM, keyGuest, kindRTC, kindFIP} {
		ev, okE := byKey[kind+"/events"]
		poll, okP := byKey[kind+"/polling"]
		row := rows[kind]
		if okE {
			cond, target, met := "", "", ""
			p95 := pct(ev.Latencies, 95)
			if kind == kindBVM || kind == keyGuest {
				cond = "ESXi change events (resyncInterval left at 10m)"
				target, met = "p95 ≤ 2 s", verdict(p95 <= 2*time.Second)
			} else {
				name := map[string]string{kindRTC: "health.interval", kindFIP: "syncInterval"}[kind]
				cond = fmt.Sprintf("polling, %s %s", name, ev.Interval)
				target, met = fmt.Sprintf("p95 ≤ %s (interval + 1 s)", ev.Interval+time.Second), verdict(p95 <= ev.Interval+time.Second)
			}
			w("| %s | %s | %s | %s | %s | %s |\n", row, what[kind], cond, trialFigure(ev), target, met)
		}
		if okP {
			name := map[string]string{kindBVM: "events off, resyncInterval", keyGuest: "events off, resyncInterval", kindRTC: "polling, health.interval", kindFIP: "polling, syncInterval"}[kind]
			ratio := ""
			if okE && pct(ev.Latencies, 50) > 0 {
				x := float64(pct(poll.Latencies, 50)) / float64(pct(ev.Latencies, 50))
				ratio = fmt.Sprintf("; p50 %.0f× the row above", x)
				if x < 10 {
					ratio = fmt.Sprintf("; p50 %.1f× the row above", x)
				}
			}
			w("| %s | same, side by side | %s %s (as a Crossplane provider polls) | %s%s | — | |\n",
				row, name, b.pollInterval, trialFigure(poll), ratio)
		}
	}
}

func trialFigure(t trialSet) string {
	f := fmt.Sprintf("p50 %s, p95 %s, max %s (n=%d)", secs(pct(t.Latencies, 50)), secs(pct(t.Latencies, 95)),
		secs(pct(t.Latencies, 100)), len(t.Latencies))
	if t.Unexpected > 0 {
		f += fmt.Sprintf("; %d first reported another reason", t.Unexpected)
	}
	return f
}

func (r *results) renderCost(w func(string, ...any)) {
	for _, s := range r.scale {
		if s.Cost != nil && s.Size.Name == "1×" {
			renderCost(w, "2", s)
		}
	}
}

// renderCost writes the steady-state rows of one size, numbered prefix+a...
func renderCost(w func(string, ...any), prefix string, s scaleResult) {
	c, top := s.Cost, s.Size.Top
	row := func(i int) string { return fmt.Sprintf("%s%c", prefix, 'a'+i) }
	per := func(n float64, units float64) float64 { return n / units / c.Intervals }
	cond := fmt.Sprintf("%s: %d FailoverIPs on %d servers, syncInterval %s; counted over %.1f intervals (%s) after all Ready",
		s.Size.Name, top.IPs, top.Servers, c.Interval, c.Intervals, c.Window.Round(time.Second))
	lists := float64(c.OVH[ovhsim.RouteIPList] + c.OVH[ovhsim.RouteVMACList])
	verify := float64(c.OVH[ovhsim.RouteVMAC] + c.OVH[ovhsim.RouteVMACAddresses])
	total := 0
	for _, v := range c.OVH {
		total += v
	}
	other := float64(total) - lists - verify
	servers := float64(top.Servers)
	w("| %s | OVH list calls (IPs routed to the server, its virtual MACs) | %s | %.2f per server per interval (%.0f calls in all) | ≤ 1 + 2 per server | %s |\n",
		row(0), cond, per(lists, servers), lists, verdict(lists/c.Intervals <= 1+2*servers))
	w("| %s | OVH virtual MAC verification, amortised (details of known MACs, round robin) | same | %.2f per server per interval | stated separately | |\n",
		row(1), per(verify, servers))
	w("| %s | OVH other calls (per-IP reads, network specification, tasks) | same | %.2f per server per interval | | |\n",
		row(2), per(other, servers))
	var polling int64
	for m, v := range c.ESXi {
		if m != "WaitForUpdatesEx" {
			polling += v
		}
	}
	hosts := max(top.Hosts, 1)
	w("| %s | ESXi polling calls (every SOAP method but the WaitForUpdatesEx event long-poll) | %d BridgedVMs on %d host(s), change events on, resyncInterval 10m (default) | %.2f per interval of %s, all hosts (%d WaitForUpdatesEx long-polls in the window) | 0 | %s |\n",
		row(3), top.vmCount(), hosts, per(float64(polling), 1), c.Interval, c.ESXi["WaitForUpdatesEx"], verdict(polling == 0))
	sessions, watches := hostFigures(s.Hosts)
	w("| %s | ESXi sessions (SessionManager.Login) and watches (CreateFilter) per host | same, from operator start to all Ready | %s | one session and one watch per host | %s |\n",
		row(4), hostText(s.Hosts), verdict(sessions && watches))
	w("| %s | router calls per health check | %s | %s | 1 SSH connection, 1 exec session | %s |\n",
		row(5), fmt.Sprintf("%d routers (%d over SSH, %d over the VyOS HTTP API), health.interval %s", top.Routers,
			top.Routers-top.APIRouters, top.APIRouters, c.Interval), routerText(c, top), verdict(routerMet(c)))
	writes := 0
	for _, m := range []string{"POST", "PATCH", "PUT", "DELETE"} {
		writes += c.Kube[m]
	}
	w("| %s | Kubernetes API requests by the operator (GET: credentials Secrets; PATCH: status; POST: Events) | same window | %s per interval; %d writes in the window | 0 writes | %s |\n",
		row(6), perMethod(c.Kube, c.Intervals), writes, verdict(writes == 0))
	cpu := 100 * c.CPU.Seconds() / c.Window.Seconds()
	target, met := "", ""
	if s.Size.Name != "1×" {
		target, met = "≤ 5% of one core", verdict(cpu <= 5)
	}
	w("| %s | operator CPU at steady state | all %d objects Ready | %.1f%% of one core (%s CPU over %s) | %s | %s |\n",
		row(7), s.Objects, cpu, secs(c.CPU), c.Window.Round(time.Second), target, met)
}

func hostFigures(hs []hostCalls) (oneSession, oneWatch bool) {
	oneSession, oneWatch = len(hs) > 0, len(hs) > 0
	for _, h := range hs {
		oneSession = oneSession && h.Logins == 1
		oneWatch = oneWatch && h.Watches == 1
	}
	return oneSession, oneWatch
}

func hostText(hs []hostCalls) string {
	count := map[hostCalls]int{}
	for _, h := range hs {
		count[h]++
	}
	var out []string
	for h, n := range count {
		out = append(out, fmt.Sprintf("%d host(s) with %d session(s) and %d watch(es)", n, h.Logins, h.Watches))
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// routerText gives, per health check, what the SSH routers were asked
// (connections, exec sessions, commands in them) and the API routers'
// calls. A health check over SSH is one connection; over the API it is one
// read of the configuration (api:/retrieve) and the calls around it.
func routerText(c *costResult, top topology) string {
	ssh, api := c.SSHRouter, c.APIRouter
	var out []string
	if n := top.Routers - top.APIRouters; n > 0 {
		checks := float64(ssh["ssh.connect"])
		cmds := 0
		for k, v := range ssh {
			if k != "ssh.connect" && k != "ssh.exec" {
				cmds += v
			}
		}
		out = append(out, fmt.Sprintf("SSH: %.2f health checks per router per interval, each %.1f connection, %.1f exec session(s), %.1f commands",
			checks/float64(n)/c.Intervals, checks/max(checks, 1), float64(ssh["ssh.exec"])/max(checks, 1), float64(cmds)/max(checks, 1)))
	}
	if top.APIRouters > 0 {
		checks := float64(api["api:/retrieve"])
		calls := map[string]int{}
		for k, v := range api {
			if strings.HasPrefix(k, "api:") {
				calls[k] = v
			}
		}
		out = append(out, fmt.Sprintf("VyOS API: %.2f health checks per router per interval, each %.1f HTTP calls (%s)",
			checks/float64(top.APIRouters)/c.Intervals, float64(sumMap(calls))/max(checks, 1), counts(calls)))
	}
	return strings.Join(out, "; ")
}

// routerMet: one exec session per connection. The window cuts a few
// health checks in two (connected before it, executed inside, or the
// reverse), so the two counts may differ by the routers in flight at its
// edges: within 5%, as the table's one decimal shows it.
func routerMet(c *costResult) bool {
	checks := c.SSHRouter["ssh.connect"]
	if checks == 0 {
		return true
	}
	return math.Abs(float64(c.SSHRouter["ssh.exec"])/float64(checks)-1) < 0.05
}

func (r *results) renderScale(w func(string, ...any)) {
	var small []scaleResult
	for _, s := range r.scale {
		if s.Size.Name == "1×" {
			small = append(small, s)
		}
	}
	var peak int64
	for i, s := range small {
		row := fmt.Sprintf("3%c", 'a'+i)
		top := s.Size.Top
		cond := fmt.Sprintf("%d FailoverIPs on %d servers + %d BridgedVMs on 1 ESXi + %d RouterConfigs on %d routers, one kubectl apply; no injected latency",
			top.IPs, top.Servers, top.vmCount(), top.Routers, top.Routers)
		target, met := "≤ 60 s on 2 cores", verdict(s.ToReady <= time.Minute)
		if s.Latency > 0 {
			cond = fmt.Sprintf("same, %s injected per call in all three simulators", s.Latency)
			target, met = "", ""
		}
		w("| %s | apply → all %d objects Ready | %s | %s (the kubectl apply itself: %s; last FailoverIP / BridgedVM / RouterConfig Ready at %s); operator CPU %s, %s Kubernetes API requests | %s | %s |\n",
			row, s.Objects, cond, secs(s.ToReady), secs(s.Apply), lastReady(s.KindReady), secs(s.AtReady.CPU),
			perMethod(s.Kube, 1), target, met)
		peak = max(peak, s.End.PeakRSS, s.AtReady.PeakRSS)
	}
	n := len(small)
	if n > 0 {
		var per []string
		for _, s := range small {
			per = append(per, fmt.Sprintf("%s with %s latency", mib(max(s.End.PeakRSS, s.AtReady.PeakRSS)), s.Latency))
		}
		w("| 3%c | operator peak RSS (VmHWM) | the runs above, to the end of each | %s (%s) | ≤ 128 MiB | %s |\n",
			'a'+n, mib(peak), strings.Join(per, "; "), verdict(peak <= 128<<20))
		renderWrites(w, fmt.Sprintf("3%c", 'a'+n+1), fmt.Sprintf("3%c", 'a'+n+2), small[0])
	}
}

// renderWrites writes the write-economy rows of one apply: status patches
// and Events per object of each kind, and the operator's requests per object
// by verb.
func renderWrites(w func(string, ...any), row1, row2 string, s scaleResult) {
	top := s.Size.Top
	objs := map[string]int{kindFIP: top.IPs, kindBVM: top.vmCount(), kindRTC: top.Routers}
	var parts []string
	ok := true
	for _, k := range []string{kindFIP, kindBVM, kindRTC} {
		if objs[k] == 0 {
			continue
		}
		n := float64(objs[k])
		patches, events := float64(s.StatusPatches[k])/n, float64(s.EventOccurrences[k])/n
		parts = append(parts, fmt.Sprintf("%s: %.2f status patches (+%.2f refused as conflicts), %.2f Events (%d Event objects)",
			k, patches, float64(s.StatusConflicts[k])/n, events, s.Events[k]))
		if k != kindRTC { // routers are repaired, not only adopted
			ok = ok && patches <= 2 && events <= 2
		}
	}
	w("| %s | write economy, apply → all Ready (%s) | %s adoption: FailoverIPs and BridgedVMs find everything in place; RouterConfigs repair their router (commit, save) | %s per object | ≤ 2 status patches and ≤ 2 Events per adopted object | %s |\n",
		row1, s.Size.Name, s.Size.Name, strings.Join(parts, "; "), verdict(ok))
	w("| %s | Kubernetes API requests by the operator per object, apply → all Ready (%s) | same | %s | | |\n",
		row2, s.Size.Name, perMethodF(s.Kube, float64(s.Objects)))
}

// renderBig writes the 10× rows.
func (r *results) renderBig(w func(string, ...any)) {
	for _, s := range r.scale {
		if s.Size.Name == "1×" {
			continue
		}
		top := s.Size.Top
		apply := "client-side"
		if s.Size.ServerSide {
			apply = "`--server-side`"
		}
		if s.Size.Parallel > 1 {
			apply += fmt.Sprintf(", split among %d kubectl processes started together", s.Size.Parallel)
		}
		cond := fmt.Sprintf("%d FailoverIPs on %d servers in %d OVH accounts + %d BridgedVMs on %d ESXi hosts + %d RouterConfigs on %d routers (%d over the VyOS HTTP API), one kubectl apply (%s); no injected latency",
			top.IPs, top.Servers, max(top.Accounts, 1), top.vmCount(), max(top.Hosts, 1), top.Routers, top.Routers, top.APIRouters, apply)
		w("| 4a | apply → all %d objects Ready (%s) | %s | %s (the kubectl apply itself: %s; last FailoverIP / BridgedVM / RouterConfig Ready at %s); operator CPU %s | ≤ 180 s on 2 cores | %s |\n",
			s.Objects, s.Size.Name, cond, secs(s.ToReady), secs(s.Apply), lastReady(s.KindReady), secs(s.AtReady.CPU), verdict(s.ToReady <= 3*time.Minute))
		peak := max(s.End.PeakRSS, s.AtReady.PeakRSS)
		w("| 4b | operator peak RSS (VmHWM), %s | the run above, to its end (steady state included) | %s (%s when all were Ready) | ≤ 256 MiB | %s |\n",
			s.Size.Name, mib(peak), mib(s.AtReady.PeakRSS), verdict(peak <= 256<<20))
		renderWrites(w, "4c", "4d", s)
		if s.Cost != nil {
			renderCost(w, "5", s)
		}
	}
	if len(r.apply) > 0 {
		var parts []string
		for _, a := range r.apply {
			mode := "client-side"
			if a.ServerSide {
				mode = "`--server-side`"
			}
			if a.Parallel > 1 {
				mode += fmt.Sprintf(" split among %d kubectl at once", a.Parallel)
			}
			parts = append(parts, fmt.Sprintf("%s %s (API server requests: %s)", mode, secs(a.Took), perMethod(a.Requests, 1)))
		}
		w("| 4e | `kubectl apply` of the %d objects alone | a fresh API server, no operator running, each mode into its own namespace | %s | | |\n",
			r.apply[0].Objects, strings.Join(parts, "; "))
	}
}

// renderBudget writes the rows of the 10× fleet under OVH's default budget.
func (r *results) renderBudget(w func(string, ...any)) {
	bu := r.budget
	if bu == nil {
		return
	}
	perKey := func(m map[string]int) string {
		var out []string
		for i, k := range bu.Keys {
			out = append(out, fmt.Sprintf("key %d: %d", i+1, m[k]))
		}
		return strings.Join(out, ", ")
	}
	within := func(m map[string]int) bool {
		for _, k := range bu.Keys {
			if m[k] > 60 {
				return false
			}
		}
		return true
	}
	w("| 6a | OVH requests per consumer key, start-up: most in any 60 s | %d FailoverIPs (%d virtual MACs) on %d servers in %d accounts, applied at once; operator at its default budget (60 a minute per key); the first %s from the operator's start, counted by the simulator | %s | ≤ 60 | %s |\n",
		bu.Objects, sumMap(bu.MACs), sumMap(bu.Servers), len(bu.Keys), bu.Window, perKey(bu.Peak), verdict(within(bu.Peak)))
	var proj []string
	for i, k := range bu.Keys {
		rate := float64(bu.Calls[k]) / bu.Window.Minutes()
		proj = append(proj, fmt.Sprintf("key %d: %d of %d calls in %s (%.0f a minute), %d of %d virtual MACs read; all %d calls at that rate: %.0f min",
			i+1, bu.Calls[k], bu.FirstLook[k], bu.Window, rate, bu.MACReads[k], bu.MACs[k], bu.FirstLook[k], float64(bu.FirstLook[k])/max(rate, 1)))
	}
	w("| 6b | first look at the 10× fleet under the default budget (projected) | same | %s; %d servers observed and %d FailoverIPs Ready at the end of the window | | |\n",
		strings.Join(proj, "; "), bu.Observed, bu.Ready)
	if st := bu.Steady; st != nil {
		cond := fmt.Sprintf("%d FailoverIPs on %d servers in %d accounts with one virtual MAC per server (%d), syncInterval %s, default budget",
			st.Objects, sumMap(bu.Servers), len(bu.Keys), st.MACs, st.Sync)
		w("| 6c | OVH requests per consumer key, steady state: most in any 60 s | %s; counted over %s after one interval of settling | %s (%s in the window) | ≤ 60 | %s |\n",
			cond, st.Window.Round(time.Second), perKey(st.Peak), perKey(st.Calls), verdict(within(st.Peak)))
		w("| 6d | same world's start-up: most OVH requests per key in any 60 s, and apply → all Ready | same | %s; all Ready after %s | ≤ 60 | %s |\n",
			perKey(st.StartPeak), secs(st.ToReady), verdict(within(st.StartPeak)))
		w("| 6e | effective observation interval per server (`ovhbridge_ovh_observation_interval_seconds`) | same, syncInterval %s asked | %s | reported | |\n",
			st.Sync, distinctDurations(st.Intervals))
		var lat []time.Duration
		var worst time.Duration
		ok := len(st.Trials) > 0
		for _, t := range st.Trials {
			lat = append(lat, t.Detected)
			worst = max(worst, t.Detected-t.Interval)
		}
		slices.Sort(lat)
		if ok {
			p95 := pct(lat, 95)
			var ivs []time.Duration
			for _, t := range st.Trials {
				ivs = append(ivs, t.Interval)
			}
			ok = p95 <= slices.Min(ivs)+time.Second
		}
		w("| 6f | failover IP moved away at OVH → FailoverIP Ready=False, at that size | same; %d IPs on servers of both keys, each moved once at a random instant within one effective interval | p50 %s, p95 %s, max %s (n=%d); latest detection minus its server's interval: %s | p95 ≤ effective interval + 1 s | %s |\n",
			len(st.Trials), secs(pct(lat, 50)), secs(pct(lat, 95)), secs(pct(lat, 100)), len(lat), secs(worst), verdict(ok))
	}
}

func sumMap(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (r *results) renderNotes(w func(string, ...any)) {
	b := r.bench
	w("\n## What the figures mean\n\n")
	w("- Every run starts a fresh kube-apiserver + etcd, fresh simulators and the operator binary as its own process " +
		"(`world.StartOperator`: `--task-poll-interval 500ms --retry-base-delay 200ms --retry-max-delay 5s`, everything else default). " +
		"RSS and CPU are read from `/proc/<operator pid>` (VmHWM; utime+stime), so they are the operator's alone.\n")
	w("- The world is an installation being adopted: every failover IP is already routed to its server and bound to a " +
		"`vmware` virtual MAC, every ESXi VM is powered on with its NIC on `WAN` carrying that MAC. The routers start from the " +
		"write-up's Vyatta 6.5 configuration (their own WAN address), so each RouterConfig first repairs the gateway-less " +
		"default route (boot-script routes, one commit, save): Ready for a router includes that repair.\n")
	if len(r.drift) > 0 {
		w("- Drift latency (1a–1c, and 1a′ for a change inside a guest, which the bench undoes itself as a person would: "+
			"the operator never logs into a guest): from the instant before the out-of-band change (made in-process on the simulator) to the "+
			"arrival, on the bench's own watch of the API server (a client-go informer), of the object's first status whose "+
			"Ready is not True. Each of the %d objects per row is broken once at a random instant within max(one interval, %s), "+
			"so that each change falls at an independent phase of its object's polling and changes come no faster than one per %s "+
			"on average; the rows run one after the other, and the operator repairs each object (a power cycle, a move "+
			"back, a route replace) before the next row. Percentiles are nearest-rank. The drift world has %d servers, "+
			"%d FailoverIPs, %d BridgedVMs and %d routers: no object under trial shares a FailoverIP with a trial of another kind, "+
			"so no trial wakes another early; the moved IPs share their servers, and so the operator's observation of each server, "+
			"with the other FailoverIPs.\n",
			b.trials, time.Duration(b.trials)*b.spacing, b.spacing, b.servers, 3*b.trials, b.trials, b.trials)
		var reasons []string
		for _, t := range r.drift {
			var rs []string
			for _, k := range sortedKeys(t.Reasons) {
				rs = append(rs, fmt.Sprintf("%s ×%d", k, t.Reasons[k]))
			}
			reasons = append(reasons, fmt.Sprintf("%s/%s: %s", t.Kind, t.Mode, strings.Join(rs, ", ")))
		}
		w("- Ready reasons first reported: %s.\n", strings.Join(reasons, "; "))
		for _, t := range r.drift {
			if len(t.Delivered) > 0 {
				w("- With `-esxi-probe`, %s/%s: the change reached a watcher in the bench (the operator's watcher code, on its "+
					"own session) after p50 %s, p95 %s: the simulator's share of row 1a.\n",
					t.Kind, t.Mode, secs(pct(t.Delivered, 50)), secs(pct(t.Delivered, 95)))
			}
		}
	}
	for _, s := range r.scale {
		if c := s.Cost; c != nil {
			w("- Steady state (2a–2h): counters reset one interval after all objects were Ready, read %s later. OVH calls by route: %s. "+
				"ESXi calls by method: %s. Router calls (all routers): %s.\n",
				c.Window.Round(time.Second), counts(c.OVH), counts(c.ESXi), counts(c.SSHRouter))
		}
	}
	for _, s := range r.scale {
		if s.Latency > 0 {
			undelayed := "none"
			if len(s.Undelayed) > 0 {
				undelayed = strings.Join(s.Undelayed, ", ")
			}
			w("- Latency run: every OVH route (`InjectFault(\"*\", Fault{Latency})`), every router SSH command and HTTP "+
				"reply (`SetLatency`), and the ESXi SOAP methods %s (`SetMethodDelay`) wait %s before being served. "+
				"ESXi methods called without a delay: %s.\n", strings.Join(s.ESXiMethods, ", "), s.Latency, undelayed)
		}
	}
	w("- Apply → Ready (3a, 3b) runs from the start of `kubectl apply` (one multi-document manifest; the Secrets were applied " +
		"before) to the watch event that made the last object Ready for its current generation.\n")
}

// perMethod formats request counts divided by n, largest first.
func perMethod(m map[string]int, n float64) string {
	keys := sortedKeys(m)
	slices.SortStableFunc(keys, func(a, b string) int { return m[b] - m[a] })
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%.0f %s", float64(m[k])/n, k))
	}
	if len(out) == 0 {
		return "0 (no request)"
	}
	return strings.Join(out, ", ")
}

// perMethodF is perMethod with two decimals (requests per object).
func perMethodF(m map[string]int, n float64) string {
	keys := sortedKeys(m)
	slices.SortStableFunc(keys, func(a, b string) int { return m[b] - m[a] })
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%.2f %s", float64(m[k])/n, k))
	}
	if len(out) == 0 {
		return "0 (no request)"
	}
	return strings.Join(out, ", ")
}

func lastReady(m map[string][2]time.Duration) string {
	var out []string
	for _, k := range []string{kindFIP, kindBVM, kindRTC} {
		out = append(out, secs(m[k][1]))
	}
	return strings.Join(out, " / ")
}

func counts[V int | int64](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, fmt.Sprintf("`%s` %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}
