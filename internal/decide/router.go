package decide

import (
	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

// A router repair runs in a fixed order, each step decided from what the
// previous ones left:
//
//  1. commit the owned configuration (one transaction), when it differs;
//  2. save it, only once read back equal to the spec — never a partial or
//     refused commit, which a reboot would then make permanent;
//  3. rewrite the boot script's managed block, when it is missing or stale;
//  4. install the gateway routes with `ip route replace`, when the kernel
//     lacks them and the routes live in the boot script (Vyatta 6);
//  5. flush the WAN neighbour table, once the default route goes through the
//     gateway again, when the gateway-less default route or its ARP flood
//     was seen: the flood's per-destination entries would otherwise linger
//     and keep those destinations on-link.

// RouterCommit reports whether step 1 runs: txLen owned statements differ.
func RouterCommit(txLen int) bool { return txLen > 0 }

// RouterSave decides step 2. committed is whether this pass committed
// (anything); refused whether the router refused that commit; pendingAfter
// how many owned statements still differ from the spec once read back;
// unsaved whether the running configuration was already unsaved before.
func RouterSave(committed, refused bool, pendingAfter int, unsaved bool) bool {
	if refused || pendingAfter > 0 {
		return false
	}
	return committed || unsaved
}

// RouterBootScript decides step 3 from the boot script's findings.
func RouterBootScript(bootFindings []drift.Finding) bool { return len(bootFindings) > 0 }

// RouterReplaceRoutes decides step 4: the kernel lacks the gateway routes and
// the operator owns them through the boot script. Under InterfaceRoute the
// routing daemon installs them from the committed configuration.
func RouterReplaceRoutes(routeFindings []drift.Finding, bootScriptMode bool) bool {
	return bootScriptMode && len(routeFindings) > 0
}

// RouterFlushNeighbours decides step 5. routeFindingsBefore and neighFindings
// are what the pass observed; routeFindingsAfter the route check once steps
// 1–4 are done.
func RouterFlushNeighbours(routeFindingsBefore, routeFindingsAfter, neighFindings []drift.Finding) bool {
	if len(routeFindingsAfter) > 0 {
		return false // flushing now would only refill the table
	}
	return drift.HasReason(routeFindingsBefore, v1.ReasonDefaultRouteWithoutGateway) ||
		drift.HasReason(neighFindings, v1.ReasonARPFlood)
}
