package ovh_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// announcements starts obs's Source the way a controller does and records
// every announcement, in order.
func announcements(t *testing.T, obs *ovh.Observer) func() []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	src := obs.Source(func(_ context.Context, e ovh.ServerObserved) []reconcile.Request {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e.Server)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	t.Cleanup(q.ShutDown)
	if err := src.Start(ctx, q); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A controller worker must not wait for a server's first observation: it
// gets ok=false at once, and the announcement says when to come back.
func TestTrySnapshotDoesNotWaitForAFirstObservation(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	clock := newFakeNow()
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{Now: clock.Now})
	seen := announcements(t, obs)
	creds := signedCreds(sim)

	release := sim.Hold(ovhsim.RouteVMACList)
	if _, ok, err := obs.TrySnapshot(context.Background(), creds, esx, time.Minute); ok || err != nil {
		t.Fatalf("first TrySnapshot = ok %v, err %v; want not ok, no error", ok, err)
	}
	waitFor(t, "the observation reaches OVH", func() bool { return sim.Held(ovhsim.RouteVMACList) == 1 })
	if _, ok, err := obs.TrySnapshot(context.Background(), creds, esx, time.Minute); ok || err != nil {
		t.Fatalf("TrySnapshot during the observation = ok %v, err %v", ok, err)
	}
	release()
	waitFor(t, "the first observation is announced", func() bool { return equal(seen(), []string{esx}) })
	snap, ok, err := obs.TrySnapshot(context.Background(), creds, esx, time.Minute)
	if !ok || err != nil {
		t.Fatalf("TrySnapshot after the announcement = ok %v, err %v", ok, err)
	}
	if vm, found := snap.VirtualMACFor(wanIP); !found || vm.MAC != wanMAC {
		t.Fatalf("snapshot = %+v", snap)
	}
	if n := sim.CallCount(ovhsim.RouteIPList); n != 1 {
		t.Fatalf("%d IP list calls, want the one shared observation", n)
	}

	// A refresh that finds nothing new is not news; one that does is. The
	// first observation of another server comes between the two: the
	// announcements arrive in order, so once it is seen, an announcement
	// of the quiet refresh would have been seen too.
	clock.Advance(time.Minute)
	if _, err := obs.Snapshot(context.Background(), creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := obs.Snapshot(context.Background(), creds, other, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other server's first observation is announced", func() bool { return len(seen()) >= 2 })
	if got := seen(); !equal(got, []string{esx, other}) {
		t.Fatalf("announcements = %v, want [%s %s]: a refresh that changed nothing was announced", got, esx, other)
	}
	if err := sim.MoveIP(webIP, other); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, err := obs.Snapshot(context.Background(), creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change is announced", func() bool { return equal(seen(), []string{esx, other, esx}) })
}

// First observations of one credential's servers run in turn: sharing the
// rate limit in parallel, each would end only when all do.
func TestFirstObservationsTakeTurnsPerCredential(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{})
	seen := announcements(t, obs)
	creds := signedCreds(sim)

	release := sim.Hold(ovhsim.RouteServerNetwork)
	for _, server := range []string{esx, other} {
		if _, ok, err := obs.TrySnapshot(context.Background(), creds, server, time.Minute); ok || err != nil {
			t.Fatalf("%s: ok %v, err %v", server, ok, err)
		}
	}
	waitFor(t, "one observation at OVH, the other queued behind it", func() bool {
		return sim.Held(ovhsim.RouteServerNetwork) == 1 && obs.Stats().Queued == 1
	})
	release()
	waitFor(t, "both observations announced", func() bool { return len(seen()) == 2 })
	for _, server := range []string{esx, other} {
		if _, ok, err := obs.TrySnapshot(context.Background(), creds, server, time.Minute); !ok || err != nil {
			t.Fatalf("%s after its announcement: ok %v, err %v", server, ok, err)
		}
	}
}

// A failed first observation is announced and answered to callers, who
// report it; after FirstRetry the next caller starts another.
func TestTrySnapshotReportsAFailedFirstObservation(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	clock := newFakeNow()
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{Now: clock.Now, FirstRetry: time.Minute})
	seen := announcements(t, obs)
	creds := signedCreds(sim)

	sim.InjectFault(ovhsim.RouteIPList, ovhsim.Fault{Status: 403, Body: `{"class":"Client::Forbidden","message":"This call has not been granted"}`, Count: 1})
	if _, ok, err := obs.TrySnapshot(context.Background(), creds, esx, time.Minute); ok || err != nil {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	waitFor(t, "the failure is announced", func() bool { return len(seen()) == 1 })
	for range 2 {
		if _, ok, err := obs.TrySnapshot(context.Background(), creds, esx, time.Minute); ok || !cause.Is(err, cause.CredentialsInvalid) {
			t.Fatalf("within FirstRetry: ok %v, err %v; want the observation's failure", ok, err)
		}
	}
	if n := sim.CallCount(ovhsim.RouteIPList); n != 1 {
		t.Fatalf("%d IP list calls within FirstRetry, want 1", n)
	}
	clock.Advance(time.Minute)
	if _, ok, err := obs.TrySnapshot(context.Background(), creds, esx, time.Minute); ok || err != nil {
		t.Fatalf("after FirstRetry: ok %v, err %v; want a new observation started", ok, err)
	}
	waitFor(t, "the second observation is announced", func() bool { return len(seen()) == 2 })
	if _, ok, err := obs.TrySnapshot(context.Background(), creds, esx, time.Minute); !ok || err != nil {
		t.Fatalf("after the second observation: ok %v, err %v", ok, err)
	}
}

// scheduler records the refreshes an Observer schedules, for a test to run
// them when it likes.
type scheduler struct {
	mu    sync.Mutex
	after []time.Duration
	funcs []func()
}

func (s *scheduler) AfterFunc(d time.Duration, f func()) func() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after, s.funcs = append(s.after, d), append(s.funcs, f)
	return func() bool { return true }
}

// pending returns how many refreshes were scheduled and the delay of the
// last one.
func (s *scheduler) pending() (int, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.after) == 0 {
		return 0, 0
	}
	return len(s.after), s.after[len(s.after)-1]
}

