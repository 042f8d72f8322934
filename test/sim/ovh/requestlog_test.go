package ovhsim_test

import (
	"net/http/httptest"
	"testing"
	"time"

	govh "github.com/ovh/go-ovh/ovh"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// The log charges each request to its consumer key, GET /auth/time (signed
// by none) included once the application's consumer key is known, and names
// routes as Calls does.
func TestRequestLogChargesConsumerKeys(t *testing.T) {
	sim, err := ovhsim.New(ovhsim.Options{World: seed()})
	if err != nil {
		t.Fatal(err)
	}
	log := ovhsim.NewRequestLog(sim)
	hs := httptest.NewServer(log)
	t.Cleanup(hs.Close)
	c, err := govh.NewClient(hs.URL+"/1.0", appKey, appSecret, consumer)
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	get(t, c, "/ip?routedTo.serviceName="+esx, &ips) // go-ovh asks /auth/time first
	get(t, c, "/ip?routedTo.serviceName="+esx, &ips)
	reqs := log.Requests(time.Time{}, time.Time{})
	var routes []string
	for _, r := range reqs {
		routes = append(routes, r.Route)
	}
	want := []string{ovhsim.RouteAuthTime, ovhsim.RouteIPList, ovhsim.RouteIPList}
	if len(routes) != len(want) || routes[0] != want[0] || routes[1] != want[1] {
		t.Fatalf("routes %v, want %v", routes, want)
	}
	// /auth/time came before the consumer key was seen with the app, and
	// is charged to it all the same.
	if reqs[0].Key != consumer || reqs[1].Key != consumer || reqs[2].Key != consumer {
		t.Fatalf("keys %q %q %q", reqs[0].Key, reqs[1].Key, reqs[2].Key)
	}
}

func TestMaxInWindowSlides(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var reqs []ovhsim.LoggedRequest
	at := func(key string, secs ...float64) {
		for _, s := range secs {
			reqs = append(reqs, ovhsim.LoggedRequest{At: t0.Add(time.Duration(s * float64(time.Second))), Key: key})
		}
	}
	// Three in the first half minute, three more 50 s later: a fixed
	// minute would see 3 and 3, a sliding window sees the 5 between 30 s
	// and 80 s.
	at("a", 0, 29, 30, 55, 79, 80)
	at("b", 0, 60, 120) // exactly a minute apart: never two in one window
	got := ovhsim.MaxInWindow(reqs, time.Minute)
	if got["a"] != 5 || got["b"] != 1 {
		t.Fatalf("got %v, want a=5 b=1", got)
	}
}
