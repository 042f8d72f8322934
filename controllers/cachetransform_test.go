package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// What the cache keeps of an object applied with kubectl: no managedFields,
// no last-applied copy, every other annotation (the pause one) as it was.
func TestCacheTransformKeepsWhatTheOperatorReads(t *testing.T) {
	f := &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{
		Name: "web-wan",
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"spec":{}}`,
			v1.PausedAnnotation:                "true",
		},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
	}}
	out, err := CacheTransform(f)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*v1.FailoverIP)
	if got.ManagedFields != nil {
		t.Errorf("managedFields kept: %v", got.ManagedFields)
	}
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied-configuration kept")
	}
	if !isPaused(got) {
		t.Errorf("annotations %v: the pause annotation was lost", got.Annotations)
	}
	// A tombstone or anything else passes as it is.
	if out, err := CacheTransform("not an object"); err != nil || out != "not an object" {
		t.Errorf("non-object: %v, %v", out, err)
	}
}