// fire runs the last scheduled refresh.
func (s *scheduler) fire() {
	s.mu.Lock()
	f := s.funcs[len(s.funcs)-1]
	s.mu.Unlock()
	f()
}

// Under KeepObserved, a server asked about is refreshed on its own once per
// interval, and what changed is announced: its FailoverIPs need no pass of
// their own to see it. Once nobody has asked for KeptFor, it is let go.
func TestKeptServerIsRefreshedAndAnnouncedOnItsOwn(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	clock := newFakeNow()
	sched := &scheduler{}
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{
		Now: clock.Now, KeepObserved: true, KeptFor: 30 * time.Minute, AfterFunc: sched.AfterFunc})
	seen := announcements(t, obs)
	creds := signedCreds(sim)

	if _, err := obs.Snapshot(context.Background(), creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, d := sched.pending(); n != 1 || d != time.Minute {
		t.Fatalf("%d refreshes scheduled, the last in %s; want 1 in 1m", n, d)
	}
	waitFor(t, "the first observation is announced", func() bool { return len(seen()) == 1 })

	// Due, and the server changed: refreshed and announced with no call to
	// Snapshot.
	if err := sim.MoveIP(webIP, other); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	sched.fire()
	waitFor(t, "the move is announced", func() bool { return equal(seen(), []string{esx, esx}) })
	if n := sim.CallCount(ovhsim.RouteIPList); n != 2 {
		t.Fatalf("%d IP list calls, want 2", n)
	}
	waitFor(t, "the next refresh is scheduled", func() bool { n, d := sched.pending(); return n == 2 && d == time.Minute })

	// A refresh made for a caller meanwhile moves the next one on, without
	// an extra call.
	clock.Advance(30 * time.Second)
	obs.Invalidate(creds, esx)
	if _, err := obs.Snapshot(context.Background(), creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)
	sched.fire()
	if n, d := sched.pending(); n != 3 || d != 30*time.Second {
		t.Fatalf("%d scheduled, the last in %s; want a third in 30s (a minute after the caller's refresh)", n, d)
	}
	if n := sim.CallCount(ovhsim.RouteIPList); n != 3 {
		t.Fatalf("%d IP list calls, want 3 (the caller's refresh, none for the early tick)", n)
	}

	// Nobody asked for KeptFor: no refresh, nothing scheduled.
	clock.Advance(31 * time.Minute)
	sched.fire()
	if n, _ := sched.pending(); n != 3 {
		t.Fatalf("%d scheduled, want no more once nobody asks", n)
	}
	if n := sim.CallCount(ovhsim.RouteIPList); n != 3 {
		t.Fatalf("%d IP list calls, want no more once nobody asks", n)
	}
}

