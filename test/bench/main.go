// Command bench measures the operator the way it runs: the built manager
// binary as its own process, against a real kube-apiserver and etcd and the
// OVH, ESXi and router simulators, driven through kubectl and observed
// through watches. It prints one table — drift detection latency with and
// without ESXi change events, the calls made to each external system at
// steady state, and the time and memory to bring 1010 objects to Ready —
// and writes it to test/bench/RESULTS.md. `make bench` runs it.
//
// It is a program rather than a test so that `go test ./...` never runs it:
// a full run takes about a quarter of an hour.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

type bench struct {
	operator string
	// The scale topology (1×), and the 10× one.
	servers, ips, routers                                                int
	bigServers, bigIPs, bigRouters, bigAPIRouters, bigAccounts, bigHosts int
	bigServerSide                                                        bool
	bigApplyParallel                                                     int
	// The OVH budget phase: how long start-up is watched, and the drift
	// trials at steady state.
	budgetWindow time.Duration
	budgetTrials int
	ovhDump      string
	// profileSeconds is how long the CPU profile runs from the apply.
	profileSeconds time.Duration
	// Drift trials: objects per failure, and the two ways of looking.
	trials                      int
	shortInterval, pollInterval time.Duration
	spacing                     time.Duration
	latency                     time.Duration
	// Steady state: the FailoverIP and router interval, and how many of
	// them to count over.
	costInterval  time.Duration
	costIntervals int
	readyTimeout  time.Duration
	phases        map[string]bool
	out           string
	profileDir    string
	keepLogs      bool
	// esxiProbe adds a watcher of the ESXi host in the bench (diagnosis).
	esxiProbe bool
	// failures limits the drift trials to these kinds (diagnosis).
	failures []string
	// operatorArgs are added to every operator start (experiments).
	operatorArgs []string
	started      time.Time
}

