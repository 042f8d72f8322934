package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// Which FailoverIP updates re-read the BridgedVMs that take its MAC.
func TestMACUpdate(t *testing.T) {
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
		if got := macUpdate(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: macUpdate = %v, want %v", tc.name, got, tc.want)
		}
	}
}
