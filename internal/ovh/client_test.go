package ovh_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	govh "github.com/ovh/go-ovh/ovh"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/metrics"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

func TestClientObservesTheSeedTopology(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	ctx := context.Background()

	// OVH lists the server's own blocks too, its main IP and its IPv6 /64.
	ips, err := c.ServerIPs(ctx, esx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ips, []string{"198.51.100.17/32", esxIPv6, wanIP + "/32", webIP + "/32", spare + "/32"}) {
		t.Fatalf("ServerIPs = %v", ips)
	}
	rec, err := c.IP(ctx, wanIP)
	if err != nil || rec != (ovh.IPRecord{IP: wanIP + "/32", Type: "failover", RoutedTo: esx}) {
		t.Fatalf("IP = %+v, %v", rec, err)
	}
	for _, own := range []string{"198.51.100.17", esxIPv6} {
		if rec, err := c.IP(ctx, own); err != nil || rec.Type != "dedicated" || rec.RoutedTo != esx {
			t.Fatalf("IP(%s) = %+v, %v", own, rec, err)
		}
	}
	macs, err := c.VirtualMACs(ctx, esx)
	if err != nil || !slices.Equal(macs, []string{wanMAC}) {
		t.Fatalf("VirtualMACs = %v, %v", macs, err)
	}
	vm, err := c.VirtualMAC(ctx, esx, wanMAC)
	if err != nil || vm.MAC != wanMAC || vm.Type != ovh.MACTypeVMware || !slices.Equal(vm.IPs, []string{wanIP}) {
		t.Fatalf("VirtualMAC = %+v, %v", vm, err)
	}
	net, err := c.ServerNetwork(ctx, esx)
	// The IPv6 block and its gateway come in the same call: the /56's
	// last addresses, outside the /64 (the sim's older-range rule).
	want := ovh.ServerNetwork{Gateway: "198.51.100.254", MainIP: "198.51.100.17", Network: "198.51.100.0/24", VMACSupported: true, VMACQuota: 256,
		IPv6Block: esxIPv6, IPv6Gateway: "2001:db8:1:ff:ff:ff:ff:ff"}
	if err != nil || net != want {
		t.Fatalf("ServerNetwork = %+v, %v", net, err)
	}
	// OVH may write the gateway with its leading zeros (its IPv6 guide
	// says so); the operator keeps iproute2's spelling, which routers print.
	if err := sim.SetNetwork(esx, ovhsim.Network{IPv6Gateway: "2001:0db8:0001:00ff:00ff:00ff:00ff:00ff"}); err != nil {
		t.Fatal(err)
	}
	if net, err := c.ServerNetwork(ctx, esx); err != nil || net.IPv6Gateway != "2001:db8:1:ff:ff:ff:ff:ff" {
		t.Fatalf("ServerNetwork with a zero-padded IPv6 gateway = %+v, %v", net, err)
	}
	if err := sim.SetNetwork(esx, ovhsim.Network{IPv6Gateway: "fe80::1"}); err != nil {
		t.Fatal(err)
	}
	if net, err := c.ServerNetwork(ctx, esx); err != nil || net.IPv6Gateway != "fe80::1" || net.IPv6Block != esxIPv6 {
		t.Fatalf("ServerNetwork with a link-local IPv6 gateway = %+v, %v", net, err)
	}
	if net, _ := c.ServerNetwork(ctx, novmac); net.VMACSupported {
		t.Fatal("a server without vMAC support reports it")
	}
}

func TestClientAcceptsEveryParkedShape(t *testing.T) {
	for _, style := range []ovhsim.ParkedStyle{ovhsim.ParkedNull, ovhsim.ParkedServiceNameNull, ovhsim.ParkedEmpty} {
		sim := startSim(t, ovhsim.Options{ParkedRoutedTo: style})
		rec, err := client(t, ovh.NewClients(fastOptions()), signedCreds(sim)).IP(context.Background(), parked+"/32")
		if err != nil || rec.RoutedTo != "" || rec.IP != parked+"/32" {
			t.Errorf("%s: %+v, %v", style, rec, err)
		}
	}
}

