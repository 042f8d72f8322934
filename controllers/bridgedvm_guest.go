package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/decide"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
)

// guestNeed is what the guest must hold for one NIC taking its MAC from a
// FailoverIP, or why that is not known yet.
type guestNeed struct {
	nic     v1.NICSpec
	want    drift.GuestWant
	pending string
}

// guestNeeds reads, for each NIC taking its MAC from a FailoverIP, the
// FailoverIP's address and its server's gateway, and the addresses of every
// FailoverIP bound to the same virtual MAC (all from the cache). The
// gateway counts only while the IP is routed to spec.server: a guest set up
// for another server's gateway because of a move in flight would be told to
// break itself.
func (r *BridgedVMReconciler) guestNeeds(ctx context.Context, b *v1.BridgedVM) ([]guestNeed, error) {
	if !b.Spec.GuestChecked() {
		return nil, nil
	}
	var needs []guestNeed
	for _, n := range b.Spec.NICs {
		if n.MACFrom == nil {
			continue
		}
		name := n.MACFrom.FailoverIPRef.Name
		need := guestNeed{nic: n}
		var f v1.FailoverIP
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: name}, &f)
		switch {
		case apierrors.IsNotFound(err):
			need.pending = fmt.Sprintf("FailoverIP %s does not exist: what the guest needs is not known", name)
		case err != nil:
			return nil, err
		default:
			need.want, need.pending = guestWant(&f)
		}
		if need.pending == "" {
			// Read-only: the cache's own copies, not one deep copy each.
			var all v1.FailoverIPList
			if err := r.Client.List(ctx, &all, client.InNamespace(b.Namespace),
				client.MatchingFields{indexFailoverIPMAC: strings.ToLower(need.want.MAC)}, client.UnsafeDisableDeepCopy); err != nil {
				return nil, err
			}
			for _, o := range all.Items {
				if p, ok := failoverPrefix(o.Spec.IP); ok && o.Name != name && strings.EqualFold(o.Status.MACAddress, need.want.MAC) {
					need.want.Allowed = append(need.want.Allowed, p)
				}
			}
		}
		needs = append(needs, need)
	}
	return needs, nil
}

// guestWant is what one FailoverIP asks of the guest, or why it cannot say.
func guestWant(f *v1.FailoverIP) (drift.GuestWant, string) {
	w := drift.GuestWant{FailoverIP: f.Name, MAC: strings.ToLower(f.Status.MACAddress)}
	addr, ok := failoverPrefix(f.Spec.IP)
	gw, err := netip.ParseAddr(f.Status.Gateway)
	switch {
	case !ok:
		return w, fmt.Sprintf("FailoverIP %s has no usable address (%q)", f.Name, f.Spec.IP)
	case w.MAC == "":
		return w, fmt.Sprintf("FailoverIP %s has no virtual MAC yet: the guest is looked at once it has", f.Name)
	case f.Status.RoutedTo != f.Spec.Server:
		return w, fmt.Sprintf("FailoverIP %s is routed to %s, not %s: the guest is checked against %s's gateway once it is routed there",
			f.Name, orNone(f.Status.RoutedTo), f.Spec.Server, f.Spec.Server)
	case err != nil || !gw.Is4():
		return w, fmt.Sprintf("FailoverIP %s does not know its server's gateway yet", f.Name)
	}
	w.Address, w.Gateway, w.Allowed = addr, gw, []netip.Prefix{addr}
	w.Block6, w.Gateway6 = serverIPv6(f)
	return w, ""
}

// serverIPv6 reads the server's IPv6 block and gateway from the
// FailoverIP's status.ipv6; both invalid when either is unknown or unusable
// (the guest's IPv6 is then not checked).
func serverIPv6(f *v1.FailoverIP) (netip.Prefix, netip.Addr) {
	if f.Status.IPv6 == nil {
		return netip.Prefix{}, netip.Addr{}
	}
	block, errB := netip.ParsePrefix(f.Status.IPv6.Block)
	gw, errG := netip.ParseAddr(f.Status.IPv6.Gateway)
	if errB != nil || errG != nil || !block.Addr().Is6() || !gw.Is6() {
		return netip.Prefix{}, netip.Addr{}
	}
	return block.Masked(), gw.WithZone("")
}

