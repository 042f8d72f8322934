package controllers

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// countingReader counts the reads that reach the API server.
type countingReader struct {
	client.Reader
	gets atomic.Int32
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets.Add(1)
	return c.Reader.Get(ctx, key, obj, opts...)
}

// An unchanged Secret is read from the API server once; a rotated one is
// read again at once.
func TestSecretReaderReadsOnlyChangedSecrets(t *testing.T) {
	ns := testNamespace(t)
	api := &countingReader{}
	var reader *secretReader
	startManager(t, ns, func(mgr ctrl.Manager) error {
		api.Reader = mgr.GetAPIReader()
		reader = newSecretReader(mgr.GetClient(), api)
		// What watchSecrets sets up in every controller.
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		_, err := mgr.GetCache().GetInformer(context.Background(), m)
		return err
	})
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ovh"}, StringData: map[string]string{"consumerKey": "v1"}}
	create(t, s)
	key := client.ObjectKeyFromObject(s)
	read := func() string {
		var got corev1.Secret
		if err := reader.Get(context.Background(), key, &got); err != nil {
			t.Fatal(err)
		}
		return string(got.Data["consumerKey"])
	}
	eventually(t, 10*time.Second, "metadata cached", func() error {
		before := api.gets.Load()
		read()
		if api.gets.Load() != before {
			return fmt.Errorf("still reading from the API server")
		}
		return nil
	})
	before := api.gets.Load()
	for range 50 {
		if v := read(); v != "v1" {
			t.Fatalf("read %q", v)
		}
	}
	if n := api.gets.Load() - before; n != 0 {
		t.Fatalf("%d API reads for an unchanged Secret, want 0", n)
	}
	s.StringData = map[string]string{"consumerKey": "v2"}
	if err := k8sClient.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "rotation seen", func() error {
		if v := read(); v != "v2" {
			return fmt.Errorf("still %q", v)
		}
		return nil
	})
	if err := k8sClient.Delete(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "deletion seen", func() error {
		var got corev1.Secret
		if err := reader.Get(context.Background(), key, &got); err == nil {
			return fmt.Errorf("a deleted Secret is still served")
		}
		return nil
	})
}
