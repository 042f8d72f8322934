package ovhsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	govh "github.com/ovh/go-ovh/ovh"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

const (
	appKey    = "sim-application-key"
	appSecret = "sim-application-secret"
	consumer  = "sim-consumer-key"
	token     = "sim-access-token"

	esx     = "ns123456.ip-198-51-100.eu"
	other   = "ns654321.ip-192-0-2.eu"
	novmac  = "ns777777.ip-192-0-2.eu"
	wanIP   = "203.0.113.123"
	webIP   = "203.0.113.124"
	wanMAC  = "00:50:56:00:00:01"
	wanVM   = "vyatta"
	parked  = "203.0.113.50"
	wanPath = "/ip/203.0.113.123%2F32"
)

// seed is the write-up's topology plus a second server to move IPs to and
// one without virtual MAC support.
func seed() ovhsim.World {
	no := false
	return ovhsim.World{
		Applications: []ovhsim.Application{{Key: appKey, Secret: appSecret, ConsumerKeys: []string{consumer}}},
		AccessTokens: []string{token},
		Servers: []ovhsim.DedicatedServer{
			{Name: esx, MainIP: "198.51.100.17"},
			{Name: other, MainIP: "192.0.2.10", Gateway: "192.0.2.1"},
			{Name: novmac, MainIP: "192.0.2.20", VirtualMACSupported: &no},
		},
		IPs: []ovhsim.IP{
			{IP: wanIP, RoutedTo: esx},
			{IP: webIP, RoutedTo: esx},
			{IP: parked},
		},
		VirtualMACs: []ovhsim.VirtualMAC{
			{Server: esx, MAC: wanMAC, Type: "vmware", Addresses: []ovhsim.VirtualAddress{{IP: wanIP, VirtualMachineName: wanVM}}},
		},
	}
}

