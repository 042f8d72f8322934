package ovh_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// fakeNow is the observer's clock in tests: intervals pass without sleeping.
type fakeNow struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeNow() *fakeNow { return &fakeNow{now: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (f *fakeNow) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeNow) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func TestSnapshotSharesOneRefreshBetweenConcurrentCallers(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{})
	creds := signedCreds(sim)
	const callers = 50

	// Hold the IP list so that the first refresh is provably in flight
	// while the other callers arrive.
	release := sim.Hold(ovhsim.RouteIPList)
	type result struct {
		snap ovh.ServerSnapshot
		err  error
	}
	results := make(chan result, callers)
	ask := func() {
		snap, err := obs.Snapshot(context.Background(), creds, esx, 0)
		results <- result{snap, err}
	}
	go ask()
	waitFor(t, "first refresh reaches OVH", func() bool { return sim.Held(ovhsim.RouteIPList) == 1 })
	for i := 1; i < callers; i++ {
		go ask()
	}
	waitFor(t, "all callers wait", func() bool { return obs.Stats().Waiting == callers })
	release()

	var first ovh.ServerSnapshot
	for i := 0; i < callers; i++ {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if i == 0 {
			first = r.snap
		} else if !r.snap.ObservedAt.Equal(first.ObservedAt) {
			t.Fatal("callers got different observations")
		}
	}
	if n := sim.CallCount(ovhsim.RouteIPList); n != 1 {
		t.Fatalf("%d concurrent callers made %d IP list calls, want 1", callers, n)
	}
	if s := obs.Stats(); s.Refreshes != 1 {
		t.Fatalf("stats = %+v", s)
	}
	if _, ok := first.BlockFor(wanIP); !ok {
		t.Fatalf("snapshot lacks %s: %+v", wanIP, first)
	}
	if vm, ok := first.VirtualMACFor(wanIP); !ok || vm.MAC != wanMAC || vm.Type != ovh.MACTypeVMware {
		t.Fatalf("vMAC for %s = %+v, %v", wanIP, vm, ok)
	}
	if first.Network.Gateway != "198.51.100.254" || first.Network.MainIP != "198.51.100.17" {
		t.Fatalf("network = %+v", first.Network)
	}
}

func TestSnapshotRefreshOutlivesTheCallerThatStartedIt(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{})
	creds := signedCreds(sim)

	release := sim.Hold(ovhsim.RouteIPList)
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() { _, err := obs.Snapshot(leaderCtx, creds, esx, 0); leader <- err }()
	waitFor(t, "refresh in flight", func() bool { return sim.Held(ovhsim.RouteIPList) == 1 })
	follower := make(chan error, 1)
	go func() { _, err := obs.Snapshot(context.Background(), creds, esx, 0); follower <- err }()
	waitFor(t, "follower waits", func() bool { return obs.Stats().Waiting == 2 })

	cancelLeader()
	if err := <-leader; !cause.Is(err, cause.Unreachable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled leader: %v", err)
	}
	release()
	if err := <-follower; err != nil {
		t.Fatalf("the follower must get the refresh the leader started: %v", err)
	}
}