func TestMoveIPKeepsOldRouteUntilTheTaskIsDone(t *testing.T) {
	clock := ovhsim.NewManualClock(time.Now())
	sim := startSim(t, ovhsim.Options{Clock: clock, MoveDuration: time.Minute})
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	ctx := context.Background()

	task, err := c.MoveIP(ctx, wanIP, other)
	if err != nil {
		t.Fatal(err)
	}
	if !task.Pending() || task.Function != "genericMoveFloatingIp" || task.ID <= 1<<31 || task.Started.IsZero() {
		t.Fatalf("move task = %+v", task)
	}
	if rec, _ := c.IP(ctx, wanIP); rec.RoutedTo != esx {
		t.Fatalf("routedTo during the move = %q, want the old server", rec.RoutedTo)
	}
	clock.Advance(time.Minute)
	got, err := c.IPTask(ctx, wanIP+"/32", task.ID)
	if err != nil || !got.Succeeded() || got.Done.IsZero() || got.ID != task.ID {
		t.Fatalf("task after a minute = %+v, %v", got, err)
	}
	if rec, _ := c.IP(ctx, wanIP); rec.RoutedTo != other {
		t.Fatalf("routedTo after the move = %q", rec.RoutedTo)
	}
}

func TestFailedTaskCarriesItsComment(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	if err := sim.FailNextTasks(ovhsim.FunctionAddVirtualMAC, 1, ovhsim.TaskOutcome{Status: ovh.TaskCustomerError, Comment: "quota"}); err != nil {
		t.Fatal(err)
	}
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	task, err := c.CreateVirtualMAC(context.Background(), esx, webIP, ovh.MACTypeVMware, "web1")
	if err != nil {
		t.Fatal(err)
	}
	task, err = c.ServerTask(context.Background(), esx, task.ID)
	if err != nil || !task.Failed() || task.Pending() || task.Comment != "quota" {
		t.Fatalf("task = %+v, %v", task, err)
	}
}

