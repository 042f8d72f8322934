package controllers

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// The server's IPv6 block, the router's WAN address in it and OVH's IPv6
// gateway outside it, at the end of the enclosing /56 (OVH's older ranges).
const (
	block6 = "2001:db8:1:1::/64"
	wan6   = "2001:db8:1:1::123/64"
	gw6    = "2001:db8:1:ff:ff:ff:ff:ff"
)

// defaultVia6 is the IPv6 default route via the gateway in `ip -6 route`
// text (FRR's carries its nexthop object's number).
var defaultVia6 = regexp.MustCompile(`(?m)^default (nhid [0-9]+ )?via ` + regexp.QuoteMeta(gw6) + ` dev eth2 `)

// dualStack gives the seed's RouterConfig the WAN's IPv6 address and gateway.
func dualStack(rc *v1.RouterConfig) {
	rc.Spec.Interfaces[1].IPv6 = &v1.InterfaceIPv6{Addresses: []string{wan6}}
	rc.Spec.WAN.IPv6 = &v1.WANIPv6{Gateway: gw6}
}

// offLink6 are IPv6 destinations the router talks to.
func offLink6(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("2001:db8:ffff::%x", i))
	}
	return out
}

// onlyGateway6 fails unless the WAN's IPv6 neighbour table holds the
// gateway alone (besides link-local and on-link peers).
func onlyGateway6(sim *routersim.Router) error {
	for _, n := range sim.Neighbours6("eth2") {
		if n.IP != gw6 && !strings.HasPrefix(n.IP, "fe80:") && !strings.HasPrefix(n.IP, "2001:db8:1:1:") {
			return fmt.Errorf("off-link IPv6 neighbour %s (%s): the router solicits destinations itself", n.IP, n.State)
		}
	}
	return nil
}

// Dual stack on every platform and driver: Ready with the IPv6 address and
// the IPv6 gateway's routes in the platform's syntax (the boot script's
// ip -6 route replace lines on Vyatta), status.ipv6 showing the default
// route via the gateway, and IPv6 traffic soliciting only the gateway.
func TestRouterConfigDualStackEveryProfile(t *testing.T) {
	cases := []struct {
		profile routersim.Profile
		driver  v1.RouterDriver
		want    []string
	}{
		{routersim.Vyatta65, v1.DriverSSH, nil},
		{routersim.VyOS13, v1.DriverSSH, []string{
			"protocols static interface-route6 " + gw6 + "/128 next-hop-interface eth2", "protocols static route6 ::/0 next-hop " + gw6}},
		{routersim.VyOS13, v1.DriverVyOSAPI, []string{"protocols static interface-route6 " + gw6 + "/128 next-hop-interface eth2"}},
		{routersim.VyOS14, v1.DriverSSH, []string{"protocols static route6 " + gw6 + "/128 interface eth2", "protocols static route6 ::/0 next-hop " + gw6}},
		{routersim.VyOS14, v1.DriverVyOSAPI, []string{"protocols static route6 ::/0 next-hop " + gw6}},
		{routersim.VyOS15, v1.DriverSSH, []string{"protocols static route6 " + gw6 + "/128 interface eth2"}},
		{routersim.VyOS15, v1.DriverVyOSAPI, []string{"protocols static route6 ::/0 next-hop " + gw6}},
	}
	for _, c := range cases {
		t.Run(string(c.profile)+"/"+string(c.driver), func(t *testing.T) {
			e := newRouterEnv(t, c.profile, routersim.Options{})
			rc := e.edge(c.driver, dualStack)
			create(t, rc)
			eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
			unquote := strings.NewReplacer("'", "")
			active, saved := unquote.Replace(e.sim.ActiveCommands()), e.sim.SavedConfig()
			for _, w := range append(c.want, "interfaces ethernet eth2 address "+wan6, "interfaces ethernet eth2 address 203.0.113.123/32") {
				if !strings.Contains(active, w) {
					t.Errorf("active config lacks %q:\n%s", w, active)
				}
			}
			if !strings.Contains(saved, wan6) {
				t.Errorf("the IPv6 address was not saved:\n%s", saved)
			}
			s6 := rc.Status.IPv6
			if s6 == nil || s6.Gateway != gw6 || !slices.Equal(s6.WANAddresses, []string{wan6}) ||
				s6.DefaultRoute == nil || s6.DefaultRoute.Gateway != gw6 || s6.DefaultRoute.Device != "eth2" {
				t.Fatalf("status.ipv6 = %+v", s6)
			}
			if c.profile == routersim.Vyatta65 {
				content, _, _ := e.sim.BootScript()
				for _, l := range []string{"ip -6 route replace " + gw6 + " dev eth2", "ip -6 route replace default via " + gw6 + " dev eth2",
					"ip route replace default via 198.51.100.254 dev eth2"} {
					if !strings.Contains(content, l) {
						t.Errorf("boot script lacks %q:\n%s", l, content)
					}
				}
			}
			if msg := condMessage(rc, v1.TypeGatewayRoutePresent); !strings.Contains(msg, "IPv6 default via "+gw6) {
				t.Errorf("GatewayRoutePresent message = %q", msg)
			}
			if err := e.sim.InjectTraffic(offLink6(12)...); err != nil {
				t.Fatal(err)
			}
			if err := onlyGateway6(e.sim); err != nil {
				t.Error(err)
			}
			if n := e.sim.Count("commit"); n > 1 {
				t.Errorf("%d commits for one dual-stack spec, want one transaction", n)
			}
		})
	}
}

