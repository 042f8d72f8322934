package drift

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// FailoverIPState is what the operator knows about one failover IP: what the
// spec wants and what OVH shows.
type FailoverIPState struct {
	IP         string // the spec's IP or block
	WantServer string // spec.server
	RoutedTo   string // where OVH routes it now ("" when parked)

	// WantMACType is the virtual MAC type the spec asks for, "" for none.
	WantMACType string
	// VMACSupported is the destination server's vMAC capability.
	VMACSupported bool
	// BoundMAC / BoundMACType describe the virtual MAC the IP is bound to
	// on WantServer ("" when none).
	BoundMAC, BoundMACType string
	// ForeignIPs are other IPs on the bound MAC that belong to another VM
	// (a FailoverIP with another vmName): two VMs cannot share a MAC.
	ForeignIPs []string
	// PreviousMAC is the MAC the operator reported before (status), which
	// VMs may already carry; PreviousMACIPs are the IPs it is bound to now
	// (nil when it no longer exists on the server).
	PreviousMAC    string
	PreviousMACIPs []string
}

// FailoverIP compares a failover IP's state with its spec. The findings come
// in the order they must be fixed: routing first (a virtual MAC lives on the
// server that holds the IP), then the virtual MAC.
func FailoverIP(s FailoverIPState) []Finding {
	var out []Finding
	if s.RoutedTo != s.WantServer {
		observed := s.RoutedTo
		if observed == "" {
			observed = "nowhere (parked)"
		}
		out = append(out, Finding{
			Reason: v1.ReasonRoutedElsewhere, Field: "routedTo", Expected: s.WantServer, Observed: s.RoutedTo,
			Message: fmt.Sprintf("%s is routed to %s, not %s", s.IP, observed, s.WantServer),
		})
		// The virtual MAC cannot be judged on a server that does not hold the IP.
		return out
	}
	if s.WantMACType == "" {
		return out
	}
	if !s.VMACSupported {
		return append(out, Finding{
			Reason: v1.ReasonCapabilityMissing, Field: "virtualMAC", Expected: s.WantMACType, Observed: "unsupported",
			Message: fmt.Sprintf("server %s does not support virtual MACs (Kimsufi and some ranges lack them): remove spec.virtualMAC or use a server that has them", s.WantServer),
		})
	}
	switch {
	case s.BoundMAC != "" && s.BoundMACType != s.WantMACType:
		out = append(out, Finding{
			Reason: v1.ReasonVirtualMACConflict, Field: "virtualMAC.type", Expected: s.WantMACType, Observed: s.BoundMACType,
			Message: fmt.Sprintf("%s is bound to virtual MAC %s of type %s, the spec wants %s: OVH cannot change a MAC's type; delete it in the OVH manager (the VM will need the new MAC) or change spec.virtualMAC.type",
				s.IP, s.BoundMAC, s.BoundMACType, s.WantMACType),
		})
	case s.BoundMAC != "" && len(s.ForeignIPs) > 0:
		out = append(out, Finding{
			Reason: v1.ReasonVirtualMACConflict, Field: "virtualMAC.ips", Expected: s.IP, Observed: strings.Join(append([]string{s.IP}, s.ForeignIPs...), ","),
			Message: fmt.Sprintf("virtual MAC %s of %s also carries %s, which belongs to another VM: two VMs cannot share a MAC; unbind one of them in the OVH manager",
				s.BoundMAC, s.IP, strings.Join(s.ForeignIPs, ", ")),
		})
	case s.BoundMAC != "":
		// Bound with the right type: in sync (a new MAC made by hand is
		// accepted; BridgedVMs follow status.macAddress).
	case s.PreviousMAC != "" && len(s.PreviousMACIPs) > 0:
		out = append(out, Finding{
			Reason: v1.ReasonVirtualMACConflict, Field: "virtualMAC", Expected: s.PreviousMAC, Observed: "bound to " + strings.Join(s.PreviousMACIPs, ","),
			Message: fmt.Sprintf("%s has no virtual MAC: its MAC %s now carries %s instead; creating a new MAC would change the VM's identity, so this needs a person: bind %s back to %s in the OVH manager, or unbind it so the operator can create a new one",
				s.IP, s.PreviousMAC, strings.Join(s.PreviousMACIPs, ", "), s.IP, s.PreviousMAC),
		})
	default:
		out = append(out, Finding{
			Reason: v1.ReasonVirtualMACMissing, Field: "virtualMAC", Expected: s.WantMACType, Observed: "none",
			Message: fmt.Sprintf("%s has no virtual MAC on %s", s.IP, s.WantServer),
		})
	}
	return out
}

// HasReason reports whether a finding with the reason is in the list.
func HasReason(fs []Finding, reason string) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Reason == reason })
}

// ReverseName is a reverse DNS name in the form it is compared in: lower
// case, without its trailing dot. OVH serves names fully qualified
// ("mail.example.com."); a spec may write them either way.
func ReverseName(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}

// Reverse compares the IP's reverse DNS name (observed, "" for none) with
// the one the spec wants ("" for no opinion): a ReverseMismatch finding, or
// none.
func Reverse(ip, want, observed string) []Finding {
	if want == "" || ReverseName(want) == ReverseName(observed) {
		return nil
	}
	shown := observed
	if shown == "" {
		shown = "none"
	}
	return []Finding{{
		Reason: v1.ReasonReverseMismatch, Field: "reverse", Expected: want, Observed: observed,
		Message: fmt.Sprintf("the reverse DNS of %s is %s, spec.reverse wants %s", ip, shown, want),
	}}
}
