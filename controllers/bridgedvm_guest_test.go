package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

// guestGateway is the seed server's gateway (its main IP's .254).
const guestGateway = "198.51.100.254"

// guestEnv is web1 bridged on WAN with web-wan's virtual MAC, plus a LAN
// NIC, its guest configured as the write-up says, and FailoverIP web-wan
// routed to the server with its MAC and gateway in status (the FailoverIP
// controller's part, played by the test). The BridgedVM is under Observe:
// whatever happens in the guest, nothing is written anywhere.
type guestEnv struct {
	*esxiEnv
	fip *v1.FailoverIP
	b   *v1.BridgedVM
}

func writeUpWeb() esxisim.GuestNetwork {
	g := *esxisim.WriteUpGuest(webIP, guestGateway)
	g.Interfaces = append(g.Interfaces, esxisim.GuestInterface{NIC: 1, Addresses: []string{"10.0.10.10/24"}})
	return g
}

func newGuestEnv(t *testing.T, mutate ...func(*v1.BridgedVM)) *guestEnv {
	t.Helper()
	return newGuestEnvWith(t, writeUpWeb(), nil, mutate...)
}

// newGuestEnvWith is newGuestEnv with web1's guest configured as given and
// the FailoverIP's status.ipv6 set to ipv6 (the server's IPv6 block and
// gateway, as the shared per-server observation fills it).
func newGuestEnvWith(t *testing.T, guest esxisim.GuestNetwork, ipv6 *v1.ServerIPv6, mutate ...func(*v1.BridgedVM)) *guestEnv {
	t.Helper()
	e := &guestEnv{esxiEnv: newESXiEnv(t, esxisim.Options{VMs: []esxisim.VMSpec{{
		Name: "web1", PoweredOn: true, Guest: &guest,
		NICs: []esxisim.NICSpec{{PortGroup: esxisim.PortGroupWAN, MAC: webMAC}, {PortGroup: esxisim.PortGroupLAN}},
	}}})}
	e.fip = &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "web-wan"},
		Spec: v1.FailoverIPSpec{IP: webIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}},
			VirtualMAC: &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: "web1"}}}
	create(t, e.fip)
	e.fip.Status.MACAddress, e.fip.Status.RoutedTo, e.fip.Status.Gateway = webMAC, esxServer, guestGateway
	e.fip.Status.IPv6 = ipv6
	if err := k8sClient.Status().Update(context.Background(), e.fip); err != nil {
		t.Fatal(err)
	}
	e.startOperator(t)
	e.b = e.bvm("web1", "web1", []v1.NICSpec{
		macFrom(nicByLabel("Network adapter 1", esxisim.PortGroupWAN, ""), "web-wan"),
		nicByLabel("Network adapter 2", esxisim.PortGroupLAN, ""),
	}, append([]func(*v1.BridgedVM){observe}, mutate...)...)
	create(t, e.b)
	readyAfter(t, e.b, 15*time.Second, "Ready with the write-up's guest")
	if err := conditionIs(e.b, v1.TypeGuestNetworkConfigured, metav1.ConditionTrue, v1.ReasonConfigured)(); err != nil {
		t.Fatal(err)
	}
	return e
}

