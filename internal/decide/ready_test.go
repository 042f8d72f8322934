package decide

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// Which FailoverIP updates re-read the BridgedVMs that take its MAC.
func TestMACUpdateMatters(t *testing.T) {
	fip := func(mac string, ready metav1.ConditionStatus, reason, msg string) *v1.FailoverIP {
		f := &v1.FailoverIP{}
		f.Status.MACAddress = mac
		if ready != "" {
			f.Status.Conditions = []metav1.Condition{{Type: v1.TypeReady, Status: ready, Reason: reason, Message: msg}}
		}
		return f
	}
	const mac, other = "00:50:56:00:00:01", "00:50:56:00:00:02"
	for _, tc := range []struct {
		name     string
		old, new *v1.FailoverIP
		want     bool
	}{
		{"the MAC appears", fip("", metav1.ConditionUnknown, "FirstObservation", ""), fip(mac, metav1.ConditionTrue, "Available", ""), true},
		{"the MAC changes", fip(mac, metav1.ConditionTrue, "Available", ""), fip(other, metav1.ConditionTrue, "Available", ""), true},
		{"the MAC goes", fip(mac, metav1.ConditionTrue, "Available", ""), fip("", metav1.ConditionFalse, "VirtualMACMissing", "gone"), true},
		{"a move with the MAC kept", fip(mac, metav1.ConditionTrue, "Available", ""), fip(mac, metav1.ConditionFalse, "MoveInProgress", "moving"), false},
		{"a task message with the MAC kept", fip(mac, metav1.ConditionFalse, "MoveInProgress", "task 1"), fip(mac, metav1.ConditionFalse, "MoveInProgress", "task 2"), false},
		{"no MAC yet, Ready changes (quoted by the BridgedVM)", fip("", "", "", ""), fip("", metav1.ConditionUnknown, "FirstObservation", "observing"), true},
		{"no MAC yet, Ready's message changes", fip("", metav1.ConditionFalse, "VirtualMACMissing", "a"), fip("", metav1.ConditionFalse, "VirtualMACMissing", "b"), true},
		{"no MAC yet, nothing the BridgedVM reads", fip("", metav1.ConditionFalse, "VirtualMACMissing", "a"), fip("", metav1.ConditionFalse, "VirtualMACMissing", "a"), false},
	} {
		if got := MACUpdateMatters(tc.old, tc.new); got != tc.want {
			t.Errorf("%s: MACUpdateMatters = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReady(t *testing.T) {
	cond := func(typ string, st metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: typ + " says " + reason}
	}
	types := []string{v1.TypeGatewayRoutePresent, v1.TypeARPTableHealthy, v1.TypeConfigSaved}
	for _, c := range []struct {
		name        string
		conds       []metav1.Condition
		status      metav1.ConditionStatus
		reason, msg string
	}{
		{"all true", []metav1.Condition{cond(v1.TypeGatewayRoutePresent, metav1.ConditionTrue, "Present")},
			metav1.ConditionTrue, v1.ReasonAvailable, "all good"},
		{"the first failing type names the reason", []metav1.Condition{
			cond(v1.TypeConfigSaved, metav1.ConditionFalse, v1.ReasonUnsavedConfig),
			cond(v1.TypeARPTableHealthy, metav1.ConditionFalse, v1.ReasonARPFlood)},
			metav1.ConditionFalse, v1.ReasonARPFlood,
			"ARPTableHealthy: ARPTableHealthy says ARPFlood; ConfigSaved: ConfigSaved says UnsavedConfig"},
		{"unknown only", []metav1.Condition{cond(v1.TypeARPTableHealthy, metav1.ConditionUnknown, "Waiting")},
			metav1.ConditionUnknown, "Waiting", "ARPTableHealthy: ARPTableHealthy says Waiting"},
		{"unknown first, false later: False with the first reason", []metav1.Condition{
			cond(v1.TypeGatewayRoutePresent, metav1.ConditionUnknown, "Waiting"),
			cond(v1.TypeConfigSaved, metav1.ConditionFalse, v1.ReasonUnsavedConfig)},
			metav1.ConditionFalse, "Waiting",
			"GatewayRoutePresent: GatewayRoutePresent says Waiting; ConfigSaved: ConfigSaved says UnsavedConfig"},
		{"other types are ignored", []metav1.Condition{cond(v1.TypeSynced, metav1.ConditionFalse, v1.ReasonUnreachable)},
			metav1.ConditionTrue, v1.ReasonAvailable, "all good"},
	} {
		st, reason, msg := Ready(c.conds, types, "all good")
		if st != c.status || reason != c.reason || msg != c.msg {
			t.Errorf("%s: %s/%s %q", c.name, st, reason, msg)
		}
	}
}

func TestNewsworthy(t *testing.T) {
	c := func(typ string, st metav1.ConditionStatus, reason string) *metav1.Condition {
		return &metav1.Condition{Type: typ, Status: st, Reason: reason}
	}
	T, F, U := metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown
	for _, tc := range []struct {
		name string
		prev *metav1.Condition
		cur  *metav1.Condition
		want bool
	}{
		{"first sight", nil, c(v1.TypeReady, U, v1.ReasonFirstObservation), false},
		{"fine after a slow first look", c(v1.TypeReady, U, v1.ReasonFirstObservation), c(v1.TypeReady, T, v1.ReasonAvailable), true},
		{"adopted fine at the first look", nil, c(v1.TypeReady, T, v1.ReasonAvailable), false},
		{"Ready found wrong at once", nil, c(v1.TypeReady, F, v1.ReasonARPFlood), true},
		{"Ready's reason changes", c(v1.TypeReady, F, v1.ReasonARPFlood), c(v1.TypeReady, F, v1.ReasonBootScriptMissing), true},
		{"Ready unchanged", c(v1.TypeReady, T, v1.ReasonAvailable), c(v1.TypeReady, T, v1.ReasonAvailable), false},
		{"a healthy condition appears", nil, c(v1.TypeRouted, T, v1.ReasonRouted), false},
		{"Synced appears True", nil, c(v1.TypeSynced, T, v1.ReasonReconcileSuccess), false},
		{"a condition goes wrong", c(v1.TypeRouted, T, v1.ReasonRouted), c(v1.TypeRouted, F, v1.ReasonRoutedElsewhere), true},
		{"a condition appears wrong", nil, c(v1.TypeARPTableHealthy, F, v1.ReasonARPFlood), true},
		{"wrong for another reason", c(v1.TypeSynced, F, v1.ReasonUnreachable), c(v1.TypeSynced, F, v1.ReasonCredentialsInvalid), true},
		{"recovers", c(v1.TypeSynced, F, v1.ReasonUnreachable), c(v1.TypeSynced, T, v1.ReasonReconcileSuccess), true},
		{"unknown while waiting", nil, c(v1.TypeVirtualMACAssigned, U, v1.ReasonWaitingForRoute), false},
		{"Reconciling never", nil, c(v1.TypeReconciling, T, v1.ReasonTaskInProgress), false},
		{"Stalled appears", nil, c(v1.TypeStalled, T, v1.ReasonTaskFailed), true},
	} {
		if got := Newsworthy(tc.prev, *tc.cur); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A move changes what guests must hold only once the IP's route or gateway
// changes, not with every status the FailoverIP goes through.
func TestGuestUpdateMatters(t *testing.T) {
	fip := func(routedTo, gw string) *v1.FailoverIP {
		f := &v1.FailoverIP{}
		f.Status.RoutedTo, f.Status.Gateway = routedTo, gw
		return f
	}
	with6 := func(f *v1.FailoverIP, gw6 string) *v1.FailoverIP {
		f.Status.IPv6 = &v1.ServerIPv6{Block: "2001:db8:1:1::/64", Gateway: gw6}
		return f
	}
	for _, tc := range []struct {
		name     string
		old, new *v1.FailoverIP
		want     bool
	}{
		{"steady", fip("ns1", "198.51.100.254"), fip("ns1", "198.51.100.254"), false},
		{"routed elsewhere", fip("ns1", "198.51.100.254"), fip("ns2", "192.0.2.254"), true},
		{"gateway first seen", fip("ns1", ""), fip("ns1", "198.51.100.254"), true},
		{"IPv6 first seen", fip("ns1", "198.51.100.254"), with6(fip("ns1", "198.51.100.254"), "2001:db8:1:ff:ff:ff:ff:ff"), true},
		{"IPv6 gateway changed", with6(fip("ns1", "198.51.100.254"), "2001:db8:1:ff:ff:ff:ff:ff"), with6(fip("ns1", "198.51.100.254"), "fe80::1"), true},
		{"IPv6 steady", with6(fip("ns1", "198.51.100.254"), "fe80::1"), with6(fip("ns1", "198.51.100.254"), "fe80::1"), false},
	} {
		if got := GuestUpdateMatters(tc.old, tc.new); got != tc.want {
			t.Errorf("%s: GuestUpdateMatters = %v, want %v", tc.name, got, tc.want)
		}
	}
}