// ipv6FloodSeed writes the IPv6 gateway routes on Vyatta 6.5 the 2013 way
// (interface-route6 to the gateway, route6 ::/0 via it): Quagga installs the
// IPv6 default route without its gateway (the simulator's inference from
// the IPv4 bug) and every IPv6 destination is solicited on the WAN.
func ipv6FloodSeed(t *testing.T, sim *routersim.Router) {
	t.Helper()
	if err := sim.SetConfig("set interfaces ethernet eth2 address "+wan6,
		"set protocols static interface-route6 "+gw6+"/128 next-hop-interface eth2",
		"set protocols static route6 ::/0 next-hop "+gw6); err != nil {
		t.Fatal(err)
	}
	if err := sim.InjectTraffic(offLink6(20)...); err != nil {
		t.Fatal(err)
	}
}

// DefaultRoute6WithoutGateway, NDPFlood and GatewayNDPMissing on the
// write-up's Vyatta: reported under Observe without a write, then repaired
// under Manage in one pass told by one Event (commit, save, boot script,
// ip -6 route replace, IPv6 neighbour flush), and new IPv6 traffic goes to
// the gateway only — also after a reboot.
func TestRouterConfigIPv6FloodReportedThenRepaired(t *testing.T) {
	e := newRouterEnv(t, routersim.Vyatta65, routersim.Options{Seed: routersim.SeedVyatta2013})
	ipv6FloodSeed(t, e.sim)
	rc := e.edge(v1.DriverSSH, dualStack, rtcObserve)
	create(t, rc)
	eventually(t, 20*time.Second, "the IPv6 bug is diagnosed", func() error {
		if err := conditionIs(rc, v1.TypeGatewayRoutePresent, metav1.ConditionFalse, "")(); err != nil {
			return err
		}
		for _, r := range []string{v1.ReasonDefaultRoute6WithoutGateway, v1.ReasonNDPFlood, v1.ReasonGatewayNDPMissing} {
			if !driftHas(rc, r) {
				return fmt.Errorf("no %s in status.drift %+v", r, rc.Status.Drift)
			}
		}
		return nil
	})
	if d := rc.Status.IPv6.DefaultRoute; d == nil || d.Gateway != "" || d.Device != "eth2" {
		t.Errorf("the gateway-less IPv6 default must be shown as observed: %+v", d)
	}
	if n := rc.Status.IPv6.WANNeighbours; n == nil || n.OffLinkEntries != 20 || n.GatewayState != "Missing" {
		t.Errorf("status.ipv6.wanNeighbours = %+v", n)
	}
	if msg := condMessage(rc, v1.TypeARPTableHealthy); !strings.Contains(msg, "IPv6 neighbour entries on eth2 are for off-link addresses") {
		t.Errorf("ARPTableHealthy message = %q", msg)
	}
	for _, k := range []string{"commit", "save", "ip route replace", "ip neigh flush"} {
		if n := e.sim.Count(k); n != 0 {
			t.Errorf("Observe wrote: %d %s", n, k)
		}
	}

	patch := client.MergeFrom(rc.DeepCopy())
	rc.Spec.ManagementPolicy = v1.Manage
	if err := k8sClient.Patch(context.Background(), rc, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	active := e.sim.ActiveCommands()
	for _, gone := range []string{"interface-route6", "route6 ::/0", "gateway-address"} {
		if strings.Contains(active, gone) {
			t.Errorf("%s still configured:\n%s", gone, active)
		}
	}
	if routes := e.sim.RoutesText6(); !defaultVia6.MatchString(routes) {
		t.Errorf("IPv6 routes:\n%s", routes)
	}
	if err := e.sim.InjectTraffic(offLink6(30)...); err != nil {
		t.Fatal(err)
	}
	if err := onlyGateway6(e.sim); err != nil {
		t.Error(err)
	}
	var repair string
	for _, ev := range eventsByObject(t, e.ns)["edge"] {
		if strings.Contains(ev, "ReplaceRoutes: ") {
			repair = ev
		}
	}
	for _, step := range []string{"Commit: ", "ReplaceRoutes: ", "default via " + gw6 + " dev eth2", v1.ReasonDefaultRoute6WithoutGateway,
		"FlushNeighbours: ", "FlushNeighbours6: "} {
		if !strings.Contains(repair, step) {
			t.Errorf("repair Event %q does not tell %q", repair, step)
		}
	}
	if err := e.sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.InjectTraffic(offLink6(10)...); err != nil {
		t.Fatal(err)
	}
	if err := onlyGateway6(e.sim); err != nil {
		t.Errorf("after a reboot: %v", err)
	}
}

// GatewayRoute6Missing, each way the routes are kept: on Vyatta (boot
// script) a deleted IPv6 default route is put back with ip -6 route
// replace; on VyOS 1.4 (static routes) a deleted route6 statement is
// committed again. Both are seen by a watcher before the repair.
func TestRouterConfigGatewayRoute6MissingRepaired(t *testing.T) {
	t.Run("vyatta-6.5 boot script", func(t *testing.T) {
		e := newRouterEnv(t, routersim.Vyatta65, routersim.Options{})
		rc := e.edge(v1.DriverSSH, dualStack)
		create(t, rc)
		eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
		history := readyHistory(t, rc, &v1.RouterConfigList{})
		replaced := e.sim.Count("ip route replace")
		if out, code := e.sim.RunIP("-6", "route", "del", "default"); code != 0 {
			t.Fatalf("ip -6 route del default: %s", out)
		}
		waitEvent(t, e.ns, "edge", v1.ReasonGatewayRoute6Missing)
		eventually(t, 10*time.Second, "IPv6 default route back", func() error {
			if !defaultVia6.MatchString(e.sim.RoutesText6()) {
				return fmt.Errorf("IPv6 routes:\n%s", e.sim.RoutesText6())
			}
			return conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, "")()
		})
		if e.sim.Count("ip route replace") == replaced {
			t.Error("the route came back without ip route replace")
		}
		if h := history(); !slices.Contains(h, "False/"+v1.ReasonGatewayRoute6Missing) {
			t.Errorf("Ready went through %v; a watcher never saw GatewayRoute6Missing", h)
		}
	})
	t.Run("vyos-1.4 static routes", func(t *testing.T) {
		e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
		rc := e.edge(v1.DriverSSH, dualStack)
		create(t, rc)
		eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
		commits := e.sim.Count("commit")
		if err := e.sim.DeleteConfig("protocols static route6 ::/0"); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, e.ns, "edge", v1.ReasonGatewayRoute6Missing)
		eventually(t, 10*time.Second, "route6 committed again", func() error {
			if !defaultVia6.MatchString(e.sim.RoutesText6()) {
				return fmt.Errorf("IPv6 routes:\n%s", e.sim.RoutesText6())
			}
			return conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, "")()
		})
		if e.sim.Count("commit") != commits+1 {
			t.Errorf("commits %d -> %d, want one more", commits, e.sim.Count("commit"))
		}
	})
}

