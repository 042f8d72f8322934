package ovhsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// TestConformanceOfTheOperatorsCalls drives the operator's OVH client
// through everything it does (observe, create a virtual MAC, bind, unbind,
// move, read and list tasks) against a simulator that checks every request
// and every answer against OVH's API description (testdata/schema).
func TestConformanceOfTheOperatorsCalls(t *testing.T) {
	clock := ovhsim.NewManualClock(time.Date(2024, 6, 10, 14, 0, 0, 0, time.UTC))
	sim := start(t, ovhsim.Options{Conformance: true, Clock: clock, MoveDuration: time.Minute, VirtualMACDuration: 10 * time.Second})
	pool := ovh.NewClients(ovh.Options{RequestsPerSecond: math.Inf(1)})
	creds := ovh.Credentials{Endpoint: sim.Endpoint(), ApplicationKey: appKey, ApplicationSecret: appSecret, ConsumerKey: consumer}
	c, err := pool.Get(creds)
	if err != nil {
		t.Fatal(err)
	}
	obs := ovh.NewObserver(pool, ovh.ObserverOptions{Now: clock.Now})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	snap, err := obs.Snapshot(ctx, creds, esx, 0)
	must(err)
	if _, ok := snap.VirtualMACFor(wanIP); !ok {
		t.Fatalf("snapshot = %+v", snap)
	}
	_, err = c.IP(ctx, parked)
	must(err)

	create, err := c.CreateVirtualMAC(ctx, esx, webIP, ovh.MACTypeVMware, "web1")
	must(err)
	_, err = c.ServerTask(ctx, esx, create.ID) // pending: lastUpdate and doneDate null
	must(err)
	clock.Advance(10 * time.Second)
	_, err = c.ServerTask(ctx, esx, create.ID)
	must(err)
	_, err = c.ServerTasks(ctx, esx, ovh.FunctionAddVirtualMAC)
	must(err)
	macs, err := c.VirtualMACs(ctx, esx)
	must(err)
	var webMAC string
	for _, m := range macs {
		if m != wanMAC {
			webMAC = m
		}
	}
	bind, err := c.BindIP(ctx, esx, wanMAC, webIP, "vyatta")
	if err == nil {
		t.Fatalf("binding an IP that has a MAC succeeded: %+v", bind)
	}
	_, err = c.UnbindIP(ctx, esx, webMAC, webIP)
	must(err)
	clock.Advance(10 * time.Second)
	_, err = c.BindIP(ctx, esx, wanMAC, webIP, "vyatta")
	must(err)
	clock.Advance(10 * time.Second)
	_, err = c.VirtualMAC(ctx, esx, wanMAC)
	must(err)
	// A block whose MAC also serves another address does not move (OVH's
	// duplicate rule): the web IP leaves the router's MAC first.
	if _, err := c.MoveIP(ctx, wanIP, other); err == nil {
		t.Fatal("a block with a duplicate virtual MAC was moved")
	}
	_, err = c.UnbindIP(ctx, esx, wanMAC, webIP)
	must(err)
	clock.Advance(10 * time.Second)

	move, err := c.MoveIP(ctx, wanIP, other)
	must(err)
	_, err = c.IPTask(ctx, wanIP, move.ID)
	must(err)
	_, err = c.IPTasks(ctx, wanIP, ovh.FunctionMoveIP)
	must(err)
	clock.Advance(time.Minute)
	_, err = c.IPTask(ctx, wanIP, move.ID)
	must(err)
	obs.Invalidate(creds, esx)
	_, err = obs.Snapshot(ctx, creds, other, 0)
	must(err)

	_, err = obs.Reverse(ctx, creds, esx, webIP, webIP, time.Minute) // none yet: 404
	must(err)
	must(sim.SetDNS("web.example.com", webIP))
	_, err = c.SetReverse(ctx, webIP, webIP, "web.example.com.")
	must(err)
	if _, err := c.SetReverse(ctx, webIP, webIP, "nowhere.example.com."); err == nil {
		t.Fatal("a reverse that does not resolve was accepted")
	}
	if name, err := c.Reverse(ctx, webIP+"/32", webIP); err != nil || name != "web.example.com." {
		t.Fatalf("reverse = %q, %v", name, err)
	}

	// The scenario covers every route the client uses.
	calls := sim.Calls()
	for _, route := range []string{
		ovhsim.RouteAuthTime, ovhsim.RouteIPList, ovhsim.RouteIP, ovhsim.RouteIPMove, ovhsim.RouteIPTaskList, ovhsim.RouteIPTask,
		ovhsim.RouteServerNetwork, ovhsim.RouteServerTaskList, ovhsim.RouteServerTask, ovhsim.RouteVMACList, ovhsim.RouteVMACCreate,
		ovhsim.RouteVMAC, ovhsim.RouteVMACAddresses, ovhsim.RouteVMACBind, ovhsim.RouteVMACUnbind,
		ovhsim.RouteReverse, ovhsim.RouteReverseCreate,
	} {
		if calls[route] == 0 {
			t.Errorf("the scenario never called %s", route)
		}
	}
	for _, v := range sim.Violations() {
		t.Errorf("departs from OVH's API description: %s", v)
	}
}

