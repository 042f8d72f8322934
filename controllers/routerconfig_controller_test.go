package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

const ovhGateway = "198.51.100.254"

type routerEnv struct {
	sim *routersim.Router
	ns  string
}

// newRouterEnv starts a simulated router, a namespace with its credentials
// Secret "router" (host key and CA pinned), and the RouterConfig controller.
func newRouterEnv(t *testing.T, profile routersim.Profile, opts routersim.Options) *routerEnv {
	t.Helper()
	sim, err := routersim.New(profile, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	e := &routerEnv{sim: sim, ns: testNamespace(t)}
	create(t, e.secret("router", sim.HostKeyLine()))
	startManager(t, e.ns, func(mgr ctrl.Manager) error {
		r := &RouterConfigReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader()}
		return r.SetupWithManager(context.Background(), mgr, Options{
			SkipNameValidation: true, RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: time.Second,
		})
	})
	return e
}

func (e *routerEnv) secret(name, hostKey string) *corev1.Secret {
	data := map[string]string{
		"username": e.sim.Username(), "password": e.sim.Password(), "hostKey": hostKey,
	}
	if e.sim.Profile() != routersim.Vyatta65 {
		data["apiKey"] = e.sim.APIKey()
		data["ca.crt"] = string(e.sim.CACertPEM())
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name}, StringData: data}
}

// edge is the seed's RouterConfig with a literal gateway.
func (e *routerEnv) edge(driver v1.RouterDriver, mutate ...func(*v1.RouterConfig)) *v1.RouterConfig {
	addr := e.sim.SSHAddr()
	if driver == v1.DriverVyOSAPI {
		addr = e.sim.APIURL()
	}
	rc := &v1.RouterConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "edge"},
		Spec: v1.RouterConfigSpec{
			Router: v1.RouterConnection{Driver: driver, Address: addr, Platform: v1.PlatformAuto,
				CredentialsSecretRef: v1.SecretReference{Name: "router"}},
			Interfaces: []v1.RouterInterface{
				{Name: "eth1", Addresses: []string{"10.0.10.254/24"}, Description: "LAN"},
				{Name: "eth2", Addresses: []string{wanIP + "/32"}, Description: "WAN"},
			},
			WAN: v1.WANSpec{Interface: "eth2", Gateway: ovhGateway, GatewayRouteMode: v1.GatewayRouteAuto},
			NAT: v1.NATSpec{
				Source: []v1.SourceNATRule{{Rule: 10, Description: "NAT-LAN-TO-WAN", OutboundInterface: "eth2",
					SourceAddress: "10.0.10.0/24", Translation: "masquerade"}},
				Destination: []v1.DestinationNATRule{
					{Rule: 20, Description: "minecraft", InboundInterface: "eth2", Protocol: "tcp", Port: 25565, TranslationAddress: "10.0.10.10"},
					{Rule: 21, Description: "subsonic", InboundInterface: "eth2", Protocol: "tcp", Port: 4040, TranslationAddress: "10.0.10.11"},
				},
			},
			Health: v1.HealthSpec{Interval: &metav1.Duration{Duration: time.Second}, ARPFloodThreshold: 8},
		},
	}
	for _, m := range mutate {
		m(rc)
	}
	return rc
}

func rtcObserve(rc *v1.RouterConfig) { rc.Spec.ManagementPolicy = v1.Observe }

// offLink are destinations the router talks to (documentation ranges).
func offLink(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("192.0.2.%d", i))
	}
	return out
}

