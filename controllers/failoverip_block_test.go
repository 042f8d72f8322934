package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

const (
	blockIP  = "203.0.113.64/29"
	mailIP   = "203.0.113.65"
	mail2IP  = "203.0.113.66"
	wwwIP    = "203.0.113.67"
	blockMAC = "00:50:56:00:00:41"
)

// seedWithBlock is seedOVH with a /29 routed to the other server, its first
// address bound there to the mail VM's virtual MAC.
func seedWithBlock() ovhsim.World {
	w := seedOVH()
	w.IPs = append(w.IPs, ovhsim.IP{IP: blockIP, RoutedTo: otherServer})
	w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{Server: otherServer, MAC: blockMAC, Type: "vmware",
		Addresses: []ovhsim.VirtualAddress{{IP: mailIP, VirtualMachineName: "mail"}}})
	w.DNS = []ovhsim.DNSRecord{{Name: "www.example.com", Addresses: []string{wwwIP}}}
	return w
}

func blockFailoverIP(e *ovhEnv, name string) *v1.FailoverIP {
	return e.fip(name, blockIP, "", func(f *v1.FailoverIP) {
		mail := &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: "mail"}
		f.Spec.Addresses = []v1.AddressSpec{
			{IP: mailIP, VirtualMAC: mail},
			{IP: mail2IP, VirtualMAC: mail.DeepCopy()},
			{IP: wwwIP, Reverse: "www.example.com"},
		}
	})
}

// A FailoverIP of a block moves the whole block (one move), whose virtual
// MAC follows it; the VM's second address of the block is bound to that
// same MAC (no second MAC for the VM); another address gets its reverse;
// status.addresses reports each address's MAC for BridgedVMs.
func TestFailoverIPBlockMovedWithItsVirtualMACs(t *testing.T) {
	// A MAC deleted right after the move is awaited (it might still be on
	// its way) only for a second here, then made again.
	e := newOVHEnv(t, ovhsim.Options{World: seedWithBlock(), MoveDuration: 300 * time.Millisecond, VirtualMACDuration: 200 * time.Millisecond, Conformance: true},
		func(r *FailoverIPReconciler) { r.MACReappearGrace = time.Second })
	f := blockFailoverIP(e, "mail-block")
	create(t, f)
	eventually(t, 20*time.Second, "the block Ready", conditionIs(f, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))

	if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Errorf("moves = %d, want 1 (the block)", n)
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACCreate); n != 0 {
		t.Errorf("virtual MAC creations = %d, want 0: the VM's MAC came with the block", n)
	}
	if n := e.sim.CallCount(ovhsim.RouteVMACBind); n != 1 {
		t.Errorf("binds = %d, want 1 (the VM's second address to its MAC)", n)
	}
	want := []v1.AddressStatus{
		{IP: mailIP, MACAddress: blockMAC, VirtualMACType: v1.VirtualMACVMware},
		{IP: mail2IP, MACAddress: blockMAC, VirtualMACType: v1.VirtualMACVMware},
		{IP: wwwIP, Reverse: "www.example.com."},
	}
	if len(f.Status.Addresses) != len(want) {
		t.Fatalf("status.addresses = %+v", f.Status.Addresses)
	}
	for i, w := range want {
		if got := f.Status.Addresses[i]; got.IP != w.IP || got.MACAddress != w.MACAddress || got.VirtualMACType != w.VirtualMACType || got.Reverse != w.Reverse {
			t.Errorf("status.addresses[%d] = %+v, want %+v", i, got, w)
		}
	}
	if f.Status.RoutedTo != esxServer || f.Status.MACAddress != "" {
		t.Errorf("status = %+v", f.Status)
	}
	var macs int
	for _, m := range e.sim.World().VirtualMACs {
		if m.Server == esxServer && m.MAC == blockMAC {
			macs++
			if len(m.Addresses) != 2 {
				t.Errorf("the VM's MAC carries %+v, want both mail addresses", m.Addresses)
			}
		}
	}
	if macs != 1 {
		t.Errorf("the mail VM's MAC is on %s %d times", esxServer, macs)
	}
	if msg := condMessage(f, v1.TypeVirtualMACAssigned); !strings.Contains(msg, mail2IP+" is bound to vmware virtual MAC "+blockMAC) {
		t.Errorf("VirtualMACAssigned message = %q", msg)
	}

	// One address's MAC deleted at OVH: found and created again for that
	// address alone (the VM's MAC is gone from the server, so a new one).
	if err := e.sim.DeleteVirtualMAC(esxServer, blockMAC); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "both addresses bound again", func() error {
		if err := conditionIs(f, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable)(); err != nil {
			return err
		}
		a, b := f.Status.Addresses[0].MACAddress, f.Status.Addresses[1].MACAddress
		if a == "" || a == blockMAC || a != b {
			return fmt.Errorf("MACs %q and %q, want one new MAC for both", a, b)
		}
		return nil
	})
	if n := e.sim.CallCount(ovhsim.RouteVMACCreate); n != 1 {
		t.Errorf("creations = %d, want 1: the second address binds to the first's new MAC", n)
	}
}

