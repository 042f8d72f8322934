package decide

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

func TestGuest(t *testing.T) {
	route := drift.Finding{Reason: v1.ReasonGuestGatewayRouteMissing, Message: "run `ip route add 198.51.100.254 dev eth0`"}
	def := drift.Finding{Reason: v1.ReasonGuestDefaultRouteMissing, Message: "run `ip route add default via 198.51.100.254`"}
	running := GuestFacts{VMName: "web1", Checked: true, Expected: 1, Power: drift.PoweredOn, ToolsRunning: true}
	with := func(edit func(*GuestFacts)) GuestFacts {
		f := running
		edit(&f)
		return f
	}
	for _, tc := range []struct {
		name   string
		facts  GuestFacts
		status metav1.ConditionStatus
		reason string
		msg    string
	}{
		{"configured", running, metav1.ConditionTrue, v1.ReasonConfigured, "has each failover IP as a /32"},
		{"opted out, even when wrong", with(func(f *GuestFacts) { f.Checked, f.Findings = false, []drift.Finding{route} }),
			metav1.ConditionTrue, v1.ReasonNotManaged, "spec.guest.check is Disabled"},
		{"no FailoverIP MAC", with(func(f *GuestFacts) { f.Expected = 0 }), metav1.ConditionTrue, v1.ReasonNotRequired, "nothing is expected"},
		{"powered off", with(func(f *GuestFacts) { f.Power, f.ToolsRunning = drift.PoweredOff, false }),
			metav1.ConditionTrue, v1.ReasonNotRequired, "VM web1 is PoweredOff"},
		{"Tools not running: Unknown, not False", with(func(f *GuestFacts) { f.ToolsRunning, f.Findings = false, []drift.Finding{route} }),
			metav1.ConditionUnknown, v1.ReasonGuestToolsNotRunning, "nothing can be known"},
		{"drift: the first reason, every message", with(func(f *GuestFacts) { f.Findings = []drift.Finding{route, def} }),
			metav1.ConditionFalse, v1.ReasonGuestGatewayRouteMissing, "dev eth0`; run `ip route add default via"},
		{"configured, with IPv6's note", with(func(f *GuestFacts) { f.IPv6Note = "the guest of VM web1 has no address of the server's IPv6 block" }),
			metav1.ConditionTrue, v1.ReasonConfigured, "the default route via it; IPv6: the guest of VM web1 has no address"},
		{"a FailoverIP routed elsewhere", with(func(f *GuestFacts) { f.Pending = []string{"FailoverIP web-wan is routed to ns2"} }),
			metav1.ConditionUnknown, v1.ReasonFailoverIPNotReady, "routed to ns2"},
	} {
		status, reason, msg := Guest(tc.facts)
		if status != tc.status || reason != tc.reason || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %s %s %q, want %s %s containing %q", tc.name, status, reason, msg, tc.status, tc.reason, tc.msg)
		}
	}
}