func TestVirtualMACWrites(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	ctx := context.Background()

	task, err := c.CreateVirtualMAC(ctx, esx, webIP+"/32", ovh.MACTypeVMware, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if task, err = c.ServerTask(ctx, esx, task.ID); err != nil || !task.Succeeded() {
		t.Fatalf("creation task = %+v, %v", task, err)
	}
	macs, _ := c.VirtualMACs(ctx, esx)
	var mac string
	for _, m := range macs {
		if m != wanMAC {
			mac = m
		}
	}
	if !strings.HasPrefix(mac, "00:50:56:") {
		t.Fatalf("new vmware MAC = %q (list %v)", mac, macs)
	}
	if _, err := c.BindIP(ctx, esx, mac, spare, "web1"); err != nil {
		t.Fatal(err)
	}
	vm, _ := c.VirtualMAC(ctx, esx, mac)
	if !slices.Equal(vm.IPs, []string{webIP, spare}) {
		t.Fatalf("IPs after bind = %v", vm.IPs)
	}
	for _, ip := range []string{spare, webIP} {
		if _, err := c.UnbindIP(ctx, esx, mac, ip); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.VirtualMAC(ctx, esx, mac); !cause.Is(err, cause.NotFound) {
		t.Fatalf("unbinding the last IP must delete the MAC: %v", err)
	}
}

func TestErrorKinds(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	kimsufiWorld := seed()
	kimsufiWorld.VirtualMACs = nil
	kimsufi := startSim(t, ovhsim.Options{Profile: ovhsim.ProfileKimsufi, World: kimsufiWorld})
	pool := ovh.NewClients(fastOptions())
	good := client(t, pool, signedCreds(sim))
	wrongSecret := signedCreds(sim)
	wrongSecret.ApplicationSecret = "not-the-secret-5f4dcc3b5aa765"
	wrongConsumer := signedCreds(sim)
	wrongConsumer.ConsumerKey = "revoked-consumer-key"
	badToken := ovh.Credentials{Endpoint: sim.Endpoint(), AccessToken: "expired-token-0cc175b9c0f1b6"}
	ks := client(t, pool, signedCreds(kimsufi))
	ctx := context.Background()

	cases := []struct {
		name string
		call func() error
		kind cause.Kind
		text string
	}{
		{"wrong secret", func() error { _, err := client(t, pool, wrongSecret).ServerIPs(ctx, esx); return err }, cause.CredentialsInvalid, "Invalid signature"},
		{"unknown consumer key", func() error { _, err := client(t, pool, wrongConsumer).ServerIPs(ctx, esx); return err }, cause.CredentialsInvalid, "NOT_CREDENTIAL: This credential does not exist"},
		{"bad access token", func() error { _, err := client(t, pool, badToken).IP(ctx, wanIP); return err }, cause.CredentialsInvalid, "HTTP 401"},
		{"unknown IP", func() error { _, err := good.IP(ctx, "203.0.113.99"); return err }, cause.NotFound, "This service does not exist"},
		{"unknown server", func() error { _, err := good.ServerNetwork(ctx, "ns0.example"); return err }, cause.NotFound, "This service does not exist"},
		{"second vMAC on an IP", func() error { _, err := good.CreateVirtualMAC(ctx, esx, wanIP, ovh.MACTypeVMware, "x"); return err }, cause.Conflict, "A Virtual Mac already exists on 203.0.113.123!"},
		{"vMAC for an IP routed elsewhere", func() error { _, err := good.CreateVirtualMAC(ctx, esx, parked, ovh.MACTypeVMware, "x"); return err }, cause.Conflict, "not routed"},
		// OVH's refusal texts for these two are not published: the client
		// matches none and reports a refusal (Conflict); that a server has
		// no virtual MACs is known from its network specification.
		{"vMAC on a server without", func() error { _, err := good.CreateVirtualMAC(ctx, novmac, webIP, ovh.MACTypeOVH, "x"); return err }, cause.Conflict, "not supported"},
		{"move a vMAC block to a server without", func() error { _, err := good.MoveIP(ctx, wanIP, novmac); return err }, cause.Conflict, "do not support VMAC"},
		{"move to an unknown server", func() error { _, err := good.MoveIP(ctx, webIP, "ns0.example"); return err }, cause.Invalid, "not a valid destination"},
		{"Kimsufi move", func() error { _, err := ks.MoveIP(ctx, wanIP, other); return err }, cause.CapabilityMissing, "Got an invalid (or empty) URL"},
		{"Kimsufi vMAC list", func() error { _, err := ks.VirtualMACs(ctx, esx); return err }, cause.CapabilityMissing, "Got an invalid (or empty) URL"},
		{"not an IP, caught locally", func() error { _, err := good.MoveIP(ctx, "web-wan", other); return err }, cause.Invalid, "not an IP"},
		{"bad vMAC type, caught locally", func() error { _, err := good.CreateVirtualMAC(ctx, esx, webIP, "xen", "x"); return err }, cause.Invalid, "xen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if cause.KindOf(err) != tc.kind {
				t.Fatalf("kind of %v = %q, want %q", err, cause.KindOf(err), tc.kind)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.text) {
				t.Errorf("%q does not keep OVH's text %q", msg, tc.text)
			}
			if tc.kind != cause.Invalid || strings.Contains(tc.name, "unknown server") {
				if !strings.Contains(msg, "query id EU.ext-sim") {
					t.Errorf("%q lacks OVH's query id", msg)
				}
			}
			for _, secret := range []string{appSecret, wrongSecret.ApplicationSecret, consumer, token, badToken.AccessToken} {
				if strings.Contains(msg, secret) {
					t.Errorf("%q reveals a secret", msg)
				}
			}
		})
	}
}

func TestTransportErrorKinds(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	ctx := context.Background()

	sim.InjectFault(ovhsim.RouteIP, ovhsim.Fault{Status: 502, Body: ovhsim.HTMLErrorPage(502)})
	_, err := c.IP(ctx, wanIP)
	if !cause.Is(err, cause.Unreachable) || strings.Contains(err.Error(), "<") || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Fatalf("HTML 502: %v", err)
	}
	var apiErr *govh.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 502 {
		t.Fatalf("go-ovh's APIError must stay reachable with errors.As: %v", err)
	}
	sim.InjectFault(ovhsim.RouteIP, ovhsim.Fault{Status: 429})
	if _, err := c.IP(ctx, wanIP); !cause.Is(err, cause.RateLimited) {
		t.Fatalf("429: %v", err)
	}
	sim.InjectFault(ovhsim.RouteIP, ovhsim.Fault{Status: 500})
	if _, err := c.IP(ctx, wanIP); !cause.Is(err, cause.Unreachable) || !strings.Contains(err.Error(), "Server::InternalServerError") {
		t.Fatalf("JSON 500: %v", err)
	}
	sim.ClearFaults()

	sim.InjectFault(ovhsim.RouteIPList, ovhsim.Fault{Latency: time.Minute})
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.ServerIPs(short, esx); !cause.Is(err, cause.Unreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
	sim.ClearFaults()

	sim.Close()
	if _, err := c.IP(ctx, wanIP); !cause.Is(err, cause.Unreachable) {
		t.Fatalf("API down: %v", err)
	}
}