// Every platform, with every driver it has, ends Ready with the rendered
// configuration active and saved.
func TestRouterConfigHappyPathEveryProfile(t *testing.T) {
	cases := []struct {
		profile routersim.Profile
		driver  v1.RouterDriver
		mode    v1.GatewayRouteMode
		want    []string // statements the platform's syntax requires
	}{
		{routersim.Vyatta65, v1.DriverSSH, v1.GatewayRouteBootScript, []string{
			"nat source rule 10 outbound-interface 'eth2'", "nat destination rule 20 inbound-interface 'eth2'"}},
		{routersim.VyOS13, v1.DriverSSH, v1.GatewayRouteInterfaceRoute, []string{
			"protocols static interface-route 198.51.100.254/32 next-hop-interface 'eth2'",
			"protocols static route 0.0.0.0/0 next-hop '198.51.100.254'", "nat source rule 10 outbound-interface 'eth2'"}},
		{routersim.VyOS13, v1.DriverVyOSAPI, v1.GatewayRouteInterfaceRoute, []string{
			"protocols static interface-route 198.51.100.254/32 next-hop-interface 'eth2'"}},
		{routersim.VyOS14, v1.DriverSSH, v1.GatewayRouteInterfaceRoute, []string{
			"protocols static route 198.51.100.254/32 interface 'eth2'", "nat source rule 10 outbound-interface name 'eth2'",
			"nat destination rule 21 inbound-interface name 'eth2'"}},
		{routersim.VyOS14, v1.DriverVyOSAPI, v1.GatewayRouteInterfaceRoute, []string{
			"protocols static route 198.51.100.254/32 interface 'eth2'"}},
		{routersim.VyOS15, v1.DriverSSH, v1.GatewayRouteInterfaceRoute, []string{
			"protocols static route 0.0.0.0/0 next-hop '198.51.100.254'", "nat source rule 10 outbound-interface name 'eth2'"}},
		{routersim.VyOS15, v1.DriverVyOSAPI, v1.GatewayRouteInterfaceRoute, []string{
			"protocols static route 198.51.100.254/32 interface 'eth2'"}},
	}
	for _, c := range cases {
		t.Run(string(c.profile)+"/"+string(c.driver), func(t *testing.T) {
			e := newRouterEnv(t, c.profile, routersim.Options{})
			rc := e.edge(c.driver)
			create(t, rc)
			eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
			if string(rc.Status.Platform) == "" || rc.Status.GatewayRouteMode != c.mode {
				t.Errorf("platform %q mode %q, want mode %s", rc.Status.Platform, rc.Status.GatewayRouteMode, c.mode)
			}
			// Quoting is the CLI's business: compare words.
			unquote := strings.NewReplacer("'", "")
			active, saved := unquote.Replace(e.sim.ActiveCommands()), e.sim.SavedConfig()
			for _, w := range append(c.want, "interfaces ethernet eth2 address '203.0.113.123/32'",
				"nat destination rule 20 translation address '10.0.10.10'") {
				if w = unquote.Replace(w); !strings.Contains(active, w) {
					t.Errorf("active config lacks %q:\n%s", w, active)
				}
			}
			if !strings.Contains(saved, "203.0.113.123/32") || !strings.Contains(saved, "10.0.10.11") {
				t.Errorf("the configuration was not saved:\n%s", saved)
			}
			if d := rc.Status.DefaultRoute; d == nil || d.Gateway != ovhGateway || d.Device != "eth2" {
				t.Errorf("status.defaultRoute = %+v", d)
			}
			if c.mode == v1.GatewayRouteBootScript {
				content, exists, exec := e.sim.BootScript()
				if !exists || !exec || !strings.Contains(content, "ip route replace 198.51.100.254 dev eth2 scope link") {
					t.Errorf("boot script: exists=%v exec=%v\n%s", exists, exec, content)
				}
			}
			if n := e.sim.Count("commit"); n > 1 {
				t.Errorf("%d commits for one spec, want one transaction", n)
			}
		})
	}
}

