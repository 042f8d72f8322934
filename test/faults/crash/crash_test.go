// Package crash kills the operator process (SIGKILL, no cleanup) at chosen
// points while it moves failover IPs, creates virtual MACs, power-cycles
// VMs and commits router configurations, restarts it each time, and then
// checks on the simulators that every change was made exactly once.
//
// The kill schedule is drawn from a seeded generator, printed in full before
// the first kill, and replayed exactly with CRASH_SEED=<seed>: every kill is
// tied to an event of the run (the n-th external write since the restart, or
// the next write intent recorded in a status), never to wall-clock time, so a
// replay kills at the same points of the operator's progress (what the
// operator does concurrently between them still varies). CRASH_KILLS
// overrides the number of kills (0: a run without any, for comparison).
package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
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
	// converge bounds the wait after the last restart. A kill between
	// recording a write's intent and sending it leaves an intent that the
	// operator waits out before deciding again (intentGrace, shortened here
	// from the 2m and 1m defaults), rather than risk a second write.
	converge    = 120 * time.Second
	intentGrace = "10s"
)

// operatorArgs shorten the intent graces: the logic is the same as with the
// defaults, the suite just does not wait minutes for it. The operator logs
// at V(1) (each router save with the hash recorded before it, each write
// refused for a stale copy); CRASH_KEEP_LOG=<dir> keeps each test's whole
// operator log there.
var operatorArgs = []string{"--ovh-intent-grace", intentGrace, "--esxi-intent-grace", intentGrace, "--zap-log-level=1"}

// killPoint is one kill of the schedule.
type killPoint struct {
	// intent: kill right after the next write intent is recorded in a
	// status (an OVH or ESXi write about to be sent, or just sent); else
	// after the nth external write reaching a simulator since the restart.
	intent bool
	nth    int
	// jitter is waited after the event, pause before the restart.
	jitter, pause time.Duration
}

func (k killPoint) String() string {
	what := fmt.Sprintf("after external write #%d", k.nth)
	if k.intent {
		what = "after the next recorded intent"
	}
	return fmt.Sprintf("%s +%v, restart after %v", what, k.jitter, k.pause)
}

// schedule draws n kill points from seed. Two thirds fall right after a
// write reaches a simulator, before the operator has heard back and
// recorded it: the window where a restarted operator is most tempted to
// write again. One third fall right after an intent is recorded: the write
// may or may not have been sent, and the restarted operator must find out.
func schedule(seed int64, n int) []killPoint {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6f7662))
	out := make([]killPoint, n)
	for i := range out {
		out[i] = killPoint{
			intent: rng.IntN(3) == 0,
			nth:    1 + rng.IntN(3),
			jitter: time.Duration(rng.IntN(40)) * time.Millisecond,
			pause:  time.Duration(rng.IntN(300)) * time.Millisecond,
		}
	}
	return out
}

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
	plan := schedule(seed, kills)
	t.Logf("seed %d (replay with CRASH_SEED=%d), %d kills:", seed, seed, kills)
	for i, k := range plan {
		t.Logf("  kill %d: %s", i+1, k)
	}

	env := setup(t)
	f, c := env.Fleet, env.Client
	ctx := context.Background()

	began := time.Now()
	savesAtStart := routerSaves(t, ctx, c, f)
	for i, k := range plan {
		if pending, err := f.NotReady(ctx, c, ns); err == nil && len(pending) == 0 {
			t.Logf("everything Ready after %d kill(s); the remaining %d are not needed", i, kills-i)
			break
		}
		var why string
		if k.intent {
			if intent, ok := waitForIntent(ctx, c, intents(ctx, c), 15*time.Second); ok {
				why = "intent " + intent
			} else {
				why = "no new intent within 15s"
			}
		} else {
			before := f.Writes()
			var after world.Writes
			ok := true
			for range k.nth {
				if after, ok = f.WaitForWrite(before, 15*time.Second); !ok {
					break
				}
			}
			if ok {
				why = fmt.Sprintf("write #%d: %s", k.nth, world.Describe(before, after))
			} else {
				why = fmt.Sprintf("fewer than %d writes within 15s", k.nth)
			}
		}
		time.Sleep(k.jitter)
		if err := env.op.Kill(); err != nil {
			t.Fatal(err)
		}
		// A request the killed operator sent is carried out all the same
		// (a save included): its life's count is read once it is done.
		waitFor(t, 10*time.Second, "the routers' API requests in flight done", func() bool {
			for _, r := range f.Routers {
				if r.APIRequestsInFlight() > 0 {
					return false
				}
			}
			return true
		})
		why += unrecordedSaves(t, ctx, c, f, savesAtStart)
		t.Logf("kill %d at +%.1fs, %v after %s", i+1, time.Since(began).Seconds(), k.jitter, why)
		time.Sleep(k.pause)
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
	waitReconciled(t, env.op, map[string]int{"failoverip": ips, "bridgedvm": len(f.DistinctVMs()), "routerconfig": len(f.Routers)})
	if again := f.Writes(); again.Total() != converged.Total() {
		t.Errorf("a restart on the converged world wrote again: %s", world.Describe(converged, again))
	}

	t.Logf("external writes: %d (%s)", converged.Total(), world.Describe(world.Writes{}, converged))
	for _, e := range abandonedIntents(t, ctx, c) {
		t.Logf("intent given up: %s", e)
	}
	for _, err := range f.DuplicateWrites() {
		t.Error(err)
	}
}