func main() {
	b := &bench{started: time.Now()}
	flag.StringVar(&b.operator, "operator", "bin/manager", "the operator binary (make build)")
	flag.IntVar(&b.servers, "servers", 5, "scale: dedicated servers at OVH")
	flag.IntVar(&b.ips, "fips", 500, "scale: FailoverIPs, and as many BridgedVMs and ESXi VMs")
	flag.IntVar(&b.routers, "routers", 10, "scale: RouterConfigs, each on its own simulated router")
	flag.IntVar(&b.bigServers, "big-servers", 50, "10× scale: dedicated servers at OVH")
	flag.IntVar(&b.bigIPs, "big-fips", 5000, "10× scale: FailoverIPs, and as many BridgedVMs and ESXi VMs")
	flag.IntVar(&b.bigRouters, "big-routers", 100, "10× scale: RouterConfigs, each on its own simulated router")
	flag.IntVar(&b.bigAPIRouters, "big-api-routers", 4, "10× scale: how many of the routers are VyOS 1.5 driven through its HTTP API")
	flag.IntVar(&b.bigAccounts, "big-accounts", 2, "10× scale: OVH accounts (consumer keys) the servers are spread over")
	flag.IntVar(&b.bigHosts, "big-hosts", 10, "10× scale: ESXi hosts the VMs are spread over")
	flag.BoolVar(&b.bigServerSide, "big-server-side", true, "10× scale: kubectl apply --server-side (see the apply phase)")
	flag.IntVar(&b.bigApplyParallel, "big-apply-parallel", 1, "10× scale: kubectl processes the manifest is split among, applied at once (see the apply phase)")
	flag.DurationVar(&b.budgetWindow, "budget-window", 3*time.Minute, "budget: how long the start-up under OVH's default budget is watched")
	flag.StringVar(&b.ovhDump, "ovh-dump", "", "budget: write the OVH requests of the steady window and the moves to this file (tab-separated)")
	flag.IntVar(&b.budgetTrials, "budget-trials", 10, "budget: FailoverIPs moved away at steady state under the default budget")
	flag.DurationVar(&b.profileSeconds, "profile-seconds", 3*time.Minute, "how long the CPU profile runs from the start of the apply (the 10× run is always profiled; the 1× runs with -profile)")
	flag.IntVar(&b.trials, "trials", 20, "drift: trials (objects) per failure and mode")
	flag.DurationVar(&b.shortInterval, "short-interval", 5*time.Second, "drift: OVH syncInterval and router health.interval with events on")
	flag.DurationVar(&b.pollInterval, "poll-interval", time.Minute, "drift: every interval with events off (pure polling)")
	flag.DurationVar(&b.spacing, "spacing", time.Second, "drift: mean time between two out-of-band changes of one kind, at least")
	flag.DurationVar(&b.latency, "latency", 50*time.Millisecond, "scale: latency injected per call in every simulator for the second run")
	flag.DurationVar(&b.costInterval, "cost-interval", 15*time.Second, "scale: FailoverIP syncInterval and router health.interval")
	flag.IntVar(&b.costIntervals, "cost-intervals", 4, "steady state: intervals to count calls over")
	flag.DurationVar(&b.readyTimeout, "ready-timeout", 10*time.Minute, "give up waiting for all objects to be Ready after this long")
	phases := flag.String("phases", "scale,latency,drift,big,apply,budget", "what to run: scale (1×, and steady-state cost), latency (1× with injected latency), drift (or only drift-events, drift-polling), big (10× and its steady state), apply (10×'s kubectl apply alone, client- and server-side), budget (10× under OVH's default budget; budget-steady: its steady state alone)")
	flag.StringVar(&b.out, "out", "test/bench/RESULTS.md", "where to write the results table (empty: only print it)")
	flag.StringVar(&b.profileDir, "profile", "", "save the operator's CPU (from the apply, -profile-seconds; and at steady state) and heap profiles here")
	flag.BoolVar(&b.keepLogs, "keep-logs", false, "keep each run's directory (operator.log, kubeconfig)")
	flag.BoolVar(&b.esxiProbe, "esxi-probe", false, "drift: also time each vNIC change to its arrival at a watcher in the bench (the simulator's share; adds a property collector to the host)")
	selfProfile := flag.String("self-profile", "", "write the bench process's own CPU profile (the simulators run in it) to this file")
	failures := flag.String("failures", "", "drift: only these kinds' trials, comma-separated (FailoverIP, BridgedVM, RouterConfig)")
	operatorArgs := flag.String("operator-args", "", "extra operator flags, space-separated (e.g. \"--max-concurrent-reconciles=8\")")
	flag.Parse()
	b.operatorArgs = strings.Fields(*operatorArgs)
	if *failures != "" {
		b.failures = strings.Split(*failures, ",")
	}
	b.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		b.phases[strings.TrimSpace(p)] = true
	}

	// The bench's own watches log through controller-runtime; only the
	// table matters here.
	crlog.SetLogger(logr.Discard())
	if *selfProfile != "" {
		f, err := os.Create(*selfProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := b.run(ctx)
	stop()
	pprof.StopCPUProfile() // a no-op without -self-profile
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func (b *bench) run(ctx context.Context) error {
	var err error
	if b.operator, err = filepath.Abs(b.operator); err != nil {
		return err
	}
	if _, err := os.Stat(b.operator); err != nil {
		return fmt.Errorf("operator binary: %w (make build)", err)
	}
	if b.profileDir != "" {
		if err := os.MkdirAll(b.profileDir, 0o755); err != nil {
			return err
		}
	}
	r := &results{bench: b, command: command(), loadBefore: loadAverage()}
	b.logf("machine: %s", machine())
	var methods []string
	if b.phases["scale"] {
		res, err := b.scale(ctx, b.small(), 0, nil, true)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		r.scale = append(r.scale, res)
		methods = res.ESXiMethods
	}
	if b.phases["latency"] {
		all := append(append([]string(nil), esxiBaseMethods...), methods...)
		res, err := b.scale(ctx, b.small(), b.latency, all, false)
		if err != nil {
			return fmt.Errorf("scale with latency: %w", err)
		}
		r.scale = append(r.scale, res)
	}
	if b.phases["drift"] || b.phases["drift-events"] || b.phases["drift-polling"] {
		if r.drift, err = b.drift(ctx); err != nil {
			return fmt.Errorf("drift: %w", err)
		}
	}
	if b.phases["big"] {
		res, err := b.scale(ctx, b.big(), 0, nil, true)
		if err != nil {
			return fmt.Errorf("10× scale: %w", err)
		}
		r.scale = append(r.scale, res)
	}
	if b.phases["apply"] {
		if r.apply, err = b.applyModes(ctx); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
	}
	if b.phases["budget"] {
		if r.budget, err = b.budget(ctx); err != nil {
			return fmt.Errorf("budget: %w", err)
		}
	} else if b.phases["budget-steady"] {
		// The steady state alone, for a person working on it: the
		// start-up rows are left empty.
		r.budget = &budgetResult{Keys: b.budgetKeys()}
		if r.budget.Steady, err = b.budgetSteady(ctx); err != nil {
			return fmt.Errorf("budget: %w", err)
		}
	}
	r.loadAfter = loadAverage()
	r.duration = time.Since(b.started)
	table := r.render()
	fmt.Print("\n" + table)
	if b.out != "" {
		if err := os.WriteFile(b.out, []byte(table), 0o644); err != nil {
			return err
		}
		b.logf("results written to %s", b.out)
	}
	return nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

// command is how this run was started, as a person would retype it from
// the repository's root (no path of this machine: RESULTS.md is committed).
func command() string {
	args := make([]string, 0, len(os.Args))
	for _, a := range os.Args[1:] {
		args = append(args, repoRelative(a))
	}
	run := strings.Join(append([]string{"go run ./test/bench"}, args...), " ")
	if c := os.Getenv("BENCH_COMMAND"); c != "" {
		return c + "`, which runs `" + run // set by `make bench`
	}
	return run
}

// repoRelative writes a path under the working directory (the repository's
// root, where make and go run start) relative to it; anything else as is.
func repoRelative(p string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(p) {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
