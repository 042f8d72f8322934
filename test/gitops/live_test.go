package gitops_test

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

func newClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(cp.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// liveObject stores the object of a testdata manifest in the API server, in
// a namespace of its own, and returns it as a client reads it back. The
// spec goes through the main resource, the status through the status
// subresource, so the API server validates both against the CRD. The
// server counts generations itself: a manifest at generation N is reached
// by N-1 spec updates, the last of which restores the manifest's spec.
func liveObject(t *testing.T, c client.Client, path string) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var want unstructured.Unstructured
	if err := want.UnmarshalJSON(js); err != nil {
		t.Fatalf("%s: %v", path, err)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "live-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	spec := want.Object["spec"].(map[string]any)
	obj := &unstructured.Unstructured{Object: map[string]any{"spec": specVariant(spec, want.GetGeneration())}}
	obj.SetGroupVersionKind(want.GroupVersionKind())
	obj.SetNamespace(ns.Name)
	obj.SetName(want.GetName())
	obj.SetAnnotations(want.GetAnnotations())
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("creating %s: %v", path, err)
	}
	for gen := int64(2); gen <= want.GetGeneration(); gen++ {
		obj.Object["spec"] = specVariant(spec, want.GetGeneration()-gen+1)
		if err := c.Update(ctx, obj); err != nil {
			t.Fatalf("updating the spec of %s: %v", path, err)
		}
	}
	if status, ok := want.Object["status"]; ok {
		obj.Object["status"] = status
		if err := c.Status().Update(ctx, obj); err != nil {
			t.Fatalf("writing the status of %s: %v", path, err)
		}
	}

	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(want.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		t.Fatal(err)
	}
	if live.GetGeneration() != want.GetGeneration() {
		t.Fatalf("live generation %d, manifest %d", live.GetGeneration(), want.GetGeneration())
	}
	return live
}

// specVariant is spec itself when remaining is 1, and otherwise a spec
// that differs from it (the other management policy), so that each update
// towards the manifest's spec is a change that bumps the generation.
func specVariant(spec map[string]any, remaining int64) map[string]any {
	if remaining%2 == 1 {
		return spec
	}
	v := make(map[string]any, len(spec))
	for k, val := range spec {
		v[k] = val
	}
	if spec["managementPolicy"] == "Observe" {
		v["managementPolicy"] = "Manage"
	} else {
		v["managementPolicy"] = "Observe"
	}
	return v
}
