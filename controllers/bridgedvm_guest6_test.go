package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

// The seed server's IPv6 block and its gateway by OVH's older ranges' rule
// (the OVH simulator's ipv6Gateway).
const (
	guestBlock6   = "2001:db8:1:1::/64"
	guestGateway6 = "2001:db8:1:ff:ff:ff:ff:ff"
	webIPv6       = "2001:db8:1:1::124/64"
)

var webServerIPv6 = &v1.ServerIPv6{Block: guestBlock6, Gateway: guestGateway6}

// writeUpWeb6 is web1 dual stack, as OVH's IPv6 guide configures a machine.
func writeUpWeb6() esxisim.GuestNetwork {
	g := writeUpWeb()
	return *g.WithIPv6(webIPv6, guestGateway6)
}

// Each IPv6 failure mode of the guest, caused inside it through the
// simulator, is named by its reason with the `ip -6` commands to run, and
// cleared when the guest is fixed; an IPv4-only guest stays Configured
// under the default IfConfigured and becomes a finding under Required.
func TestBridgedVMGuestIPv6Reasons(t *testing.T) {
	e := newGuestEnvWith(t, writeUpWeb6(), webServerIPv6)
	h := e.h
	if msg := condMessage(e.b, v1.TypeGuestNetworkConfigured); !strings.Contains(msg, "IPv6: the guest of VM web1 has "+webIPv6+" of the server's IPv6 block on eth0") {
		t.Errorf("Configured message = %q", msg)
	}
	fix := func() error { return h.SetGuestNetwork("web1", writeUpWeb6()) }
	back := func(t *testing.T) {
		t.Helper()
		e.expectGuest(t, "the guest fixed by hand", fix, metav1.ConditionTrue, v1.ReasonConfigured)
	}

	e.expectGuest(t, "IPv6 default route deleted", func() error { return h.DeleteGuestRoute("web1", "::/0") },
		metav1.ConditionFalse, v1.ReasonGuestDefaultRoute6Missing, "inside the guest of VM web1, there is no IPv6 default route",
		"`ip -6 route add default via "+guestGateway6+" dev eth0`")
	if d, ok := e.drift("guest.routes6[default]"); !ok || d.Expected != "default via "+guestGateway6+" dev eth0" || d.Observed != "(none)" ||
		d.Reason != v1.ReasonGuestDefaultRoute6Missing {
		t.Errorf("status.drift = %+v", e.b.Status.Drift)
	}
	e.expectGuest(t, "IPv6 default route added back by hand", func() error {
		return h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "default", Gateway: guestGateway6, NIC: 0})
	}, metav1.ConditionTrue, v1.ReasonConfigured)

	// IPv6's ARP flood: every destination taken for a neighbour.
	flood := writeUpWeb6()
	flood.Routes = slices.DeleteFunc(flood.Routes, func(r esxisim.GuestIPRoute) bool { return r.Gateway == guestGateway6 })
	flood.Routes = append(flood.Routes, esxisim.GuestIPRoute{Destination: "::/0", NIC: 0})
	e.expectGuest(t, "IPv6 default route without gateway", func() error { return h.SetGuestNetwork("web1", flood) },
		metav1.ConditionFalse, v1.ReasonGuestDefaultRoute6WithoutGateway, "(default dev eth0)", "NDP flood",
		"`ip -6 route del default dev eth0 && ip -6 route add default via "+guestGateway6+" dev eth0`")
	back(t)

	// The route to the IPv6 gateway left out of the boot configuration:
	// after a reboot the kernel refuses the default route too.
	boot := writeUpWeb6()
	boot.Routes = slices.DeleteFunc(boot.Routes, func(r esxisim.GuestIPRoute) bool { return r.Destination == guestGateway6 })
	if err := h.SetGuestBootNetwork("web1", boot); err != nil {
		t.Fatal(err)
	}
	e.expectGuest(t, "IPv6 gateway route lost at a reboot", func() error { return h.RebootGuest("web1") },
		metav1.ConditionFalse, v1.ReasonGuestGatewayRoute6Missing,
		"no route to the IPv6 gateway "+guestGateway6+" on the interface with MAC "+webMAC, "`ip -6 route add "+guestGateway6+" dev eth0`",
		"there is no IPv6 default route")
	if err := h.SetGuestBootNetwork("web1", writeUpWeb6()); err != nil {
		t.Fatal(err)
	}
	back(t)

	wrong := writeUpWeb6()
	wrong.Interfaces = []esxisim.GuestInterface{{NIC: 0, Addresses: []string{webIP + "/32"}}, {NIC: 1, Addresses: []string{"10.0.10.10/24", webIPv6}}}
	e.expectGuest(t, "IPv6 address on the LAN interface", func() error { return h.SetGuestNetwork("web1", wrong) },
		metav1.ConditionFalse, v1.ReasonGuestAddress6Missing, "OVH routes the server's IPv6 only to a virtual MAC",
		"`ip -6 addr del "+webIPv6+" dev eth1 && ip -6 addr add "+webIPv6+" dev eth0`")
	back(t)

	// An IPv4-only guest: said, not a finding, under IfConfigured (the
	// condition stays True: only its message changes) ...
	if err := h.SetGuestNetwork("web1", writeUpWeb()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "IPv4 only, said", func() error {
		if err := conditionIs(e.b, v1.TypeGuestNetworkConfigured, metav1.ConditionTrue, v1.ReasonConfigured)(); err != nil {
			return err
		}
		if msg, want := condMessage(e.b, v1.TypeGuestNetworkConfigured), "IPv6: the guest of VM web1 has no address of the server's IPv6 block "+guestBlock6+": IPv4 only"; !strings.Contains(msg, want) {
			return fmt.Errorf("message %q lacks %q", msg, want)
		}
		return nil
	})
	// ... a finding under Required ...
	e.expectGuest(t, "IPv4 only under Required", func() error {
		patchSpec(t, e.b, func(b *v1.BridgedVM) { b.Spec.Guest = &v1.GuestSpec{IPv6: v1.GuestIPv6Required} })
		return nil
	}, metav1.ConditionFalse, v1.ReasonGuestAddress6Missing, "has no address of the server's IPv6 block "+guestBlock6+" (spec.guest.ipv6 is Required)",
		"`ip -6 addr add 2001:db8:1:1::1/64 dev eth0`", "`ip -6 route add "+guestGateway6+" dev eth0`", "`ip -6 route add default via "+guestGateway6+" dev eth0`")
	back(t)
	// ... and nothing at all under Ignore, however broken.
	patchSpec(t, e.b, func(b *v1.BridgedVM) { b.Spec.Guest = &v1.GuestSpec{IPv6: v1.GuestIPv6Ignore} })
	if err := h.SetGuestNetwork("web1", flood); err != nil {
		t.Fatal(err)
	}
	consistently(t, 2*time.Second, "Configured under Ignore", conditionIs(e.b, v1.TypeGuestNetworkConfigured, metav1.ConditionTrue, v1.ReasonConfigured))
	if msg := condMessage(e.b, v1.TypeGuestNetworkConfigured); strings.Contains(msg, "IPv6") {
		t.Errorf("message under Ignore = %q", msg)
	}
}

// The server's IPv6 learnt after the guest was checked (status.ipv6 filled
// by the FailoverIP's next observation): the FailoverIP update alone brings
// the guest's IPv6 under the check, and its going away lifts it.
func TestBridgedVMGuestIPv6FollowsTheFailoverIP(t *testing.T) {
	half := writeUpWeb6()
	half.Routes = slices.DeleteFunc(half.Routes, func(r esxisim.GuestIPRoute) bool { return r.Gateway == guestGateway6 })
	e := newGuestEnvWith(t, half, nil)
	e.fip.Status.IPv6 = webServerIPv6
	if err := k8sClient.Status().Update(context.Background(), e.fip); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "GuestDefaultRoute6Missing once the server's IPv6 is known",
		conditionIs(e.b, v1.TypeGuestNetworkConfigured, metav1.ConditionFalse, v1.ReasonGuestDefaultRoute6Missing))
	e.fip.Status.IPv6 = nil
	if err := k8sClient.Status().Update(context.Background(), e.fip); err != nil {
		t.Fatal(err)
	}
	readyAfter(t, e.b, 5*time.Second, "Ready once the server's IPv6 is unknown again")
}

// consistently checks cond for the whole of d: a state that must not change.
func consistently(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err := cond(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}