// The seed's incident: Vyatta 6.5 configured the 2013 way floods OVH with ARP.
// Observe reports it; Manage fixes it (boot script, routes) and the flood
// stops for new traffic.
func TestRouterConfigSeedIncident(t *testing.T) {
	e := newRouterEnv(t, routersim.Vyatta65, routersim.Options{Seed: routersim.SeedVyatta2013})
	if err := e.sim.InjectTraffic(offLink(20)...); err != nil {
		t.Fatal(err)
	}
	rc := e.edge(v1.DriverSSH, rtcObserve)
	create(t, rc)
	eventually(t, 20*time.Second, "the bug is diagnosed", func() error {
		if err := conditionIs(rc, v1.TypeGatewayRoutePresent, metav1.ConditionFalse, v1.ReasonDefaultRouteWithoutGateway)(); err != nil {
			return err
		}
		return conditionIs(rc, v1.TypeARPTableHealthy, metav1.ConditionFalse, v1.ReasonARPFlood)()
	})
	if !strings.Contains(condMessage(rc, v1.TypeARPTableHealthy), v1.ReasonGatewayARPMissing) &&
		!strings.Contains(condMessage(rc, v1.TypeARPTableHealthy), "has no resolved neighbour entry") {
		t.Errorf("GatewayARPMissing not reported: %q", condMessage(rc, v1.TypeARPTableHealthy))
	}
	if !driftHas(rc, v1.ReasonGatewayARPMissing) || !driftHas(rc, v1.ReasonARPFlood) || !driftHas(rc, v1.ReasonDefaultRouteWithoutGateway) {
		t.Errorf("status.drift = %+v", rc.Status.Drift)
	}
	n := rc.Status.WANNeighbours
	if n == nil || n.OffLinkEntries != 20 || n.DominantMACEntries != 20 || n.GatewayState != "Missing" {
		t.Errorf("WAN neighbours = %+v", n)
	}
	if d := rc.Status.DefaultRoute; d == nil || d.Gateway != "" || d.Protocol != "zebra" {
		t.Errorf("the gateway-less default must be shown as observed: %+v", d)
	}
	if r := rc.Status.ReadyReason(); r != v1.ReasonDefaultRouteWithoutGateway {
		t.Errorf("Ready reason = %s, want the root cause first", r)
	}
	if e.sim.Count("commit") != 0 {
		t.Fatalf("Observe committed")
	}

	// Manage: one commit removes interface-route + gateway-address, the boot
	// script installs the routes, the stale entries are flushed.
	patch := client.MergeFrom(rc.DeepCopy())
	rc.Spec.ManagementPolicy = v1.Manage
	if err := k8sClient.Patch(context.Background(), rc, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "routes fixed", conditionIs(rc, v1.TypeGatewayRoutePresent, metav1.ConditionTrue, ""))
	if err := e.sim.InjectTraffic(append(offLink(40), "203.0.113.77")...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "Ready, flood gone", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	active := e.sim.ActiveCommands()
	for _, gone := range []string{"interface-route", "gateway-address"} {
		if strings.Contains(active, gone) {
			t.Errorf("%s still configured:\n%s", gone, active)
		}
	}
	routes := e.sim.RoutesText()
	if !strings.Contains(routes, "default via 198.51.100.254 dev eth2") || !strings.Contains(routes, "198.51.100.254 dev eth2") {
		t.Errorf("kernel routes:\n%s", routes)
	}
	for _, nb := range e.sim.Neighbours("eth2") {
		if nb.IP != ovhGateway {
			t.Errorf("off-link neighbour %s after new traffic: the flood is not over", nb.IP)
		}
	}
	if n := e.sim.Count("commit"); n != 1 {
		t.Errorf("commits = %d, want 1", n)
	}
	// The fix survives a reboot: saved config and boot script.
	if err := e.sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.InjectTraffic(offLink(30)...); err != nil {
		t.Fatal(err)
	}
	if routes := e.sim.RoutesText(); !strings.Contains(routes, "default via 198.51.100.254 dev eth2") {
		t.Errorf("after reboot the boot script did not restore the routes:\n%s", routes)
	}
	if got := len(e.sim.Neighbours("eth2")); got != 1 {
		t.Errorf("%d neighbour entries after reboot and traffic, want only the gateway", got)
	}
}

// A router adopted in the write-up's broken state and repaired in one pass
// tells it once: the drift reaches the status before the fix (watchers see
// it), but a person reading Events gets one Warning naming the root cause
// with every step taken, then Ready — not a transition per condition going
// wrong and coming back, nor an Event per step.
func TestRouterConfigRepairOnAdoptionToldOnce(t *testing.T) {
	e := newRouterEnv(t, routersim.Vyatta65, routersim.Options{Seed: routersim.SeedVyatta2013})
	if err := e.sim.InjectTraffic(offLink(20)...); err != nil {
		t.Fatal(err)
	}
	writes := countWrites(t, e.ns, &v1.RouterConfigList{})
	rc := e.edge(v1.DriverSSH)
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	time.Sleep(time.Second) // let a late write or Event show, if there is one
	if n := writes("edge"); n != 2 {
		t.Errorf("%d status writes, want 2 (the drift before the fix, Ready)", n)
	}
	evs := eventsByObject(t, e.ns)["edge"]
	if len(evs) != 2 {
		t.Fatalf("Events %q, want the repair and Ready", evs)
	}
	repair, ready := evs[0], evs[1]
	if strings.HasPrefix(repair, v1.ReasonAvailable) {
		repair, ready = ready, repair
	}
	if !strings.HasPrefix(repair, v1.ReasonDefaultRouteWithoutGateway+": ") {
		t.Errorf("repair Event %q, want it named after the root cause", repair)
	}
	for _, step := range []string{"Commit: ", "Save: ", "WriteBootScript: ", "FlushNeighbours: "} {
		if !strings.Contains(repair, step) {
			t.Errorf("repair Event %q does not tell %q", repair, step)
		}
	}
	if !strings.HasPrefix(ready, v1.ReasonAvailable+": Ready is True") {
		t.Errorf("second Event %q, want Ready is True", ready)
	}
}

// A first pass that takes a while (a slow router: every command answers
// late) does not leave the object without READY meanwhile: its first-sight
// status is written on its own (firstSightAfter), and the verdict follows,
// told by an Event (a transition from a status a person could see). A quick
// first pass writes only the verdict, untold
// (TestAdoptionWritesOneStatusAndNoEvent).
func TestSlowFirstPassWritesFirstSightMeanwhile(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	e.sim.SetLatency(3 * time.Second)
	history := readyHistory(t, &v1.RouterConfig{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "edge"}}, &v1.RouterConfigList{})
	rc := e.edge(v1.DriverSSH)
	create(t, rc)
	eventually(t, 60*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	h := history()
	if len(h) < 2 || h[0] != "Unknown/"+v1.ReasonFirstObservation {
		t.Fatalf("Ready over the first pass: %v, want Unknown/%s first, then the verdict", h, v1.ReasonFirstObservation)
	}
	time.Sleep(time.Second) // the Event is sent after the status write
	if evs := eventsByObject(t, e.ns)["edge"]; !slices.ContainsFunc(evs, func(ev string) bool {
		return strings.HasPrefix(ev, v1.ReasonAvailable+": Ready is True")
	}) {
		t.Errorf("Events %q, want Ready is True told", evs)
	}
}

func driftHas(rc *v1.RouterConfig, reason string) bool {
	for _, d := range rc.Status.Drift {
		if d.Reason == reason {
			return true
		}
	}
	return false
}

// Out-of-band damage on a managed Vyatta router, each detected within an
// interval and repaired: a deleted boot script, an unsaved change, a deleted
// route, a reboot that loses the routes.
func TestRouterConfigDriftRepaired(t *testing.T) {
	e := newRouterEnv(t, routersim.Vyatta65, routersim.Options{})
	rc := e.edge(v1.DriverSSH)
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))

	// Detection is asserted through the Events every transition records:
	// under Manage the repair follows within the same pass.
	e.sim.DeleteBootScript()
	waitEvent(t, e.ns, "edge", v1.ReasonBootScriptMissing)
	eventually(t, 10*time.Second, "boot script back", func() error {
		if _, exists, exec := e.sim.BootScript(); !exists || !exec {
			return fmt.Errorf("boot script exists=%v exec=%v", exists, exec)
		}
		return conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, "")()
	})

	history := readyHistory(t, rc, &v1.RouterConfigList{})
	if !e.sim.DeleteRoute("default") {
		t.Fatal("no default route to delete")
	}
	waitEvent(t, e.ns, "edge", v1.ReasonGatewayRouteMissing)
	eventually(t, 10*time.Second, "route back", func() error {
		if !strings.Contains(e.sim.RoutesText(), "default via 198.51.100.254") {
			return fmt.Errorf("routes:\n%s", e.sim.RoutesText())
		}
		return conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, "")()
	})
	// The drift was written to the status before the repair: watchers saw it.
	if h := history(); !slices.Contains(h, "False/"+v1.ReasonGatewayRouteMissing) {
		t.Errorf("Ready went through %v; a watcher never saw GatewayRouteMissing", h)
	}

	// Someone deletes a port forward at the console and does not save.
	if err := e.sim.DeleteConfig("nat destination rule 21"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, e.ns, "edge", v1.ReasonNATRuleMissing)
	eventually(t, 10*time.Second, "rule restored", func() error {
		if !strings.Contains(e.sim.ActiveCommands(), "nat destination rule 21 translation address '10.0.10.11'") {
			return fmt.Errorf("rule 21 still missing")
		}
		return conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, "")()
	})

	// An unsaved console change to an owned statement, then a reboot.
	if err := e.sim.SetConfig("set nat destination rule 20 translation address '10.0.10.99'"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "change reverted and saved", func() error {
		if strings.Contains(e.sim.ActiveCommands(), "10.0.10.99") || strings.Contains(e.sim.SavedConfig(), "10.0.10.99") {
			return fmt.Errorf("the console change is still there")
		}
		return conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, "")()
	})
	if err := e.sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready after reboot", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	if !strings.Contains(e.sim.RoutesText(), "default via 198.51.100.254") {
		t.Errorf("routes after reboot:\n%s", e.sim.RoutesText())
	}
}