// Under a budget, refreshes of servers sharing a consumer key take turns,
// so that each one's few calls go out together instead of every refresh
// waiting behind all the others' calls; unlimited, they run at once.
func TestRefreshesTakeTurnsUnderABudget(t *testing.T) {
	for _, c := range []struct {
		name        string
		opts        ovh.Options
		held, queue int
	}{
		{"budget", ovh.Options{RequestsPerSecond: 1000, Burst: 100, Retry: fastOptions().Retry}, 1, 1},
		{"unlimited", fastOptions(), 2, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim := startSim(t, ovhsim.Options{})
			obs := ovh.NewObserver(ovh.NewClients(c.opts), ovh.ObserverOptions{})
			creds := signedCreds(sim)
			creds.ConsumerKey = "refresh-turns-" + c.name // a budget of its own
			sim.AddApplication(appKey, appSecret, creds.ConsumerKey)
			for _, server := range []string{esx, other} {
				if _, err := obs.Snapshot(context.Background(), creds, server, time.Minute); err != nil {
					t.Fatal(err)
				}
				obs.Invalidate(creds, server)
			}
			release := sim.Hold(ovhsim.RouteIPList)
			defer release()
			done := make(chan error, 2)
			for _, server := range []string{esx, other} {
				go func() {
					_, err := obs.Snapshot(context.Background(), creds, server, time.Minute)
					done <- err
				}()
			}
			waitFor(t, fmt.Sprintf("%d refresh(es) at OVH, %d queued", c.held, c.queue), func() bool {
				return sim.Held(ovhsim.RouteIPList) == c.held && obs.Stats().Queued == int64(c.queue)
			})
			release()
			for range 2 {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// A kept server's next refresh comes early by what a refresh of its calls
// would take on a key that turns busy meanwhile (its calls and the refresh
// before it, at the key's pace) and one request more: the IP list is read
// within the interval of the last read, and the read of where a vanished IP
// went too.
func TestKeptRefreshComesEarlyByABusyKeysPace(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	clock := newFakeNow()
	sched := &scheduler{}
	// 60 a minute with a burst of 10: the first observation fits the
	// burst; the key sustains 50 a minute, one request every 1.2 s.
	obs := ovh.NewObserver(ovh.NewClients(ovh.Options{RequestsPerSecond: 1, Burst: 10}), ovh.ObserverOptions{
		Now: clock.Now, KeepObserved: true, KeptFor: 30 * time.Minute, AfterFunc: sched.AfterFunc})
	snap, err := obs.Snapshot(context.Background(), signedCreds(sim), esx, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// The IP list, the MAC list, and one MAC verified (two calls).
	calls := 2 + 2*min(1, len(snap.VirtualMACs))
	token := 1200 * time.Millisecond
	want := 5*time.Minute - time.Duration(2*calls+1)*token
	if n, d := sched.pending(); n != 1 || d < want-10*time.Millisecond || d > want+10*time.Millisecond {
		t.Fatalf("%d refreshes scheduled, the last in %s; want one in %s (a refresh of %d calls twice, and one more, at 1.2 s each)",
			n, d, want, calls)
	}
}

// Kept servers' refreshes come early, and the plan pays for it: at the
// stretched interval, refreshes asked for that much sooner still keep
// within the observation's share of the budget.
func TestKeptObservationPlanPaysForEarlyRefreshes(t *testing.T) {
	const servers = 20
	w, _ := fleet(servers, 1)
	sim := startSim(t, ovhsim.Options{World: w})
	clock := newFakeNow()
	sched := &scheduler{}
	// 60 a minute, and a burst so large the test never waits in real time:
	// the budget sustains 30 a minute (half the rate), a request every 2 s.
	obs := ovh.NewObserver(ovh.NewClients(ovh.Options{RequestsPerSecond: 1, Burst: 1_000_000}), ovh.ObserverOptions{
		Now: clock.Now, KeepObserved: true, KeptFor: time.Hour, AfterFunc: sched.AfterFunc})
	creds := signedCreds(sim)
	var names []string
	for _, s := range w.Servers {
		names = append(names, s.Name)
		if _, err := obs.Snapshot(context.Background(), creds, s.Name, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	eff := obs.ObservationInterval(creds, names[0])
	// Every server due again: refreshed, and scheduled at the final plan.
	clock.Advance(eff)
	sched.mu.Lock()
	ticks := slices.Clone(sched.funcs)
	sched.mu.Unlock()
	for _, f := range ticks {
		f()
	}
	waitFor(t, "every server scheduled again", func() bool { n, _ := sched.pending(); return n == 2*servers })
	sched.mu.Lock()
	delays := slices.Clone(sched.after[servers:])
	sched.mu.Unlock()

	// Per refresh: the IP list, the MAC list, one MAC verified (2 calls).
	const calls, pace = 4, 2 * time.Second
	var perMinute float64
	for _, d := range delays {
		if want := eff - (2*calls+1)*pace; d != want {
			t.Fatalf("a refresh scheduled in %s, want %s: the interval %s less two refreshes and a request at the key's pace", d, want, eff)
		}
		perMinute += calls / d.Minutes()
	}
	share := ovh.ObservationShare*ovh.DefaultRequestsPerMinute/2 - float64(servers)/60
	if perMinute > share*1.0001 {
		t.Fatalf("refreshes as scheduled cost %.2f calls a minute, over the observation share %.2f", perMinute, share)
	}
	if perMinute < share*0.99 {
		t.Fatalf("refreshes as scheduled cost %.2f calls a minute, want the observation share %.2f (the interval %s stretched more than needed)",
			perMinute, share, eff)
	}
}
