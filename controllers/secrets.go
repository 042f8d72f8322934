package controllers

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretReader reads the credentials Secrets for the controllers: from the
// API server when they changed, from memory otherwise.
//
// The manager watches only the metadata of Secrets (no Secret data of the
// whole cluster in memory, and RBAC list/watch is the same either way). The
// resourceVersion in that metadata cache tells whether the copy held here is
// still current: a rotated Secret is read again on the very next pass, and an
// unchanged one costs no request — with a thousand objects re-observed every
// interval, that is a thousand GETs an interval saved.
type secretReader struct {
	meta client.Reader // the manager's cache, fed by a metadata-only informer
	api  client.Reader // uncached reads

	mu    sync.Mutex
	cache map[client.ObjectKey]cachedSecret
}

type cachedSecret struct {
	resourceVersion string
	secret          *corev1.Secret
}

func newSecretReader(meta, api client.Reader) *secretReader {
	return &secretReader{meta: meta, api: api, cache: map[client.ObjectKey]cachedSecret{}}
}

// Get implements client.Reader for Secrets; other kinds go to the API server.
func (r *secretReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	secret, ok := obj.(*corev1.Secret)
	if !ok {
		return r.api.Get(ctx, key, obj, opts...)
	}
	var m metav1.PartialObjectMetadata
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.meta.Get(ctx, key, &m); err == nil {
		r.mu.Lock()
		c, hit := r.cache[key]
		r.mu.Unlock()
		if hit && c.resourceVersion == m.ResourceVersion {
			c.secret.DeepCopyInto(secret)
			return nil
		}
	}
	// Not cached, changed, or not in the metadata cache yet (a Secret
	// created a moment ago): ask the API server.
	if err := r.api.Get(ctx, key, secret, opts...); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.cache, key)
			r.mu.Unlock()
		}
		return err
	}
	r.mu.Lock()
	r.cache[key] = cachedSecret{resourceVersion: secret.ResourceVersion, secret: secret.DeepCopy()}
	r.mu.Unlock()
	return nil
}

// List is not needed by the controllers; it goes to the API server.
func (r *secretReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.api.List(ctx, list, opts...)
}

var _ client.Reader = (*secretReader)(nil)