func TestReadsAreRetriedWritesAreNot(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	ctx := context.Background()

	sim.InjectFault(ovhsim.RouteIP, ovhsim.Fault{Status: 503, Count: 2})
	if _, err := c.IP(ctx, wanIP); err != nil {
		t.Fatalf("a read must survive two 503s: %v", err)
	}
	if n := sim.CallCount(ovhsim.RouteIP); n != 3 {
		t.Fatalf("GET /ip/{ip} calls = %d, want 3", n)
	}

	sim.InjectFault(ovhsim.RouteIPMove, ovhsim.Fault{Status: 503, Count: 1})
	if _, err := c.MoveIP(ctx, webIP, other); !cause.Is(err, cause.Unreachable) {
		t.Fatalf("move through a 503: %v", err)
	}
	if n := sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Fatalf("a write must not be retried: %d move POSTs", n)
	}

	// Retry-After beyond MaxDelay: give up at once instead of hammering.
	sim.InjectFault(ovhsim.RouteIPList, ovhsim.Fault{Status: 429, Header: map[string]string{"Retry-After": "60"}})
	if _, err := c.ServerIPs(ctx, esx); !cause.Is(err, cause.RateLimited) {
		t.Fatalf("429: %v", err)
	}
	if n := sim.CallCount(ovhsim.RouteIPList); n != 1 {
		t.Fatalf("Retry-After 60s was not honoured: %d calls", n)
	}
}

func TestTaskReadsRightAfterCreationAndAfterPurge(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	ctx := context.Background()

	for _, status := range []int{404, 500} {
		sim.SetTaskVisibility(time.Hour, status)
		task, err := c.MoveIP(ctx, webIP, map[bool]string{true: other, false: esx}[status == 404])
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.IPTask(ctx, webIP, task.ID)
		if err == nil {
			t.Fatalf("%d: the task read must fail while invisible", status)
		}
		if !ovh.TaskNotVisibleYet(err, task.Started) {
			t.Fatalf("%d right after creation (%v) must count as not visible yet", status, err)
		}
		if ovh.TaskNotVisibleYet(err, task.Started.Add(-ovh.TaskVisibilityGrace)) {
			t.Fatalf("%d after the grace must not", status)
		}
	}
	sim.SetTaskVisibility(0, 0)
	if ovh.TaskNotVisibleYet(cause.New(cause.CredentialsInvalid, "ovh", "IPTask", "x", nil), time.Now()) {
		t.Fatal("bad credentials are not a propagation delay")
	}

	task, err := c.MoveIP(ctx, wanIP, other)
	if err != nil {
		t.Fatal(err)
	}
	sim.PurgeTasks()
	if _, err := c.IPTask(ctx, wanIP, task.ID); !cause.Is(err, cause.NotFound) {
		t.Fatalf("purged task: %v", err)
	}
}

func TestRotatedCredentialsGetANewClient(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	pool := ovh.NewClients(fastOptions())
	old := signedCreds(sim)
	c1, c2 := client(t, pool, old), client(t, pool, old)
	if c1 != c2 {
		t.Fatal("the same credentials must share one client")
	}
	ctx := context.Background()
	if _, err := c1.ServerIPs(ctx, esx); err != nil {
		t.Fatal(err)
	}

	// The user rotates the consumer key and updates the Secret.
	sim.AddApplication(appKey, appSecret, "rotated-consumer-key")
	sim.RevokeConsumerKey(consumer)
	rotated := old
	rotated.ConsumerKey = "rotated-consumer-key"
	c3 := client(t, pool, rotated)
	if c3 == c1 {
		t.Fatal("rotated credentials must get a new client")
	}
	if _, err := c3.ServerIPs(ctx, esx); err != nil {
		t.Fatalf("rotated client: %v", err)
	}
	if _, err := c1.ServerIPs(ctx, esx); !cause.Is(err, cause.CredentialsInvalid) {
		t.Fatalf("old client after revocation: %v", err)
	}
}

