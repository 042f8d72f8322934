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
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

const (
	ns = "crash"
	// ips failover IPs, each a move + a virtual MAC at OVH and a power
	// cycle + reconfigure on ESXi (5 writes), and four routers (commit,
	// save, and on Vyatta the boot script and the gateway routes): about
	// 50 reconciles that write.
	ips          = 8
	defaultKills = 12
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
	f, c := env.Fleet, env.Client
	ctx := context.Background()

	// The kills. A third of them fall at a random time; the others right
	// after the next external write reaches a simulator, before the
	// operator has heard back and recorded it: the window where a
	// restarted operator is most tempted to write again.
	began := time.Now()
	savesAtStart := routerSaves(t, ctx, c, f)
	for i := range kills {
		if pending, err := f.NotReady(ctx, c, ns); err == nil && len(pending) == 0 {
			t.Logf("everything Ready after %d kill(s); the remaining %d are not needed", i, kills-i)
			break
		}
		var why string
		if rng.IntN(3) == 0 {
			d := time.Duration(200+rng.IntN(2800)) * time.Millisecond
			time.Sleep(d)
			why = fmt.Sprintf("%v after the restart", d)
		} else {
			jitter := time.Duration(rng.IntN(40)) * time.Millisecond
			before := f.Writes()
			after, ok := f.WaitForWrite(before, 15*time.Second)
			time.Sleep(jitter)
			if ok {
				why = fmt.Sprintf("%v after write %s", jitter, world.Describe(before, after))
			} else {
				why = "no write within 15s"
			}
		}
		if err := env.op.Kill(); err != nil {
			t.Fatal(err)
		}
		why += unrecordedSaves(t, ctx, c, f, savesAtStart)
		t.Logf("kill %d at +%.1fs: %s", i+1, time.Since(began).Seconds(), why)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		savesAtStart = routerSaves(t, ctx, c, f)
		env.start(t)
	}

	// Convergence: every object Ready, and the systems themselves right.
	deadline := time.Now().Add(converge)
	lastKill, progress := time.Now(), time.Now()
	for {
		pending, err := f.NotReady(ctx, c, ns)
		if time.Since(progress) > 10*time.Second {
			// Long waits are expected only for a write whose intent was
			// recorded but which may never have been sent: say which.
			progress = time.Now()
			t.Logf("+%.0fs after the last restart, not Ready: %v; %s", time.Since(lastKill).Seconds(), pending, inFlight(ctx, c))
		}
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
		t.Errorf("a restart on the converged world wrote again: %s", world.Describe(converged, again))
	}

	t.Logf("external writes: %d (%s)", converged.Total(), world.Describe(world.Writes{}, converged))
	for _, err := range f.DuplicateWrites() {
		t.Error(err)
	}
}

type env struct {
	*world.FleetEnv
	op *world.Operator
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{FleetEnv: world.StartFleetEnv(t, ns, world.FleetOptions{
		IPs:            ips,
		RouterProfiles: []routersim.Profile{routersim.VyOS14, routersim.VyOS13},
		// And one through the VyOS HTTP API: a commit is a POST whose
		// answer a kill can lose.
		APIRouterProfiles: []routersim.Profile{routersim.VyOS15},
		OVHMoveDuration:   1500 * time.Millisecond, OVHVirtualMACDuration: time.Second,
		ESXiWriteDelay: 300 * time.Millisecond, RouterLatency: 100 * time.Millisecond,
	})}
	t.Cleanup(func() {
		if e.op != nil {
			_ = e.op.Kill()
			if t.Failed() {
				t.Logf("operator log (last 80 lines):\n%s", e.op.LogTail(80))
			}
		}
	})
	e.start(t)
	e.Apply(t)
	return e
}

// start runs the operator (again), appending to the same log.
func (e *env) start(t *testing.T) {
	t.Helper()
	op, err := world.StartOperator(e.Binary, e.CP.Kubeconfig, e.Dir)
	if err != nil {
		t.Fatal(err)
	}
	e.op = op
}

// inFlight lists the writes objects have recorded as in flight: those
// without a task reference are intents the operator waits out, having no
// way to tell whether they were ever sent.
func inFlight(ctx context.Context, c client.Client) string {
	var out []string
	var fips v1.FailoverIPList
	if err := c.List(ctx, &fips, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	for _, f := range fips.Items {
		if p := f.Status.PendingTask; p != nil {
			out = append(out, fmt.Sprintf("FailoverIP/%s %s task %q since %s", f.Name, p.Function, p.ID, p.StartedAt.Format(time.TimeOnly)))
		}
	}
	var vms v1.BridgedVMList
	if err := c.List(ctx, &vms, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	for _, b := range vms.Items {
		if p := b.Status.PendingTask; p != nil {
			out = append(out, fmt.Sprintf("BridgedVM/%s %s task %q since %s", b.Name, p.Step, p.Ref, p.StartedAt.Format(time.TimeOnly)))
		}
	}
	return "in flight: " + strings.Join(out, ", ")
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

// saveState is what a router and its RouterConfig say of saving.
type saveState struct {
	saves int    // saves the router received
	hash  string // status.savedConfigHash
}

// routerSaves reads each router's saves and its RouterConfig's record.
func routerSaves(t *testing.T, ctx context.Context, c client.Client, f *world.Fleet) []saveState {
	t.Helper()
	out := make([]saveState, len(f.Routers))
	for i, r := range f.Routers {
		var rc v1.RouterConfig
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: world.RouterName(i)}, &rc); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
		out[i] = saveState{saves: len(r.Saves()), hash: rc.Status.SavedConfigHash}
	}
	return out
}

// unrecordedSaves allows one more save of every API-driven router that the
// killed operator saved without recording it: the router saved since that
// operator started, and status.savedConfigHash (read after the kill, so
// final) did not change. The restarted operator cannot read config.boot
// over the API and must save again.
func unrecordedSaves(t *testing.T, ctx context.Context, c client.Client, f *world.Fleet, atStart []saveState) string {
	t.Helper()
	var out string
	now := routerSaves(t, ctx, c, f)
	for i := range f.Routers {
		if f.APIRouter(i) && now[i].saves > atStart[i].saves && now[i].hash == atStart[i].hash {
			f.AllowResave(i)
			out += fmt.Sprintf("; %s saved without recording it (one more save allowed)", world.RouterName(i))
		}
	}
	return out
}
