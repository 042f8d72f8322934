package router_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/router"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// The server's IPv6 block, the router's WAN address in it and OVH's IPv6
// gateway outside it (test/kernel's IPv6 lab).
const (
	block6 = "2001:db8:1:1::/64"
	wan6IP = "2001:db8:1:1::123"
	gw6    = "2001:db8:1:ff:ff:ff:ff:ff"
)

var (
	seedWAN6 = drift.RouterWAN6{Interface: wan, Gateway: gw6, OnLink: []netip.Prefix{netip.MustParsePrefix(block6)}}
	traffic6 = []string{"2001:db8:ffff::20", "2001:db8:ffff::120", "2001:db8:ffff::251", "2001:db8:ffff::175",
		"2001:db8:ffff::8", "2001:db8:ffff::42", "2001:db8:ffff::191", "2001:db8:ffff::163"}
)

// dualStack is the seed's RouterConfig with the WAN's IPv6 address and
// gateway added.
func dualStack(mode router.GatewayRouteMode) router.Desired {
	d := seedDesired(mode)
	d.Interfaces[1].Addresses = append(d.Interfaces[1].Addresses, wan6IP+"/64")
	d.WAN.Gateway6 = gw6
	return d
}

// checkHealthy6 sends IPv6 traffic and checks the IPv6 routes and the WAN's
// IPv6 neighbours through d: only the gateway is solicited.
func checkHealthy6(t *testing.T, sim *routersim.Router, d router.Driver, when string) {
	t.Helper()
	ctx := testCtx(t)
	if err := sim.InjectTraffic(traffic6...); err != nil {
		t.Fatal(err)
	}
	routes, err := d.Routes6(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fs := drift.RouterRoutes6(routes, seedWAN6); len(fs) != 0 {
		t.Fatalf("%s: IPv6 routes %v: %+v", when, routes, fs)
	}
	ns, err := d.Neighbours6(ctx, wan)
	if err != nil {
		t.Fatal(err)
	}
	sum, fs := drift.RouterNeighbours6(ns, seedWAN6, 5)
	if len(fs) != 0 || sum.Entries != 1 || sum.GatewayMAC != "00:05:73:a0:00:01" || sum.OffLink != 0 {
		t.Fatalf("%s: IPv6 neighbours %v: %+v %+v", when, ns, sum, fs)
	}
}

// Dual stack on every profile and driver: the WAN's IPv6 address and the
// gateway's two routes rendered in the platform's syntax (BootScript on
// Vyatta, static routes on VyOS), one commit, and afterwards the kernel
// routes IPv6 through the gateway, soliciting nothing else — also after a
// reboot, where Vyatta's boot script brings the IPv6 routes back.
func TestDualStackEveryProfileAndDriver(t *testing.T) {
	for _, p := range routersim.Profiles {
		for _, kind := range []router.Kind{router.SSH, router.VyOSAPI} {
			if kind == router.VyOSAPI && p == routersim.Vyatta65 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", p, kind), func(t *testing.T) {
				t.Parallel()
				sim := startSim(t, p, routersim.Options{})
				d := drivers(t, sim)[kind]
				ctx := testCtx(t)
				info, err := d.Probe(ctx)
				if err != nil {
					t.Fatal(err)
				}
				mode := info.Platform.DefaultGatewayRouteMode()
				if kind == router.VyOSAPI {
					mode = router.InterfaceRouteMode
				}
				rend, err := router.Render(info.Platform, dualStack(mode))
				if err != nil {
					t.Fatal(err)
				}
				if kind == router.SSH || mode == router.InterfaceRouteMode {
					converge(t, ctx, d, rend)
				}
				if err := d.FlushNeighbours6(ctx, wan); err != nil {
					t.Fatal(err)
				}
				checkHealthy6(t, sim, d, "converged")

				// The health check reads IPv6 in the same single look.
				calls := sim.Calls()
				ob, err := router.Observe(ctx, d, router.ObserveRequest{Owned: rend.Owned, BootScript: rend.BootScriptBlock != "", Dev: wan, IPv6: true})
				if err != nil {
					t.Fatal(err)
				}
				if n := sim.Calls()["ssh.exec"] - calls["ssh.exec"]; kind == router.SSH && n != 1 {
					t.Errorf("%d exec sessions for a dual-stack health check, want 1", n)
				}
				routes6, _ := d.Routes6(ctx)
				neigh6, _ := d.Neighbours6(ctx, wan)
				if !reflect.DeepEqual(ob.Routes6, routes6) || !reflect.DeepEqual(ob.Neighbours6, neigh6) || len(ob.Neighbours6) != 1 {
					t.Errorf("Observe read IPv6 otherwise than the single calls:\n%v\n%v\nvs\n%v\n%v", ob.Routes6, ob.Neighbours6, routes6, neigh6)
				}

				if err := sim.Reboot(); err != nil {
					t.Fatal(err)
				}
				d.Close()
				d = connect(t, kind, sim, map[router.Kind]map[string][]byte{router.SSH: sshSecret(sim), router.VyOSAPI: apiSecret(sim)}[kind])
				checkHealthy6(t, sim, d, "after a reboot")
			})
		}
	}
}