// waitEvent waits for an Event with the reason on the object.
func waitEvent(t *testing.T, ns, name, reason string) {
	t.Helper()
	eventually(t, 10*time.Second, "event "+reason, func() error {
		var list corev1.EventList
		if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Name == name && e.Reason == reason {
				return nil
			}
		}
		return fmt.Errorf("no %s event among %d", reason, len(list.Items))
	})
}

// Under Observe, route damage is reported within one health interval and
// nothing is written.
func TestRouterConfigObserveReportsRouteDeleted(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	rc := e.edge(v1.DriverSSH)
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	patch := client.MergeFrom(rc.DeepCopy())
	rc.Spec.ManagementPolicy = v1.Observe
	if err := k8sClient.Patch(context.Background(), rc, patch); err != nil {
		t.Fatal(err)
	}
	calls := e.sim.Calls()
	start := time.Now()
	// FRR's default carries "onlink", so the default itself is what matters.
	if !e.sim.DeleteRoute("default") {
		t.Fatal("no default route to delete")
	}
	eventually(t, 5*time.Second, "GatewayRoutePresent=False",
		conditionIs(rc, v1.TypeGatewayRoutePresent, metav1.ConditionFalse, v1.ReasonGatewayRouteMissing))
	t.Logf("route deletion reported after %s (health interval 1s)", time.Since(start).Round(10*time.Millisecond))
	after := e.sim.Calls()
	for _, k := range []string{"commit", "save", "ip route replace", "api:/configure"} {
		if after[k] != calls[k] {
			t.Errorf("Observe wrote: %s %d -> %d", k, calls[k], after[k])
		}
	}
}