// NDPFlood and GatewayNDPMissing with the routes already right again (a
// gateway-less IPv6 default route put in and taken out by hand, its
// solicitations left in the table): the entries are flushed, and nothing
// else is written.
func TestRouterConfigNDPFloodFlushed(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS15, routersim.Options{})
	rc := e.edge(v1.DriverSSH, dualStack)
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	commits := e.sim.Count("commit")
	if out, code := e.sim.RunIP("-6", "route", "replace", "default", "dev", "eth2", "metric", "1"); code != 0 {
		t.Fatal(out)
	}
	e.sim.FlushNeighbours("eth2")
	if err := e.sim.InjectTraffic(offLink6(20)...); err != nil {
		t.Fatal(err)
	}
	if out, code := e.sim.RunIP("-6", "route", "del", "default", "dev", "eth2", "metric", "1"); code != 0 {
		t.Fatal(out)
	}
	waitEvent(t, e.ns, "edge", v1.ReasonNDPFlood)
	eventually(t, 10*time.Second, "flushed, Ready", func() error {
		if err := onlyGateway6(e.sim); err != nil {
			return err
		}
		return conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, "")()
	})
	if e.sim.Count("ip neigh flush") == 0 {
		t.Error("the IPv6 neighbour table was never flushed")
	}
	if e.sim.Count("commit") != commits {
		t.Error("a neighbour flood made a commit")
	}
}