// IPv6's version of the seed's incident on Vyatta 6.5: the 2013 way of
// writing the gateway routes, for IPv6 (interface-route6 to the gateway,
// route6 ::/0 via it), leaves a default route without its gateway, and the
// router solicits every destination; the BootScript rendering deletes both
// and its `ip -6 route replace` lines and a flush repair it.
func TestIPv6FloodOnVyatta(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.Vyatta65, routersim.Options{})
	d := drivers(t, sim)[router.SSH]
	ctx := testCtx(t)
	if err := sim.SetConfig("set interfaces ethernet eth2 address "+wan6IP+"/64",
		"set protocols static interface-route6 "+gw6+"/128 next-hop-interface eth2",
		"set protocols static route6 ::/0 next-hop "+gw6); err != nil {
		t.Fatal(err)
	}
	if err := sim.InjectTraffic(traffic6...); err != nil {
		t.Fatal(err)
	}
	routes, err := d.Routes6(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fs := drift.RouterRoutes6(routes, seedWAN6); !reflect.DeepEqual(reasons(fs), []string{v1.ReasonDefaultRoute6WithoutGateway}) {
		t.Fatalf("routes %v: %+v", routes, fs)
	}
	ns, err := d.Neighbours6(ctx, wan)
	if err != nil {
		t.Fatal(err)
	}
	sum, fs := drift.RouterNeighbours6(ns, seedWAN6, 5)
	if !drift.HasReason(fs, v1.ReasonNDPFlood) || !drift.HasReason(fs, v1.ReasonGatewayNDPMissing) || sum.OffLink != len(traffic6) {
		t.Fatalf("neighbours %v: %+v %+v", ns, sum, fs)
	}

	rend, err := router.Render(router.Vyatta6, dualStack(router.BootScriptMode))
	if err != nil {
		t.Fatal(err)
	}
	obs, err := d.ReadConfig(ctx, rend.Owned)
	if err != nil {
		t.Fatal(err)
	}
	tx := router.Diff(obs, rend.Config, rend.Owned)
	for _, want := range []string{"delete protocols static interface-route6 " + gw6 + "/128", "delete protocols static route6 ::/0"} {
		if !strings.Contains(fmt.Sprint(tx), want) {
			t.Fatalf("transaction lacks %q: %v", want, tx)
		}
	}
	converge(t, ctx, d, rend)
	if !strings.Contains(rend.BootScriptBlock, "ip -6 route replace default via "+gw6+" dev eth2") {
		t.Fatalf("boot script block:\n%s", rend.BootScriptBlock)
	}
	// converge's `ip neigh flush dev eth2` names no family: iproute2 then
	// flushes both tables (ip/ipneigh.c, AF_UNSPEC), the flood's too.
	if ns, _ = d.Neighbours6(ctx, wan); len(ns) != 0 {
		t.Fatalf("ip neigh flush left IPv6 entries: %v", ns)
	}
	if err := d.FlushNeighbours6(ctx, wan); err != nil {
		t.Fatal(err)
	}
	checkHealthy6(t, sim, d, "repaired")
	if err := sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	checkHealthy6(t, sim, d, "after a reboot")
}

