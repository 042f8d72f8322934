// Package leader runs two operator processes with leader election against
// one API server and one set of simulators: only the Lease holder
// reconciles and writes, and killing it (SIGKILL, so it cannot release the
// Lease) in the middle of the work hands over to the other, which finishes
// the work without writing anything a second time.
package leader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

const (
	ns        = "leader"
	leaseName = "ovhbridge-operator.ovhbridge.io" // main.go's LeaderElectionID
	// Short Lease timings so that a handover takes seconds.
	leaseDuration = 4 * time.Second
)

func TestOnlyTheLeaderWritesAndAKilledLeaderHandsOver(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	f := e.Fleet

	a := e.start(t, "a")
	waitFor(t, "operator a to lead", 30*time.Second, func() error { return leads(ctx, a, true) })
	b := e.start(t, "b")
	// b is up (its metrics answer) and has tried for the Lease at least
	// once: its Lease reads show in its client metrics.
	waitFor(t, "operator b to read the Lease", 30*time.Second, func() error {
		m, err := b.Metrics(ctx)
		if err != nil {
			return err
		}
		if m.Sum("rest_client_requests_total", map[string]string{"method": "GET"}) == 0 {
			return fmt.Errorf("no GET yet")
		}
		return nil
	})
	holder := leaseHolder(t, e.Client)
	if err := leads(ctx, a, true); err != nil {
		t.Fatal(err)
	}
	if err := quiet(ctx, b); err != nil {
		t.Fatal(err)
	}

	// The work starts with both running; a kill lands right after an
	// external write in the middle of it, with changes still pending.
	e.Apply(t)
	// The kill comes right after the second VM's power-off reaches ESXi:
	// that VM's reconfigure and power-on are still to come, and the leader
	// has not heard back from the power-off.
	before, after := f.Writes(), world.Writes{}
	for {
		var ok bool
		after, ok = f.WaitForWrite(before, 30*time.Second)
		if !ok {
			t.Fatalf("no external write for 30s after %d; pending: %v", before.Total(), pendingOrErr(ctx, e))
		}
		if after.ESXi["PowerOffVM_Task"] >= 2 {
			break
		}
		before = after
	}

	if err := a.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	t.Logf("killed the leader after %d writes, just after %s", after.Total(), world.Describe(before, after))

	// Until the dead leader's Lease expires, b is still what it was while a
	// worked: a non-leader that has neither reconciled, nor called an
	// external system, nor written to the API server.
	if err := quiet(ctx, b); err != nil {
		t.Fatalf("the non-leader was not idle while the leader worked: %v", err)
	}
	if pending, err := f.NotReady(ctx, e.Client, ns); err != nil || len(pending) == 0 {
		t.Fatalf("no work left to hand over (pending %v, %v): make the fleet bigger or its tasks slower", pending, err)
	}

	// b takes over once the dead leader's Lease expires.
	waitFor(t, "operator b to lead", 3*leaseDuration+5*time.Second, func() error { return leads(ctx, b, true) })
	t.Logf("b leads %.1fs after the kill (Lease duration %v)", time.Since(killed).Seconds(), leaseDuration)
	if h := leaseHolder(t, e.Client); h == holder {
		t.Errorf("the Lease is still held by %q", h)
	}

	waitFor(t, "convergence under b", 120*time.Second, func() error {
		pending, err := f.NotReady(ctx, e.Client, ns)
		if err == nil && len(pending) > 0 {
			err = fmt.Errorf("not Ready: %v", pending)
		}
		if err == nil {
			err = f.Converged(ctx)
		}
		return err
	})
	final := f.Writes()
	t.Logf("external writes: %d (%s)", final.Total(), world.Describe(world.Writes{}, final))
	for _, err := range f.DuplicateWrites() {
		t.Error(err)
	}
	m, err := b.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Sum("controller_runtime_reconcile_total", nil); n == 0 {
		t.Error("b converged the world without a reconcile of its own?")
	}
}

// leads checks an operator's own view of the election.
func leads(ctx context.Context, op *world.Operator, want bool) error {
	m, err := op.Metrics(ctx)
	if err != nil {
		return err
	}
	is := m.Sum("leader_election_master_status", map[string]string{"name": leaseName}) == 1
	if is != want {
		return fmt.Errorf("leader_election_master_status is %v, want %v", is, want)
	}
	return nil
}

// quiet checks from a non-leader's own metrics that it is a non-leader that
// did nothing: no reconcile, no external call, no API request but reads.
func quiet(ctx context.Context, op *world.Operator) error {
	m, err := op.Metrics(ctx)
	if err != nil {
		return err
	}
	var problems []string
	if is := m.Sum("leader_election_master_status", map[string]string{"name": leaseName}); is != 0 {
		problems = append(problems, "it says it leads")
	}
	if n := m.Sum("controller_runtime_reconcile_total", nil); n != 0 {
		problems = append(problems, fmt.Sprintf("%v reconciles", n))
	}
	if n := m.Sum("ovhbridge_external_calls_total", nil); n != 0 {
		problems = append(problems, fmt.Sprintf("%v external calls", n))
	}
	for _, s := range m.Filter("rest_client_requests_total", func(l map[string]string) bool { return l["method"] != "GET" }) {
		problems = append(problems, fmt.Sprintf("%v API requests %s (code %s)", s.Value, s.Labels["method"], s.Labels["code"]))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func leaseHolder(t *testing.T, c client.Client) string {
	t.Helper()
	var l coordinationv1.Lease
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: leaseName}, &l); err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		t.Fatal("the Lease has no holder")
	}
	return *l.Spec.HolderIdentity
}

func pendingOrErr(ctx context.Context, e *env) any {
	pending, err := e.Fleet.NotReady(ctx, e.Client, ns)
	if err != nil {
		return err
	}
	return pending
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %v for %s: %v", timeout, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type env struct {
	*world.FleetEnv
	ops []*world.Operator
}

func setup(t *testing.T) *env {
	t.Helper()
	// Slow enough tasks that the leader dies with work in flight.
	e := &env{FleetEnv: world.StartFleetEnv(t, ns, world.FleetOptions{
		IPs:             4,
		RouterProfiles:  []routersim.Profile{routersim.VyOS14},
		OVHMoveDuration: 2 * time.Second, OVHVirtualMACDuration: 1500 * time.Millisecond,
		ESXiWriteDelay: 300 * time.Millisecond, RouterLatency: 100 * time.Millisecond,
	})}
	t.Cleanup(func() {
		for _, op := range e.ops {
			_ = op.Kill()
			if t.Failed() {
				t.Logf("%s (last 60 lines):\n%s", op.LogPath, op.LogTail(60))
			}
		}
	})
	return e
}

// start runs one operator replica with leader election, logging to its own
// directory.
func (e *env) start(t *testing.T, name string) *world.Operator {
	t.Helper()
	dir := filepath.Join(e.Dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	op, err := world.StartOperator(e.Binary, e.CP.Kubeconfig, dir,
		"--leader-elect", "--leader-election-namespace", ns,
		"--leader-election-lease-duration", leaseDuration.String(),
		"--leader-election-renew-deadline", "3s", "--leader-election-retry-period", "1s",
		// A write the dead leader recorded but may not have sent is waited
		// out (the crash suite proves the waiting); shortened, not skipped.
		"--ovh-intent-grace", "10s", "--esxi-intent-grace", "10s")
	if err != nil {
		t.Fatal(err)
	}
	e.ops = append(e.ops, op)
	return op
}