func start(t *testing.T, opts ovhsim.Options) *ovhsim.Server {
	t.Helper()
	if opts.World.Servers == nil {
		opts.World = seed()
	}
	sim, err := ovhsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func signed(t *testing.T, endpoint, secret string) *govh.Client {
	t.Helper()
	c, err := govh.NewClient(endpoint, appKey, secret, consumer)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func apiErr(t *testing.T, err error) *govh.APIError {
	t.Helper()
	var e *govh.APIError
	if !errors.As(err, &e) {
		t.Fatalf("want *ovh.APIError, got %v", err)
	}
	return e
}

func get(t *testing.T, c *govh.Client, path string, out any) {
	t.Helper()
	if err := c.GetWithContext(context.Background(), path, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type ipRecord struct {
	IP       string          `json:"ip"`
	Type     string          `json:"type"`
	RoutedTo json.RawMessage `json:"routedTo"`
}

func routedTo(t *testing.T, c *govh.Client, path string) string {
	t.Helper()
	var rec ipRecord
	get(t, c, path, &rec)
	var to struct {
		ServiceName string `json:"serviceName"`
	}
	_ = json.Unmarshal(rec.RoutedTo, &to)
	return to.ServiceName
}

type task struct {
	TaskID   int64  `json:"taskId"`
	Function string `json:"function"`
	Status   string `json:"status"`
	Comment  string `json:"comment"`
	DoneDate string `json:"doneDate"`
}

func TestSignatureVerifiedAsGoOVHSigns(t *testing.T) {
	sim := start(t, ovhsim.Options{})
	var ips []string
	get(t, signed(t, sim.Endpoint(), appSecret), "/ip?type=failover&routedTo.serviceName="+esx, &ips)
	if !slices.Equal(ips, []string{wanIP + "/32", webIP + "/32"}) {
		t.Fatalf("ips = %v", ips)
	}

	err := signed(t, sim.Endpoint(), "wrong-secret").GetWithContext(context.Background(), "/ip", &ips)
	if e := apiErr(t, err); e.Code != 400 || e.Message != "Invalid signature" {
		t.Fatalf("wrong secret: %+v", e)
	}
	// A signature covers the query string: replaying one on another URL fails.
	req, _ := http.NewRequest("GET", sim.Endpoint()+"/ip?type=failover", nil)
	ts := fmt.Sprint(time.Now().Unix())
	req.Header.Set("X-Ovh-Application", appKey)
	req.Header.Set("X-Ovh-Consumer", consumer)
	req.Header.Set("X-Ovh-Timestamp", ts)
	req.Header.Set("X-Ovh-Signature", ovhsim.Signature(appSecret, consumer, "GET", sim.Endpoint()+"/ip", "", ts))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("replayed signature: status %d", resp.StatusCode)
	}

	badCK, _ := govh.NewClient(sim.Endpoint(), appKey, appSecret, "unknown-consumer")
	if e := apiErr(t, badCK.GetWithContext(context.Background(), "/ip", &ips)); e.Code != 403 || e.Message != "This credential does not exist" {
		t.Fatalf("unknown consumer key: %+v", e)
	}
	badAK, _ := govh.NewClient(sim.Endpoint(), "unknown-app", appSecret, consumer)
	if e := apiErr(t, badAK.GetWithContext(context.Background(), "/ip", &ips)); e.Code != 403 || e.Message != "Invalid application key" {
		t.Fatalf("unknown application key: %+v", e)
	}
	sim.RevokeConsumerKey(consumer)
	if e := apiErr(t, signed(t, sim.Endpoint(), appSecret).GetWithContext(context.Background(), "/ip", &ips)); e.Code != 403 {
		t.Fatalf("revoked consumer key: %+v", e)
	}
}

func TestBothBasePathsAndBearerTokens(t *testing.T) {
	sim := start(t, ovhsim.Options{})
	for _, endpoint := range []string{sim.Endpoint(), sim.URL() + "/v1"} {
		if got := routedTo(t, signed(t, endpoint, appSecret), wanPath); got != esx {
			t.Fatalf("%s: routedTo = %q", endpoint, got)
		}
	}
	// go-ovh itself rewrites /1.0 + /v1/... paths to /v1/....
	if got := routedTo(t, signed(t, sim.Endpoint(), appSecret), "/v1"+wanPath); got != esx {
		t.Fatalf("/v1 path through a /1.0 endpoint: routedTo = %q", got)
	}

	tc, err := govh.NewAccessTokenClient(sim.Endpoint(), token)
	if err != nil {
		t.Fatal(err)
	}
	if got := routedTo(t, tc, wanPath); got != esx {
		t.Fatalf("bearer: routedTo = %q", got)
	}
	bad, _ := govh.NewAccessTokenClient(sim.Endpoint(), "not-a-token")
	var rec ipRecord
	if e := apiErr(t, bad.GetWithContext(context.Background(), wanPath, &rec)); e.Code != 401 {
		t.Fatalf("bad token: %+v", e)
	}
	var now int64
	if err := tc.GetUnAuth("/auth/time", &now); err != nil || now == 0 {
		t.Fatalf("/auth/time = %d, %v", now, err)
	}
}

func TestMoveKeepsOldRouteUntilTaskDoneAndVirtualMACFollows(t *testing.T) {
	clock := ovhsim.NewManualClock(time.Date(2013, 3, 24, 18, 0, 0, 0, time.UTC))
	sim := start(t, ovhsim.Options{Clock: clock, MoveDuration: time.Minute})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()

	var tk task
	if err := c.PostWithContext(ctx, wanPath+"/move", map[string]string{"to": other}, &tk); err != nil {
		t.Fatal(err)
	}
	if tk.Function != "genericMoveFloatingIp" || tk.Status != "todo" || tk.TaskID <= 1<<31 {
		t.Fatalf("move task = %+v", tk)
	}
	if got := routedTo(t, c, wanPath); got != esx {
		t.Fatalf("routedTo right after the move request = %q, want the old %q", got, esx)
	}
	if e := apiErr(t, c.PostWithContext(ctx, wanPath+"/move", map[string]string{"to": other}, &tk)); e.Code != 409 {
		t.Fatalf("second move while pending: %+v", e)
	}

	clock.Advance(30 * time.Second)
	taskPath := fmt.Sprintf("%s/task/%d", wanPath, tk.TaskID)
	get(t, c, taskPath, &tk)
	if tk.Status != "doing" || routedTo(t, c, wanPath) != esx {
		t.Fatalf("half way: task %q, routedTo %q", tk.Status, routedTo(t, c, wanPath))
	}

	clock.Advance(30 * time.Second)
	get(t, c, taskPath, &tk)
	if tk.Status != "done" || tk.DoneDate == "" {
		t.Fatalf("after a minute: task %+v", tk)
	}
	if got := routedTo(t, c, wanPath); got != other {
		t.Fatalf("routedTo after the move = %q", got)
	}
	var macs []string
	get(t, c, "/dedicated/server/"+other+"/virtualMac", &macs)
	if !slices.Equal(macs, []string{wanMAC}) {
		t.Fatalf("virtual MAC did not follow the IP: %v", macs)
	}
	get(t, c, "/dedicated/server/"+esx+"/virtualMac", &macs)
	if len(macs) != 0 {
		t.Fatalf("virtual MAC left behind on the old server: %v", macs)
	}
	var ids []int64
	get(t, c, wanPath+"/task?function=genericMoveFloatingIp&status=done", &ids)
	if len(ids) != 1 {
		t.Fatalf("task list = %v", ids)
	}
}

func TestMoveRefusedToServerWithoutVirtualMACs(t *testing.T) {
	sim := start(t, ovhsim.Options{})
	c := signed(t, sim.Endpoint(), appSecret)
	var tk task
	e := apiErr(t, c.PostWithContext(context.Background(), wanPath+"/move", map[string]string{"to": novmac}, &tk))
	if e.Code != 403 || !strings.Contains(e.Message, "do not support VMAC") {
		t.Fatalf("move of a block with a vMAC to a server without: %+v", e)
	}
	// A block without virtual MAC moves there fine.
	if err := c.PostWithContext(context.Background(), "/ip/"+url.PathEscape(webIP+"/32")+"/move", map[string]string{"to": novmac}, &tk); err != nil {
		t.Fatal(err)
	}
}

func TestTaskFailureOutcome(t *testing.T) {
	sim := start(t, ovhsim.Options{})
	if err := sim.FailNextTasks(ovhsim.FunctionMoveIP, 1, ovhsim.TaskOutcome{Status: "ovhError", Comment: "routing error"}); err != nil {
		t.Fatal(err)
	}
	c := signed(t, sim.Endpoint(), appSecret)
	var tk task
	if err := c.PostWithContext(context.Background(), wanPath+"/move", map[string]string{"to": other}, &tk); err != nil {
		t.Fatal(err)
	}
	get(t, c, fmt.Sprintf("%s/task/%d", wanPath, tk.TaskID), &tk)
	if tk.Status != "ovhError" || tk.Comment != "routing error" {
		t.Fatalf("task = %+v", tk)
	}
	if got := routedTo(t, c, wanPath); got != esx {
		t.Fatalf("a failed move changed the route to %q", got)
	}
}

func TestTransientAndPurgedTasks(t *testing.T) {
	clock := ovhsim.NewManualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := start(t, ovhsim.Options{Clock: clock, TaskRetention: time.Hour})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()

	for _, status := range []int{404, 500} {
		sim.SetTaskVisibility(30*time.Second, status)
		var tk task
		if err := c.PostWithContext(ctx, "/dedicated/server/"+esx+"/virtualMac",
			map[string]string{"ipAddress": webIP, "type": "ovh", "virtualMachineName": "web1"}, &tk); err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/dedicated/server/%s/task/%d", esx, tk.TaskID)
		e := apiErr(t, c.GetWithContext(ctx, path, &tk))
		if e.Code != status {
			t.Fatalf("fresh task read: %+v, want %d", e, status)
		}
		if status == 404 && e.Message != fmt.Sprintf("The requested object (taskId = %d) does not exist", tk.TaskID) {
			t.Fatalf("404 text = %q", e.Message)
		}
		clock.Advance(31 * time.Second)
		get(t, c, path, &tk)
		if tk.Status != "done" {
			t.Fatalf("task after the window = %+v", tk)
		}
		// Undo for the next round.
		var macs []string
		get(t, c, "/dedicated/server/"+esx+"/virtualMac", &macs)
		for _, m := range macs {
			if m != wanMAC {
				if err := sim.DeleteVirtualMAC(esx, m); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sim.SetTaskVisibility(0, 0)

	var tk task
	if err := c.PostWithContext(ctx, wanPath+"/move", map[string]string{"to": other}, &tk); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("%s/task/%d", wanPath, tk.TaskID)
	get(t, c, path, &tk)
	clock.Advance(2 * time.Hour)
	if e := apiErr(t, c.GetWithContext(ctx, path, &tk)); e.Code != 404 {
		t.Fatalf("task past retention: %+v", e)
	}
	if err := c.PostWithContext(ctx, wanPath+"/move", map[string]string{"to": esx}, &tk); err != nil {
		t.Fatal(err)
	}
	get(t, c, fmt.Sprintf("%s/task/%d", wanPath, tk.TaskID), &tk)
	if n := sim.PurgeTasks(); n != 1 {
		t.Fatalf("purged %d tasks", n)
	}
	if e := apiErr(t, c.GetWithContext(ctx, fmt.Sprintf("%s/task/%d", wanPath, tk.TaskID), &tk)); e.Code != 404 {
		t.Fatalf("purged task: %+v", e)
	}
}

func TestExtraTasks(t *testing.T) {
	sim := start(t, ovhsim.Options{MoveDuration: time.Hour})
	sim.SetExtraTasks(1)
	c := signed(t, sim.Endpoint(), appSecret)
	var tk task
	if err := c.PostWithContext(context.Background(), wanPath+"/move", map[string]string{"to": other}, &tk); err != nil {
		t.Fatal(err)
	}
	extra, err := sim.AddTask(ovhsim.ScopeIP, wanIP, "genericMoveFloatingIp", "done")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	get(t, c, wanPath+"/task?function=genericMoveFloatingIp", &ids)
	if len(ids) != 3 || !slices.Contains(ids, tk.TaskID) || !slices.Contains(ids, extra) {
		t.Fatalf("task ids = %v (returned %d, added %d)", ids, tk.TaskID, extra)
	}
}

func TestFaultsPerRoute(t *testing.T) {
	sim := start(t, ovhsim.Options{})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()
	var rec ipRecord

	sim.InjectFault(ovhsim.RouteIP, ovhsim.Fault{Status: 503, Count: 2})
	for i := 0; i < 2; i++ {
		if e := apiErr(t, c.GetWithContext(ctx, wanPath, &rec)); e.Code != 503 || e.Class != "Server::ServiceUnavailable" || e.QueryID == "" {
			t.Fatalf("injected 503 #%d: %+v", i, e)
		}
	}
	get(t, c, wanPath, &rec) // the fault is spent
	var ips []string
	get(t, c, "/ip", &ips) // other routes never saw it

	sim.InjectFault(ovhsim.RouteIP, ovhsim.Fault{Status: 502, Body: ovhsim.HTMLErrorPage(502)})
	if e := apiErr(t, c.GetWithContext(ctx, wanPath, &rec)); e.Code != 502 || !strings.Contains(e.Message, "<html>") {
		t.Fatalf("HTML 502: %+v", e)
	}
	sim.InjectFault("*", ovhsim.Fault{Status: 429, Header: map[string]string{"Retry-After": "7"}})
	if e := apiErr(t, c.GetWithContext(ctx, "/dedicated/server", &ips)); e.Code != 429 {
		t.Fatalf("429 everywhere: %+v", e)
	}
	sim.ClearFaults()

	sim.InjectFault(ovhsim.RouteIPList, ovhsim.Fault{Latency: time.Minute})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.GetWithContext(short, "/ip", &ips); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("latency fault: %v", err)
	}
	sim.ClearFaults()

	release := sim.Hold(ovhsim.RouteIPList)
	done := make(chan error)
	go func() { done <- c.GetWithContext(ctx, "/ip", &[]string{}) }()
	waitFor(t, func() bool { return sim.Held(ovhsim.RouteIPList) == 1 })
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCallCounters(t *testing.T) {
	sim := start(t, ovhsim.Options{})
	c := signed(t, sim.Endpoint(), appSecret)
	var rec ipRecord
	get(t, c, wanPath, &rec)
	get(t, c, "/ip/"+webIP, &rec) // a bare address stands for its /32
	var spec map[string]any
	get(t, c, "/dedicated/server/"+esx+"/specifications/network", &spec)
	calls := sim.Calls()
	if calls[ovhsim.RouteIP] != 2 || calls[ovhsim.RouteServerNetwork] != 1 || calls[ovhsim.RouteAuthTime] != 1 || sim.TotalCalls() != 3 {
		t.Fatalf("calls = %v", calls)
	}

	resp, err := http.Get(sim.URL() + "/_sim/calls")
	if err != nil {
		t.Fatal(err)
	}
	var overHTTP map[string]int
	_ = json.NewDecoder(resp.Body).Decode(&overHTTP)
	resp.Body.Close()
	if overHTTP[ovhsim.RouteIP] != 2 {
		t.Fatalf("GET /_sim/calls = %v", overHTTP)
	}
	req, _ := http.NewRequest("DELETE", sim.URL()+"/_sim/calls", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if n := sim.TotalCalls(); n != 0 {
		t.Fatalf("after reset: %d calls", n)
	}
}

func TestKimsufiHasNoVirtualMACOrMoveRoutes(t *testing.T) {
	w := seed()
	w.VirtualMACs = nil
	sim := start(t, ovhsim.Options{Profile: ovhsim.ProfileKimsufi, World: w})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()
	var macs []string
	e := apiErr(t, c.GetWithContext(ctx, "/dedicated/server/"+esx+"/virtualMac", &macs))
	if e.Code != 404 || e.Message != "Got an invalid (or empty) URL" || e.Class != "Client::NotFound" {
		t.Fatalf("vMAC list on Kimsufi: %+v", e)
	}
	if e := apiErr(t, c.PostWithContext(ctx, wanPath+"/move", map[string]string{"to": other}, nil)); e.Code != 404 {
		t.Fatalf("move on Kimsufi: %+v", e)
	}
	if sim.CallCount(ovhsim.RouteIPMove) != 1 {
		t.Fatalf("missing routes are still counted: %v", sim.Calls())
	}
	var spec struct {
		VMAC struct {
			Supported bool `json:"supported"`
		} `json:"vmac"`
	}
	get(t, c, "/dedicated/server/"+esx+"/specifications/network", &spec)
	if spec.VMAC.Supported {
		t.Fatal("Kimsufi server claims virtual MAC support")
	}
	if routedTo(t, c, wanPath) != esx {
		t.Fatal("IP routes must work on Kimsufi")
	}
}

func TestVirtualMACLifecycle(t *testing.T) {
	for _, listedEarly := range []bool{false, true} {
		t.Run(fmt.Sprintf("listedBeforeDone=%v", listedEarly), func(t *testing.T) {
			clock := ovhsim.NewManualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
			sim := start(t, ovhsim.Options{Clock: clock, VirtualMACDuration: 10 * time.Second, ListVirtualMACBeforeDone: listedEarly})
			c := signed(t, sim.Endpoint(), appSecret)
			ctx := context.Background()
			base := "/dedicated/server/" + esx + "/virtualMac"

			var tk task
			if err := c.PostWithContext(ctx, base, map[string]string{"ipAddress": webIP, "type": "ovh", "virtualMachineName": "web1"}, &tk); err != nil {
				t.Fatal(err)
			}
			var macs []string
			get(t, c, base, &macs)
			if want := 1; listedEarly {
				want = 2
				if len(macs) != want {
					t.Fatalf("listed early: %v", macs)
				}
			} else if len(macs) != want {
				t.Fatalf("listed before done: %v", macs)
			}
			e := apiErr(t, c.PostWithContext(ctx, base, map[string]string{"ipAddress": webIP, "type": "ovh", "virtualMachineName": "web1"}, &tk))
			if e.Code != 403 || e.Message != "A Virtual Mac already exists on "+webIP+"!" {
				t.Fatalf("second vMAC for the same IP: %+v", e)
			}
			clock.Advance(10 * time.Second)
			get(t, c, base, &macs)
			var newMAC string
			for _, m := range macs {
				if m != wanMAC {
					newMAC = m
				}
			}
			if !strings.HasPrefix(newMAC, "02:00:00:") {
				t.Fatalf("ovh-type MAC = %q", newMAC)
			}
			var detail struct{ MacAddress, Type string }
			get(t, c, base+"/"+newMAC, &detail)
			var addrs []string
			get(t, c, base+"/"+newMAC+"/virtualAddress", &addrs)
			if detail.Type != "ovh" || !slices.Equal(addrs, []string{webIP}) {
				t.Fatalf("detail %+v addresses %v", detail, addrs)
			}
			var va struct{ IPAddress, VirtualMachineName string }
			get(t, c, base+"/"+newMAC+"/virtualAddress/"+webIP, &va)
			if va.VirtualMachineName != "web1" {
				t.Fatalf("virtual address = %+v", va)
			}

			// Unbinding the last IP deletes the MAC.
			if err := c.DeleteWithContext(ctx, base+"/"+newMAC+"/virtualAddress/"+webIP, &tk); err != nil {
				t.Fatal(err)
			}
			clock.Advance(10 * time.Second)
			get(t, c, base, &macs)
			if !slices.Equal(macs, []string{wanMAC}) {
				t.Fatalf("after unbinding the last IP: %v", macs)
			}
		})
	}
}

func TestVirtualMACErrors(t *testing.T) {
	sim := start(t, ovhsim.Options{NotRoutedError: ovhsim.ErrorReply{Status: 400, Message: "not routed here"}})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()
	cases := []struct {
		server, ip, typ string
		code            int
		message         string
	}{
		{esx, "203.0.113", "vmware", 400, "[ipAddress] Given data (203.0.113) is not valid for type ipv4"},
		{esx, webIP, "xen", 400, "[type] Given data (xen) does not belong to the VmacTypeEnum enumeration"},
		{esx, parked, "vmware", 400, "not routed here"},
		{novmac, webIP, "vmware", 403, "Virtual MAC is not supported on this server"},
		{"ns0.example", webIP, "vmware", 404, "This service does not exist"},
	}
	for _, tc := range cases {
		e := apiErr(t, c.PostWithContext(ctx, "/dedicated/server/"+tc.server+"/virtualMac",
			map[string]string{"ipAddress": tc.ip, "type": tc.typ, "virtualMachineName": "vm"}, nil))
		if e.Code != tc.code || e.Message != tc.message {
			t.Errorf("%s %s %s: got %d %q, want %d %q", tc.server, tc.ip, tc.typ, e.Code, e.Message, tc.code, tc.message)
		}
	}
	// A vmware MAC gets VMware's OUI, and binding a second IP works.
	var tk task
	if err := c.PostWithContext(ctx, "/dedicated/server/"+esx+"/virtualMac/"+wanMAC+"/virtualAddress",
		map[string]string{"ipAddress": webIP, "virtualMachineName": "web1"}, &tk); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	get(t, c, "/dedicated/server/"+esx+"/virtualMac/"+wanMAC+"/virtualAddress", &addrs)
	if !slices.Equal(addrs, []string{wanIP, webIP}) {
		t.Fatalf("addresses = %v", addrs)
	}
}

func TestParkedIPShapes(t *testing.T) {
	for style, want := range map[ovhsim.ParkedStyle]string{
		ovhsim.ParkedNull:            "null",
		ovhsim.ParkedServiceNameNull: `{"serviceName":null}`,
		ovhsim.ParkedEmpty:           `""`,
	} {
		sim := start(t, ovhsim.Options{ParkedRoutedTo: style})
		var rec ipRecord
		get(t, signed(t, sim.Endpoint(), appSecret), "/ip/"+parked, &rec)
		if string(rec.RoutedTo) != want || rec.IP != parked+"/32" || rec.Type != "failover" {
			t.Errorf("%s: %+v (routedTo %s)", style, rec, rec.RoutedTo)
		}
	}
}

func TestAdminOverHTTP(t *testing.T) {
	clock := ovhsim.NewManualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := start(t, ovhsim.Options{Clock: clock, MoveDuration: time.Minute})
	c := signed(t, sim.Endpoint(), appSecret)
	post := func(path, body string) {
		t.Helper()
		resp, err := http.Post(sim.URL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}

	post("/_sim/vmac/type", `{"server":"`+esx+`","mac":"`+wanMAC+`","type":"ovh"}`)
	var detail struct{ Type string }
	get(t, c, "/dedicated/server/"+esx+"/virtualMac/"+wanMAC, &detail)
	if detail.Type != "ovh" {
		t.Fatalf("type after admin change = %q", detail.Type)
	}
	post("/_sim/vmac/bind", `{"server":"`+esx+`","mac":"`+wanMAC+`","ip":"`+webIP+`","virtualMachineName":"web1"}`)
	var addrs []string
	get(t, c, "/dedicated/server/"+esx+"/virtualMac/"+wanMAC+"/virtualAddress", &addrs)
	if len(addrs) != 2 {
		t.Fatalf("addresses after admin bind = %v", addrs)
	}
	post("/_sim/network", `{"server":"`+esx+`","gateway":"198.51.100.1"}`)
	var spec struct {
		Routing struct{ IPv4 struct{ Gateway, IP string } }
	}
	get(t, c, "/dedicated/server/"+esx+"/specifications/network", &spec)
	if spec.Routing.IPv4.Gateway != "198.51.100.1" || spec.Routing.IPv4.IP != "198.51.100.17" {
		t.Fatalf("network after admin change = %+v", spec)
	}
	post("/_sim/ip/move", `{"ip":"`+wanIP+`","to":"`+other+`"}`)
	if got := routedTo(t, c, wanPath); got != other {
		t.Fatalf("routedTo after admin move = %q", got)
	}
	post("/_sim/vmac/delete", `{"server":"`+other+`","mac":"`+wanMAC+`"}`)
	var macs []string
	get(t, c, "/dedicated/server/"+other+"/virtualMac", &macs)
	if len(macs) != 0 {
		t.Fatalf("macs after admin delete = %v", macs)
	}

	post("/_sim/faults", `{"route":"GET /ip","status":500,"count":1}`)
	if e := apiErr(t, c.GetWithContext(context.Background(), "/ip", &macs)); e.Code != 500 {
		t.Fatalf("fault over HTTP: %+v", e)
	}
	var tk task
	if err := c.PostWithContext(context.Background(), wanPath+"/move", map[string]string{"to": esx}, &tk); err != nil {
		t.Fatal(err)
	}
	post("/_sim/clock/advance", `{"duration":"1m"}`)
	if got := routedTo(t, c, wanPath); got != esx {
		t.Fatalf("routedTo after advancing the clock over HTTP = %q", got)
	}
	post("/_sim/credentials", `{"accessToken":"fresh-token"}`)
	tc, _ := govh.NewAccessTokenClient(sim.Endpoint(), "fresh-token")
	if routedTo(t, tc, wanPath) != esx {
		t.Fatal("token added over HTTP refused")
	}

	resp, err := http.Get(sim.URL() + "/_sim/world")
	if err != nil {
		t.Fatal(err)
	}
	var w ovhsim.World
	_ = json.NewDecoder(resp.Body).Decode(&w)
	resp.Body.Close()
	if len(w.Servers) != 3 || len(w.IPs) != 3 {
		t.Fatalf("world over HTTP = %+v", w)
	}
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForcedTaskStatus(t *testing.T) {
	clock := ovhsim.NewManualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := start(t, ovhsim.Options{Clock: clock, MoveDuration: time.Minute})
	c := signed(t, sim.Endpoint(), appSecret)
	var tk task
	if err := c.PostWithContext(context.Background(), wanPath+"/move", map[string]string{"to": other}, &tk); err != nil {
		t.Fatal(err)
	}
	// A move stuck in "doing" never applies, however long one waits.
	if err := sim.SetTaskStatus(tk.TaskID, "doing", ""); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	get(t, c, fmt.Sprintf("%s/task/%d", wanPath, tk.TaskID), &tk)
	if tk.Status != "doing" || routedTo(t, c, wanPath) != esx {
		t.Fatalf("stuck move: task %q, routedTo %q", tk.Status, routedTo(t, c, wanPath))
	}
	// Cancelling it frees the IP for another move.
	if err := sim.SetTaskStatus(tk.TaskID, "cancelled", "cancelled by support"); err != nil {
		t.Fatal(err)
	}
	if err := c.PostWithContext(context.Background(), wanPath+"/move", map[string]string{"to": other}, &tk); err != nil {
		t.Fatalf("move after cancellation: %v", err)
	}

	id, err := sim.AddTask(ovhsim.ScopeServer, esx, "hardReboot", "todo")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	get(t, c, fmt.Sprintf("/dedicated/server/%s/task/%d", esx, id), &tk)
	if tk.Status != "todo" || tk.Function != "hardReboot" {
		t.Fatalf("added task = %+v", tk)
	}
}

// A write whose answer is lost (or comes too late) was done all the same:
// its task exists and the IP moves, which is what a client must find out
// instead of writing again.
func TestWriteDoneButAnswerLost(t *testing.T) {
	sim := start(t, ovhsim.Options{})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()

	sim.InjectFault(ovhsim.RouteIPMove, ovhsim.Fault{LoseReply: true, Count: 1})
	var tk task
	if err := c.PostWithContext(ctx, wanPath+"/move", map[string]string{"to": other}, &tk); err == nil {
		t.Fatal("a lost answer must fail the call")
	}
	if got := routedTo(t, c, wanPath); got != other {
		t.Fatalf("the move was not done: routed to %q", got)
	}

	sim.InjectFault(ovhsim.RouteIPMove, ovhsim.Fault{ReplyLatency: time.Minute, Count: 1})
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.PostWithContext(short, wanPath+"/move", map[string]string{"to": esx}, &tk); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow answer: %v", err)
	}
	if got := routedTo(t, c, wanPath); got != esx {
		t.Fatalf("the second move was not done: routed to %q", got)
	}
	var moves int
	for _, tk := range sim.Tasks() {
		if tk.Function == ovhsim.FunctionMoveIP {
			moves++
		}
	}
	if moves != 2 || sim.CallCount(ovhsim.RouteIPMove) != 2 {
		t.Fatalf("want 2 move tasks and calls, got %d tasks, %d calls", moves, sim.CallCount(ovhsim.RouteIPMove))
	}
}
