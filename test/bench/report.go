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
)

type results struct {
	bench                 *bench
	command               string
	loadBefore, loadAfter string
	duration              time.Duration
	scale                 []scaleResult
	drift                 []trialSet
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
	r.renderNotes(w)
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
	var c *costResult
	var top scaleResult
	for _, s := range r.scale {
		if s.Cost != nil {
			c, top = s.Cost, s
		}
	}
	if c == nil {
		return
	}
	b := r.bench
	per := func(n float64, units float64) float64 { return n / units / c.Intervals }
	cond := fmt.Sprintf("%d FailoverIPs on %d servers, syncInterval %s; counted over %.1f intervals (%s) after all Ready",
		b.ips, b.servers, c.Interval, c.Intervals, c.Window.Round(time.Second))
	lists := float64(c.OVH["GET /ip"] + c.OVH["GET /dedicated/server/{serviceName}/virtualMac"])
	verify := float64(c.OVH["GET /dedicated/server/{serviceName}/virtualMac/{macAddress}"] +
		c.OVH["GET /dedicated/server/{serviceName}/virtualMac/{macAddress}/virtualAddress"])
	total := 0
	for _, v := range c.OVH {
		total += v
	}
	other := float64(total) - lists - verify
	listsPer := per(lists, float64(b.servers))
	w("| 2a | OVH list calls (IPs routed to the server, its virtual MACs) | %s | %.2f per server per interval (%.0f calls in all) | ≤ 1 + 2 per server | %s |\n",
		cond, listsPer, lists, verdict(lists/c.Intervals <= 1+2*float64(b.servers)))
	w("| 2b | OVH virtual MAC verification, amortised (details of known MACs, round robin) | same | %.2f per server per interval | stated separately | |\n",
		per(verify, float64(b.servers)))
	w("| 2c | OVH other calls (per-IP reads, network specification, tasks) | same | %.2f per server per interval | | |\n",
		per(other, float64(b.servers)))
	var polling int64
	for m, v := range c.ESXi {
		if m != "WaitForUpdatesEx" {
			polling += v
		}
	}
	w("| 2d | ESXi polling calls (every SOAP method but the WaitForUpdatesEx event long-poll) | %d BridgedVMs on 1 host, change events on, resyncInterval 10m (default) | %.2f per interval of %s (%d WaitForUpdatesEx long-polls in the window) | 0 | %s |\n",
		b.ips, per(float64(polling), 1), c.Interval, c.ESXi["WaitForUpdatesEx"], verdict(polling == 0))
	w("| 2e | ESXi sessions (SessionManager.Login) | same, whole run from operator start | %d for the one host | one session per host | %s |\n",
		c.ESXiLogins, verdict(c.ESXiLogins == 1))
	rc := c.Router
	cmds := 0
	for k, v := range rc {
		if k != "ssh.connect" && k != "ssh.exec" {
			cmds += v
		}
	}
	passes := float64(rc["ssh.connect"]) // one SSH connection per health check
	w("| 2f | router calls | %d routers, health.interval %s | %.2f health checks per router per interval, each 1 SSH connection, %.1f SSH sessions (exec), %.1f commands | | |\n",
		b.routers, c.Interval, per(passes, float64(b.routers)), float64(rc["ssh.exec"])/max(passes, 1), float64(cmds)/max(passes, 1))
	w("| 2g | Kubernetes API requests by the operator (GET: credentials Secrets; PATCH: status; POST: Events) | same window | %s per interval | | |\n",
		perMethod(c.Kube, c.Intervals))
	w("| 2h | operator CPU at steady state | all %d objects Ready | %.1f%% of one core (%s CPU over %s) | | |\n",
		top.Objects, 100*c.CPU.Seconds()/c.Window.Seconds(), secs(c.CPU), c.Window.Round(time.Second))
}

func (r *results) renderScale(w func(string, ...any)) {
	var peak int64
	for i, s := range r.scale {
		row := fmt.Sprintf("3%c", 'a'+i)
		cond := fmt.Sprintf("%d FailoverIPs on %d servers + %d BridgedVMs on 1 ESXi + %d RouterConfigs on %d routers, one kubectl apply; no injected latency",
			r.bench.ips, r.bench.servers, r.bench.ips, r.bench.routers, r.bench.routers)
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
	if len(r.scale) > 0 {
		var per []string
		for _, s := range r.scale {
			per = append(per, fmt.Sprintf("%s with %s latency", mib(max(s.End.PeakRSS, s.AtReady.PeakRSS)), s.Latency))
		}
		w("| 3%c | operator peak RSS (VmHWM) | the runs above, to the end of each | %s (%s) | ≤ 128 MiB | %s |\n",
			'a'+len(r.scale), mib(peak), strings.Join(per, "; "), verdict(peak <= 128<<20))
	}
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
				c.Window.Round(time.Second), counts(c.OVH), counts(c.ESXi), counts(c.Router))
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