// TestConformanceOfTheSimulatorsOwnRoutes reads every route the simulator
// serves, the ones the operator does not use included, and holds the
// answers to OVH's description.
func TestConformanceOfTheSimulatorsOwnRoutes(t *testing.T) {
	sim := start(t, ovhsim.Options{Conformance: true})
	c := signed(t, sim.Endpoint(), appSecret)
	var anything json.RawMessage
	for _, path := range []string{
		"/dedicated/server", "/dedicated/server/" + esx, "/dedicated/server/" + esx + "/ips",
		"/dedicated/server/" + esx + "/virtualMac/" + wanMAC + "/virtualAddress/" + wanIP,
		"/ip", "/ip?version=6", "/ip/" + parked + "%2F32", "/dedicated/server/" + novmac + "/specifications/network",
		wanPath + "/reverse",
	} {
		get(t, c, path, &anything)
	}
	for _, v := range sim.Violations() {
		t.Errorf("departs from OVH's API description: %s", v)
	}
}

// TestConformanceCheckCatchesDepartures proves the check is not vacuous: a
// request OVH would not understand and an answer OVH never gives are both
// reported.
func TestConformanceCheckCatchesDepartures(t *testing.T) {
	sim := start(t, ovhsim.Options{Conformance: true, ParkedRoutedTo: ovhsim.ParkedEmpty})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()
	var anything json.RawMessage
	get(t, c, "/ip/"+parked, &anything) // "routedTo": ""
	_ = c.PostWithContext(ctx, "/dedicated/server/"+esx+"/virtualMac",
		map[string]string{"ipAddress": webIP + "/32", "type": "vmware", "virtualMachineName": "web1", "mac": "x"}, &anything)
	_ = c.GetWithContext(ctx, "/ip/"+wanIP+"/task?function=virtualMacAdd", &anything)
	_ = c.GetWithContext(ctx, "/ip?routedTo="+esx, &anything)
	_ = c.GetWithContext(ctx, "/ip/"+wanIP+"/nope", &anything)
	want := []string{
		`response GET /ip/{ip} (HTTP 200).routedTo: "" is not an object`,
		`request POST /dedicated/server/{serviceName}/virtualMac body: field "mac" is not in OVH's model`,
		`request POST /dedicated/server/{serviceName}/virtualMac body.ipAddress: "203.0.113.124/32" is not an IPv4 address`,
		`request GET /ip/{ip}/task query parameter function: "virtualMacAdd" is not in OVH's enum`,
		`request GET /ip: query parameter "routedTo" is not described`,
		`GET /ip/203.0.113.123/nope: OVH's API has no such operation`,
	}
	got := sim.Violations()
	for _, w := range want {
		if !slices.ContainsFunc(got, func(v string) bool { return strings.HasPrefix(v, w) }) {
			t.Errorf("not reported: %s\ngot: %s", w, strings.Join(got, "\n     "))
		}
	}
}

// TestOVHShapes pins what OVH sends where the simulator once guessed.
func TestOVHShapes(t *testing.T) {
	clock := ovhsim.NewManualClock(time.Date(2024, 6, 10, 14, 0, 0, 0, time.UTC))
	w := seed()
	w.Servers[0].IPv6 = "2001:db8:1:2::/64"
	sim := start(t, ovhsim.Options{World: w, Clock: clock, MoveDuration: time.Minute})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()

	var ips []string
	get(t, c, "/ip?routedTo.serviceName="+esx, &ips)
	if !slices.Equal(ips, []string{"198.51.100.17/32", "2001:db8:1:2::/64", wanIP + "/32", webIP + "/32"}) {
		t.Fatalf("GET /ip?routedTo.serviceName= lists %v, want the main IP and the IPv6 block too", ips)
	}
	var main map[string]any
	get(t, c, "/ip/198.51.100.17", &main)
	if main["type"] != "dedicated" || main["isAdditionalIp"] != false || main["canBeTerminated"] != false {
		t.Fatalf("main IP = %v", main)
	}
	var raw map[string]json.RawMessage
	get(t, c, "/ip/"+parked, &raw)
	if string(raw["routedTo"]) != `{"serviceName":null}` {
		t.Fatalf("parked routedTo = %s", raw["routedTo"])
	}

	var spec struct {
		Routing struct {
			IPv4 struct{ IP string }
			IPv6 struct{ IP, Gateway string }
		}
		VMAC struct {
			Supported *bool
			Quota     *int
		}
	}
	get(t, c, "/dedicated/server/"+esx+"/specifications/network", &spec)
	if spec.Routing.IPv4.IP != "198.51.100.17" || spec.Routing.IPv6.IP != "2001:db8:1:2::/64" ||
		spec.VMAC.Supported == nil || !*spec.VMAC.Supported || spec.VMAC.Quota == nil || *spec.VMAC.Quota == 0 {
		t.Fatalf("network specification = %+v", spec)
	}

	var tk map[string]any
	if err := c.PostWithContext(ctx, wanPath+"/move", map[string]string{"to": other}, &tk); err != nil {
		t.Fatal(err)
	}
	if tk["startDate"] != "2024-06-10T14:00:00+00:00" || tk["lastUpdate"] != nil || tk["doneDate"] != nil {
		t.Fatalf("new task = %v", tk)
	}
	clock.Advance(time.Minute)
	get(t, c, fmt.Sprintf("%s/task/%v", wanPath, tk["taskId"]), &tk)
	if tk["doneDate"] != "2024-06-10T14:01:00+00:00" || tk["lastUpdate"] == nil {
		t.Fatalf("done task = %v", tk)
	}
	var moveMain map[string]any
	if e := apiErr(t, c.PostWithContext(ctx, "/ip/198.51.100.17%2F32/move", map[string]string{"to": other}, &moveMain)); e.Code != http.StatusBadRequest {
		t.Fatalf("moving a main IP: %+v", e)
	}
}
