package drift

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// FailoverIPState is what the operator knows about one failover IP (a
// single address or a block): what the spec wants and what OVH shows.
type FailoverIPState struct {
	IP         string // the spec's IP or block
	WantServer string // spec.server
	RoutedTo   string // where OVH routes it now ("" when parked)
	// InBlock is the wider block OVH sells the spec's address in, when the
	// spec names one address of a block: OVH moves blocks as a whole, so
	// such an address cannot be moved by itself.
	InBlock string

	// VMACSupported is the destination server's vMAC capability.
	VMACSupported bool
	// Addresses are the addresses a virtual MAC is wanted for: the IP
	// itself (spec.virtualMAC) or the block's (spec.addresses).
	Addresses []AddressState
}

// AddressState is the virtual MAC of one address: wanted and observed.
type AddressState struct {
	// IP is the address, without prefix length.
	IP string
	// Field is the spec path findings name: "virtualMAC" for a single IP,
	// "addresses[203.0.113.121].virtualMAC" for an address of a block.
	Field string
	// WantMACType is the virtual MAC type the spec asks for.
	WantMACType string
	// BoundMAC / BoundMACType describe the virtual MAC the address is
	// bound to on WantServer ("" when none).
	BoundMAC, BoundMACType string
	// ForeignIPs are other IPs on the bound MAC that belong to another VM
	// (a FailoverIP with another vmName): two VMs cannot share a MAC.
	ForeignIPs []string
	// PreviousMAC is the MAC the operator reported before (status), which
	// VMs may already carry; PreviousMACIPs are the IPs it is bound to now
	// (nil when it no longer exists on the server).
	PreviousMAC    string
	PreviousMACIPs []string
	// Awaited says why the address's virtual MAC is expected on the server
	// (it follows a move) rather than missing; "" when it is not.
	Awaited string
}

// FailoverIP compares a failover IP's state with its spec. The findings come
// in the order they must be fixed: routing first (a virtual MAC lives on the
// server that holds the IP), then each address's virtual MAC.
func FailoverIP(s FailoverIPState) []Finding {
	var out []Finding
	if s.RoutedTo != s.WantServer {
		observed := s.RoutedTo
		if observed == "" {
			observed = "nowhere (parked)"
		}
		if s.InBlock != "" {
			// Moving the address would be refused: only its block moves.
			return append(out, Finding{
				Reason: v1.ReasonPartOfBlock, Field: "ip", Expected: s.WantServer, Observed: s.RoutedTo,
				Message: fmt.Sprintf("%s is routed to %s, not %s, and is part of block %s, which OVH moves only as a whole: "+
					"manage the block with one FailoverIP (spec.ip: %s, with %s under spec.addresses) instead of this one",
					s.IP, observed, s.WantServer, s.InBlock, s.InBlock, strings.TrimSuffix(s.IP, "/32")),
			})
		}
		out = append(out, Finding{
			Reason: v1.ReasonRoutedElsewhere, Field: "routedTo", Expected: s.WantServer, Observed: s.RoutedTo,
			Message: fmt.Sprintf("%s is routed to %s, not %s", s.IP, observed, s.WantServer),
		})
		// The virtual MAC cannot be judged on a server that does not hold the IP.
		return out
	}
	if len(s.Addresses) == 0 {
		return out
	}
	if !s.VMACSupported {
		return append(out, Finding{
			Reason: v1.ReasonCapabilityMissing, Field: s.Addresses[0].Field, Expected: s.Addresses[0].WantMACType, Observed: "unsupported",
			Message: fmt.Sprintf("server %s does not support virtual MACs (Kimsufi and some ranges lack them): remove the virtual MACs from the spec or use a server that has them", s.WantServer),
		})
	}
	for _, a := range s.Addresses {
		if f, ok := addressMAC(a, s.WantServer); ok {
			f.Subject = a.IP
			out = append(out, f)
		}
	}
	return out
}

// addressMAC compares one address's virtual MAC with the spec.
func addressMAC(a AddressState, server string) (Finding, bool) {
	switch {
	case a.BoundMAC != "" && a.BoundMACType != a.WantMACType:
		return Finding{
			Reason: v1.ReasonVirtualMACConflict, Field: a.Field + ".type", Expected: a.WantMACType, Observed: a.BoundMACType,
			Message: fmt.Sprintf("%s is bound to virtual MAC %s of type %s, the spec wants %s: OVH cannot change a MAC's type; delete it in the OVH manager (the VM will need the new MAC) or change the spec's virtual MAC type",
				a.IP, a.BoundMAC, a.BoundMACType, a.WantMACType),
		}, true
	case a.BoundMAC != "" && len(a.ForeignIPs) > 0:
		return Finding{
			Reason: v1.ReasonVirtualMACConflict, Field: a.Field + ".ips", Expected: a.IP, Observed: strings.Join(append([]string{a.IP}, a.ForeignIPs...), ","),
			Message: fmt.Sprintf("virtual MAC %s of %s also carries %s, which belongs to another VM: two VMs cannot share a MAC; unbind one of them in the OVH manager",
				a.BoundMAC, a.IP, strings.Join(a.ForeignIPs, ", ")),
		}, true
	case a.BoundMAC != "":
		// Bound with the right type: in sync (a new MAC made by hand is
		// accepted; BridgedVMs follow the status).
		return Finding{}, false
	case a.Awaited != "":
		return Finding{
			Reason: v1.ReasonAwaitingVirtualMAC, Field: a.Field, Expected: a.WantMACType, Observed: "none yet",
			Message: fmt.Sprintf("%s has no virtual MAC on %s yet: %s", a.IP, server, a.Awaited),
		}, true
	case a.PreviousMAC != "" && len(a.PreviousMACIPs) > 0:
		return Finding{
			Reason: v1.ReasonVirtualMACConflict, Field: a.Field, Expected: a.PreviousMAC, Observed: "bound to " + strings.Join(a.PreviousMACIPs, ","),
			Message: fmt.Sprintf("%s has no virtual MAC: its MAC %s now carries %s instead; creating a new MAC would change the VM's identity, so this needs a person: bind %s back to %s in the OVH manager, or unbind it so the operator can create a new one",
				a.IP, a.PreviousMAC, strings.Join(a.PreviousMACIPs, ", "), a.IP, a.PreviousMAC),
		}, true
	}
	return Finding{
		Reason: v1.ReasonVirtualMACMissing, Field: a.Field, Expected: a.WantMACType, Observed: "none",
		Message: fmt.Sprintf("%s has no virtual MAC on %s", a.IP, server),
	}, true
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
