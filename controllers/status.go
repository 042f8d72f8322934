package controllers

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

// summarizeReady sets Ready from the kind's own conditions: True when all of
// them are True, else False with the reason of the first that is not (so
// `kubectl get` shows RoutedElsewhere or ARPFlood, not a generic word) and a
// message listing every one.
func summarizeReady(obj managed, types []string, okMsg string) {
	conds := obj.GetResourceStatus().Conditions
	var reason string
	var msgs []string
	status := metav1.ConditionTrue
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
		setCondition(obj, v1.TypeReady, metav1.ConditionTrue, v1.ReasonAvailable, okMsg)
		return
	}
	setCondition(obj, v1.TypeReady, status, reason, strings.Join(msgs, "; "))
}

// driftItems turns findings into status.drift.
func driftItems(fs []drift.Finding) []v1.DriftItem {
	if len(fs) == 0 {
		return nil
	}
	out := make([]v1.DriftItem, 0, len(fs))
	for _, f := range fs {
		out = append(out, v1.DriftItem{Field: f.Field, Expected: f.Expected, Observed: f.Observed, Reason: f.Reason})
	}
	return out
}
