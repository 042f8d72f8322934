package drift

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// Power states, as the BridgedVM API spells them.
const (
	PoweredOn  = "PoweredOn"
	PoweredOff = "PoweredOff"
	Suspended  = "Suspended"
)

// VMNIC is one virtual NIC as ESXi shows it.
type VMNIC struct {
	Index     int    // 0-based position among the VM's NICs
	Label     string // "Network adapter 2"
	MAC       string
	PortGroup string
}

// WantNIC is what the spec asks of one NIC.
type WantNIC struct {
	// Label selects the NIC by its device label when set; Index otherwise.
	Label string
	Index int
	// PortGroup is the port group the NIC must sit on.
	PortGroup string
	// MAC is the MAC the NIC must carry; "" leaves the MAC alone.
	MAC string
	// MACFrom names the FailoverIP the MAC comes from, for messages.
	MACFrom string
	// MACNotReady says why MACFrom cannot give a MAC yet. It blocks every
	// change to this NIC: half of a spec is not applied.
	MACNotReady string
	// MACSourceNew says MACFrom's FailoverIP is itself in its first
	// observation: it tells why, so this object need not (yet).
	MACSourceNew bool
}

// Selector names the NIC the way the spec does, for status.drift fields.
func (w WantNIC) Selector() string {
	if w.Label != "" {
		return w.Label
	}
	return fmt.Sprint(w.Index)
}

func (w WantNIC) describe() string {
	if w.Label != "" {
		return fmt.Sprintf("NIC %q", w.Label)
	}
	return fmt.Sprintf("NIC #%d", w.Index)
}

// BridgedVMState is what the operator knows about one VM: what the spec
// wants and what ESXi shows.
type BridgedVMState struct {
	VMName string
	// PowerState is the observed state: PoweredOn, PoweredOff or Suspended.
	PowerState string
	// WantPower is spec.powerState; "" leaves power alone.
	WantPower       string
	AllowPowerCycle bool
	NICs            []VMNIC
	Want            []WantNIC
	// PortGroups are the port groups that exist on the host.
	PortGroups []string
}

// NICChange is one reconfiguration that fixes a NIC.
type NICChange struct {
	NIC       VMNIC
	MAC       string // new MAC; "" keeps the current one
	PortGroup string // new port group; "" keeps the current one
}

// BridgedVMPlan is the outcome of comparing a VM with its spec: what differs
// (Findings, in spec order, power last) and the device edits that would fix
// it (Changes). Which of those may be applied now is the controller's call:
// it depends on the management policy and on tasks in flight.
type BridgedVMPlan struct {
	Findings []Finding
	Changes  []NICChange
}

