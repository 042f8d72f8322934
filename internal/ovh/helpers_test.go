package ovh_test

import (
	"math"
	"testing"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

const (
	appKey    = "test-application-key"
	appSecret = "test-application-secret-d41d8cd98f"
	consumer  = "test-consumer-key"
	token     = "test-access-token-9e107d9d372bb"

	esx    = "ns123456.ip-198-51-100.eu"
	other  = "ns654321.ip-192-0-2.eu"
	novmac = "ns777777.ip-192-0-2.eu"
	wanIP  = "203.0.113.123"
	webIP  = "203.0.113.124"
	spare  = "203.0.113.125"
	parked = "203.0.113.50"
	wanMAC = "00:50:56:00:00:01"
	// esxIPv6 is esx's IPv6 block.
	esxIPv6 = "2001:db8:1:2::/64"
)

// seed is the write-up's topology (router WAN IP with its vmware vMAC, the
// web IP without one yet), a spare IP, a parked IP, a second server and one
// without virtual MAC support.
func seed() ovhsim.World {
	no := false
	return ovhsim.World{
		Applications: []ovhsim.Application{{Key: appKey, Secret: appSecret, ConsumerKeys: []string{consumer}}},
		AccessTokens: []string{token},
		Servers: []ovhsim.DedicatedServer{
			{Name: esx, MainIP: "198.51.100.17", IPv6: esxIPv6},
			{Name: other, MainIP: "192.0.2.10", Gateway: "192.0.2.1"},
			{Name: novmac, MainIP: "192.0.2.20", VirtualMACSupported: &no},
		},
		IPs: []ovhsim.IP{
			{IP: wanIP, RoutedTo: esx},
			{IP: webIP, RoutedTo: esx},
			{IP: spare, RoutedTo: esx},
			{IP: parked},
		},
		VirtualMACs: []ovhsim.VirtualMAC{
			{Server: esx, MAC: wanMAC, Type: "vmware", Addresses: []ovhsim.VirtualAddress{{IP: wanIP, VirtualMachineName: "vyatta"}}},
		},
	}
}

// startSim starts a simulator that holds every request the client sends,
// and every answer it gives, to OVH's published API description: a test
// ends with an error for each departure (see ovhsim.Options.Conformance).
func startSim(t testing.TB, opts ovhsim.Options) *ovhsim.Server {
	t.Helper()
	if opts.World.Servers == nil {
		opts.World = seed()
	}
	// "" is no shape of OVH's: that simulator is not held to the schema.
	opts.Conformance = opts.ParkedRoutedTo != ovhsim.ParkedEmpty
	sim, err := ovhsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Close()
		for _, v := range sim.Violations() {
			t.Errorf("departs from OVH's API description: %s", v)
		}
	})
	return sim
}

func signedCreds(sim *ovhsim.Server) ovh.Credentials {
	return ovh.Credentials{Endpoint: sim.Endpoint(), ApplicationKey: appKey, ApplicationSecret: appSecret, ConsumerKey: consumer}
}

// fastOptions lift the rate limit and shorten retries: tests are about
// behaviour, not pacing.
func fastOptions() ovh.Options {
	return ovh.Options{
		RequestsPerSecond: math.Inf(1),
		Retry:             ovh.RetryPolicy{Attempts: 3, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond},
	}
}

func client(t testing.TB, pool *ovh.Clients, creds ovh.Credentials) ovh.Client {
	t.Helper()
	c, err := pool.Get(creds)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