func TestSnapshotCacheAndInvalidate(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	pool := ovh.NewClients(fastOptions())
	clock := newFakeNow()
	obs := ovh.NewObserver(pool, ovh.ObserverOptions{Now: clock.Now})
	creds := signedCreds(sim)
	ctx := context.Background()

	if _, err := obs.Snapshot(ctx, creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	sim.ResetCalls()
	clock.Advance(30 * time.Second)
	if _, err := obs.Snapshot(ctx, creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := sim.TotalCalls(); n != 0 {
		t.Fatalf("a fresh snapshot cost %d calls: %v", n, sim.Calls())
	}

	// A write, then Invalidate naming the MAC: the next snapshot shows it
	// even though the cached one is still young.
	if _, err := client(t, pool, creds).BindIP(ctx, esx, wanMAC, spare, "vyatta"); err != nil {
		t.Fatal(err)
	}
	obs.Invalidate(creds, esx, wanMAC)
	snap, err := obs.Snapshot(ctx, creds, esx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if vm, ok := snap.VirtualMACFor(spare + "/32"); !ok || vm.MAC != wanMAC {
		t.Fatalf("bound IP not seen after Invalidate: %+v", snap.VirtualMACs)
	}
	if n := sim.CallCount(ovhsim.RouteServerNetwork); n != 0 {
		t.Fatalf("the network specification is cached for longer: %d calls", n)
	}
}

func TestSnapshotErrorsAreNotCached(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{})
	creds := signedCreds(sim)
	sim.InjectFault(ovhsim.RouteVMACList, ovhsim.Fault{Status: 404, Body: `{"class":"Client::NotFound","message":"This service does not exist"}`, Count: 1})
	if _, err := obs.Snapshot(context.Background(), creds, esx, time.Hour); !cause.Is(err, cause.NotFound) {
		t.Fatalf("failing refresh: %v", err)
	}
	if snap, err := obs.Snapshot(context.Background(), creds, esx, time.Hour); err != nil || len(snap.VirtualMACs) != 1 {
		t.Fatalf("next refresh: %+v, %v", snap, err)
	}
	if _, err := obs.Snapshot(context.Background(), ovh.Credentials{Endpoint: sim.Endpoint()}, esx, time.Hour); !cause.Is(err, cause.Invalid) {
		t.Fatalf("incomplete credentials: %v", err)
	}
}

func TestSnapshotSeesChangesMadeBehindTheOperatorsBack(t *testing.T) {
	w := seed()
	w.VirtualMACs = append(w.VirtualMACs,
		ovhsim.VirtualMAC{Server: esx, MAC: "00:50:56:00:00:02", Type: "vmware", Addresses: []ovhsim.VirtualAddress{{IP: webIP, VirtualMachineName: "web1"}}},
		ovhsim.VirtualMAC{Server: esx, MAC: "00:50:56:00:00:03", Type: "vmware", Addresses: []ovhsim.VirtualAddress{{IP: spare, VirtualMachineName: "spare"}}},
	)
	sim := startSim(t, ovhsim.Options{World: w})
	clock := newFakeNow()
	const interval = time.Minute
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{Now: clock.Now, NetworkMaxAge: 10 * interval})
	creds := signedCreds(sim)
	refresh := func() ovh.ServerSnapshot {
		t.Helper()
		clock.Advance(interval)
		snap, err := obs.Snapshot(context.Background(), creds, esx, interval)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	refresh()

	// A type change keeps the MAC list identical: only the round-robin
	// re-verification (one MAC per refresh here) can see it, within as many
	// refreshes as there are MACs.
	if err := sim.SetVirtualMACType(esx, "00:50:56:00:00:02", "ovh"); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i := 1; i <= 3 && seen == 0; i++ {
		sim.ResetCalls()
		if vm, _ := refresh().VirtualMACFor(webIP); vm.Type == ovh.MACTypeOVH {
			seen = i
		}
		if n := sim.CallCount(ovhsim.RouteVMAC); n != 1 {
			t.Fatalf("refresh %d read %d MAC details, want 1", i, n)
		}
	}
	if seen == 0 {
		t.Fatal("type change not seen within 3 refreshes of 3 MACs")
	}
	t.Logf("type change seen at refresh %d", seen)

	if err := sim.DeleteVirtualMAC(esx, "00:50:56:00:00:03"); err != nil {
		t.Fatal(err)
	}
	if _, ok := refresh().VirtualMACFor(spare); ok {
		t.Fatal("deleted MAC still observed")
	}
	if err := sim.MoveIP(webIP, other); err != nil {
		t.Fatal(err)
	}
	if _, ok := refresh().BlockFor(webIP); ok {
		t.Fatal("IP moved away still observed on the server")
	}

	// The gateway changes rarely: it is read again after NetworkMaxAge.
	if err := sim.SetNetwork(esx, ovhsim.Network{Gateway: "198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
	if refresh().Network.Gateway != "198.51.100.254" {
		t.Fatal("network specification re-read before NetworkMaxAge")
	}
	clock.Advance(10 * interval)
	if gw := refresh().Network.Gateway; gw != "198.51.100.1" {
		t.Fatalf("gateway after NetworkMaxAge = %s", gw)
	}
}

func TestSnapshotOnKimsufi(t *testing.T) {
	w := seed()
	w.VirtualMACs = nil
	sim := startSim(t, ovhsim.Options{Profile: ovhsim.ProfileKimsufi, World: w})
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{})
	snap, err := obs.Snapshot(context.Background(), signedCreds(sim), esx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Network.VMACSupported || len(snap.VirtualMACs) != 0 || len(snap.IPs) != 5 {
		t.Fatalf("snapshot = %+v", snap)
	}
	if n := sim.CallCount(ovhsim.RouteVMACList); n != 0 {
		t.Fatalf("listed vMACs on a server without support: %d calls", n)
	}
}

// fleet is servers × perServer FailoverIPs, each IP with its own vmware MAC.
type fip struct{ server, ip string }

func fleet(servers, perServer int) (ovhsim.World, []fip) {
	w := ovhsim.World{Applications: []ovhsim.Application{{Key: appKey, Secret: appSecret, ConsumerKeys: []string{consumer}}}}
	var addrs []string
	for i := 1; i <= 254; i++ {
		addrs = append(addrs, fmt.Sprintf("203.0.113.%d", i))
	}
	for i := 1; i <= 254; i++ {
		addrs = append(addrs, fmt.Sprintf("192.0.2.%d", i))
	}
	var fips []fip
	for s := 0; s < servers; s++ {
		name := fmt.Sprintf("ns10000%d.ip-198-51-100.eu", s)
		w.Servers = append(w.Servers, ovhsim.DedicatedServer{Name: name, MainIP: fmt.Sprintf("198.51.100.%d", 10+s), VirtualMACQuota: perServer})
		for i := 0; i < perServer; i++ {
			n := s*perServer + i
			ip := addrs[n]
			w.IPs = append(w.IPs, ovhsim.IP{IP: ip, RoutedTo: name})
			w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{
				Server: name, MAC: fmt.Sprintf("00:50:56:01:%02x:%02x", n>>8, n&0xff), Type: "vmware",
				Addresses: []ovhsim.VirtualAddress{{IP: ip, VirtualMachineName: fmt.Sprintf("vm%d", n)}},
			})
			fips = append(fips, fip{name, ip})
		}
	}
	return w, fips
}

// observeIntervals runs reconcile-like passes: every FailoverIP asks for its
// server's snapshot once per interval. It returns the OVH calls per pass.
func observeIntervals(t testing.TB, sim *ovhsim.Server, fips []fip, passes int) []int {
	clock := newFakeNow()
	const interval = 5 * time.Minute
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{Now: clock.Now})
	creds := signedCreds(sim)
	var calls []int
	for p := 0; p < passes; p++ {
		sim.ResetCalls()
		for _, f := range fips {
			snap, err := obs.Snapshot(context.Background(), creds, f.server, interval)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := snap.VirtualMACFor(f.ip); !ok {
				t.Fatalf("pass %d: no vMAC for %s", p, f.ip)
			}
		}
		calls = append(calls, sim.TotalCalls())
		clock.Advance(interval)
	}
	return calls
}

func TestSteadyStateCallsGrowWithServersNotFailoverIPs(t *testing.T) {
	const servers, perServer = 5, 100
	w, fips := fleet(servers, perServer)
	sim := startSim(t, ovhsim.Options{World: w})

	all := observeIntervals(t, sim, fips, 4)
	var tenth []fip // 50 FailoverIPs on the same 5 servers
	for i := 0; i < len(fips); i += 10 {
		tenth = append(tenth, fips[i])
	}
	few := observeIntervals(t, sim, tenth, 4)
	// Per server per interval: the IP list and the vMAC list, plus one
	// re-verified vMAC (2 calls: type and IPs) with the default
	// VerifyPerRefresh of 1. The network specification is read once per
	// hour, i.e. not within these intervals.
	want := servers * (2 + 2*1)
	t.Logf("500 FailoverIPs on 5 servers: OVH calls per 5-minute interval %v (first: every vMAC read once)", all)
	t.Logf("50 FailoverIPs: %v; budget per interval: 2 per server + 2 per re-verified vMAC = %d", few, want)
	for i := 1; i < len(all); i++ {
		if all[i] != want || few[i] != want {
			t.Errorf("interval %d: %d calls for 500 FailoverIPs, %d for 50, want %d for both", i, all[i], few[i], want)
		}
	}
	if all[0] != servers*(1+1+1+2*perServer) {
		t.Errorf("first interval: %d calls, want %d", all[0], servers*(3+2*perServer))
	}
}

func BenchmarkSteadyStateObservation(b *testing.B) {
	const servers, perServer = 5, 100
	w, fips := fleet(servers, perServer)
	sim := startSim(b, ovhsim.Options{World: w})
	clock := newFakeNow()
	const interval = 5 * time.Minute
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{Now: clock.Now})
	creds := signedCreds(sim)
	observe := func() {
		for _, f := range fips {
			if _, err := obs.Snapshot(context.Background(), creds, f.server, interval); err != nil {
				b.Fatal(err)
			}
		}
		clock.Advance(interval)
	}
	observe() // first look at every vMAC
	sim.ResetCalls()
	intervals := 0
	for b.Loop() {
		observe()
		intervals++
	}
	b.ReportMetric(float64(sim.TotalCalls())/float64(intervals), "ovh-calls/interval")
	b.ReportMetric(float64(len(fips)), "failoverIPs")
}

// A reverse DNS name asked for at every pass is read once per interval, not
// once per pass; a name the operator just set needs no read; and reverse
// reads count in the server's share of the budget.
func TestReverseReadOncePerInterval(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	clock := newFakeNow()
	pool := ovh.NewClients(ovh.Options{RequestsPerSecond: 1, Burst: 1_000_000})
	obs := ovh.NewObserver(pool, ovh.ObserverOptions{Now: clock.Now})
	creds := signedCreds(sim)
	ctx := context.Background()
	if err := sim.SetReverse(wanIP, "router.example.com"); err != nil {
		t.Fatal(err)
	}
	pass := func() string {
		t.Helper()
		if _, err := obs.Snapshot(ctx, creds, esx, time.Minute); err != nil {
			t.Fatal(err)
		}
		name, err := obs.Reverse(ctx, creds, esx, wanIP, wanIP, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	for range 5 {
		if got := pass(); got != "router.example.com." {
			t.Fatalf("reverse = %q", got)
		}
	}
	if n := sim.CallCount(ovhsim.RouteReverse); n != 1 {
		t.Fatalf("5 passes within a minute read the reverse %d times, want 1", n)
	}
	clock.Advance(time.Minute)
	pass()
	if n := sim.CallCount(ovhsim.RouteReverse); n != 2 {
		t.Fatalf("after a minute: %d reads, want 2", n)
	}

	// Changed behind the operator's back: seen at the next interval.
	if err := sim.SetReverse(wanIP, "other.example.com"); err != nil {
		t.Fatal(err)
	}
	if got := pass(); got != "router.example.com." {
		t.Fatalf("within the interval the cached name is kept: %q", got)
	}
	clock.Advance(time.Minute)
	if got := pass(); got != "other.example.com." {
		t.Fatalf("after the interval: %q", got)
	}
	// Set by the operator: remembered without a read.
	obs.SetReverse(creds, esx, wanIP, "router.example.com.")
	n := sim.CallCount(ovhsim.RouteReverse)
	if got := pass(); got != "router.example.com." || sim.CallCount(ovhsim.RouteReverse) != n {
		t.Fatalf("after SetReverse: %q, %d reads more", got, sim.CallCount(ovhsim.RouteReverse)-n)
	}

	if after := obs.ObservationInterval(creds, esx); after != time.Minute {
		t.Fatalf("one reverse within the budget stretched the interval to %v", after)
	}
}

// Reverse reads count in a server's steady-state cost: asked for enough
// addresses, the interval of the consumer key's servers stretches to keep
// within OVH's fair use.
func TestReverseReadsCountInTheBudget(t *testing.T) {
	w := seed()
	w.IPs = append(w.IPs, ovhsim.IP{IP: "198.51.100.64/26", RoutedTo: esx})
	sim := startSim(t, ovhsim.Options{World: w})
	obs := ovh.NewObserver(ovh.NewClients(ovh.Options{RequestsPerSecond: 1, Burst: 1_000_000}), ovh.ObserverOptions{Now: newFakeNow().Now})
	creds := signedCreds(sim)
	ctx := context.Background()
	snapshot := func() {
		t.Helper()
		if _, err := obs.Snapshot(ctx, creds, esx, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	snapshot()
	if got := obs.ObservationInterval(creds, esx); got != time.Minute {
		t.Fatalf("without reverses: %v", got)
	}
	// 4 calls a minute for the server, 60 more for 60 reverses: over the
	// observation share of the 30 a minute this budget sustains (60, less
	// a burst larger than the minute: half the rate).
	for i := range 60 {
		addr := fmt.Sprintf("198.51.100.%d", 64+i)
		if _, err := obs.Reverse(ctx, creds, esx, "198.51.100.64/26", addr, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	snapshot()
	share := ovh.ObservationShare*ovh.DefaultRequestsPerMinute/2 - 1.0/60
	want := time.Duration(float64(time.Minute) * 64 / share)
	if got := obs.ObservationInterval(creds, esx); got != want {
		t.Fatalf("with 60 reverses: %v, want %v", got, want)
	}
}

// A refresh a write forces (Invalidate) reads the lists and the MACs the
// write named, not the round robin of known MACs: that is the scheduled
// refreshes' work, and a repair forcing one would pay two calls more.
func TestRefreshForcedByAWriteSkipsTheRoundRobin(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	clock := newFakeNow()
	obs := ovh.NewObserver(ovh.NewClients(fastOptions()), ovh.ObserverOptions{Now: clock.Now})
	creds := signedCreds(sim)
	ctx := context.Background()
	if _, err := obs.Snapshot(ctx, creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	macReads := func() int { return sim.CallCount(ovhsim.RouteVMAC) + sim.CallCount(ovhsim.RouteVMACAddresses) }

	// Due by its interval: the known MAC is read again (2 calls).
	sim.ResetCalls()
	clock.Advance(time.Minute)
	if _, err := obs.Snapshot(ctx, creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := macReads(); n != 2 {
		t.Fatalf("a refresh due by its interval read %d MAC details, want 2 (round robin): %v", n, sim.Calls())
	}

	// Forced by a write naming no MAC: the two lists only.
	sim.ResetCalls()
	obs.Invalidate(creds, esx)
	if _, err := obs.Snapshot(ctx, creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, lists := macReads(), sim.CallCount(ovhsim.RouteIPList)+sim.CallCount(ovhsim.RouteVMACList); n != 0 || lists != 2 {
		t.Fatalf("a forced refresh read %d MAC details and %d lists, want 0 and 2: %v", n, lists, sim.Calls())
	}

	// Forced naming the MAC: that one is read.
	sim.ResetCalls()
	obs.Invalidate(creds, esx, wanMAC)
	if _, err := obs.Snapshot(ctx, creds, esx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := macReads(); n != 2 {
		t.Fatalf("a refresh forced for %s read %d MAC details, want 2: %v", wanMAC, n, sim.Calls())
	}
}

// A refresh a write forces takes the key's refresh turn, which the
// scheduled refreshes need too: it must not wait behind writes and task
// reads while holding it. Five other requests waiting for a budget of 10 a
// second: the forced refresh (two calls) goes before most of them.
func TestForcedRefreshDoesNotWaitBehindOtherRequests(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	pool := ovh.NewClients(ovh.Options{RequestsPerSecond: 10, Burst: 1})
	obs := ovh.NewObserver(pool, ovh.ObserverOptions{})
	creds := signedCreds(sim)
	ctx := context.Background()
	if _, err := obs.Snapshot(ctx, creds, esx, time.Hour); err != nil {
		t.Fatal(err)
	}
	c := client(t, pool, creds)
	var done atomic.Int32
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := c.IP(ctx, wanIP); err != nil {
				t.Error(err)
			}
			done.Add(1)
		})
	}
	waitFor(t, "the others wait for the budget", func() bool {
		v, ok := metricValue(t, "ovhbridge_ovh_budget_waiting", map[string]string{"credential": creds.BudgetLabel()})
		return ok && v == 5
	})
	obs.Invalidate(creds, esx)
	if _, err := obs.Snapshot(ctx, creds, esx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := done.Load(); n > 2 {
		t.Fatalf("the forced refresh ended after %d of the 5 requests waiting before it, want at most 2", n)
	}
	wg.Wait()
}

// A refresh that waited for its key's refresh turn is dated from when it
// was asked for, not from when it got the turn: the next one is due an
// interval after the last was due, and waits for the turn do not push the
// reads of a server further apart each time.
func TestRefreshIsDatedFromWhenItWasAskedFor(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	clock := newFakeNow()
	// A finite budget: refreshes of one key take turns.
	obs := ovh.NewObserver(ovh.NewClients(ovh.Options{RequestsPerSecond: 1000, Burst: 1000}), ovh.ObserverOptions{Now: clock.Now})
	creds := signedCreds(sim)
	ctx := context.Background()
	for _, s := range []string{esx, other} {
		if _, err := obs.Snapshot(ctx, creds, s, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	// The refresh of one server holds the turn (its IP list held at OVH)
	// while the other's is asked for and waits 5 s.
	release := sim.Hold(ovhsim.RouteIPList)
	go func() { _, _ = obs.Snapshot(ctx, creds, other, time.Minute) }()
	waitFor(t, "the first refresh reaches OVH", func() bool { return sim.Held(ovhsim.RouteIPList) == 1 })
	asked := clock.Now()
	got := make(chan ovh.ServerSnapshot, 1)
	go func() {
		snap, err := obs.Snapshot(ctx, creds, esx, time.Minute)
		if err != nil {
			t.Error(err)
		}
		got <- snap
	}()
	waitFor(t, "the second waits for its turn", func() bool { return obs.Stats().Queued == 1 })
	clock.Advance(5 * time.Second)
	release()
	if snap := <-got; !snap.ObservedAt.Equal(asked) {
		t.Fatalf("ObservedAt = %v, want %v (when it was asked for, %v before its turn)", snap.ObservedAt, asked, 5*time.Second)
	}
}