// Under Observe, a deleted IPv6 default route is reported within an
// interval and nothing is written.
func TestRouterConfigObserveReportsIPv6RouteDeleted(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	rc := e.edge(v1.DriverVyOSAPI, dualStack)
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	patch := client.MergeFrom(rc.DeepCopy())
	rc.Spec.ManagementPolicy = v1.Observe
	if err := k8sClient.Patch(context.Background(), rc, patch); err != nil {
		t.Fatal(err)
	}
	calls := e.sim.Calls()
	if out, code := e.sim.RunIP("-6", "route", "del", "default"); code != 0 {
		t.Fatal(out)
	}
	eventually(t, 5*time.Second, "GatewayRoutePresent=False",
		conditionIs(rc, v1.TypeGatewayRoutePresent, metav1.ConditionFalse, v1.ReasonGatewayRoute6Missing))
	if msg := condMessage(rc, v1.TypeGatewayRoutePresent); !strings.Contains(msg, "not corrected: managementPolicy is Observe") {
		t.Errorf("message = %q", msg)
	}
	time.Sleep(1500 * time.Millisecond) // another pass or two
	after := e.sim.Calls()
	for _, k := range []string{"commit", "save", "ip route replace", "ip neigh flush", "api:/configure", "api:/reset", "api:/config-file"} {
		if after[k] != calls[k] {
			t.Errorf("Observe wrote: %s %d -> %d", k, calls[k], after[k])
		}
	}
}