// Configuration outside the owned paths is never touched: after apply and
// save, every unowned statement is byte-for-byte what it was.
func TestRouterConfigUnmanagedConfigPreserved(t *testing.T) {
	seed := strings.Join([]string{
		"set interfaces ethernet eth1 duplex 'auto'",
		"set interfaces ethernet eth1 hw-id '00:0c:29:00:00:01'",
		"set interfaces ethernet eth3 address '192.0.2.1/24'",
		"set interfaces ethernet eth3 description 'backup link, not managed'",
		"set nat destination rule 100 description 'hand-made forward'",
		"set nat destination rule 100 inbound-interface name 'eth2'",
		"set nat destination rule 100 translation address '10.0.10.50'",
		"set protocols static route 192.0.2.128/25 next-hop '192.0.2.254'",
		"set service ssh port '22'",
		"set service https api keys id ovhbridge key 'sim-api-key'",
		"set system host-name 'edge-by-hand'",
		"set system login user vyos authentication encrypted-password '$6$sim$notarealhash'",
	}, "\n")
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{Seed: seed})
	unowned := func(cmds string) []string {
		var out []string
		for _, l := range strings.Split(cmds, "\n") {
			if l == "" || strings.Contains(l, "ethernet eth2 ") || strings.Contains(l, "nat source rule 10 ") ||
				strings.Contains(l, "nat destination rule 20 ") || strings.Contains(l, "nat destination rule 21 ") ||
				strings.Contains(l, "static route 198.51.100.254/32") || strings.Contains(l, "static route 0.0.0.0/0") ||
				strings.Contains(l, "eth1 address") || strings.Contains(l, "eth1 description") {
				continue
			}
			out = append(out, l)
		}
		return out
	}
	before := unowned(e.sim.ActiveCommands())
	rc := e.edge(v1.DriverVyOSAPI)
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	after := unowned(e.sim.ActiveCommands())
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("unowned configuration changed:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if len(before) < 10 {
		t.Fatalf("the check compared too little: %v", before)
	}
}

