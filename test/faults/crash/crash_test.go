// Package crash kills the operator process (SIGKILL, no cleanup) at random
// points while it moves failover IPs, creates virtual MACs, power-cycles
// VMs and commits router configurations, restarts it each time, and then
// checks on the simulators that every change was made exactly once.
//
// The kill points are drawn from a seeded generator; the seed is printed,
// and CRASH_SEED=<seed> replays the same kill schedule (the operator's own
// timing still varies from run to run, so a replay is close, not exact).
// CRASH_KILLS overrides the number of kills (0: a run without any, for
// comparison).
package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

const (
	ns = "crash"
	// ips failover IPs, each a move + a virtual MAC at OVH and a power
	// cycle + reconfigure on ESXi (5 writes), and three routers (commit,
	// save, and on Vyatta the boot script and the gateway routes): about
	// 50 reconciles that write.
	ips          = 8
	defaultKills = 8
	// converge bounds the wait after the last restart. It is long on
	// purpose: a kill between recording a write's intent and sending it
	// leaves an intent that the operator waits out (2 minutes for OVH)
	// before sending, rather than risk a second move.
	converge = 200 * time.Second
)

func TestKilledOperatorConvergesWithOneWritePerChange(t *testing.T) {
	seed := time.Now().UnixNano() % 1_000_000_000
	if s := os.Getenv("CRASH_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	kills := defaultKills
	if s := os.Getenv("CRASH_KILLS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("CRASH_KILLS=%q: %v", s, err)
		}
		kills = v
	}
	t.Logf("seed %d (replay with CRASH_SEED=%d), %d kills", seed, seed, kills)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6f7662))

	env := setup(t)
	f, c := env.fleet, env.client
	ctx := context.Background()

	// The kills. Half of them fall at a random time; the other half right
	// after the next external write reaches a simulator, before the
	// operator has heard back and recorded it: the window where a
	// restarted operator is most tempted to write again.
	began := time.Now()
	for i := range kills {
		if pending, err := notReady(ctx, c); err == nil && len(pending) == 0 {
			t.Logf("everything Ready after %d kill(s); the remaining %d are not needed", i, kills-i)
			break
		}
		var why string
		if rng.IntN(2) == 0 {
			d := time.Duration(200+rng.IntN(2800)) * time.Millisecond
			time.Sleep(d)
			why = fmt.Sprintf("%v after the restart", d)
		} else {
			jitter := time.Duration(rng.IntN(40)) * time.Millisecond
			before := f.Writes()
			after, ok := waitForWrite(f, before, 15*time.Second)
			time.Sleep(jitter)
			if ok {
				why = fmt.Sprintf("%v after write %s", jitter, describe(before, after))
			} else {
				why = "no write within 15s"
			}
		}
		if err := env.op.Kill(); err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d at +%.1fs: %s", i+1, time.Since(began).Seconds(), why)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		env.start(t)
	}

	// Convergence: every object Ready, and the systems themselves right.
	deadline := time.Now().Add(converge)
	for {
		pending, err := notReady(ctx, c)
		if err == nil && len(pending) == 0 {
			if err = f.Converged(ctx); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged %v after the last restart: %v %v", converge, pending, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("converged %.1fs after the first start", time.Since(began).Seconds())

	// A fresh operator on the converged world must find nothing to do:
	// nothing left half-done that one more start would write again.
	converged := f.Writes()
	if err := env.op.Kill(); err != nil {
		t.Fatal(err)
	}
	env.start(t)
	waitReconciled(t, env.op, map[string]int{"failoverip": ips, "bridgedvm": ips, "routerconfig": len(f.Routers)})
	if again := f.Writes(); again.Total() != converged.Total() {
		t.Errorf("a restart on the converged world wrote again: %s", describe(converged, again))
	}

	t.Logf("external writes: %d (%s)", converged.Total(), describe(world.Writes{Router: make([]map[string]int, len(f.Routers))}, converged))
	checkOVH(t, f)
	checkESXi(t, f)
	for i := range f.Routers {
		checkRouter(t, f, i)
	}
}

// checkOVH: one move per IP, one virtual MAC created per IP, and no other
// write request (a refused duplicate counts too).
func checkOVH(t *testing.T, f *world.Fleet) {
	t.Helper()
	w := f.Writes().OVH
	tasks := f.OVHTasks()
	for _, ip := range f.IPs {
		if n := tasks[ovhsim.FunctionMoveIP][ip+"/32"]; n != 1 {
			t.Errorf("OVH: %d move tasks for %s, want exactly 1", n, ip)
		}
	}
	if n := tasks[ovhsim.FunctionAddVirtualMAC][world.Server]; n != len(f.IPs) {
		t.Errorf("OVH: %d virtual MAC tasks on %s, want exactly %d (one per IP)", n, world.Server, len(f.IPs))
	}
	want := map[string]int{ovhsim.RouteIPMove: len(f.IPs), ovhsim.RouteVMACCreate: len(f.IPs)}
	for route, n := range w {
		if n != want[route] {
			t.Errorf("OVH: %d requests %s, want %d", n, route, want[route])
		}
	}
}

// checkESXi: one power off, one reconfigure and one power on per VM. Each
// VM needs at least one of each to converge, so totals equal to the number
// of VMs mean exactly one each.
func checkESXi(t *testing.T, f *world.Fleet) {
	t.Helper()
	want := map[string]int64{"ReconfigVM_Task": int64(len(f.VMs)), "PowerOffVM_Task": int64(len(f.VMs)), "PowerOnVM_Task": int64(len(f.VMs))}
	for m, n := range f.Writes().ESXi {
		if n != want[m] {
			t.Errorf("ESXi: %d %s calls, want %d (one per VM)", n, m, want[m])
		}
	}
}

// checkRouter: one commit, which changed the configuration; one save, of
// the configuration as finally committed (never a half-applied one); the
// boot script and routes written at most once.
func checkRouter(t *testing.T, f *world.Fleet, i int) {
	t.Helper()
	r := f.Routers[i]
	name := fmt.Sprintf("%s (%s)", world.RouterName(i), r.Profile())
	commits := r.Commits()
	if len(commits) != 1 || !commits[0].Changed || commits[0].Outcome != "applied" {
		t.Errorf("%s: commits %+v, want exactly one, applied", name, commits)
	}
	final := r.ActiveCommands()
	saves := r.Saves()
	if len(saves) != 1 {
		t.Errorf("%s: %d saves, want exactly 1", name, len(saves))
	}
	for j, s := range saves {
		if s.Active != final {
			t.Errorf("%s: save %d wrote a configuration other than the one finally running:\n%s\nrunning:\n%s", name, j+1, s.Active, final)
		}
	}
	// At most: a restart may find these already done by the killed run.
	calls := f.Writes().Router[i]
	for k, most := range map[string]int{"mv": 1, "ip neigh flush": 1,
		"ip route replace": 2} { // the gateway's host route and the default route, in one script
		if calls[k] > most {
			t.Errorf("%s: %q %d times, want at most %d", name, k, calls[k], most)
		}
	}
	if r.Profile() == routersim.Vyatta65 {
		if script, exists, executable := r.BootScript(); !exists || !executable || !strings.Contains(script, "198.51.100.254") {
			t.Errorf("%s: boot script exists=%v executable=%v:\n%s", name, exists, executable, script)
		}
	}
}

type env struct {
	cp     *controlplane.ControlPlane
	fleet  *world.Fleet
	client client.Client
	bin    string
	dir    string
	op     *world.Operator
}

func setup(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := world.BuildOperator(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := controlplane.Start(controlplane.Options{KubeconfigPath: filepath.Join(dir, "kubeconfig")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	f, err := world.StartFleet(world.FleetOptions{
		IPs:             ips,
		RouterProfiles:  []routersim.Profile{routersim.VyOS14, routersim.VyOS13},
		OVHMoveDuration: 1500 * time.Millisecond, OVHVirtualMACDuration: time.Second,
		ESXiWriteDelay: 300 * time.Millisecond, RouterLatency: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	c, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cp: cp, fleet: f, client: c, bin: bin, dir: dir}
	t.Cleanup(func() {
		if e.op != nil {
			_ = e.op.Kill()
			if t.Failed() {
				if log, err := os.ReadFile(e.op.LogPath); err == nil {
					t.Logf("operator log (last 80 lines):\n%s", tail(string(log), 80))
				}
			}
		}
	})
	if _, err := cp.Run("create", "namespace", ns); err != nil {
		t.Fatal(err)
	}
	e.start(t)
	cmd := cp.KubectlCmd("apply", "-n", ns, "-f", "-")
	cmd.Stdin = strings.NewReader(string(f.Manifests()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	return e
}

// start runs the operator (again), appending to the same log.
func (e *env) start(t *testing.T) {
	t.Helper()
	op, err := world.StartOperator(e.bin, e.cp.Kubeconfig, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.op = op
}

// notReady lists the objects not Ready for their current generation.
func notReady(ctx context.Context, c client.Client) ([]string, error) {
	var out []string
	check := func(kind string, o client.Object, s *v1.ResourceStatus) {
		if !meta.IsStatusConditionTrue(s.Conditions, v1.TypeReady) || s.ObservedGeneration != o.GetGeneration() {
			out = append(out, fmt.Sprintf("%s/%s (%s)", kind, o.GetName(), s.ReadyReason()))
		}
	}
	var fips v1.FailoverIPList
	if err := c.List(ctx, &fips, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range fips.Items {
		check("FailoverIP", &fips.Items[i], fips.Items[i].GetResourceStatus())
	}
	var vms v1.BridgedVMList
	if err := c.List(ctx, &vms, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range vms.Items {
		check("BridgedVM", &vms.Items[i], vms.Items[i].GetResourceStatus())
	}
	var rcs v1.RouterConfigList
	if err := c.List(ctx, &rcs, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range rcs.Items {
		check("RouterConfig", &rcs.Items[i], rcs.Items[i].GetResourceStatus())
	}
	if n := len(fips.Items) + len(vms.Items) + len(rcs.Items); n != 2*ips+3 {
		out = append(out, fmt.Sprintf("%d objects listed", n))
	}
	return out, nil
}

// waitForWrite polls the simulators' write counters until one grows.
func waitForWrite(f *world.Fleet, before world.Writes, timeout time.Duration) (world.Writes, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if w := f.Writes(); w.Total() > before.Total() {
			return w, true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return before, false
}

// describe names the writes between two readings of the counters.
func describe(before, after world.Writes) string {
	var out []string
	for k, v := range after.OVH {
		if d := v - before.OVH[k]; d > 0 {
			out = append(out, fmt.Sprintf("OVH %s ×%d", k, d))
		}
	}
	for k, v := range after.ESXi {
		if d := v - before.ESXi[k]; d > 0 {
			out = append(out, fmt.Sprintf("ESXi %s ×%d", k, d))
		}
	}
	for i, r := range after.Router {
		for k, v := range r {
			if d := v - before.Router[i][k]; d > 0 {
				out = append(out, fmt.Sprintf("%s %s ×%d", world.RouterName(i), k, d))
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// waitReconciled waits until each controller of a freshly started operator
// has finished at least as many reconciles as it has objects: every object
// was queued once at start, so each has had its first pass.
func waitReconciled(t *testing.T, op *world.Operator, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := op.Metrics(context.Background())
		done := err == nil
		for ctrl, n := range want {
			if err == nil && m.Sum("controller_runtime_reconcile_total", map[string]string{"controller": ctrl}) < float64(n) {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted operator did not reconcile every object within 60s (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
