package controllers

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/decide"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
)

// Claims. Every object claims the external things it manages: a FailoverIP
// its IP (global at OVH, whatever the namespace), a BridgedVM the NICs (and,
// when it manages power, the power) of a VM on one host, a RouterConfig its
// router. Two objects claiming the same thing would undo each other's writes
// forever. The rule needs no coordination, because both sides compute the
// same answer from the cache: the earliest claimant (creationTimestamp, then
// namespace/name) wins; every later one reports ClaimedByAnother and makes no
// external call — not on deletion either — until the winner is gone or claims
// something else. A deleting winner keeps its claim until it is gone, so that
// its own clean-up never races the next claimant.

// indexClaim indexes objects by normalised claim keys: objects sharing no key
// never conflict, so the check costs one indexed lookup of the claimants.
const indexClaim = "ovhbridge.io/claim"

// claimRecheck is a loser's slow safety net. The winner's changes reach the
// losers through the claim watch; what it cannot see is a change of the
// host another BridgedVM's Secret names.
const claimRecheck = 5 * time.Minute

// claimRule is how one kind finds its conflicting claims.
type claimRule[T managed] struct {
	kind string
	list func() client.ObjectList
	// keys are the normalised index keys of what obj claims; lookup the
	// keys its claim check reads (nil: keys). Whenever two objects
	// conflict, each one's lookup meets the other's keys.
	keys   func(obj T) []string
	lookup func(obj T) []string
	// conflict says what self and other, which share a key, both claim; ""
	// when nothing after all (nil: sharing a key is a conflict).
	conflict func(ctx context.Context, self, other T) (string, error)
	// what names the claimed thing when sharing a key is enough.
	what func(obj T) string
	// changed reports status updates that may change what an object claims
	// (spec changes always may); nil when only the spec matters.
	changed func(old, cur T) bool
	// advice tells the loser's owner how to end the conflict.
	advice string
}

// setup registers the index and returns b watching the kind for claim
// changes: an object created, deleted, or pointed elsewhere wakes the other
// claimants of what it claimed and claims, so a loser takes over as soon as
// the winner lets go.
func (c *claimRule[T]) setup(ctx context.Context, mgr ctrl.Manager, obj T, b *builder.Builder) (*builder.Builder, error) {
	if err := mgr.GetFieldIndexer().IndexField(ctx, obj, indexClaim, func(o client.Object) []string {
		return c.keys(o.(T))
	}); err != nil {
		return nil, err
	}
	cl := mgr.GetClient()
	peers := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		others, err := c.claimants(ctx, cl, o.(T))
		if err != nil {
			// A map function cannot return an error; the periodic passes
			// look again (claimRecheck at most for a loser).
			log.FromContext(ctx).Error(err, "cannot wake the other claimants", "kind", c.kind, "object", client.ObjectKeyFromObject(o))
			return nil
		}
		var reqs []reconcile.Request
		for _, other := range others {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(other)})
		}
		return reqs
	})
	onlyClaims := predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, okOld := e.ObjectOld.(T)
			cur, okNew := e.ObjectNew.(T)
			if !okOld || !okNew || old.GetGeneration() != cur.GetGeneration() {
				return true
			}
			return c.changed != nil && c.changed(old, cur)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
	return b.Watches(obj, peers, builder.WithPredicates(onlyClaims)), nil
}

