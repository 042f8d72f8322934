package decide

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// Ready summarises a kind's own conditions (types, in the order a person
// should fix them): True when all are True or absent, else False (Unknown
// when none is False) with the reason of the first that is not True — so that
// `kubectl get` shows RoutedElsewhere or ARPFlood rather than a generic word —
// and a message listing every one. okMsg is the message when all is well.
func Ready(conds []metav1.Condition, types []string, okMsg string) (status metav1.ConditionStatus, reason, msg string) {
	var msgs []string
	status = metav1.ConditionTrue
	for _, t := range types {
		c := meta.FindStatusCondition(conds, t)
		if c == nil || c.Status == metav1.ConditionTrue {
			continue
		}
		if reason == "" {
			reason = c.Reason
		}
		if c.Status == metav1.ConditionFalse {
			status = metav1.ConditionFalse
		} else if status == metav1.ConditionTrue {
			status = metav1.ConditionUnknown
		}
		msgs = append(msgs, fmt.Sprintf("%s: %s", t, c.Message))
	}
	if reason == "" {
		return metav1.ConditionTrue, v1.ReasonAvailable, okMsg
	}
	return status, reason, strings.Join(msgs, "; ")
}

// MACUpdateMatters says whether a FailoverIP update concerns the BridgedVMs
// that take their MAC from it: the MAC itself, or — while there is none —
// Ready, which a BridgedVM quotes to say what it waits for. A move, a task in
// flight or a drift report changes neither, and re-reading the VM for them
// loads the ESXi host for nothing (a FailoverIP goes through several statuses
// per repair).
func MACUpdateMatters(old, cur *v1.FailoverIP) bool {
	switch {
	case old.Status.MACAddress != cur.Status.MACAddress,
		!slices.EqualFunc(old.Status.Addresses, cur.Status.Addresses, func(a, b v1.AddressStatus) bool {
			return a.IP == b.IP && a.MACAddress == b.MACAddress
		}):
		return true
	case cur.Status.MACAddress != "" || len(cur.Spec.Addresses) > 0 && allMACs(cur):
		return false
	}
	was := meta.FindStatusCondition(old.Status.Conditions, v1.TypeReady)
	is := meta.FindStatusCondition(cur.Status.Conditions, v1.TypeReady)
	if was == nil || is == nil {
		return was != is
	}
	return was.Status != is.Status || was.Reason != is.Reason || was.Message != is.Message
}

// Newsworthy says whether a condition's transition from prev (nil: absent) to
// cur deserves an Event: what a person running `kubectl describe` or an
// alert on Warning Events needs, not a log of every field. Ready's every
// change of a status once written (Unknown after a slow first look, False,
// True); any condition going wrong (False, or Stalled True), changing its
// reason while wrong, or recovering. Not a condition appearing healthy,
// Ready included: an object adopted fine at its first look (the person's own
// apply, its verdict in READY) tells nothing, which at the size of a fleet
// adopted in one apply is half the operator's writes. Nor Reconciling (the
// task Events say what started).
func Newsworthy(prev *metav1.Condition, cur metav1.Condition) bool {
	if prev != nil && prev.Status == cur.Status && prev.Reason == cur.Reason {
		return false
	}
	switch cur.Type {
	case v1.TypeReady:
		return prev != nil || cur.Status == metav1.ConditionFalse
	case v1.TypeReconciling:
		return false
	case v1.TypeStalled:
		return cur.Status == metav1.ConditionTrue
	}
	wasWrong := prev != nil && prev.Status == metav1.ConditionFalse
	return cur.Status == metav1.ConditionFalse || wasWrong
}

// allMACs reports whether every address of a block that wants a virtual
// MAC has one.
func allMACs(f *v1.FailoverIP) bool {
	for _, w := range WantedMACs(f) {
		if w.MAC == "" {
			return false
		}
	}
	return true
}
