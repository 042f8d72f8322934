package router_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/router"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// These tests drive both drivers over real SSH and HTTPS against the router
// simulator, one simulated router per test.

const (
	gw  = "198.51.100.254"
	wan = "eth2"
)

var seedWAN = drift.RouterWAN{Interface: wan, Gateway: gw}

func startSim(t *testing.T, p routersim.Profile, opts routersim.Options) *routersim.Router {
	t.Helper()
	sim, err := routersim.New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func sshSecret(sim *routersim.Router) map[string][]byte {
	return map[string][]byte{
		"username": []byte(sim.Username()),
		"password": []byte(sim.Password()),
		"hostKey":  []byte(sim.HostKeyLine()),
	}
}

func apiSecret(sim *routersim.Router) map[string][]byte {
	return map[string][]byte{"apiKey": []byte(sim.APIKey()), "ca.crt": sim.CACertPEM()}
}

func connect(t *testing.T, kind router.Kind, sim *routersim.Router, secret map[string][]byte) router.Driver {
	t.Helper()
	addr := sim.SSHAddr()
	if kind == router.VyOSAPI {
		addr = sim.APIURL()
	}
	d, err := router.New(router.Endpoint{Kind: kind, Address: addr}, secret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// drivers returns the SSH driver and, on VyOS, the HTTP API driver.
func drivers(t *testing.T, sim *routersim.Router) map[router.Kind]router.Driver {
	out := map[router.Kind]router.Driver{router.SSH: connect(t, router.SSH, sim, sshSecret(sim))}
	if sim.APIURL() != "" {
		out[router.VyOSAPI] = connect(t, router.VyOSAPI, sim, apiSecret(sim))
	}
	return out
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func seedDesired(mode router.GatewayRouteMode) router.Desired {
	return router.Desired{
		Interfaces: []router.Interface{
			{Name: "eth1", Addresses: []string{"10.0.10.254/24"}, Description: "LAN"},
			{Name: wan, Addresses: []string{"203.0.113.123/32"}, Description: "WAN"},
		},
		WAN:       router.WAN{Interface: wan, Gateway: gw, Mode: mode},
		SourceNAT: []router.SourceNATRule{{Rule: 10, Description: "NAT-LAN-TO-WAN", OutboundInterface: wan, SourceAddress: "10.0.10.0/24"}},
		DestinationNAT: []router.DestinationNATRule{
			{Rule: 20, InboundInterface: wan, Protocol: "tcp", Port: "25565", TranslationAddress: "10.0.10.10"},
			{Rule: 30, InboundInterface: wan, Protocol: "tcp", Port: "4040", TranslationAddress: "10.0.10.11"},
		},
	}
}

var traffic = []string{"192.0.2.20", "192.0.2.120", "192.0.2.251", "192.0.2.175", "192.0.2.8", "192.0.2.42",
	"192.0.2.191", "192.0.2.163", "192.0.2.98", "192.0.2.63", "203.0.113.7", "203.0.113.77", "198.51.100.9"}

// converge is what the controller will do: render, diff, ONE commit, read
// back, save, and in BootScript mode the boot script, the routes and a
// neighbour flush.
func converge(t *testing.T, ctx context.Context, d router.Driver, rend router.Rendered) {
	t.Helper()
	obs, err := d.ReadConfig(ctx, rend.Owned)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, router.Diff(obs, rend.Config, rend.Owned)); err != nil {
		t.Fatal(err)
	}
	back, err := d.ReadConfig(ctx, rend.Owned)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(rend.Config) {
		t.Fatalf("read-back differs:\n%s\nwant\n%s", strings.Join(back.Lines(), "\n"), strings.Join(rend.Config.Lines(), "\n"))
	}
	if err := d.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if rend.BootScriptBlock != "" {
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
	}
	if err := d.FlushNeighbours(ctx, wan); err != nil {
		t.Fatal(err)
	}
}

func TestHappyPathEveryProfileAndDriver(t *testing.T) {
	wantPlatform := map[routersim.Profile]router.Platform{
		routersim.Vyatta65: router.Vyatta6, routersim.VyOS13: router.VyOS13,
		routersim.VyOS14: router.VyOS14, routersim.VyOS15: router.VyOS15,
	}
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
				if info.Platform != wantPlatform[p] || info.Version != sim.Version() {
					t.Fatalf("probe: %+v", info)
				}
				mode := info.Platform.DefaultGatewayRouteMode()
				rend, err := router.Render(info.Platform, seedDesired(mode))
				if err != nil {
					t.Fatal(err)
				}
				savedBefore := sim.SavedConfig()
				commits := sim.Count("commit")
				obs, err := d.ReadConfig(ctx, rend.Owned)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Apply(ctx, router.Diff(obs, rend.Config, rend.Owned)); err != nil {
					t.Fatal(err)
				}
				if n := sim.Count("commit") - commits; n != 1 {
					t.Fatalf("%d commits for one transaction", n)
				}
				if sim.SavedConfig() != savedBefore {
					t.Fatal("Apply saved the configuration")
				}
				back, err := d.ReadConfig(ctx, rend.Owned)
				if err != nil || !back.Equal(rend.Config) {
					t.Fatalf("read-back: %v\n%s", err, strings.Join(back.Lines(), "\n"))
				}
				if tx := router.Diff(back, rend.Config, rend.Owned); len(tx) != 0 {
					t.Fatalf("not idempotent: %v", tx)
				}
				if err := d.Save(ctx); err != nil {
					t.Fatal(err)
				}
				saved, err := router.ParseConfigBoot(sim.SavedConfig())
				if err != nil {
					t.Fatal(err)
				}
				if !saved.Owned(rend.Owned).Equal(rend.Config) {
					t.Fatalf("saved config:\n%s", sim.SavedConfig())
				}
				savedByDriver, err := d.ReadSavedConfig(ctx, rend.Owned)
				switch kind {
				case router.SSH:
					if err != nil || len(drift.RouterSavedConfig(back, savedByDriver)) != 0 {
						t.Fatalf("saved config through the driver: %v %v", err, savedByDriver.Lines())
					}
				case router.VyOSAPI:
					if cause.KindOf(err) != cause.CapabilityMissing {
						t.Fatalf("API ReadSavedConfig: %v", err)
					}
				}
				if mode == router.BootScriptMode {
					bs, err := d.BootScript(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if state, _ := drift.RouterBootScript(bs, rend.BootScriptBlock); state != drift.BootScriptMissing && state != drift.BootScriptOutdated {
						t.Fatalf("boot script already %s before writing it", state)
					}
					if err := d.WriteBootScript(ctx, router.MergeBootScript(bs.Content, rend.BootScriptBlock)); err != nil {
						t.Fatal(err)
					}
					if err := d.ReplaceRoutes(ctx, rend.BootRoutes); err != nil {
						t.Fatal(err)
					}
					bs, err = d.BootScript(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if state, fs := drift.RouterBootScript(bs, rend.BootScriptBlock); state != drift.BootScriptPresent {
						t.Fatalf("boot script %s: %v", state, fs)
					}
					if !strings.Contains(bs.Content, "This script is executed at boot time") {
						t.Fatal("the platform's own boot script content was not kept")
					}
				}
				if err := d.FlushNeighbours(ctx, wan); err != nil {
					t.Fatal(err)
				}
				if err := sim.InjectTraffic(traffic...); err != nil {
					t.Fatal(err)
				}
				routes, err := d.Routes(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if fs := drift.RouterRoutes(routes, seedWAN); len(fs) != 0 {
					t.Fatalf("routes %v: %+v", routes, fs)
				}
				ns, err := d.Neighbours(ctx, wan)
				if err != nil {
					t.Fatal(err)
				}
				sum, fs := drift.RouterNeighbours(ns, seedWAN, 5)
				if len(fs) != 0 || sum.Entries != 1 || sum.GatewayMAC != "00:05:73:a0:00:01" {
					t.Fatalf("neighbours %v: %+v %+v", ns, sum, fs)
				}
				running, err := d.ReadConfig(ctx, rend.Owned)
				if err != nil || len(drift.RouterNATRules(running, rend.Config)) != 0 {
					t.Fatalf("NAT rules: %v", err)
				}
			})
		}
	}
}

// The seed's incident, end to end at the driver level: Vyatta 6.5 configured
// the 2013 way floods its neighbour table; the boot-script workaround fixes
// it, and survives a reboot.
func TestSeedIncidentOnVyatta(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.Vyatta65, routersim.Options{Seed: routersim.SeedVyatta2013})
	d := drivers(t, sim)[router.SSH]
	ctx := testCtx(t)

	if err := sim.InjectTraffic(traffic...); err != nil {
		t.Fatal(err)
	}
	routes, err := d.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fs := drift.RouterRoutes(routes, seedWAN)
	if !drift.HasReason(fs, v1.ReasonDefaultRouteWithoutGateway) {
		t.Fatalf("routes %v: %+v", routes, fs)
	}
	ns, err := d.Neighbours(ctx, wan)
	if err != nil {
		t.Fatal(err)
	}
	sum, fs := drift.RouterNeighbours(ns, seedWAN, 5)
	if !drift.HasReason(fs, v1.ReasonARPFlood) || !drift.HasReason(fs, v1.ReasonGatewayARPMissing) {
		t.Fatalf("neighbours %v: %+v", ns, fs)
	}
	if sum.OffLink != len(traffic) || sum.DominantMAC != "00:05:73:a0:00:01" || sum.GatewayState != drift.GatewayMissing {
		t.Fatalf("summary %+v", sum)
	}

	// The fix: the boot script carries the routes, the bug's configuration goes.
	rend, err := router.Render(router.Vyatta6, seedDesired(router.BootScriptMode))
	if err != nil {
		t.Fatal(err)
	}
	obs, err := d.ReadConfig(ctx, rend.Owned)
	if err != nil {
		t.Fatal(err)
	}
	tx := router.Diff(obs, rend.Config, rend.Owned)
	want := map[string]bool{"delete protocols static interface-route 198.51.100.254/32": false, "delete system gateway-address": false}
	for _, op := range tx {
		if _, ok := want[op.String()]; ok {
			want[op.String()] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Fatalf("transaction lacks %q: %v", k, tx)
		}
	}
	bs, err := d.BootScript(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteBootScript(ctx, router.MergeBootScript(bs.Content, rend.BootScriptBlock)); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.ReplaceRoutes(ctx, rend.BootRoutes); err != nil {
		t.Fatal(err)
	}
	routes, err = d.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fs := drift.RouterRoutes(routes, seedWAN); len(fs) != 0 {
		t.Fatalf("after the fix, routes %v: %+v", routes, fs)
	}
	// Without a flush the flood's per-destination entries linger.
	ns, _ = d.Neighbours(ctx, wan)
	if _, fs := drift.RouterNeighbours(ns, seedWAN, 5); !drift.HasReason(fs, v1.ReasonARPFlood) {
		t.Fatalf("stale entries vanished by themselves: %v", ns)
	}
	if err := d.FlushNeighbours(ctx, wan); err != nil {
		t.Fatal(err)
	}
	if err := sim.InjectTraffic(traffic...); err != nil {
		t.Fatal(err)
	}
	ns, _ = d.Neighbours(ctx, wan)
	if sum, fs := drift.RouterNeighbours(ns, seedWAN, 5); len(fs) != 0 || sum.GatewayState == drift.GatewayMissing {
		t.Fatalf("after the fix and new traffic: %+v %+v", sum, fs)
	}

	// A reboot keeps it healthy: the saved config has no bug, the boot
	// script brings the routes back.
	if err := sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	if err := sim.InjectTraffic(traffic...); err != nil {
		t.Fatal(err)
	}
	routes, err = d.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns, err = d.Neighbours(ctx, wan)
	if err != nil {
		t.Fatal(err)
	}
	_, nfs := drift.RouterNeighbours(ns, seedWAN, 5)
	if fs := append(drift.RouterRoutes(routes, seedWAN), nfs...); len(fs) != 0 {
		t.Fatalf("after reboot: %v %v %+v", routes, ns, fs)
	}
}

// InterfaceRoute mode on Vyatta is the 2013 configuration: the simulator
// reproduces the bug and the drift functions see it; on VyOS the same mode
// is healthy (FRR keeps the gateway and marks it onlink).
func TestInterfaceRouteModeVyattaVersusVyOS(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		profile  routersim.Profile
		platform router.Platform
		buggy    bool
	}{{routersim.Vyatta65, router.Vyatta6, true}, {routersim.VyOS13, router.VyOS13, false}} {
		sim := startSim(t, c.profile, routersim.Options{})
		d := drivers(t, sim)[router.SSH]
		ctx := testCtx(t)
		rend, err := router.Render(c.platform, seedDesired(router.InterfaceRouteMode))
		if err != nil {
			t.Fatal(err)
		}
		converge(t, ctx, d, rend)
		if err := sim.InjectTraffic(traffic...); err != nil {
			t.Fatal(err)
		}
		routes, _ := d.Routes(ctx)
		ns, _ := d.Neighbours(ctx, wan)
		_, nfs := drift.RouterNeighbours(ns, seedWAN, 5)
		fs := append(drift.RouterRoutes(routes, seedWAN), nfs...)
		if c.buggy != drift.HasReason(fs, v1.ReasonDefaultRouteWithoutGateway) || c.buggy != drift.HasReason(fs, v1.ReasonARPFlood) {
			t.Fatalf("%s: routes %v findings %+v", c.profile, routes, fs)
		}
	}
}

func TestUnmanagedConfigPreservedByteForByte(t *testing.T) {
	t.Parallel()
	seed := `set interfaces ethernet eth0 address 'dhcp'
set interfaces ethernet eth0 description 'management'
set interfaces ethernet eth1 hw-id '00:0c:29:00:00:01'
set interfaces ethernet eth1 duplex 'auto'
set interfaces ethernet eth2 hw-id '00:0c:29:00:00:02'
set firewall ipv4 name WAN-IN default-action 'drop'
set firewall ipv4 name WAN-IN rule 10 action 'accept'
set firewall ipv4 name WAN-IN rule 10 state 'established'
set firewall ipv4 name WAN-IN rule 10 state 'related'
set firewall ipv4 name WAN-IN rule 20 description 'ssh from the office'
set firewall ipv4 name WAN-IN rule 20 action 'accept'
set firewall ipv4 name WAN-IN rule 20 destination port '22'
set nat destination rule 100 inbound-interface name 'eth2'
set nat destination rule 100 translation address '10.0.10.99'
set nat destination rule 100 protocol 'tcp'
set nat destination rule 100 destination port '8080'
set protocols static route 192.0.2.0/24 next-hop 10.0.10.1
set service ssh port '22'
set service https api keys id ovhbridge key 'sim-api-key'
set system host-name 'edge'
set system name-server '192.0.2.53'
set system name-server '192.0.2.54'
set system time-zone 'Europe/Paris'
set system login user vyos authentication encrypted-password '$6$sim$notarealhash'
`
	for _, kind := range []router.Kind{router.SSH, router.VyOSAPI} {
		sim := startSim(t, routersim.VyOS14, routersim.Options{Seed: seed})
		d := drivers(t, sim)[kind]
		ctx := testCtx(t)
		rend, err := router.Render(router.VyOS14, seedDesired(router.InterfaceRouteMode))
		if err != nil {
			t.Fatal(err)
		}
		unowned := func(commands string) string {
			var keep []string
			for _, l := range strings.Split(commands, "\n") {
				p, err := router.ParsePath(l)
				if err != nil || router.NewConfig(p).Owned(rend.Owned) != nil {
					continue
				}
				keep = append(keep, l)
			}
			return strings.Join(keep, "\n")
		}
		unownedBlocks := func(boot string) string {
			// the text of top-level sections the operator never owns
			var keep []string
			in := false
			for _, l := range strings.Split(boot, "\n") {
				if strings.HasPrefix(l, "firewall {") || strings.HasPrefix(l, "service {") || strings.HasPrefix(l, "system {") {
					in = true
				}
				if in {
					keep = append(keep, l)
				}
				if l == "}" {
					in = false
				}
			}
			return strings.Join(keep, "\n")
		}
		activeBefore, savedBefore := unowned(sim.ActiveCommands()), unownedBlocks(sim.SavedConfig())
		converge(t, ctx, d, rend)
		if got := unowned(sim.ActiveCommands()); got != activeBefore {
			t.Fatalf("%s: unowned running config changed:\n%s\n---\n%s", kind, got, activeBefore)
		}
		if got := unownedBlocks(sim.SavedConfig()); got != savedBefore || !strings.Contains(got, "ssh from the office") {
			t.Fatalf("%s: unowned saved config changed:\n%s\n---\n%s", kind, got, savedBefore)
		}
		if !strings.Contains(sim.ActiveCommands(), "set nat destination rule 100 translation address '10.0.10.99'") {
			t.Fatalf("%s: NAT rule 100 (not owned) touched", kind)
		}
	}
}