// claimants lists the other objects of the kind sharing a claim key with
// obj, in every namespace.
func (c *claimRule[T]) claimants(ctx context.Context, r client.Reader, obj T) ([]T, error) {
	var out []T
	seen := map[client.ObjectKey]bool{client.ObjectKeyFromObject(obj): true}
	lookup := c.keys
	if c.lookup != nil {
		lookup = c.lookup
	}
	for _, key := range lookup(obj) {
		l := c.list()
		// Read-only: the cache's own copies (claim checks run on every
		// pass of every object).
		if err := r.List(ctx, l, client.MatchingFields{indexClaim: key}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing the %ss that claim %s: %w", c.kind, key, err)
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			o := it.(T)
			if k := client.ObjectKeyFromObject(o); !seen[k] {
				seen[k] = true
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// winner returns the earliest claimant created before obj that claims
// something obj claims, and what (decide.ClaimWinner); found is false when
// obj may act.
func (c *claimRule[T]) winner(ctx context.Context, r client.Reader, obj T) (winner T, what string, found bool, err error) {
	others, err := c.claimants(ctx, r, obj)
	if err != nil {
		return winner, "", false, err
	}
	return decide.ClaimWinner(obj, others, func(self, other T) (string, error) {
		if c.conflict == nil {
			return c.what(self), nil
		}
		return c.conflict(ctx, self, other)
	})
}

// yield reports that obj lost its claim to winner. The status says who holds
// it and what to do; nothing external is called.
func (l *lifecycle[T]) yield(ctx context.Context, before, obj, winner T, what string) (reconcile.Result, error) {
	msg := fmt.Sprintf("%s is claimed by %s %s/%s, created first: this %s makes no change while that one claims it; %s",
		what, l.kind, winner.GetNamespace(), winner.GetName(), l.kind, l.claims.advice)
	log.FromContext(ctx).V(1).Info("claim yielded", "claimed", what, "winner", client.ObjectKeyFromObject(winner).String())
	setCondition(obj, v1.TypeReady, metav1.ConditionFalse, v1.ReasonClaimedByAnother, msg)
	setCondition(obj, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonClaimedByAnother, msg)
	// Stalled: nothing happens here until a person (or the winner's end)
	// resolves the conflict.
	setCondition(obj, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonClaimedByAnother, msg)
	removeCondition(obj, v1.TypeReconciling)
	st := obj.GetResourceStatus()
	st.ObservedGeneration = obj.GetGeneration()
	// Drift found while this object still held the claim is no longer its
	// to report (nor to alert on).
	st.Drift = nil
	forgetDrift(l.kind, obj.GetNamespace(), obj.GetName())
	return reconcile.Result{RequeueAfter: jitter(claimRecheck)}, l.patchStatus(ctx, before, obj)
}

// claimedBy returns the earlier object that claims what obj claims, if any.
func (l *lifecycle[T]) claimedBy(ctx context.Context, obj T) (winner T, what string, lost bool, err error) {
	if l.claims == nil {
		return winner, "", false, nil
	}
	return l.claims.winner(ctx, l.client, obj)
}

// failoverIPClaims: one IP, one FailoverIP, across namespaces (an IP belongs
// to one OVH account; two objects would move it or bind it back and forth).
// A block and an address inside it conflict too: OVH moves the block with
// the address, and both would manage the address's virtual MAC. Index keys
// and lookups are decide.IPClaimIndex and IPClaimLookup; decide.IPOverlap
// tells.
func failoverIPClaims() *claimRule[*v1.FailoverIP] {
	return &claimRule[*v1.FailoverIP]{
		kind:   "FailoverIP",
		list:   func() client.ObjectList { return &v1.FailoverIPList{} },
		keys:   func(f *v1.FailoverIP) []string { return decide.IPClaimIndex(f.Spec.IP) },
		lookup: func(f *v1.FailoverIP) []string { return decide.IPClaimLookup(f.Spec.IP) },
		conflict: func(_ context.Context, self, other *v1.FailoverIP) (string, error) {
			return decide.IPOverlap(self.Spec.IP, other.Spec.IP), nil
		},
		advice: "delete one of the two FailoverIPs (deleting this one changes nothing at OVH, " +
			"whatever its deletionPolicy); it takes over by itself once the other is gone. An address of a block " +
			"is managed under the block's spec.addresses",
	}
}

// routerConfigClaims: one router, one RouterConfig. The key is the
// management endpoint as host:port with the driver's default port, the host
// lower-cased and IPs in canonical form. The same router reached through two
// endpoints (ssh and the HTTPS API, or two addresses) is not recognised.
func routerConfigClaims() *claimRule[*v1.RouterConfig] {
	return &claimRule[*v1.RouterConfig]{
		kind: "RouterConfig",
		list: func() client.ObjectList { return &v1.RouterConfigList{} },
		keys: func(rc *v1.RouterConfig) []string { return []string{decide.RouterEndpoint(rc.Spec.Router)} },
		what: func(rc *v1.RouterConfig) string { return "router " + decide.RouterEndpoint(rc.Spec.Router) },
		advice: "merge the two specs into one RouterConfig and delete the other (deleting this one changes nothing " +
			"on the router, whatever its deletionPolicy); it takes over by itself once the other is gone",
	}
}

// bridgedVMClaims: one NIC of one VM on one host, one BridgedVM; and one
// BridgedVM managing the VM's power (spec.powerState or allowPowerCycle),
// since a power cycle for one and a power state for the other would fight.
// The index key is the VM name; the host comes from each object's Secret;
// NICs are compared as sameNIC says.
func bridgedVMClaims(secrets client.Reader) *claimRule[*v1.BridgedVM] {
	return &claimRule[*v1.BridgedVM]{
		kind: "BridgedVM",
		list: func() client.ObjectList { return &v1.BridgedVMList{} },
		keys: func(b *v1.BridgedVM) []string { return []string{b.Spec.VMName} },
		conflict: func(ctx context.Context, self, other *v1.BridgedVM) (string, error) {
			mine, err := esxiHost(ctx, secrets, self)
			if err != nil {
				// This object cannot reach any host: its own pass says why,
				// and makes no write.
				return "", nil //nolint:nilerr // the error is reported by the object's own pass
			}
			// A claimant whose host cannot be read is taken to be on this
			// one: it acts as soon as its Secret is fixed, and the fix wakes
			// only that object, not this one.
			if theirs, err := esxiHost(ctx, secrets, other); err == nil && theirs != mine {
				return "", nil
			}
			shared := decide.SharedVMPart(self, other)
			if shared == "" {
				return "", nil
			}
			return fmt.Sprintf("%s of VM %s on %s", shared, self.Spec.VMName, mine), nil
		},
		changed: func(old, cur *v1.BridgedVM) bool { return decide.NICLayout(old) != decide.NICLayout(cur) },
		advice: "manage each NIC (and the VM's power) from one BridgedVM only: remove it from one of the two, " +
			"or delete one (deleting this one changes nothing in ESXi); this one takes over by itself once the other lets go",
	}
}

// esxiHost names the host (or vCenter datacenter) a BridgedVM's Secret
// points at: host:port of its URL, and the datacenter if any. Never the
// credentials.
func esxiHost(ctx context.Context, secrets client.Reader, b *v1.BridgedVM) (string, error) {
	data, err := readSecret(ctx, secrets, b.Namespace, b.Spec.ESXi.CredentialsSecretRef.Name, esxiSecretKeys)
	if err != nil {
		return "", err
	}
	creds, err := esxi.CredentialsFromSecret(data)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(creds.URL)
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	host := decide.HostPort(u.Hostname(), port)
	if creds.Datacenter != "" {
		host += " datacenter " + creds.Datacenter
	}
	return host, nil
}
