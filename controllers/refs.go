package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// Field index names. Each kind indexes the Secret and FailoverIPs it
// references so that a change to either re-queues exactly its users.
const (
	indexSecret     = "ovhbridge.io/secret"
	indexFailoverIP = "ovhbridge.io/failoverip"
)

// readSecret returns a Secret's data through r: in the operator, the shared
// secretReader (API server when the Secret changed, memory otherwise; see
// secrets.go), so a rotated value is seen on the very next reconcile.
func readSecret(ctx context.Context, r client.Reader, ns, name, keysHelp string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &specError{reason: v1.ReasonSecretNotFound,
				msg: fmt.Sprintf("Secret %s/%s not found: create it with %s", ns, name, keysHelp)}
		}
		return nil, err
	}
	return s.Data, nil
}

// credentialsError wraps a malformed Secret: terminal until the Secret changes.
func credentialsError(ns, name string, err error) error {
	return &specError{reason: v1.ReasonCredentialsInvalid, stalled: true,
		msg: fmt.Sprintf("Secret %s/%s: %s", ns, name, err.Error())}
}

// failoverIPValue reads a referenced FailoverIP's status field. It answers a
// specError when the FailoverIP does not exist or has not observed the value
// yet: a missing reference is a condition, not an error loop (the FailoverIP
// watch brings the object back when it changes).
func failoverIPValue(ctx context.Context, r client.Reader, ns, name, what string, get func(*v1.FailoverIP) string) (string, *v1.FailoverIP, error) {
	var f v1.FailoverIP
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &f); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil, &refError{name: name, msg: fmt.Sprintf("FailoverIP %s/%s does not exist: create it, or name an existing FailoverIP", ns, name)}
		}
		return "", nil, err
	}
	v := get(&f)
	if v == "" {
		why := "has not been observed yet"
		c := meta.FindStatusCondition(f.Status.Conditions, v1.TypeReady)
		if c != nil && c.Message != "" {
			why = fmt.Sprintf("is not ready (%s: %s)", c.Reason, c.Message)
		}
		return "", &f, &refError{name: name, msg: fmt.Sprintf("FailoverIP %s/%s has no %s: it %s", ns, name, what, why),
			// Only a FailoverIP saying so itself: one without any status yet
			// may have no controller to say anything (10s then, as usual).
			newSource: c != nil && c.Status == metav1.ConditionUnknown && c.Reason == v1.ReasonFirstObservation}
	}
	return v, &f, nil
}

// nicMAC reads the virtual MAC a NIC's macFrom names: a single IP's
// status.macAddress, or the status of one address of a block. A block
// without macFrom.address, or an address the FailoverIP does not list, is a
// refError saying what to write.
func nicMAC(ctx context.Context, r client.Reader, ns string, src *v1.MACSource) (string, error) {
	name, addr := src.FailoverIPRef.Name, src.Address
	what := "status.macAddress"
	if addr != "" {
		what = "virtual MAC for " + addr + " (status.addresses)"
	}
	mac, f, err := failoverIPValue(ctx, r, ns, name, what, func(f *v1.FailoverIP) string {
		if addr == "" {
			return f.Status.MACAddress
		}
		for _, a := range f.Status.Addresses {
			if a.IP == addr {
				return a.MACAddress
			}
		}
		return ""
	})
	if f == nil {
		return mac, err
	}
	block := strings.Contains(f.Spec.IP, "/") && !strings.HasSuffix(f.Spec.IP, "/32")
	switch {
	case block && addr == "":
		return "", &refError{name: name, msg: fmt.Sprintf("FailoverIP %s/%s is the block %s: set macFrom.address to the address "+
			"whose virtual MAC this NIC carries (one of its spec.addresses)", ns, name, f.Spec.IP)}
	case !block && addr != "" && addr != strings.TrimSuffix(f.Spec.IP, "/32"):
		return "", &refError{name: name, msg: fmt.Sprintf("FailoverIP %s/%s is the single IP %s, not %s: remove macFrom.address "+
			"or name the FailoverIP of %s", ns, name, f.Spec.IP, addr, addr)}
	case block && !slices.ContainsFunc(f.Spec.Addresses, func(a v1.AddressSpec) bool { return a.IP == addr && a.VirtualMAC != nil }):
		return "", &refError{name: name, msg: fmt.Sprintf("FailoverIP %s/%s does not ask for a virtual MAC for %s: add it to its "+
			"spec.addresses with a virtualMAC, or fix macFrom.address", ns, name, addr)}
	case !block && addr != "":
		// The single IP named by its address: its own status.
		mac = f.Status.MACAddress
		if mac != "" {
			return mac, nil
		}
	}
	return mac, err
}

// refError says a referenced FailoverIP cannot provide a value yet.
type refError struct {
	name, msg string
	// newSource: the FailoverIP referenced is in its first observation.
	newSource bool
}

func (e *refError) Error() string { return e.msg }

// indexBySecret and indexByFailoverIP register the field indexes for a kind.
func indexBySecret[T client.Object](ctx context.Context, fi client.FieldIndexer, obj T, secret func(T) string) error {
	return fi.IndexField(ctx, obj, indexSecret, func(o client.Object) []string {
		if s := secret(o.(T)); s != "" {
			return []string{s}
		}
		return nil
	})
}

func indexByFailoverIP[T client.Object](ctx context.Context, fi client.FieldIndexer, obj T, refs func(T) []string) error {
	return fi.IndexField(ctx, obj, indexFailoverIP, func(o client.Object) []string { return refs(o.(T)) })
}

// enqueueUsers maps an object (a Secret or a FailoverIP) to the objects of
// list's kind in the same namespace whose index names it.
func enqueueUsers(c client.Client, list client.ObjectList, index string) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		l := list.DeepCopyObject().(client.ObjectList)
		if err := c.List(ctx, l, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
			// A map function cannot return an error: the users still come
			// back at their own interval.
			log.FromContext(ctx).Error(err, "cannot list the objects that use a changed object", "object", client.ObjectKeyFromObject(o), "index", index)
			return nil
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			log.FromContext(ctx).Error(err, "cannot read a list of users", "index", index)
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(items))
		for _, it := range items {
			m := it.(client.Object)
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(m)})
		}
		return reqs
	})
}

// watchSecrets adds a metadata-only watch of Secrets to b.
func watchSecrets(b *builder.Builder, c client.Client, list client.ObjectList) *builder.Builder {
	return b.Watches(&corev1.Secret{}, enqueueUsers(c, list, indexSecret), builder.OnlyMetadata)
}

// uniq drops empty and duplicate names.
func uniq(names ...string) []string {
	out := names[:0]
	seen := map[string]bool{}
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// ready reports whether obj's Ready condition is True for its generation.
func ready(conds []metav1.Condition, generation int64) bool {
	c := meta.FindStatusCondition(conds, v1.TypeReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

// joinFindings formats drift messages for a condition.
func joinFindings(msgs []string) string { return strings.Join(msgs, "; ") }