// expectGuest waits for GuestNetworkConfigured (and Ready) to show a change
// made inside the guest. The resync interval is ten minutes away: only the
// property collector's update can bring it. The latency is logged, not
// asserted (the bench measures it).
func (e *guestEnv) expectGuest(t *testing.T, what string, change func() error, status metav1.ConditionStatus, reason string, says ...string) {
	t.Helper()
	start := time.Now()
	if err := change(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	eventually(t, 5*time.Second, what, func() error {
		if err := conditionIs(e.b, v1.TypeGuestNetworkConfigured, status, reason)(); err != nil {
			return err
		}
		ready := metav1.ConditionFalse
		switch status {
		case metav1.ConditionTrue:
			ready = metav1.ConditionTrue
		case metav1.ConditionUnknown:
			ready = metav1.ConditionUnknown
		}
		want := reason
		if status == metav1.ConditionTrue {
			want = v1.ReasonAvailable
		}
		return conditionIs(e.b, v1.TypeReady, ready, want)()
	})
	t.Logf("%s: %s %s after %v (resync interval %v)", what, status, reason, time.Since(start).Round(time.Millisecond), slowResync)
	msg := condMessage(e.b, v1.TypeGuestNetworkConfigured)
	for _, s := range says {
		if !strings.Contains(msg, s) {
			t.Errorf("%s: message %q lacks %q", what, msg, s)
		}
	}
}

func (e *guestEnv) drift(field string) (v1.DriftItem, bool) {
	for _, d := range e.b.Status.Drift {
		if d.Field == field {
			return d, true
		}
	}
	return v1.DriftItem{}, false
}

// Each failure mode of the guest, caused inside it through the simulator,
// is named by its reason with the command to run inside the guest, through
// change events alone; the operator writes nothing and logs into nothing.
func TestBridgedVMGuestReasons(t *testing.T) {
	e := newGuestEnv(t)
	h := e.h
	e.h.ResetCalls()
	fix := func() error { return h.SetGuestNetwork("web1", writeUpWeb()) }
	back := func(t *testing.T) {
		t.Helper()
		e.expectGuest(t, "the guest fixed by hand", fix, metav1.ConditionTrue, v1.ReasonConfigured)
	}

	e.expectGuest(t, "default route deleted", func() error { return h.DeleteGuestRoute("web1", "default") },
		metav1.ConditionFalse, v1.ReasonGuestDefaultRouteMissing, "inside the guest of VM web1", "`ip route add default via 198.51.100.254`")
	if d, ok := e.drift("guest.routes[default]"); !ok || d.Expected != "default via 198.51.100.254" || d.Observed != "(none)" ||
		d.Reason != v1.ReasonGuestDefaultRouteMissing {
		t.Errorf("status.drift = %+v", e.b.Status.Drift)
	}
	e.expectGuest(t, "default route added back by hand", func() error {
		return h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "default", Gateway: guestGateway, NIC: 0})
	}, metav1.ConditionTrue, v1.ReasonConfigured)

	// The write-up's ARP flood: every destination on the link.
	flood := writeUpWeb()
	flood.Routes = []esxisim.GuestIPRoute{{Destination: guestGateway, NIC: 0}, {Destination: "default", NIC: 0}}
	e.expectGuest(t, "default route without gateway", func() error { return h.SetGuestNetwork("web1", flood) },
		metav1.ConditionFalse, v1.ReasonGuestDefaultRouteWithoutGateway, "(default dev eth0)", "ARP flood",
		"`ip route del default dev eth0 && ip route add default via 198.51.100.254`")
	back(t)

	// The route to the gateway lost: the write-up's `route add` was never
	// written into the guest's configuration, and the guest rebooted.
	boot := writeUpWeb()
	boot.Routes = boot.Routes[1:]
	if err := h.SetGuestBootNetwork("web1", boot); err != nil {
		t.Fatal(err)
	}
	e.expectGuest(t, "gateway route lost at a reboot", func() error { return h.RebootGuest("web1") },
		metav1.ConditionFalse, v1.ReasonGuestGatewayRouteMissing,
		"no route to the gateway 198.51.100.254 on the interface with MAC "+webMAC, "`ip route add 198.51.100.254 dev eth0`", "the next reboot", "`ip route add default via 198.51.100.254`")
	if err := h.SetGuestBootNetwork("web1", writeUpWeb()); err != nil {
		t.Fatal(err)
	}
	back(t)

	e.expectGuest(t, "failover IP removed", func() error { return h.SetGuestAddresses("web1", 0) },
		metav1.ConditionFalse, v1.ReasonGuestAddressMissing, "does not have 203.0.113.124/32", "`ip addr add 203.0.113.124/32 dev eth0`")
	back(t)

	e.expectGuest(t, "failover IP with a /24", func() error { return h.SetGuestAddresses("web1", 0, webIP+"/24") },
		metav1.ConditionFalse, v1.ReasonGuestAddressMissing, "has 203.0.113.124/24 instead of 203.0.113.124/32")
	back(t)

	wrong := writeUpWeb()
	wrong.Interfaces = []esxisim.GuestInterface{{NIC: 1, Addresses: []string{"10.0.10.10/24", webIP + "/32"}}}
	e.expectGuest(t, "failover IP on the LAN interface", func() error { return h.SetGuestNetwork("web1", wrong) },
		metav1.ConditionFalse, v1.ReasonGuestAddressOnWrongNIC, "`ip addr del 203.0.113.124/32 dev eth1 && ip addr add 203.0.113.124/32 dev eth0`")
	back(t)

	e.expectGuest(t, "an address OVH does not bind to this MAC", func() error {
		return h.SetGuestAddresses("web1", 0, webIP+"/32", "203.0.113.200/32")
	}, metav1.ConditionFalse, v1.ReasonGuestForeignAddress, "203.0.113.200/32, which no FailoverIP bound to virtual MAC "+webMAC)
	back(t)

	// Nothing can be known without Tools: Unknown, not False.
	e.expectGuest(t, "Tools stopped", func() error { return h.SetTools("web1", false) },
		metav1.ConditionUnknown, v1.ReasonGuestToolsNotRunning, "nothing can be known", "spec.guest.check")
	if c := meta.FindStatusCondition(e.b.Status.Conditions, v1.TypeReady); c.Status != metav1.ConditionUnknown {
		t.Errorf("Ready = %+v", c)
	}
	e.expectGuest(t, "Tools started", func() error { return h.SetTools("web1", true) }, metav1.ConditionTrue, v1.ReasonConfigured)

	// Report only: not one write, and no guest operation (the vSphere API
	// to run programs in a guest) was ever called.
	for method, n := range e.h.Calls() {
		if strings.Contains(method, "Guest") || strings.HasSuffix(method, "_Task") {
			t.Errorf("%d %s calls", n, method)
		}
	}
}