func TestRateLimiterIsSharedPerCredential(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	// One request per ~17 minutes, burst 2: GET /auth/time and one call.
	pool := ovh.NewClients(ovh.Options{RequestsPerSecond: 0.001, Burst: 2})
	ctx := context.Background()
	if _, err := client(t, pool, signedCreds(sim)).ServerIPs(ctx, esx); err != nil {
		t.Fatal(err)
	}

	// Another caller with the same credentials shares the empty bucket: it
	// is refused at once rather than waiting past its deadline.
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := client(t, pool, signedCreds(sim)).ServerIPs(short, esx)
	if !cause.Is(err, cause.RateLimited) || !strings.Contains(err.Error(), "client-side") {
		t.Fatalf("second caller: %v", err)
	}
	if n := sim.CallCount(ovhsim.RouteIPList); n != 1 {
		t.Fatalf("the refused call reached OVH: %d list calls", n)
	}

	// Other credentials have their own bucket.
	if _, err := client(t, pool, ovh.Credentials{Endpoint: sim.Endpoint(), AccessToken: token}).ServerIPs(short, esx); err != nil {
		t.Fatalf("other credentials: %v", err)
	}
}

func TestCredentialsComeOnlyFromTheSecret(t *testing.T) {
	// go-ovh's constructors would merge these into the client and then
	// refuse "multiple authentication methods".
	t.Setenv("OVH_APPLICATION_KEY", "from-environment")
	t.Setenv("OVH_APPLICATION_SECRET", "from-environment")
	t.Setenv("OVH_CONSUMER_KEY", "from-environment")
	sim := startSim(t, ovhsim.Options{})
	c := client(t, ovh.NewClients(fastOptions()), ovh.Credentials{Endpoint: sim.URL() + "/v1", AccessToken: token})
	if _, err := c.ServerIPs(context.Background(), esx); err != nil {
		t.Fatal(err)
	}
}

