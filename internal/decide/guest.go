package decide

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

// GuestFacts is what GuestNetworkConfigured depends on.
type GuestFacts struct {
	VMName string
	// Checked is false under spec.guest.check Disabled.
	Checked bool
	// Expected counts the NICs taking their MAC from a FailoverIP: the
	// ones the guest has something to hold for.
	Expected int
	// Power is the VM's power state (drift.PoweredOn, ...).
	Power        string
	ToolsRunning bool
	// Pending says, NIC by NIC, why what the guest needs is not known yet
	// (a FailoverIP not routed here, a vNIC without its virtual MAC).
	Pending []string
	// Findings are drift.Guest's, for the NICs whose needs are known.
	Findings []drift.Finding
	// IPv6Note is drift.Guest6's note on a guest without IPv6 findings:
	// its address of the server's block, or that it is IPv4 only.
	IPv6Note string
}

// Guest decides GuestNetworkConfigured. Only Tools can tell: a guest whose
// Tools do not run is Unknown, never False, and a VM that is not running
// has no guest network to be wrong.
func Guest(f GuestFacts) (status metav1.ConditionStatus, reason, msg string) {
	switch {
	case !f.Checked:
		return metav1.ConditionTrue, v1.ReasonNotManaged,
			fmt.Sprintf("spec.guest.check is Disabled: the guest of VM %s is not looked at", f.VMName)
	case f.Expected == 0:
		return metav1.ConditionTrue, v1.ReasonNotRequired,
			fmt.Sprintf("no NIC of VM %s takes its MAC from a FailoverIP: nothing is expected inside the guest", f.VMName)
	case f.Power != drift.PoweredOn:
		return metav1.ConditionTrue, v1.ReasonNotRequired,
			fmt.Sprintf("VM %s is %s: its guest is looked at once it runs", f.VMName, f.Power)
	case !f.ToolsRunning:
		return metav1.ConditionUnknown, v1.ReasonGuestToolsNotRunning,
			fmt.Sprintf("VMware Tools do not run in VM %s, so nothing can be known of its network: start them inside the guest "+
				"(open-vm-tools), or set spec.guest.check to Disabled for a guest without Tools", f.VMName)
	case len(f.Findings) > 0:
		msgs := make([]string, len(f.Findings))
		for i, x := range f.Findings {
			msgs[i] = x.Message
		}
		return metav1.ConditionFalse, f.Findings[0].Reason, strings.Join(append(msgs, f.Pending...), "; ")
	case len(f.Pending) > 0:
		return metav1.ConditionUnknown, v1.ReasonFailoverIPNotReady, strings.Join(f.Pending, "; ")
	}
	msg = fmt.Sprintf(
		"the guest of VM %s has each failover IP as a /32 on its virtual MAC's interface, the route to the gateway there and the default route via it", f.VMName)
	if f.IPv6Note != "" {
		msg += "; IPv6: " + f.IPv6Note
	}
	return metav1.ConditionTrue, v1.ReasonConfigured, msg
}

// GuestUpdateMatters says whether a FailoverIP update changes what the
// guests of the BridgedVMs taking its MAC must hold: the gateway, the
// server's IPv6 block or gateway, or where the IP is routed (a guest is
// only checked against the gateway of the server in spec.server).
func GuestUpdateMatters(old, cur *v1.FailoverIP) bool {
	return old.Status.Gateway != cur.Status.Gateway || old.Status.RoutedTo != cur.Status.RoutedTo || old.Spec.IP != cur.Spec.IP ||
		serverIPv6(old) != serverIPv6(cur)
}

func serverIPv6(f *v1.FailoverIP) v1.ServerIPv6 {
	if f.Status.IPv6 == nil {
		return v1.ServerIPv6{}
	}
	return *f.Status.IPv6
}
