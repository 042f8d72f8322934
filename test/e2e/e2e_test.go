package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// The seed topology comes up: every object Ready, and the values flow from
// OVH to ESXi to the router.
func TestSeedTopologyBecomesReady(t *testing.T) {
	kubectl(t, "wait", "--for=condition=Ready", "failoverip,bridgedvm,routerconfig", "--all", "--timeout=3m")
	mac := kubectl(t, "get", "fip", "router-wan", "-o", "jsonpath={.status.macAddress}")
	if !regexp.MustCompile(`^00:50:56:[0-9a-f:]{8}$`).MatchString(mac) {
		t.Fatalf("router-wan status.macAddress = %q", mac)
	}
	nic := kubectl(t, "get", "bvm", "vyatta", "-o", `jsonpath={.status.nics[?(@.label=="Network adapter 2")].mac}`)
	if nic != mac {
		t.Errorf("the vyatta VM's WAN NIC has %q, want the failover IP's virtual MAC %q", nic, mac)
	}
	if pg := kubectl(t, "get", "bvm", "vyatta", "-o", `jsonpath={.status.nics[?(@.label=="Network adapter 2")].portGroup}`); pg != "WAN" {
		t.Errorf("WAN NIC on port group %q", pg)
	}
	if got := kubectl(t, "get", "fip", "router-wan", "-o", "jsonpath={.status.routedTo} {.status.gateway}"); got != world.Server+" "+world.Gateway {
		t.Errorf("router-wan routedTo/gateway = %q", got)
	}
	rt := kubectl(t, "get", "rtc", "edge", "-o",
		"jsonpath={.status.platform} {.status.gatewayRouteMode} {.status.defaultRoute.gateway} {.status.bootScript.state} {.status.wanAddress}")
	if rt != "vyatta-6 BootScript "+world.Gateway+" Present "+world.RouterWANIP+"/32" {
		t.Errorf("edge status = %q", rt)
	}
	// Dual stack, as the samples are: the IPv6 default route goes via the
	// server's IPv6 gateway, which router-wan reports from OVH.
	gw6 := kubectl(t, "get", "fip", "router-wan", "-o", "jsonpath={.status.ipv6.gateway}")
	if got := kubectl(t, "get", "rtc", "edge", "-o", "jsonpath={.status.ipv6.gateway} {.status.ipv6.defaultRoute.gateway}"); gw6 == "" || got != gw6+" "+gw6 {
		t.Errorf("edge status.ipv6 gateway/defaultRoute = %q, router-wan's IPv6 gateway %q", got, gw6)
	}
	table := kubectl(t, "get", "ovhbridge")
	if n := strings.Count(table, " True "); n != 5 {
		t.Errorf("kubectl get ovhbridge shows %d Ready objects, want 5:\n%s", n, table)
	}
	if strings.Contains(w.Router.ActiveCommands(), "interface-route") {
		t.Errorf("the 2013 interface-route is still configured")
	}
}

// An IP moved away at OVH: under Observe the drift is reported and left; back
// under Manage it is corrected.
func TestOutOfBandMoveObservedThenCorrected(t *testing.T) {
	kubectl(t, "patch", "fip", "web-wan", "--type=merge", "-p", `{"spec":{"managementPolicy":"Observe"}}`)
	kubectl(t, "wait", "--for=jsonpath={.status.observedGeneration}="+kubectl(t, "get", "fip", "web-wan", "-o", "jsonpath={.metadata.generation}"),
		"fip/web-wan", "--timeout=30s")
	moves := w.OVH.CallCount(ovhsim.RouteIPMove)
	if err := w.OVH.MoveIP(world.WebWANIP, world.OtherServer); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "wait", "--for=condition=Ready=false", "fip/web-wan", "--timeout=30s")
	kubectl(t, "wait", `--for=jsonpath={.status.conditions[?(@.type=="Routed")].reason}=RoutedElsewhere`, "fip/web-wan", "--timeout=30s")
	if got := kubectl(t, "get", "fip", "web-wan", "-o", "jsonpath={.status.routedTo}"); got != world.OtherServer {
		t.Errorf("status.routedTo = %q", got)
	}
	// The drift is exported for alerting while it lasts.
	if m := scrape(t); !regexp.MustCompile(`ovhbridge_drift\{kind="FailoverIP",name="web-wan",namespace="e2e",reason="RoutedElsewhere"\} 1`).MatchString(m) {
		t.Errorf("no drift series for web-wan in /metrics")
	}
	time.Sleep(2 * time.Second) // two sync intervals
	if n := w.OVH.CallCount(ovhsim.RouteIPMove); n != moves {
		t.Fatalf("Observe sent %d move(s)", n-moves)
	}
	kubectl(t, "patch", "fip", "web-wan", "--type=merge", "-p", `{"spec":{"managementPolicy":"Manage"}}`)
	kubectl(t, "wait", "--for=condition=Ready", "fip/web-wan", "--timeout=60s")
	if n := w.OVH.CallCount(ovhsim.RouteIPMove); n != moves+1 {
		t.Errorf("Manage sent %d move(s), want 1", n-moves)
	}
}