type env struct {
	*world.FleetEnv
	op *world.Operator
	// args are the operator's flags (operatorArgs unless a test sets them).
	args []string
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupFleet(t, ns, world.FleetOptions{
		IPs:            ips,
		RouterProfiles: []routersim.Profile{routersim.VyOS14, routersim.VyOS13},
		// And one through the VyOS HTTP API: a commit is a POST whose
		// answer a kill can lose.
		APIRouterProfiles: []routersim.Profile{routersim.VyOS15},
		OVHMoveDuration:   1500 * time.Millisecond, OVHVirtualMACDuration: time.Second,
		ESXiWriteDelay: 300 * time.Millisecond, RouterLatency: 100 * time.Millisecond,
		// Two IPs of one VM share its MAC on the other server: one leaves
		// it before the moves and binds to it again after (an unbind and a
		// bind under kills).
		SharedMAC: true, OVHVirtualMACReappearDelay: 500 * time.Millisecond,
		// OVH's schema lists two names for each virtual MAC task; the
		// other suites run with the first ones, this one with the second
		// for creations and unbinds (the bind keeps the first, so that a
		// creation and a bind are told apart), so that a restarted
		// operator finds its task under either.
		OVHTaskFunctions: ovhsim.TaskFunctions{CreateVirtualMAC: ovhsim.FunctionAddVirtualMACAlt,
			BindIP: ovhsim.FunctionAddVirtualMAC, UnbindIP: ovhsim.FunctionRemoveVirtualMACAlt},
	}, true)
}

// setupFleet starts a fleet in namespace name and, with start, the
// operator, and applies the fleet's objects.
func setupFleet(t *testing.T, name string, opts world.FleetOptions, start bool) *env {
	t.Helper()
	e := &env{FleetEnv: world.StartFleetEnv(t, name, opts)}
	t.Cleanup(func() {
		if e.op != nil {
			_ = e.op.Kill()
			if t.Failed() {
				t.Logf("operator log (last 80 lines):\n%s", e.op.LogTail(80))
			}
			if d := os.Getenv("CRASH_KEEP_LOG"); d != "" {
				b, _ := os.ReadFile(e.op.LogPath)
				_ = os.WriteFile(fmt.Sprintf("%s/%s-%d.log", d, name, time.Now().Unix()), b, 0o644)
			}
		}
	})
	if start {
		e.start(t)
		e.Apply(t)
	}
	return e
}

// start runs the operator (again), appending to the same log.
func (e *env) start(t *testing.T) {
	t.Helper()
	args := e.args
	if args == nil {
		args = operatorArgs
	}
	op, err := world.StartOperator(e.Binary, e.CP.Kubeconfig, e.Dir, args...)
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
		if err := client.IgnoreNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: world.RouterName(i)}, &rc)); err != nil {
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
		if !f.APIRouter(i) {
			continue
		}
		// Saves this operator made beyond the one record the status can
		// show changing: a life that saved, recorded, and saved again
		// (its record lost to the kill) leaves a changed hash and one
		// unrecorded save all the same.
		unrecorded := now[i].saves - atStart[i].saves
		if now[i].hash != atStart[i].hash {
			unrecorded--
		}
		for range max(unrecorded, 0) {
			f.AllowResave(i)
			out += fmt.Sprintf("; %s saved without recording it (one more save allowed)", world.RouterName(i))
		}
	}
	return out
}