// A FailoverIP naming one address of a block routed elsewhere cannot move
// it (OVH moves blocks whole): PartOfBlock, stalled, no move. A block
// FailoverIP created later yields to it (the address is inside the block),
// and takes over, moving the block once, when it is deleted.
func TestFailoverIPAddressOfABlock(t *testing.T) {
	e := newOVHEnv(t, ovhsim.Options{World: seedWithBlock(), MoveDuration: 300 * time.Millisecond, VirtualMACDuration: 200 * time.Millisecond, Conformance: true})
	legacy := e.fip("mail-address", mailIP, "mail")
	create(t, legacy)
	eventually(t, 10*time.Second, "PartOfBlock", conditionIs(legacy, v1.TypeReady, metav1.ConditionFalse, v1.ReasonPartOfBlock))
	if msg := condMessage(legacy, v1.TypeRouted); !strings.Contains(msg, "part of block "+blockIP) ||
		!strings.Contains(msg, "spec.ip: "+blockIP) {
		t.Errorf("Routed message = %q", msg)
	}
	if err := conditionIs(legacy, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonPartOfBlock)(); err != nil {
		t.Error(err)
	}

	block := blockFailoverIP(e, "mail-block")
	createdAfter(t, legacy, block)
	claimedBy(t, block, legacy, "block "+blockIP+", which holds "+mailIP)
	if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 0 {
		t.Fatalf("moves = %d before the address's FailoverIP went", n)
	}
	deleteAndWait(t, legacy)
	eventually(t, 20*time.Second, "the block takes over", conditionIs(block, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable))
	if n := e.sim.CallCount(ovhsim.RouteIPMove); n != 1 {
		t.Errorf("moves = %d, want 1", n)
	}
}

// A BridgedVM's macFrom picks an address of a block; without one, or with
// one the block does not list, it says what to write.
func TestMACFromAnAddressOfABlock(t *testing.T) {
	ns := testNamespace(t)
	f := &v1.FailoverIP{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blk"},
		Spec: v1.FailoverIPSpec{IP: blockIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}},
			Addresses: []v1.AddressSpec{{IP: mailIP, VirtualMAC: &v1.VirtualMACSpec{VMName: "mail"}}}},
	}
	single := &v1.FailoverIP{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "single"},
		Spec: v1.FailoverIPSpec{IP: wanIP, Server: esxServer, OVH: v1.OVHConnection{CredentialsSecretRef: v1.SecretReference{Name: "ovh"}},
			VirtualMAC: &v1.VirtualMACSpec{VMName: "vyatta"}},
	}
	create(t, f, single)
	f.Status.Addresses = []v1.AddressStatus{{IP: mailIP, MACAddress: blockMAC}}
	single.Status.MACAddress = wanMAC
	for _, o := range []*v1.FailoverIP{f, single} {
		if err := k8sClient.Status().Update(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	src := func(name, addr string) *v1.MACSource {
		return &v1.MACSource{FailoverIPRef: v1.LocalObjectReference{Name: name}, Address: addr}
	}
	for _, c := range []struct {
		name string
		src  *v1.MACSource
		mac  string
		msg  string
	}{
		{"an address of the block", src("blk", mailIP), blockMAC, ""},
		{"the block without an address", src("blk", ""), "", "set macFrom.address"},
		{"an address the block does not list", src("blk", mail2IP), "", "does not ask for a virtual MAC for " + mail2IP},
		{"a single IP as before", src("single", ""), wanMAC, ""},
		{"a single IP by its own address", src("single", wanIP), wanMAC, ""},
		{"a single IP by another address", src("single", mailIP), "", "is the single IP " + wanIP},
	} {
		mac, err := nicMAC(context.Background(), k8sClient, ns, c.src)
		if c.msg == "" {
			if err != nil || mac != c.mac {
				t.Errorf("%s: %q, %v", c.name, mac, err)
			}
			continue
		}
		var re *refError
		if err == nil || !asRefError(err, &re) || !strings.Contains(re.msg, c.msg) {
			t.Errorf("%s: %q, %v; want a refError saying %q", c.name, mac, err, c.msg)
		}
	}
}

func asRefError(err error, re **refError) bool {
	e, ok := err.(*refError)
	*re = e
	return ok
}
