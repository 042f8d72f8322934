package kernel_test

import (
	"context"
	"maps"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/router"
	"github.com/ovhbridge/ovhbridge-operator/test/netns"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// The router simulator on a real kernel (Options.Netns), driven by the
// operator's SSH driver through the seed's incident: Vyatta 6.5's Quagga
// installs the default route without its gateway, the router's traffic
// becomes real ARP requests for every destination, which OVH's gateway
// (a proxy-ARP namespace) receives and counts; the operator's repair
// (configuration without the gateway routes, the boot script's routes,
// the neighbour flush) leaves one request, for the gateway. The same holds
// after a reboot, where the boot script installs the routes.
func TestSimulatorOnKernelFloodAndRepair(t *testing.T) {
	requireNetAdmin(t)
	name := "ovhb-sim-" + strconv.Itoa(os.Getpid())
	sim, err := routersim.New(routersim.Vyatta65, routersim.Options{Seed: routersim.SeedVyatta2013, Netns: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Close()
		if list, _ := netns.IP("", "netns", "list"); strings.Contains(list, name) {
			t.Errorf("the simulator left its namespaces behind:\n%s", list)
		}
	})
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sim.KernelError(); err != nil {
		t.Fatal(err)
	}
	rtNS, _, ok := sim.Kernel()
	if !ok || rtNS != name {
		t.Fatalf("not in kernel mode: %q %v", rtNS, ok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := router.New(router.Endpoint{Kind: router.SSH, Address: sim.SSHAddr()}, map[string][]byte{
		"username": []byte(sim.Username()), "password": []byte(sim.Password()), "hostKey": []byte(sim.HostKeyLine()),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	info, err := d.Probe(ctx)
	if err != nil || info.Platform != router.Vyatta6 {
		t.Fatalf("probe: %+v %v", info, err)
	}

	// Broken: what the driver reads is the real kernel's table.
	routes, err := d.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := reasons(drift.RouterRoutes(routes, wan)); !reflect.DeepEqual(got, []string{v1.ReasonDefaultRouteWithoutGateway}) {
		t.Fatalf("route verdicts on the seed: %v\n%+v", got, routes)
	}
	before := floodCounts(t, sim, fromRouter, func(m map[string]string) bool {
		for _, dst := range fromRouter {
			if m[dst] != "REACHABLE" {
				return false
			}
		}
		return true
	})
	wantBefore := map[string]int{}
	for _, dst := range fromRouter {
		wantBefore[dst] = 1
	}
	if !reflect.DeepEqual(before, wantBefore) {
		t.Fatalf("ARP requests the gateway received in the broken state: %v, want one per destination: %v", before, wantBefore)
	}
	ns, err := d.Neighbours(ctx, "eth2")
	if err != nil {
		t.Fatal(err)
	}
	if _, fs := drift.RouterNeighbours(ns, wan, len(fromRouter)-2); !strings.Contains(strings.Join(reasons(fs), ","), v1.ReasonARPFlood) {
		t.Fatalf("neighbour verdicts on the flood: %v\n%+v", reasons(fs), ns)
	}

	// The operator's repair, as the RouterConfig controller does it in
	// BootScript mode (Auto on Vyatta 6.x).
	rend, err := router.Render(info.Platform, router.Desired{
		Interfaces: []router.Interface{
			{Name: "eth1", Addresses: []string{"10.0.10.254/24"}, Description: "LAN"},
			{Name: "eth2", Addresses: []string{wanAddr + "/32"}, Description: "WAN"},
		},
		WAN: router.WAN{Interface: "eth2", Gateway: gwAddr, Mode: info.Platform.DefaultGatewayRouteMode()},
	})
	if err != nil {
		t.Fatal(err)
	}
	obs, err := d.ReadConfig(ctx, rend.Owned)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, router.Diff(obs, rend.Config, rend.Owned)); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(ctx); err != nil {
		t.Fatal(err)
	}
	bs, err := d.BootScript(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteBootScript(ctx, router.MergeBootScript(bs.Content, rend.BootScriptBlock)); err != nil {
		t.Fatal(err)
	}
	if err := d.ReplaceRoutes(ctx, rend.BootRoutes); err != nil {
		t.Fatal(err)
	}
	if err := d.FlushNeighbours(ctx, "eth2"); err != nil {
		t.Fatal(err)
	}
	if err := sim.KernelError(); err != nil {
		t.Fatal(err)
	}
	checkRepaired := func(when string) {
		t.Helper()
		routes, err := d.Routes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fs := drift.RouterRoutes(routes, wan); len(fs) != 0 {
			t.Fatalf("%s: route verdicts %v\n%+v", when, reasons(fs), routes)
		}
		after := floodCounts(t, sim, fromRouter, func(m map[string]string) bool {
			return reflect.DeepEqual(m, map[string]string{gwAddr: "REACHABLE"})
		})
		if want := map[string]int{gwAddr: 1}; !reflect.DeepEqual(after, want) {
			t.Fatalf("%s: ARP requests the gateway received for %d destinations: %v, want only the gateway's: %v", when, len(fromRouter), after, want)
		}
	}
	checkRepaired("repaired")

	// A reboot: the saved configuration has no gateway routes, the boot
	// script installs them.
	if err := sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	if err := sim.KernelError(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err = router.New(router.Endpoint{Kind: router.SSH, Address: sim.SSHAddr()}, map[string][]byte{
		"username": []byte(sim.Username()), "password": []byte(sim.Password()), "hostKey": []byte(sim.HostKeyLine()),
	}); err != nil {
		t.Fatal(err)
	}
	checkRepaired("after a reboot")
}

// floodCounts sends one real datagram from the router to each destination,
// waits (on the kernel's neighbour notifications) until the router's eth2
// table satisfies settled — every request answered — and returns the ARP
// requests the gateway received meanwhile, by target.
func floodCounts(t *testing.T, sim *routersim.Router, dsts []string, settled func(map[string]string) bool) map[string]int {
	t.Helper()
	rtNS, _, _ := sim.Kernel()
	base, err := sim.ARPRequests()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.InjectTraffic(dsts...); err != nil {
		t.Fatal(err)
	}
	if st, err := netns.WaitNeigh(rtNS, "eth2", 30*time.Second, settled); err != nil {
		t.Fatalf("the router's neighbour table never settled: %v (%v)", err, st)
	}
	now, err := sim.ARPRequests()
	if err != nil {
		t.Fatal(err)
	}
	delta := maps.Clone(now)
	for k, v := range base {
		if delta[k] -= v; delta[k] == 0 {
			delete(delta, k)
		}
	}
	t.Logf("ARP requests the gateway received: %v", delta)
	return delta
}

// VyOS 1.4 on the kernel: FRR's static routes go in through nexthop objects
// (the simulator installs them as FRR does), the driver reads them from the
// real table with `ip -j`, and the router's traffic costs one ARP request,
// for the gateway.
func TestSimulatorOnKernelFRR(t *testing.T) {
	requireNetAdmin(t)
	name := "ovhb-frr-" + strconv.Itoa(os.Getpid())
	sim, err := routersim.New(routersim.VyOS14, routersim.Options{Netns: name, Gateway: gwAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetConfig(
		"set interfaces ethernet eth1 address 10.0.10.254/24",
		"set interfaces ethernet eth2 address "+wanAddr+"/32",
		"set protocols static route 0.0.0.0/0 next-hop "+gwAddr,
		"set protocols static route "+gwAddr+"/32 interface eth2",
	); err != nil {
		t.Fatal(err)
	}
	if err := sim.KernelError(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := router.New(router.Endpoint{Kind: router.SSH, Address: sim.SSHAddr()}, map[string][]byte{
		"username": []byte(sim.Username()), "password": []byte(sim.Password()), "hostKey": []byte(sim.HostKeyLine()),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	routes, err := d.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(routes, frrRoutes) {
		t.Fatalf("routes read from the kernel:\n%+v\nwant (test/kernel's frr state)\n%+v", routes, frrRoutes)
	}
	if fs := drift.RouterRoutes(routes, wan); len(fs) != 0 {
		t.Fatalf("route verdicts: %v", reasons(fs))
	}
	rtNS, _, _ := sim.Kernel()
	if text, err := netns.IP(rtNS, "-4", "route", "show", "table", "main"); err != nil || !strings.Contains(text, "nhid") {
		t.Fatalf("FRR's routes are not through nexthop objects: %v\n%s", err, text)
	}
	got := floodCounts(t, sim, fromRouter, func(m map[string]string) bool {
		return reflect.DeepEqual(m, map[string]string{gwAddr: "REACHABLE"})
	})
	if want := map[string]int{gwAddr: 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ARP requests the gateway received: %v, want %v", got, want)
	}
}
