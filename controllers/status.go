package controllers

import (
	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/decide"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

// summarizeReady sets Ready from the kind's own conditions (decide.Ready).
func summarizeReady(obj managed, types []string, okMsg string) {
	status, reason, msg := decide.Ready(obj.GetResourceStatus().Conditions, types, okMsg)
	setCondition(obj, v1.TypeReady, status, reason, msg)
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