func reasons(fs []drift.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Reason)
	}
	return out
}

// `ip -6 neigh show proxy` as captured from Linux 6.x and iproute2 6.1 in a
// network namespace (two entries added on eth2), with and without dev.
func TestParseNDPProxies(t *testing.T) {
	for _, out := range []string{
		"2001:db8:1:1:1::11 dev eth2 proxy \n2001:db8:1:1:1::10 dev eth2 proxy \n",
		"2001:db8:1:1:1::11 proxy \n2001:db8:1:1:1::10 proxy \n",
	} {
		got, err := router.ParseNDPProxies(out)
		if err != nil || !reflect.DeepEqual(got, []string{"2001:db8:1:1:1::11", "2001:db8:1:1:1::10"}) {
			t.Errorf("%q: %v %v", out, got, err)
		}
	}
	if got, err := router.ParseNDPProxies(""); err != nil || len(got) != 0 {
		t.Errorf("empty table: %v %v", got, err)
	}
	for _, bad := range []string{"2001:db8::1 lladdr 00:05:73:a0:00:01 REACHABLE \n", "nonsense proxy \n", "2001:db8::1 dev proxy \n"} {
		if _, err := router.ParseNDPProxies(bad); err == nil {
			t.Errorf("%q accepted as a proxy listing", bad)
		}
	}
}

// NDP proxy on VyOS 1.4 over SSH: the health check reads the proxy entries
// in its one session, an entry deleted by hand shows missing (the
// configuration still holds it), and AddNDPProxies puts it back; the HTTP
// API says it cannot list them.
func TestNDPProxiesOverSSH(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS14, routersim.Options{})
	ds := drivers(t, sim)
	d := ds[router.SSH]
	ctx := testCtx(t)
	desired := dualStack(router.InterfaceRouteMode)
	desired.WAN.NDPProxy = []string{"2001:db8:1:1:1::10", "2001:db8:1:1:1::11"}
	rend, err := router.Render(router.VyOS14, desired)
	if err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, d, rend)
	if !sim.AnswersNeighbourSolicitation("2001:db8:1:1:1::10", wan) {
		t.Fatal("the rendered configuration does not make the router answer for a proxied address")
	}
	if out, code := sim.RunIP("-6", "neigh", "del", "proxy", "2001:db8:1:1:1::10", "dev", wan); code != 0 {
		t.Fatal(out)
	}
	calls := sim.Calls()
	ob, err := router.Observe(ctx, d, router.ObserveRequest{Owned: rend.Owned, Dev: wan, IPv6: true, Proxy6: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.Calls()["ssh.exec"] - calls["ssh.exec"]; n != 1 {
		t.Errorf("%d exec sessions, want 1", n)
	}
	if !ob.Proxies6Known || !reflect.DeepEqual(ob.Proxies6, []string{"2001:db8:1:1:1::11"}) {
		t.Fatalf("proxies %v known=%v", ob.Proxies6, ob.Proxies6Known)
	}
	if err := d.AddNDPProxies(ctx, wan, desired.WAN.NDPProxy); err != nil {
		t.Fatal(err)
	}
	got, err := d.NDPProxies(ctx, wan)
	if err != nil || len(got) != 2 || !sim.AnswersNeighbourSolicitation("2001:db8:1:1:1::10", wan) {
		t.Errorf("after AddNDPProxies: %v %v", got, err)
	}
	ob, err = router.Observe(ctx, ds[router.VyOSAPI], router.ObserveRequest{Owned: rend.Owned, Dev: wan, IPv6: true, Proxy6: true})
	if err != nil || ob.Proxies6Known {
		t.Errorf("over the HTTP API: known=%v err=%v", ob.Proxies6Known, err)
	}
}