func TestRouterConfigWrongHostKeyRefused(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS13, routersim.Options{})
	other, err := routersim.New(routersim.VyOS13, routersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	create(t, e.secret("impostor", other.HostKeyLine()))
	rc := e.edge(v1.DriverSSH, func(rc *v1.RouterConfig) { rc.Spec.Router.CredentialsSecretRef.Name = "impostor" })
	create(t, rc)
	eventually(t, 10*time.Second, "TrustFailure", conditionIs(rc, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonTrustFailure))
	eventually(t, 5*time.Second, "Stalled", conditionIs(rc, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonTrustFailure))
	if msg := condMessage(rc, v1.TypeSynced); !strings.Contains(msg, "SHA256:") {
		t.Errorf("the message should show the presented key's fingerprint: %q", msg)
	}
	if n := e.sim.Count("ssh.exec"); n != 0 {
		t.Errorf("%d commands ran on a router whose host key did not match", n)
	}
}

// A description with a double quote on VyOS 1.3 would be saved unescaped and
// make config.boot unloadable at the next boot: the spec is refused
// (InvalidSpec, stalled) naming the field and the consequence, and nothing
// is written.
func TestRouterConfigQuoteThatWouldNotBootRefused(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS13, routersim.Options{})
	rc := e.edge(v1.DriverSSH, func(rc *v1.RouterConfig) { rc.Spec.Interfaces[0].Description = `the "LAN" side` })
	create(t, rc)
	eventually(t, 10*time.Second, "InvalidSpec", conditionIs(rc, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonInvalidSpec))
	eventually(t, 5*time.Second, "Stalled", conditionIs(rc, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonInvalidSpec))
	msg := condMessage(rc, v1.TypeSynced)
	for _, part := range []string{"interface eth1 description", "double quote", "would not load at the next boot"} {
		if !strings.Contains(msg, part) {
			t.Errorf("the message should say %q: %q", part, msg)
		}
	}
	if n := e.sim.Count("commit") + e.sim.Count("save"); n != 0 {
		t.Errorf("%d commits and saves for a refused spec", n)
	}
}