// spec.guest.check Disabled: a guest with a reason to differ is not looked
// at, and the BridgedVM is Ready whatever it has.
func TestBridgedVMGuestCheckDisabled(t *testing.T) {
	e := newGuestEnv(t)
	if err := e.h.SetGuestAddresses("web1", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "GuestAddressMissing", conditionIs(e.b, v1.TypeGuestNetworkConfigured, metav1.ConditionFalse, v1.ReasonGuestAddressMissing))

	patchSpec(t, e.b, func(b *v1.BridgedVM) { b.Spec.Guest = &v1.GuestSpec{Check: v1.GuestCheckDisabled} })
	readyAfter(t, e.b, 5*time.Second, "Ready with the guest check disabled")
	if err := conditionIs(e.b, v1.TypeGuestNetworkConfigured, metav1.ConditionTrue, v1.ReasonNotManaged)(); err != nil {
		t.Error(err)
	}
	if len(e.b.Status.Drift) != 0 {
		t.Errorf("status.drift = %+v", e.b.Status.Drift)
	}
	// Tools stopping changes nothing either.
	if err := e.h.SetTools("web1", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "Tools seen stopped", func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(e.b), e.b); err != nil {
			return err
		}
		if g := e.b.Status.Guest; g == nil || g.ToolsRunning {
			return fmt.Errorf("guest = %+v", g)
		}
		return nil
	})
	if err := conditionIs(e.b, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable)(); err != nil {
		t.Error(err)
	}
}

// The guest is checked against the gateway of the server in spec.server
// only: while the IP is routed elsewhere, telling the guest to use the
// other server's gateway would break it.
func TestBridgedVMGuestWaitsForTheFailoverIPsRoute(t *testing.T) {
	e := newGuestEnv(t)
	e.fip.Status.RoutedTo, e.fip.Status.Gateway = otherServer, "192.0.2.254"
	if err := k8sClient.Status().Update(context.Background(), e.fip); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "FailoverIPNotReady",
		conditionIs(e.b, v1.TypeGuestNetworkConfigured, metav1.ConditionUnknown, v1.ReasonFailoverIPNotReady))
	if msg := condMessage(e.b, v1.TypeGuestNetworkConfigured); !strings.Contains(msg, "routed to "+otherServer+", not "+esxServer) ||
		strings.Contains(msg, "192.0.2.254 dev") {
		t.Errorf("message = %q", msg)
	}
	e.fip.Status.RoutedTo, e.fip.Status.Gateway = esxServer, guestGateway
	if err := k8sClient.Status().Update(context.Background(), e.fip); err != nil {
		t.Fatal(err)
	}
	readyAfter(t, e.b, 5*time.Second, "Ready once routed back")
}