// The WAN's IPv6 address and gateway from the server's block, as a
// FailoverIP reports them: the RouterConfig waits for them (a condition),
// then uses the block's prefix with the host part given; a host part that
// does not fit the block is an invalid spec, told as such.
func TestRouterConfigIPv6FromFailoverIP(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	ref := v1.LocalObjectReference{Name: "router-wan"}
	rc := e.edge(v1.DriverSSH, func(rc *v1.RouterConfig) {
		rc.Spec.Interfaces[1].IPv6 = &v1.InterfaceIPv6{AddressFrom: &v1.IPv6AddressSource{FailoverIPRef: ref, Host: "::123"}}
		rc.Spec.WAN.IPv6 = &v1.WANIPv6{GatewayFrom: &v1.FailoverIPReference{FailoverIPRef: ref}}
	})
	f := &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "router-wan"},
		Spec: v1.FailoverIPSpec{IP: wanIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}}}}
	create(t, f)
	create(t, rc)
	eventually(t, quietFirstSight+10*time.Second, "waits for the block (after its quiet first sight)", func() error {
		if err := conditionIs(rc, v1.TypeConfigApplied, metav1.ConditionFalse, v1.ReasonReferenceNotReady)(); err != nil {
			return err
		}
		if msg := condMessage(rc, v1.TypeConfigApplied); !strings.Contains(msg, "has no IPv6 block (status.ipv6.block)") {
			return fmt.Errorf("message %q", msg)
		}
		return nil
	})
	// The FailoverIP controller would write this from OVH's routing.ipv6;
	// here the test plays it.
	f.Status.IPv6 = &v1.ServerIPv6{Block: block6, Gateway: gw6}
	if err := k8sClient.Status().Update(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
	if s6 := rc.Status.IPv6; s6 == nil || s6.Gateway != gw6 || !slices.Equal(s6.WANAddresses, []string{wan6}) {
		t.Errorf("status.ipv6 = %+v", s6)
	}
	if !strings.Contains(e.sim.ActiveCommands(), "interfaces ethernet eth2 address '"+wan6+"'") {
		t.Errorf("active config:\n%s", e.sim.ActiveCommands())
	}

	// A host part reaching into the block's prefix.
	commits := e.sim.Count("commit")
	patch := client.MergeFrom(rc.DeepCopy())
	rc.Spec.Interfaces[1].IPv6.AddressFrom.Host = "2001:db8::123"
	if err := k8sClient.Patch(context.Background(), rc, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "InvalidSpec", conditionIs(rc, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonInvalidSpec))
	if msg := condMessage(rc, v1.TypeSynced); !strings.Contains(msg, "has bits inside the block") || !strings.Contains(msg, block6) {
		t.Errorf("Synced message = %q", msg)
	}
	if e.sim.Count("commit") != commits {
		t.Error("an invalid spec was committed")
	}
}

// lan6 puts the machines behind the router on IPv6: a /80 of the server's
// block on the LAN with router advertisements, and NDP proxy on the WAN
// for the LAN hosts' addresses (OVH's gateway solicits them on the WAN).
func lan6(rc *v1.RouterConfig) {
	dualStack(rc)
	rc.Spec.Interfaces[0].IPv6 = &v1.InterfaceIPv6{Addresses: []string{"2001:db8:1:1:1::1/80"}, RouterAdvert: true}
	rc.Spec.WAN.IPv6.NDPProxy = []string{"2001:db8:1:1:1::10", "2001:db8:1:1:1::11"}
}