// A commit the router refuses: the condition carries the router's text and
// nothing is saved.
func TestRouterConfigCommitFailureNotSaved(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS13, routersim.Options{})
	savedBefore := e.sim.SavedConfig()
	e.sim.FailCommit("nat destination", "[ nat destination rule 20 ]\nInvalid translation address")
	rc := e.edge(v1.DriverSSH)
	create(t, rc)
	eventually(t, 20*time.Second, "CommitFailed", conditionIs(rc, v1.TypeConfigApplied, metav1.ConditionFalse, v1.ReasonCommitFailed))
	if msg := condMessage(rc, v1.TypeConfigApplied); !strings.Contains(msg, "Invalid translation address") {
		t.Errorf("message lacks the router's text: %q", msg)
	}
	if got := e.sim.SavedConfig(); got != savedBefore {
		t.Errorf("a failed commit was saved:\n%s", got)
	}
	if meta.FindStatusCondition(rc.Status.Conditions, v1.TypeReady).Status != metav1.ConditionFalse {
		t.Errorf("Ready must be False")
	}
	e.sim.ClearFaults()
	eventually(t, 20*time.Second, "Ready once the router accepts", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	if !strings.Contains(e.sim.SavedConfig(), "10.0.10.10") {
		t.Errorf("not saved after the successful commit")
	}
}

// The connection drops in the middle of a commit: the operator re-reads,
// converges, and never saves a partial configuration.
func TestRouterConfigConnectionDroppedMidCommit(t *testing.T) {
	for _, applied := range []bool{false, true} {
		t.Run(fmt.Sprintf("applied=%v", applied), func(t *testing.T) {
			e := newRouterEnv(t, routersim.VyOS15, routersim.Options{})
			savedBefore := e.sim.SavedConfig()
			e.sim.DropNextCommit(applied)
			rc := e.edge(v1.DriverSSH)
			create(t, rc)
			eventually(t, 10*time.Second, "the drop is reported", func() error {
				if e.sim.Count("commit") == 0 {
					return fmt.Errorf("no commit yet")
				}
				if got := e.sim.SavedConfig(); got != savedBefore && !strings.Contains(got, "10.0.10.11") {
					return fmt.Errorf("a partial configuration was saved:\n%s", got)
				}
				return nil
			})
			eventually(t, 20*time.Second, "converges", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
			if saved := e.sim.SavedConfig(); !strings.Contains(saved, "10.0.10.11") || !strings.Contains(saved, "203.0.113.123/32") {
				t.Errorf("final saved config incomplete:\n%s", saved)
			}
		})
	}
}

// The WAN address and gateway come from a FailoverIP: RouterConfig waits for
// it (a condition, not an error loop) and follows it.
func TestRouterConfigFromFailoverIP(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	rc := e.edge(v1.DriverSSH, func(rc *v1.RouterConfig) {
		rc.Spec.Interfaces[1].Addresses = nil
		rc.Spec.Interfaces[1].AddressFrom = &v1.FailoverIPReference{FailoverIPRef: v1.LocalObjectReference{Name: "router-wan"}}
		rc.Spec.WAN.Gateway = ""
		rc.Spec.WAN.GatewayFrom = &v1.FailoverIPReference{FailoverIPRef: v1.LocalObjectReference{Name: "router-wan"}}
	})
	create(t, rc)
	// After its quiet first sight (10s: a FailoverIP applied with it would
	// be a moment away), it says what it waits for.
	eventually(t, 20*time.Second, "waits for the FailoverIP",
		conditionIs(rc, v1.TypeConfigApplied, metav1.ConditionFalse, v1.ReasonReferenceNotReady))
	if msg := condMessage(rc, v1.TypeConfigApplied); !strings.Contains(msg, "router-wan does not exist") {
		t.Errorf("message = %q", msg)
	}
	f := &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "router-wan"},
		Spec: v1.FailoverIPSpec{IP: wanIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}}}}
	create(t, f)
	eventually(t, 10*time.Second, "waits for the gateway", func() error {
		if err := conditionIs(rc, v1.TypeConfigApplied, metav1.ConditionFalse, v1.ReasonReferenceNotReady)(); err != nil {
			return err
		}
		if !strings.Contains(condMessage(rc, v1.TypeConfigApplied), "has no gateway") {
			return fmt.Errorf("message %q", condMessage(rc, v1.TypeConfigApplied))
		}
		return nil
	})
	// The FailoverIP controller would write this; here the test plays it.
	f.Status.Gateway = ovhGateway
	if err := k8sClient.Status().Update(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	if rc.Status.WANAddress != wanIP+"/32" || rc.Status.Gateway != ovhGateway {
		t.Errorf("status wanAddress %q gateway %q", rc.Status.WANAddress, rc.Status.Gateway)
	}
}