// go-ovh's request builder is not safe for concurrent use; run with -race
// this proves the client serialises it while calls overlap.
func TestConcurrentCallsOnOneClient(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	errs := make(chan error, 20)
	for i := 0; i < cap(errs); i++ {
		go func() {
			_, err := c.ServerIPs(context.Background(), esx)
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.CallCount(ovhsim.RouteAuthTime); n > 1 {
		t.Fatalf("the clock offset was fetched %d times", n)
	}
}

func TestFinishedTasksAreRecorded(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	before := testutil.CollectAndCount(metrics.TaskDuration)
	ovh.Task{Function: "test-pending", Status: ovh.TaskDoing, Started: start}.RecordFinished()
	if testutil.CollectAndCount(metrics.TaskDuration) != before {
		t.Fatal("an unfinished task was recorded")
	}
	h := metrics.TaskDuration.WithLabelValues("ovh", "test-move", ovh.TaskDone).(prometheus.Histogram)
	read := func() (uint64, float64) {
		var m dto.Metric
		if err := h.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
	}
	count0, sum0 := read()
	ovh.Task{Function: "test-move", Status: ovh.TaskDone, Started: start, Done: start.Add(time.Minute)}.RecordFinished()
	if count, sum := read(); count != count0+1 || sum-sum0 != 60 {
		t.Fatalf("recorded %d samples summing %vs", count-count0, sum-sum0)
	}
}

// TestTaskLists: a caller that lost the id of a task it started finds it by
// kind in the IP's or the server's task list, whichever of OVH's function
// names the task carries.
func TestTaskLists(t *testing.T) {
	for _, names := range []ovhsim.TaskFunctions{
		{}, // the simulator's defaults: virtualMacAdd, virtualMacDelete
		{CreateVirtualMAC: ovhsim.FunctionAddVirtualMACAlt, BindIP: ovhsim.FunctionAddVirtualMACAlt, UnbindIP: ovhsim.FunctionRemoveVirtualMACAlt},
	} {
		t.Run(names.CreateVirtualMAC+"/"+names.UnbindIP, func(t *testing.T) {
			sim := startSim(t, ovhsim.Options{TaskFunctions: names})
			c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
			ctx := context.Background()

			move, err := c.MoveIP(ctx, spare, other)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := c.IPTasks(ctx, spare, ovh.FunctionMoveIP)
			if err != nil || !slices.Equal(ids, []int64{move.ID}) || move.Kind() != ovh.KindMoveIP {
				t.Fatalf("IPTasks(move) = %v, %v; want [%d]", ids, err, move.ID)
			}
			if ids, err := c.IPTasks(ctx, spare, "checkAndReleaseIp"); err != nil || len(ids) != 0 {
				t.Fatalf("IPTasks filtered by another function = %v, %v; want none", ids, err)
			}
			add, err := c.CreateVirtualMAC(ctx, esx, webIP, ovh.MACTypeVMware, "web1")
			if err != nil {
				t.Fatal(err)
			}
			if add.Kind() != ovh.KindAddVirtualMAC {
				t.Fatalf("creation task %q is of kind %q", add.Function, add.Kind())
			}
			sim.ResetCalls()
			// The operator records FunctionAddVirtualMAC as the intent's
			// function, whatever name OVH then gives the task.
			for _, kind := range []string{ovh.FunctionAddVirtualMAC, string(ovh.KindAddVirtualMAC), ovhsim.FunctionAddVirtualMACAlt} {
				ids, err = c.ServerTasks(ctx, esx, kind)
				if err != nil || !slices.Contains(ids, add.ID) || !slices.IsSorted(ids) {
					t.Fatalf("ServerTasks(%s) = %v, %v; want sorted and holding %d", kind, ids, err, add.ID)
				}
			}
			if n := sim.CallCount(ovhsim.RouteServerTaskList); n != 6 {
				t.Fatalf("server task list calls = %d, want one per name of the kind (2 × 3)", n)
			}
			unbind, err := c.UnbindIP(ctx, esx, wanMAC, wanIP)
			if err != nil {
				t.Fatal(err)
			}
			ids, err = c.ServerTasks(ctx, esx, ovh.FunctionRemoveVirtualMAC)
			if err != nil || !slices.Equal(ids, []int64{unbind.ID}) || unbind.Kind() != ovh.KindRemoveVirtualMAC {
				t.Fatalf("ServerTasks(remove) = %v, %v; want [%d] (task %q)", ids, err, unbind.ID, unbind.Function)
			}
		})
	}
}

func TestTaskKinds(t *testing.T) {
	for fn, kind := range map[string]ovh.TaskKind{
		"genericMoveFloatingIp": ovh.KindMoveIP, "moveFloatingIp": ovh.KindMoveIP,
		"virtualMacAdd": ovh.KindAddVirtualMAC, "addVirtualMac": ovh.KindAddVirtualMAC,
		"virtualMacDelete": ovh.KindRemoveVirtualMAC, "removeVirtualMac": ovh.KindRemoveVirtualMAC,
		"moveVirtualMac": ovh.KindMoveVirtualMAC, "hardReboot": "", string(ovh.KindMoveIP): ovh.KindMoveIP,
	} {
		if got := ovh.TaskKindOf(fn); got != kind {
			t.Errorf("TaskKindOf(%q) = %q, want %q", fn, got, kind)
		}
	}
}

// A turn taken ahead (before a write's intent is recorded) lets that write
// go out although the bucket emptied meanwhile; it serves one request only.
func TestTakeTurnServesTheNextRequestOnly(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	// One request per ~17 minutes, burst 1; bearer tokens need no
	// GET /auth/time.
	c := client(t, ovh.NewClients(ovh.Options{RequestsPerSecond: 0.001, Burst: 1}),
		ovh.Credentials{Endpoint: sim.Endpoint(), AccessToken: token})
	short, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	turn, err := ovh.TakeTurn(short, c) // the bucket's only token
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServerIPs(short, esx); !cause.Is(err, cause.RateLimited) {
		t.Fatalf("a caller without the turn: %v, want the client-side rate limit", err)
	}
	if _, err := c.MoveIP(turn, webIP, other); err != nil {
		t.Fatalf("the write the turn was taken for: %v", err)
	}
	if n := sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Fatalf("%d moves reached OVH, want 1", n)
	}
	if _, err := c.IP(turn, webIP); !cause.Is(err, cause.RateLimited) {
		t.Fatalf("a second request on the turn's context: %v, want the rate limit (a turn is one request)", err)
	}
	if _, err := ovh.TakeTurn(short, c); !cause.Is(err, cause.RateLimited) {
		t.Fatalf("a turn that cannot come before the deadline: %v, want RateLimited", err)
	}
}

// TryTurn takes the turn only when the budget has a token now: otherwise it
// says so at once, and the caller can report before it waits.
func TestTryTurnNeverWaits(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	creds := ovh.Credentials{Endpoint: sim.Endpoint(), AccessToken: token}
	c := client(t, ovh.NewClients(ovh.Options{RequestsPerSecond: 0.001, Burst: 1}), creds)
	short, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	turn, free := ovh.TryTurn(short, c) // the bucket's only token
	if !free {
		t.Fatal("a full bucket: TryTurn says the turn is not free")
	}
	if _, err := c.MoveIP(turn, webIP, other); err != nil {
		t.Fatalf("the write the turn was taken for: %v", err)
	}
	start := time.Now()
	same, free := ovh.TryTurn(short, c)
	if free {
		t.Fatal("an empty bucket: TryTurn took a turn")
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("TryTurn waited %v", waited)
	}
	if _, err := c.IP(same, webIP); !cause.Is(err, cause.RateLimited) {
		t.Fatalf("a request on the context TryTurn refused: %v, want the rate limit (no turn in it)", err)
	}

	unlimited := client(t, ovh.NewClients(ovh.Options{RequestsPerSecond: math.Inf(1)}), creds)
	for range 100 {
		if _, free := ovh.TryTurn(short, unlimited); !free {
			t.Fatal("an unlimited budget: TryTurn says the turn is not free")
		}
	}
}

// OVH's own query time-out (a 400 with errorCode QUERY_TIME_OUT) is retried
// on reads like any transient failure, and never on writes.
func TestQueryTimeOutIsRetriedOnReads(t *testing.T) {
	sim := startSim(t, ovhsim.Options{})
	c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
	ctx := context.Background()

	timeOut := ovhsim.QueryTimeOut()
	timeOut.Count = 1
	sim.InjectFault(ovhsim.RouteVMACList, timeOut)
	if _, err := c.VirtualMACs(ctx, esx); err != nil {
		t.Fatalf("a read after one QUERY_TIME_OUT: %v", err)
	}
	if n := sim.CallCount(ovhsim.RouteVMACList); n != 2 {
		t.Fatalf("%d vMAC list calls, want 2", n)
	}
	sim.InjectFault(ovhsim.RouteVMACCreate, ovhsim.QueryTimeOut())
	_, err := c.CreateVirtualMAC(ctx, esx, webIP, ovh.MACTypeVMware, "web1")
	if !cause.Is(err, cause.Unreachable) || !strings.Contains(err.Error(), "QUERY_TIME_OUT") {
		t.Fatalf("a write answered QUERY_TIME_OUT: %v", err)
	}
	if n := sim.CallCount(ovhsim.RouteVMACCreate); n != 1 {
		t.Fatalf("a write was retried: %d calls", n)
	}
}

// An address inside a wider block is no object of OVH's: reading it reads
// its block (the record says which), whether OVH answers 404 for the
// address (the simulator's default) or the block itself.
func TestIPOfAnAddressInsideABlock(t *testing.T) {
	for _, mode := range []ovhsim.AddressInBlock{ovhsim.AddressInBlockNotFound, ovhsim.AddressInBlockBlock} {
		t.Run(string(mode), func(t *testing.T) {
			w := seed()
			w.IPs = append(w.IPs, ovhsim.IP{IP: "198.51.100.64/29", RoutedTo: other})
			sim := startSim(t, ovhsim.Options{World: w, AddressInBlock: mode})
			c := client(t, ovh.NewClients(fastOptions()), signedCreds(sim))
			rec, err := c.IP(context.Background(), "198.51.100.66")
			if err != nil {
				t.Fatal(err)
			}
			if rec.IP != "198.51.100.64/29" || rec.RoutedTo != other {
				t.Fatalf("record = %+v, want the block routed to %s", rec, other)
			}
			if _, err := c.IP(context.Background(), "198.51.100.99"); !cause.Is(err, cause.NotFound) {
				t.Fatalf("an address in no block: %v", err)
			}
		})
	}
}