// Drift in ESXi and on the router flips Ready to False and back, seen by a
// watching kubectl wait.
func TestDriftFlipsAndRecovers(t *testing.T) {
	for _, f := range w.Failures() {
		t.Run(f.Object+": "+f.Name, func(t *testing.T) {
			obj := f.Kind + "/" + f.Object
			kubectl(t, "wait", "--for=condition=Ready", obj, "--timeout=60s")
			waitFalse := watchFor(t, obj, "Ready", "False", time.Minute)
			if err := f.Do(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitFalse()
			kubectl(t, "wait", "--for=condition=Ready", obj, "--timeout=90s")
		})
	}
}

// The pause annotation stops every external call; removing it resumes.
func TestPauseAnnotation(t *testing.T) {
	kubectl(t, "annotate", "fip", "router-wan", "ovhbridge.io/paused=true")
	kubectl(t, "wait", `--for=jsonpath={.status.conditions[?(@.type=="Synced")].reason}=ReconcilePaused`, "fip/router-wan", "--timeout=30s")
	moves := w.OVH.CallCount(ovhsim.RouteIPMove)
	if err := w.OVH.MoveIP(world.RouterWANIP, world.OtherServer); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if n := w.OVH.CallCount(ovhsim.RouteIPMove); n != moves {
		t.Fatalf("a paused FailoverIP sent %d move(s)", n-moves)
	}
	kubectl(t, "annotate", "fip", "router-wan", "ovhbridge.io/paused-")
	kubectl(t, "wait", "--for=condition=Ready", "fip/router-wan", "--timeout=60s")
	if n := w.OVH.CallCount(ovhsim.RouteIPMove); n != moves+1 {
		t.Errorf("after unpausing: %d move(s), want 1", n-moves)
	}
}

// Metrics: external calls by system and operation, their latency, and the
// duration of external tasks are exported.
func TestMetricsExported(t *testing.T) {
	m := scrape(t)
	for _, re := range []string{
		`ovhbridge_external_calls_total\{operation="[A-Za-z]+",result="ok",system="ovh"\} [1-9]`,
		`ovhbridge_external_calls_total\{operation="[A-Za-z_]+",result="ok",system="esxi"\} [1-9]`,
		`ovhbridge_external_calls_total\{operation="[A-Za-z]+",result="ok",system="router"\} [1-9]`,
		`ovhbridge_external_call_duration_seconds_bucket\{operation="[A-Za-z]+",system="ovh",le="0.1"\}`,
		`ovhbridge_task_duration_seconds_count\{function="genericMoveFloatingIp",result="done",system="ovh"\} [1-9]`,
		// Periodic health checks end in RequeueAfter.
		`controller_runtime_reconcile_total\{controller="routerconfig",result="requeue_after"\} [1-9]`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
	for _, secret := range []string{creds.OVHApplicationSecret, creds.OVHConsumerKey, creds.ESXiPassword, creds.RouterPassword} {
		if strings.Contains(m, secret) {
			t.Errorf("a secret appears in /metrics")
		}
	}
}

// deletionPolicy: Delete unbinds the IP from its virtual MAC; Orphan leaves
// OVH untouched. Runs last: it removes objects the other tests use.
func TestZDeletionPolicies(t *testing.T) {
	kubectl(t, "patch", "fip", "web-wan", "--type=merge", "-p", `{"spec":{"deletionPolicy":"Delete"}}`)
	kubectl(t, "wait", "--for=jsonpath={.metadata.finalizers[0]}=ovhbridge.io/finalizer", "fip/web-wan", "--timeout=30s")
	webMAC := kubectl(t, "get", "fip", "web-wan", "-o", "jsonpath={.status.macAddress}")
	routerMAC := kubectl(t, "get", "fip", "router-wan", "-o", "jsonpath={.status.macAddress}")
	kubectl(t, "delete", "fip", "web-wan", "--timeout=60s")
	kubectl(t, "delete", "fip", "router-wan", "--timeout=60s")
	bound := map[string]string{}
	for _, m := range w.OVH.World().VirtualMACs {
		for _, a := range m.Addresses {
			bound[a.IP] = m.MAC
		}
	}
	if mac, ok := bound[world.WebWANIP]; ok {
		t.Errorf("deletionPolicy Delete left %s bound to %s", world.WebWANIP, mac)
	}
	if bound[world.RouterWANIP] != routerMAC {
		t.Errorf("deletionPolicy Orphan changed %s's vMAC: %q, was %q", world.RouterWANIP, bound[world.RouterWANIP], routerMAC)
	}
	_ = webMAC
	for _, ip := range w.OVH.World().IPs {
		if ip.RoutedTo != world.Server {
			t.Errorf("%s was moved to %q by a deletion", ip.IP, ip.RoutedTo)
		}
	}
	// The BridgedVM that took its MAC from web-wan says so, without looping.
	kubectl(t, "wait", `--for=jsonpath={.status.conditions[?(@.type=="MACConfigured")].reason}=FailoverIPNotReady`, "bvm/web1", "--timeout=30s")
}

func scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + op.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