// failoverPrefix reads a FailoverIP's spec.ip: an address (a /32) or a block.
func failoverPrefix(ip string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(ip); err == nil && p.Addr().Is4() {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
		return netip.PrefixFrom(a, 32), true
	}
	return netip.Prefix{}, false
}

func orNone(s string) string {
	if s == "" {
		return "nowhere"
	}
	return s
}

// guestFacts compares the guest, as Tools report it, with what its NICs'
// FailoverIPs need. A vNIC not carrying its virtual MAC yet is left for
// later: MACConfigured says why, and its guest interface cannot have the
// MAC OVH expects.
func (s *bvmSession) guestFacts(vm esxi.VM) decide.GuestFacts {
	f := decide.GuestFacts{
		VMName: vm.Name, Checked: s.b.Spec.GuestChecked(), Power: s.power(vm), ToolsRunning: vm.Guest.ToolsRunning,
	}
	for _, n := range s.b.Spec.NICs {
		if n.MACFrom != nil {
			f.Expected++
		}
	}
	st := drift.GuestState{VMName: vm.Name, IPv6: s.b.Spec.GuestIPv6Mode()}
	for _, n := range vm.NICs {
		st.VNICMACs = append(st.VNICMACs, n.MAC)
	}
	for _, need := range s.guest {
		if need.pending != "" {
			f.Pending = append(f.Pending, need.pending)
			continue
		}
		nic, ok := vmNIC(vm, need.nic)
		switch {
		case !ok:
			continue // NICNotFound says it
		case !strings.EqualFold(nic.MAC, need.want.MAC):
			f.Pending = append(f.Pending, fmt.Sprintf("NIC %s of VM %s does not carry FailoverIP %s's virtual MAC %s yet: its guest interface is looked at once it does",
				nicSelector(need.nic), vm.Name, need.want.FailoverIP, need.want.MAC))
			continue
		}
		w := need.want
		w.NIC, w.Index = nicSelector(need.nic), nic.Index
		st.Want = append(st.Want, w)
	}
	if !f.Checked || f.Power != drift.PoweredOn || !f.ToolsRunning || len(st.Want) == 0 {
		return f
	}
	for _, n := range vm.Guest.NICs {
		st.NICs = append(st.NICs, drift.GuestNIC{MAC: n.MAC, Addresses: n.Addresses})
	}
	for _, r := range vm.Guest.Routes {
		st.Routes = append(st.Routes, drift.GuestRoute{Network: r.Network, PrefixLength: int(r.PrefixLength), Gateway: r.Gateway, Device: r.Device})
	}
	f.Findings = drift.Guest(st)
	_, f.IPv6Note = drift.Guest6(st)
	return f
}

// vmNIC finds the vNIC a NIC spec names, by label (any case) or index.
func vmNIC(vm esxi.VM, n v1.NICSpec) (esxi.NIC, bool) {
	if n.Label != "" {
		return vm.NICByLabel(n.Label)
	}
	if n.Index != nil {
		return vm.NICByIndex(int(*n.Index))
	}
	return esxi.NIC{}, false
}

func nicSelector(n v1.NICSpec) string {
	if n.Label != "" {
		return n.Label
	}
	if n.Index != nil {
		return fmt.Sprint(*n.Index)
	}
	return "?"
}

// reportGuest sets GuestNetworkConfigured and returns the guest findings
// for status.drift.
func (s *bvmSession) reportGuest(vm esxi.VM) []drift.Finding {
	f := s.guestFacts(vm)
	status, reason, msg := decide.Guest(f)
	setCondition(s.b, v1.TypeGuestNetworkConfigured, status, reason, msg)
	if status != metav1.ConditionFalse {
		return nil
	}
	return f.Findings
}