// LAN IPv6 on VyOS 1.4: advertisements on the LAN, NDP proxy on the WAN —
// after which OVH's gateway soliciting a LAN host's address on the WAN is
// answered. A proxy entry lost outside the configuration (VyOS refills
// the table only when the node changes) is NDPProxyMissing: reported
// under Observe without a write, put back under Manage without a commit.
func TestRouterConfigLANIPv6NDPProxy(t *testing.T) {
	e := newRouterEnv(t, routersim.VyOS14, routersim.Options{})
	rc := e.edge(v1.DriverSSH, lan6)
	create(t, rc)
	eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	active := strings.NewReplacer("'", "").Replace(e.sim.ActiveCommands())
	for _, w := range []string{
		"service router-advert interface eth1 prefix 2001:db8:1:1:1::/80",
		"protocols static neighbor-proxy nd 2001:db8:1:1:1::10 interface eth2",
		"system sysctl parameter net.ipv6.conf.eth2.proxy_ndp value 1",
	} {
		if !strings.Contains(active, w) {
			t.Errorf("active config lacks %q:\n%s", w, active)
		}
	}
	for _, a := range rc.Spec.WAN.IPv6.NDPProxy {
		if !e.sim.AnswersNeighbourSolicitation(a, "eth2") {
			t.Errorf("OVH's gateway soliciting %s on the WAN gets no answer", a)
		}
	}
	if got := rc.Status.IPv6.NDPProxies; len(got) != 2 {
		t.Errorf("status.ipv6.ndpProxies = %v", got)
	}

	patch := client.MergeFrom(rc.DeepCopy())
	rc.Spec.ManagementPolicy = v1.Observe
	if err := k8sClient.Patch(context.Background(), rc, patch); err != nil {
		t.Fatal(err)
	}
	calls := e.sim.Calls()
	if out, code := e.sim.RunIP("-6", "neigh", "del", "proxy", "2001:db8:1:1:1::11", "dev", "eth2"); code != 0 {
		t.Fatal(out)
	}
	eventually(t, 5*time.Second, "NDPProxyMissing",
		conditionIs(rc, v1.TypeARPTableHealthy, metav1.ConditionFalse, v1.ReasonNDPProxyMissing))
	if msg := condMessage(rc, v1.TypeARPTableHealthy); !strings.Contains(msg, "2001:db8:1:1:1::11 is unreachable over IPv6") {
		t.Errorf("message = %q", msg)
	}
	time.Sleep(1500 * time.Millisecond)
	if e.sim.AnswersNeighbourSolicitation("2001:db8:1:1:1::11", "eth2") {
		t.Error("Observe put the entry back")
	}
	after := e.sim.Calls()
	for _, k := range []string{"commit", "save", "ip neigh replace proxy"} {
		if after[k] != calls[k] {
			t.Errorf("Observe wrote: %s %d -> %d", k, calls[k], after[k])
		}
	}

	patch = client.MergeFrom(rc.DeepCopy())
	rc.Spec.ManagementPolicy = v1.Manage
	if err := k8sClient.Patch(context.Background(), rc, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "entry back, Ready", func() error {
		if !e.sim.AnswersNeighbourSolicitation("2001:db8:1:1:1::11", "eth2") {
			return fmt.Errorf("no answer for 2001:db8:1:1:1::11")
		}
		return conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, "")()
	})
	if e.sim.Count("commit") != calls["commit"] {
		t.Error("a lost proxy entry made a commit (which would not bring it back)")
	}
	waitEvent(t, e.ns, "edge", v1.ReasonNDPProxyMissing)
}

// Router advertisements on every platform that has them, and NDP proxy
// refused where the platform has no configuration for it, saying why.
func TestRouterConfigLANIPv6PerPlatform(t *testing.T) {
	t.Run("vyatta-6.5 advertises", func(t *testing.T) {
		e := newRouterEnv(t, routersim.Vyatta65, routersim.Options{})
		rc := e.edge(v1.DriverSSH, lan6, func(rc *v1.RouterConfig) { rc.Spec.WAN.IPv6.NDPProxy = nil })
		create(t, rc)
		eventually(t, 20*time.Second, "Ready", conditionIs(rc, v1.TypeReady, metav1.ConditionTrue, ""))
		if w := "interfaces ethernet eth1 ipv6 router-advert prefix 2001:db8:1:1:1::/80"; !strings.Contains(strings.ReplaceAll(e.sim.ActiveCommands(), "'", ""), w) {
			t.Errorf("active config lacks %q:\n%s", w, e.sim.ActiveCommands())
		}
	})
	for _, p := range []routersim.Profile{routersim.Vyatta65, routersim.VyOS13} {
		t.Run(string(p)+" refuses NDP proxy", func(t *testing.T) {
			e := newRouterEnv(t, p, routersim.Options{})
			rc := e.edge(v1.DriverSSH, lan6)
			create(t, rc)
			eventually(t, 10*time.Second, "Stalled", conditionIs(rc, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonInvalidSpec))
			if msg := condMessage(rc, v1.TypeSynced); !strings.Contains(msg, "NDP proxy (wan.ipv6.ndpProxy) needs VyOS 1.4 or later") {
				t.Errorf("Synced message = %q", msg)
			}
			if n := e.sim.Count("commit"); n != 0 {
				t.Errorf("%d commits for a refused spec", n)
			}
		})
	}
}