// A console change committed but not saved is drift twice over: the running
// configuration differs from the spec, and from config.boot. A reboot
// without save loses it; the operator sees the router back in line.
func TestRouterConfigUnsavedChangeAndRebootWithoutSave(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS13, routersim.Options{})
	rc := e.edge(v1.DriverSSH)
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	patch := client.MergeFrom(rc.DeepCopy())
	rc.Spec.ManagementPolicy = v1.Observe
	if err := k8sClient.Patch(context.Background(), rc, patch); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetConfig("set nat destination rule 20 translation address '10.0.10.99'"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "UnsavedConfig", func() error {
		if err := conditionIs(rc, v1.TypeConfigSaved, metav1.ConditionFalse, v1.ReasonUnsavedConfig)(); err != nil {
			return err
		}
		return conditionIs(rc, v1.TypeConfigApplied, metav1.ConditionFalse, "")()
	})
	if msg := condMessage(rc, v1.TypeConfigSaved); !strings.Contains(msg, "a reboot would undo them") {
		t.Errorf("ConfigSaved message = %q", msg)
	}
	if err := e.sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready after the reboot dropped the unsaved change",
		conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	if strings.Contains(e.sim.ActiveCommands(), "10.0.10.99") {
		t.Errorf("the unsaved change survived the reboot")
	}
	if n := e.sim.Count("commit") + e.sim.Count("save"); n > 2 {
		t.Errorf("Observe wrote to the router: %d commits+saves in all, want only the initial commit and save", n)
	}
}

// deletionPolicy Delete removes the NAT rules the object owns and saves;
// addresses and gateway routes stay (removing them would cut the router off).
func TestRouterConfigDeletionPolicyDelete(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	rc := e.edge(v1.DriverSSH, func(rc *v1.RouterConfig) { rc.Spec.DeletionPolicy = v1.Delete })
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	if err := k8sClient.Delete(context.Background(), rc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "gone", func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(rc), rc); err == nil {
			return fmt.Errorf("still there: %v", rc.Finalizers)
		}
		return nil
	})
	active, saved := e.sim.ActiveCommands(), e.sim.SavedConfig()
	for _, cfg := range []string{active, saved} {
		if strings.Contains(cfg, "nat destination rule 20") || strings.Contains(cfg, "nat source rule 10") {
			t.Errorf("owned NAT rules left behind:\n%s", cfg)
		}
		if !strings.Contains(cfg, "203.0.113.123/32") {
			t.Errorf("the WAN address must stay:\n%s", cfg)
		}
	}
}