// intents lists the write intents recorded without a task reference (an OVH
// task id, an ESXi task), by object and start time: writes the operator is
// about to send, or sent without hearing back.
func intents(ctx context.Context, c client.Client) map[string]bool {
	out := map[string]bool{}
	var fips v1.FailoverIPList
	if c.List(ctx, &fips, client.InNamespace(ns)) == nil {
		for _, f := range fips.Items {
			if p := f.Status.PendingTask; p != nil && p.ID == "" {
				out[fmt.Sprintf("FailoverIP/%s %s at %s", f.Name, p.Function, p.StartedAt.Format(time.RFC3339))] = true
			}
		}
	}
	var vms v1.BridgedVMList
	if c.List(ctx, &vms, client.InNamespace(ns)) == nil {
		for _, b := range vms.Items {
			if p := b.Status.PendingTask; p != nil && p.Ref == "" {
				out[fmt.Sprintf("BridgedVM/%s %s at %s", b.Name, p.Step, p.StartedAt.Format(time.RFC3339))] = true
			}
		}
	}
	return out
}

// waitForIntent polls until an intent not in seen is recorded.
func waitForIntent(ctx context.Context, c client.Client, seen map[string]bool, timeout time.Duration) (string, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for k := range intents(ctx, c) {
			if !seen[k] {
				return k, true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "", false
}

// abandonedIntents lists the IntentAbandoned Events: "object: note".
func abandonedIntents(t *testing.T, ctx context.Context, c client.Client) []string {
	t.Helper()
	return abandonedIn(t, ctx, c, ns)
}

func abandonedIn(t *testing.T, ctx context.Context, c client.Client, namespace string) []string {
	t.Helper()
	var evs eventsv1.EventList
	if err := c.List(ctx, &evs, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs.Items {
		if e.Reason == v1.ReasonIntentAbandoned {
			out = append(out, fmt.Sprintf("%s/%s: %s", e.Regarding.Kind, e.Regarding.Name, e.Note))
		}
	}
	sort.Strings(out)
	return out
}

// Intents given up on purpose: OVH holds every move, then every virtual MAC
// creation, until the operator that sent them is killed, so each write
// intent is recorded and its request never reaches OVH's logic. Each
// restarted operator finds no task for an intent, waits the grace period,
// says it gives the intent up (an Event per object and write), and sends the
// write once: exactly one task per change at OVH, one write per change
// everywhere else.
func TestAbandonedIntentsAreSaidAndWrittenOnce(t *testing.T) {
	const name = "abandon"
	e := setupFleet(t, name, world.FleetOptions{IPs: 3, OVHMoveDuration: 500 * time.Millisecond,
		OVHVirtualMACDuration: 500 * time.Millisecond}, false)
	// Every intent here is given up on purpose: a short grace keeps the
	// test short, the logic is the one the defaults drive.
	e.args = []string{"--ovh-intent-grace", "3s", "--esxi-intent-grace", "3s"}
	f, c := e.Fleet, e.Client
	ctx := context.Background()
	n := len(f.IPs)

	// killWhenHeld waits until every FailoverIP's request to a held route
	// waits at OVH, kills the operator, and checks the requests died
	// unprocessed with the intents recorded.
	killWhenHeld := func(route, function string, release func()) {
		t.Helper()
		defer release()
		waitFor(t, 60*time.Second, fmt.Sprintf("%d requests %s held", n, route), func() bool { return f.OVH.Held(route) == n })
		if err := e.op.Kill(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the held requests dropped with their connections", func() bool { return f.OVH.Held(route) == 0 })
		var fips v1.FailoverIPList
		if err := c.List(ctx, &fips, client.InNamespace(name)); err != nil {
			t.Fatal(err)
		}
		for _, fip := range fips.Items {
			if p := fip.Status.PendingTask; p == nil || p.ID != "" || p.Function != function {
				t.Fatalf("%s: pendingTask %+v, want an intent %s without a task id", fip.Name, p, function)
			}
		}
		f.AllowDroppedRequests(route, n)
	}

	release := f.OVH.Hold(ovhsim.RouteIPMove)
	e.start(t)
	e.Apply(t)
	killWhenHeld(ovhsim.RouteIPMove, ovhsim.FunctionMoveIP, release)
	release = f.OVH.Hold(ovhsim.RouteVMACCreate)
	e.start(t)
	killWhenHeld(ovhsim.RouteVMACCreate, ovhsim.FunctionAddVirtualMAC, release)
	e.start(t)

	waitFor(t, converge, "everything Ready and the systems right", func() bool {
		pending, err := f.NotReady(ctx, c, name)
		return err == nil && len(pending) == 0 && f.Converged(ctx) == nil
	})
	given := abandonedIn(t, ctx, c, name)
	for _, g := range given {
		t.Logf("intent given up: %s", g)
	}
	// A move task names its IP, so every move intent is given up. A virtual
	// MAC task names only the server: an intent may take a neighbour's
	// re-sent task for its own before the neighbour records it (harmless: it
	// then finds its IP without a MAC and creates one, once).
	moves, vmacs := 0, 0
	for _, g := range given {
		switch {
		case strings.Contains(g, ovhsim.FunctionMoveIP):
			moves++
		case strings.Contains(g, ovhsim.FunctionAddVirtualMAC):
			vmacs++
		}
	}
	if moves != n || vmacs < 1 || vmacs > n {
		t.Errorf("IntentAbandoned Events: %d for moves (want %d), %d for virtual MACs (want 1 to %d)", moves, n, vmacs, n)
	}
	for _, g := range given {
		if !strings.HasPrefix(g, "FailoverIP/") || !strings.Contains(g, "no OVH task") {
			t.Errorf("Event %q does not say which FailoverIP gave up which write and why", g)
		}
	}
	for _, err := range f.DuplicateWrites() {
		t.Error(err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A kill while OVH answers an unbind, then one while it answers a bind, for
// each pair of names OVH's schema gives those tasks: OVH has done the write
// and made its task, the operator recorded the intent and never heard the
// answer. The restarted operator must find the task under the name OVH gave
// it, not give the intent up and write again: one unbind and one bind at
// OVH in all, and no intent given up.
func TestKilledWhileOVHAnswersFindsUnbindAndBindTasksUnderEitherName(t *testing.T) {
	for _, names := range []ovhsim.TaskFunctions{
		{BindIP: ovhsim.FunctionAddVirtualMAC, UnbindIP: ovhsim.FunctionRemoveVirtualMAC},
		{BindIP: ovhsim.FunctionAddVirtualMACAlt, UnbindIP: ovhsim.FunctionRemoveVirtualMACAlt},
	} {
		t.Run(names.UnbindIP+"+"+names.BindIP, func(t *testing.T) {
			t.Parallel()
			// The creation keeps the other name: a bind's task is not taken
			// for a creation's (see TestAbandonedIntentsAreSaidAndWrittenOnce).
			names.CreateVirtualMAC = ovhsim.FunctionAddVirtualMAC
			if names.BindIP == ovhsim.FunctionAddVirtualMAC {
				names.CreateVirtualMAC = ovhsim.FunctionAddVirtualMACAlt
			}
			const name = "names"
			e := setupFleet(t, name, world.FleetOptions{IPs: 3, SharedMAC: true, OVHTaskFunctions: names,
				OVHMoveDuration: 500 * time.Millisecond, OVHVirtualMACDuration: 500 * time.Millisecond,
				OVHVirtualMACReappearDelay: 500 * time.Millisecond}, false)
			f, c := e.Fleet, e.Client
			ctx := context.Background()

			killWhileAnswering := func(function, server, recorded string) {
				t.Helper()
				waitFor(t, 90*time.Second, function+" task on "+server, func() bool { return f.OVHTasks()[function][server] == 1 })
				if err := e.op.Kill(); err != nil {
					t.Fatal(err)
				}
				var fips v1.FailoverIPList
				if err := c.List(ctx, &fips, client.InNamespace(name)); err != nil {
					t.Fatal(err)
				}
				intent := false
				for _, fip := range fips.Items {
					if p := fip.Status.PendingTask; p != nil && p.ID == "" && p.Function == recorded {
						intent = true
					}
				}
				if !intent {
					t.Fatalf("no FailoverIP recorded a %s intent without a task id before the kill", recorded)
				}
				e.start(t)
			}

			// The first unbind and the first bind are done and their tasks
			// made; each answer waits until the operator that asked dies.
			// Set before the start: the operator may unbind at once.
			for _, route := range []string{ovhsim.RouteVMACUnbind, ovhsim.RouteVMACBind} {
				f.OVH.InjectFault(route, ovhsim.Fault{ReplyLatency: 10 * time.Minute, Count: 1})
			}
			e.start(t)
			e.Apply(t)
			killWhileAnswering(names.UnbindIP, world.OtherServer, ovh.FunctionRemoveVirtualMAC)
			killWhileAnswering(names.BindIP, world.Server, ovh.FunctionAddVirtualMAC)

			waitFor(t, converge, "everything Ready and the systems right", func() bool {
				pending, err := f.NotReady(ctx, c, name)
				return err == nil && len(pending) == 0 && f.Converged(ctx) == nil
			})
			// The kills may cut other writes short (a BridgedVM's power
			// cycle, the router IP's move: given up and decided again, as
			// they should); the IP that unbinds and binds must give up
			// neither: OVH had both tasks.
			pair := "FailoverIP/" + f.FailoverIPName(len(f.IPs)-1) + ":"
			for _, g := range abandonedIn(t, ctx, c, name) {
				if strings.HasPrefix(g, pair) {
					t.Errorf("intent given up although OVH had its task: %s", g)
				}
			}
			for _, err := range f.DuplicateWrites() {
				t.Error(err)
			}
		})
	}
}
