package decide

import (
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

func TestRouterRepairSteps(t *testing.T) {
	if RouterCommit(0) || !RouterCommit(3) {
		t.Error("commit only when owned statements differ")
	}
	for _, c := range []struct {
		name               string
		committed, refused bool
		pendingAfter       int
		unsaved            bool
		want               bool
	}{
		{"committed and read back equal: save", true, false, 0, false, true},
		{"refused commit: never saved", true, true, 0, true, false},
		{"partial commit (read back differs): never saved", true, false, 2, true, false},
		{"nothing committed, running unsaved: save", false, false, 0, true, true},
		{"nothing committed, saved already: no save", false, false, 0, false, false},
	} {
		if got := RouterSave(c.committed, c.refused, c.pendingAfter, c.unsaved); got != c.want {
			t.Errorf("RouterSave %s: %v", c.name, got)
		}
	}
	boot := []drift.Finding{{Reason: v1.ReasonBootScriptMissing}}
	if !RouterBootScript(boot) || RouterBootScript(nil) {
		t.Error("boot script rewritten only when it is missing or stale")
	}
	noGW := []drift.Finding{{Reason: v1.ReasonDefaultRouteWithoutGateway}}
	missing := []drift.Finding{{Reason: v1.ReasonGatewayRouteMissing}}
	flood := []drift.Finding{{Reason: v1.ReasonARPFlood}}
	if !RouterReplaceRoutes(missing, true) || RouterReplaceRoutes(missing, false) || RouterReplaceRoutes(nil, true) {
		t.Error("routes replaced only in BootScript mode and only when missing")
	}
	for _, c := range []struct {
		name                 string
		before, after, neigh []drift.Finding
		want                 bool
	}{
		{"gateway-less default fixed: flush", noGW, nil, nil, true},
		{"flood seen, routes fine: flush", nil, nil, flood, true},
		{"flood seen but routes still wrong: flushing would refill it", noGW, noGW, flood, false},
		{"a missing gateway route alone leaves no flood", missing, nil, nil, false},
		{"healthy", nil, nil, nil, false},
		{"gateway ARP missing is not a flood", nil, nil, []drift.Finding{{Reason: v1.ReasonGatewayARPMissing}}, false},
	} {
		if got := RouterFlushNeighbours(c.before, c.after, c.neigh); got != c.want {
			t.Errorf("RouterFlushNeighbours %s: %v", c.name, got)
		}
	}
}
