package ovh_test

import (
	"context"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// metricValue reads a gauge or counter of the operator's registry by its
// labels; ok is false when the series does not exist.
func metricValue(t *testing.T, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// By default a consumer key gets OVH's fair use, 60 requests a minute, and
// every request it makes is counted under a label that reveals no secret.
func TestDefaultBudgetIsOVHsFairUse(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	creds := signedCreds(sim)
	creds.ConsumerKey = "fair-use-consumer-key" // a label of its own: metrics are global
	sim.AddApplication(appKey, appSecret, creds.ConsumerKey)
	c := client(t, ovh.NewClients(ovh.Options{}), creds)
	if _, err := c.ServerIPs(context.Background(), esx); err != nil {
		t.Fatal(err)
	}
	label := creds.BudgetLabel()
	if strings.Contains(label, appSecret) || strings.Contains(label, consumer) {
		t.Fatalf("label %q reveals a secret", label)
	}
	if v, ok := metricValue(t, "ovhbridge_ovh_budget_requests_per_minute", map[string]string{"credential": label}); !ok || v != ovh.DefaultRequestsPerMinute {
		t.Fatalf("budget = %v (found %v), want %d a minute", v, ok, ovh.DefaultRequestsPerMinute)
	}
	// GET /auth/time and the list.
	if v, _ := metricValue(t, "ovhbridge_ovh_budget_requests_total", map[string]string{"credential": label}); v != 2 {
		t.Fatalf("requests counted = %v, want 2", v)
	}
}

// Two Secrets holding the same consumer key (written differently) are two
// clients but one budget: OVH counts per consumer key.
func TestBudgetIsSharedByEveryUserOfAConsumerKey(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	pool := ovh.NewClients(ovh.Options{RequestsPerSecond: 0.001, Burst: 2})
	a := signedCreds(sim)
	b := a
	b.Endpoint += "/" // another Secret, the same key
	ctx := context.Background()
	if _, err := client(t, pool, a).ServerIPs(ctx, esx); err != nil { // GET /auth/time + the list
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := client(t, pool, b).IP(short, wanIP)
	if !cause.Is(err, cause.RateLimited) {
		t.Fatalf("the other Secret's client: %v, want the shared budget spent", err)
	}
	if n := sim.TotalCalls() + sim.CallCount(ovhsim.RouteAuthTime); n != 2 {
		t.Fatalf("%d requests reached OVH, want the first client's 2", n)
	}
}

// A first observation that needs more of the budget than RefreshTimeout
// allows is spread over time, not refused: here 2 servers of 16 virtual MACs
// (70 requests) at 50 requests a second, each request bounded to 100ms.
func TestFirstObservationsWaitForTheBudget(t *testing.T) {
	w, fips := fleet(2, 16)
	sim := startSim(t, ovhsim.Options{World: w})
	obs := ovh.NewObserver(ovh.NewClients(ovh.Options{RequestsPerSecond: 50, Burst: 1}),
		ovh.ObserverOptions{RefreshTimeout: 100 * time.Millisecond})
	creds := signedCreds(sim)
	done := make(chan error, 2)
	for _, server := range []string{fips[0].server, fips[len(fips)-1].server} {
		go func() {
			_, err := obs.Snapshot(context.Background(), creds, server, time.Minute)
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("first observation under the budget: %v", err)
		}
	}
	if n := sim.TotalCalls(); n != 2*(3+2*16) {
		t.Fatalf("%d calls, want %d", n, 2*(3+2*16))
	}
}

// When the servers of a consumer key, observed as often as their
// FailoverIPs ask, would take more than ObservationShare of its budget,
// every interval stretches by the same factor: the calls per minute stay
// within the budget, and the interval in effect is told.
func TestObservationIntervalsStretchToTheBudget(t *testing.T) {
	const servers, perServer = 20, 10
	w, fips := fleet(servers, perServer)
	run := func(opts ovh.Options) (perMinute float64, obs *ovh.Observer, creds ovh.Credentials) {
		sim := startSim(t, ovhsim.Options{World: w})
		clock := newFakeNow()
		obs = ovh.NewObserver(ovh.NewClients(opts), ovh.ObserverOptions{Now: clock.Now})
		creds = signedCreds(sim)
		pass := func() {
			for _, f := range fips {
				if _, err := obs.Snapshot(context.Background(), creds, f.server, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
		}
		pass() // first observations
		sim.ResetCalls()
		const minutes = 10
		for range minutes {
			clock.Advance(time.Minute)
			pass()
		}
		return float64(sim.TotalCalls()) / minutes, obs, creds
	}

	unlimited, _, _ := run(fastOptions())
	// 60 a minute, and a burst so large the test never waits in real time:
	// the budget then sustains half its rate (the rate less the burst,
	// never under half), 30 a minute, and the plan takes its share of that.
	budgeted, obs, creds := run(ovh.Options{RequestsPerSecond: 1, Burst: 1_000_000})
	const sustained = ovh.DefaultRequestsPerMinute / 2
	t.Logf("calls per minute: %.0f asked every minute, %.0f under a budget of %d", unlimited, budgeted, ovh.DefaultRequestsPerMinute)

	// Per server and refresh: the IP list, the vMAC list, one vMAC re-read
	// (2 calls): 4 × 20 servers = 80 a minute, over 0.8 × 30 = 24.
	if unlimited != 4*servers {
		t.Fatalf("unlimited: %v calls a minute, want %d", unlimited, 4*servers)
	}
	if share := ovh.ObservationShare * sustained; budgeted > share {
		t.Fatalf("%v calls a minute under the budget, over its observation share %v", budgeted, share)
	}
	// 1 min × 80/24, the share less the network specifications' hourly read.
	share := ovh.ObservationShare*sustained - float64(servers)/60
	want := time.Duration(float64(time.Minute) * 4 * servers / share)
	server := fips[0].server
	if got := obs.ObservationInterval(creds, server); got != want {
		t.Fatalf("ObservationInterval = %v, want %v", got, want)
	}
	v, ok := metricValue(t, "ovhbridge_ovh_observation_interval_seconds", map[string]string{"credential": creds.BudgetLabel(), "server": server})
	if !ok || v != want.Seconds() {
		t.Fatalf("metric = %v (found %v), want %v", v, ok, want.Seconds())
	}

}
