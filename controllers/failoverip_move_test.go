package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// seedSharedMAC: the web VM answers for two failover IPs on the ESXi
// server, both on one virtual MAC (the operator's rule: one VM, one MAC).
func seedSharedMAC() ovhsim.World {
	w := seedOVH()
	w.VirtualMACs = []ovhsim.VirtualMAC{{Server: esxServer, MAC: wanMAC, Type: "vmware", Addresses: []ovhsim.VirtualAddress{
		{IP: wanIP, VirtualMachineName: "web1"}, {IP: webIP, VirtualMachineName: "web1"}}}}
	return w
}

func toOther(f *v1.FailoverIP) { f.Spec.Server = otherServer }

// The end-to-end move of a VM with two failover IPs sharing its virtual MAC:
// OVH refuses to move a block whose MAC serves another address, so one IP
// leaves the MAC, each IP moves once, the MAC comes with the other, and the
// first binds to it again on the new server — waiting for it through the
// move and OVH's delay instead of making the VM a second MAC.
func TestFailoverIPVMWithTwoIPsMovedWithItsSharedMAC(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{World: seedSharedMAC(), MoveDuration: 500 * time.Millisecond,
		VirtualMACDuration: 200 * time.Millisecond, VirtualMACReappearDelay: 500 * time.Millisecond, Conformance: true})
	a := e.fip("web-a", wanIP, "web1", toOther)
	b := e.fip("web-b", webIP, "web1", toOther)
	history := readyHistory(t, b, &v1.FailoverIPList{})
	create(t, a, b)
	for _, f := range []*v1.FailoverIP{a, b} {
		eventually(t, 30*time.Second, f.Name+" Ready on "+otherServer, func() error {
			if err := conditionIs(f, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable)(); err != nil {
				return err
			}
			if f.Status.RoutedTo != otherServer || f.Status.MACAddress != wanMAC {
				return fmt.Errorf("routed to %q with MAC %q", f.Status.RoutedTo, f.Status.MACAddress)
			}
			return nil
		})
	}

	moves := map[string]int{}
	for _, task := range e.sim.Tasks() {
		if task.Function == ovhsim.FunctionMoveIP {
			moves[task.Target]++
		}
	}
	if moves[wanIP+"/32"] != 1 || moves[webIP+"/32"] != 1 || len(moves) != 2 {
		t.Errorf("moves per IP = %v, want exactly one each", moves)
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACCreate); n != 0 {
		t.Errorf("virtual MAC creations = %d: the VM got a second MAC", n)
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACUnbind); n != 1 {
		t.Errorf("unbinds = %d, want 1 (the IP leaving the shared MAC before its move)", n)
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACBind); n != 1 {
		t.Errorf("binds = %d, want 1 (the IP rejoining the MAC on the new server)", n)
	}
	var found bool
	for _, m := range e.sim.World().VirtualMACs {
		if m.Server == esxServer {
			t.Errorf("a virtual MAC was left on %s: %+v", esxServer, m)
		}
		if m.Server == otherServer && m.MAC == wanMAC {
			found = true
			var ips []string
			for _, ad := range m.Addresses {
				ips = append(ips, ad.IP)
			}
			if !slices.Equal(ips, []string{wanIP, webIP}) {
				t.Errorf("the VM's MAC carries %v on %s", ips, otherServer)
			}
		}
	}
	if !found {
		t.Errorf("the VM's MAC %s is not on %s: %+v", wanMAC, otherServer, e.sim.World().VirtualMACs)
	}
	if h := history(); !slices.Contains(h, "False/"+v1.ReasonAwaitingVirtualMAC) {
		t.Errorf("web-b never showed it was waiting for the MAC: %v", h)
	}
}

// What would make OVH refuse a move is found before asking: a virtual MAC
// also serving an address nobody moves, a destination at its virtual MAC
// quota. Each is a condition naming the MAC or the quota, and the move is
// not sent, pass after pass.
func TestFailoverIPMoveRefusalsFoundFirst(t *testing.T) {
	t.Run("duplicate virtual MAC", func(t *testing.T) {
		e := newOVHEnv(t, ovhsim.Options{World: seedSharedMAC(), Conformance: true})
		a := e.fip("web-a", wanIP, "web1", toOther)
		create(t, a)
		eventually(t, 10*time.Second, "DuplicateVirtualMAC", conditionIs(a, v1.TypeReady, metav1.ConditionFalse, v1.ReasonDuplicateVirtualMAC))
		msg := condMessage(a, v1.TypeRouted)
		for _, want := range []string{"virtual MAC " + wanMAC, "also serves " + webIP, "unbind " + webIP} {
			if !strings.Contains(msg, want) {
				t.Errorf("Routed message lacks %q: %s", want, msg)
			}
		}
		noMoveOverPasses(t, e)
	})
	t.Run("quota of the destination", func(t *testing.T) {
		w := seedOVH()
		w.Servers[1].VirtualMACQuota = 1
		w.IPs = append(w.IPs, ovhsim.IP{IP: "192.0.2.50", RoutedTo: otherServer})
		w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{Server: otherServer, MAC: "00:50:56:00:00:09", Type: "vmware",
			Addresses: []ovhsim.VirtualAddress{{IP: "192.0.2.50", VirtualMachineName: "db"}}})
		e := newOVHEnv(t, ovhsim.Options{World: w, Conformance: true})
		a := e.fip("router-wan", wanIP, "vyatta", toOther)
		create(t, a)
		eventually(t, 10*time.Second, "VirtualMACQuotaExceeded", conditionIs(a, v1.TypeReady, metav1.ConditionFalse, v1.ReasonVirtualMACQuotaExceeded))
		if msg := condMessage(a, v1.TypeRouted); !strings.Contains(msg, "1 virtual MACs and a quota of 1") || !strings.Contains(msg, wanMAC) {
			t.Errorf("Routed message = %s", msg)
		}
		noMoveOverPasses(t, e)
	})
}

// noMoveOverPasses waits for several more observations of the servers and
// checks no move was sent meanwhile.
func noMoveOverPasses(t *testing.T, e *ovhEnv) {
	t.Helper()
	lists := e.sim.CallCount(ovhsim.RouteIPList)
	eventually(t, 15*time.Second, "three more passes", func() error {
		if n := e.sim.CallCount(ovhsim.RouteIPList); n < lists+3 {
			return fmt.Errorf("%d observations since", n-lists)
		}
		return nil
	})
	if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 0 {
		t.Errorf("moves sent: %d, want none (OVH would refuse them)", n)
	}
}