// BridgedVM compares a VM with its spec.
func BridgedVM(s BridgedVMState) BridgedVMPlan {
	var plan BridgedVMPlan
	exists := map[string]bool{}
	for _, pg := range s.PortGroups {
		exists[pg] = true
	}
	running := s.PowerState != PoweredOff
	for _, w := range s.Want {
		nic, ok := findNIC(s.NICs, w)
		field := "nics[" + w.Selector() + "]"
		if !ok {
			plan.Findings = append(plan.Findings, Finding{
				Reason: v1.ReasonNICNotFound, Field: field, Expected: "a NIC", Observed: fmt.Sprintf("%d NICs", len(s.NICs)),
				Message: fmt.Sprintf("VM %s has no %s (it has %s)", s.VMName, w.describe(), nicList(s.NICs)),
			})
			continue
		}
		name := fmt.Sprintf("%s of VM %s", w.describe(), s.VMName)
		var blocked bool
		if w.MACNotReady != "" {
			blocked = true
			plan.Findings = append(plan.Findings, Finding{
				Reason: v1.ReasonFailoverIPNotReady, Field: field + ".mac", Expected: "MAC of FailoverIP " + w.MACFrom, Observed: nic.MAC,
				Message: fmt.Sprintf("%s is left alone until its MAC is known: %s", name, w.MACNotReady),
			})
		}
		change := NICChange{NIC: nic}
		if nic.PortGroup != w.PortGroup {
			if !exists[w.PortGroup] {
				// A NIC pointed at a port group that does not exist is cut
				// off the network: nothing is changed on this NIC.
				blocked = true
				plan.Findings = append(plan.Findings, Finding{
					Reason: v1.ReasonPortGroupNotFound, Field: field + ".portGroup", Expected: w.PortGroup, Observed: nic.PortGroup,
					Message: fmt.Sprintf("%s must be on port group %s, which does not exist on the host (it has %s): create it, or fix spec.nics",
						name, w.PortGroup, strings.Join(s.PortGroups, ", ")),
				})
			} else {
				change.PortGroup = w.PortGroup
				plan.Findings = append(plan.Findings, Finding{
					Reason: v1.ReasonWrongPortGroup, Field: field + ".portGroup", Expected: w.PortGroup, Observed: nic.PortGroup,
					Message: fmt.Sprintf("%s is on port group %s, not %s", name, orNone(nic.PortGroup), w.PortGroup),
				})
			}
		}
		if w.MAC != "" && !strings.EqualFold(nic.MAC, w.MAC) {
			change.MAC = strings.ToLower(w.MAC)
			from := ""
			if w.MACFrom != "" {
				from = fmt.Sprintf(" (the virtual MAC of FailoverIP %s)", w.MACFrom)
			}
			f := Finding{
				Reason: v1.ReasonMACMismatch, Field: field + ".mac", Expected: change.MAC, Observed: nic.MAC,
				Message: fmt.Sprintf("%s has MAC %s, not %s%s", name, orNone(nic.MAC), change.MAC, from),
			}
			// ESXi (and OVH's guide) change a MAC only on a powered-off VM.
			// The operator powers it off itself when the spec wants it off
			// anyway, or cycles a running one when allowed; a suspended VM
			// is never cycled, that would throw its memory away.
			switch {
			case !running || s.WantPower == PoweredOff:
			case s.PowerState == Suspended:
				f.Reason = v1.ReasonPowerOffRequired
				f.Message += fmt.Sprintf("; ESXi changes a MAC only on a powered-off VM and %s is suspended: resume it and shut it down, or power it off", s.VMName)
			case !s.AllowPowerCycle:
				f.Reason = v1.ReasonPowerOffRequired
				f.Message += fmt.Sprintf("; ESXi changes a MAC only on a powered-off VM and %s is running: shut it down, or set spec.allowPowerCycle to let the operator power it off and on again", s.VMName)
			}
			plan.Findings = append(plan.Findings, f)
		}
		if !blocked && (change.MAC != "" || change.PortGroup != "") {
			plan.Changes = append(plan.Changes, change)
		}
	}
	if s.WantPower != "" && s.PowerState != s.WantPower {
		plan.Findings = append(plan.Findings, Finding{
			Reason: v1.ReasonPowerStateMismatch, Field: "powerState", Expected: s.WantPower, Observed: s.PowerState,
			Message: fmt.Sprintf("VM %s is %s, not %s", s.VMName, s.PowerState, s.WantPower),
		})
	}
	return plan
}

// findNIC selects a NIC by label (as ESXi shows it, any case) or index.
func findNIC(nics []VMNIC, w WantNIC) (VMNIC, bool) {
	for _, n := range nics {
		if (w.Label != "" && strings.EqualFold(n.Label, w.Label)) || (w.Label == "" && n.Index == w.Index) {
			return n, true
		}
	}
	return VMNIC{}, false
}

func nicList(nics []VMNIC) string {
	if len(nics) == 0 {
		return "no NICs"
	}
	labels := make([]string, len(nics))
	for i, n := range nics {
		labels[i] = fmt.Sprintf("#%d %q", n.Index, n.Label)
	}
	return strings.Join(labels, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// FindingsOf returns the findings with one of the reasons, in order.
func FindingsOf(fs []Finding, reasons ...string) []Finding {
	var out []Finding
	for _, f := range fs {
		if slices.Contains(reasons, f.Reason) {
			out = append(out, f)
		}
	}
	return out
}
