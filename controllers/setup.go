package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

// Options are shared by every controller of the operator.
type Options struct {
	// MaxConcurrentReconciles per kind.
	MaxConcurrentReconciles int
	// RetryBaseDelay and RetryMaxDelay bound the exponential backoff after a
	// transient external failure.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// SkipNameValidation allows several managers in one process (tests).
	SkipNameValidation bool
	// TaskPoll is how often an external task in flight is looked at.
	TaskPoll time.Duration
	// DisableESXiChangeEvents turns the ESXi change watcher off: BridgedVMs
	// are then observed only every spec.esxi.resyncInterval. It exists to
	// measure what the events buy (test/bench) and as a way out should a
	// host's property collector misbehave; events are on by default.
	DisableESXiChangeEvents bool
	// RouterCallTimeout bounds each call to a router (default 2m, and never
	// beyond the pass's own deadline).
	RouterCallTimeout time.Duration
	// ReconcileTimeout bounds one reconcile: the external calls get it minus
	// a reserve kept for writing the status, so that a router that accepts a
	// connection and never answers holds a worker for that long at most,
	// and says so in its conditions (default 2m).
	ReconcileTimeout time.Duration
	// OVHIntentGrace and ESXiIntentGrace are how long a write intent whose
	// task was never recorded waits for its task (OVH) or its effect (ESXi)
	// before it is deemed never sent (defaults 2m and 1m).
	OVHIntentGrace, ESXiIntentGrace time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 4
	}
	if o.RetryBaseDelay <= 0 {
		// External APIs (OVH's fair use is about a request per second per
		// key) deserve a gentler start than the workqueue's 5 ms default.
		o.RetryBaseDelay = time.Second
	}
	if o.RetryMaxDelay <= 0 {
		o.RetryMaxDelay = 5 * time.Minute
	}
	if o.ReconcileTimeout <= 0 {
		o.ReconcileTimeout = 2 * time.Minute
	}
	return o
}

// newBuilder starts a controller for one kind. Only spec (generation) and
// annotation (pause) changes of the object itself trigger a reconcile: our
// own status writes must not, or every status patch would loop.
func newBuilder[T managed](mgr ctrl.Manager, name string, obj T, opts Options) *builder.Builder {
	opts = opts.withDefaults()
	skip := opts.SkipNameValidation
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		For(obj, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
		))).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
				opts.RetryBaseDelay, opts.RetryMaxDelay),
			SkipNameValidation: &skip,
		})
}

// Systems are the clients of the external systems, shared by the
// controllers (and long-lived: they cache sessions and observations).
type Systems struct {
	OVH         *ovh.Clients
	OVHObserver *ovh.Observer
	ESXi        *esxi.Sessions

	// secrets is shared by the controllers: one copy of each Secret.
	secrets client.Reader
}

// NewSystems builds the default clients.
func NewSystems(ovhOpts ovh.Options, esxiOpts esxi.Options) Systems {
	clients := ovh.NewClients(ovhOpts)
	return Systems{
		OVH: clients, OVHObserver: ovh.NewObserver(clients, ovh.ObserverOptions{KeepObserved: true}),
		ESXi: esxi.NewSessions(esxiOpts),
	}
}

// SetupAll registers every kind's controller with the manager.
func SetupAll(ctx context.Context, mgr ctrl.Manager, opts Options, sys Systems) error {
	sys.secrets = newSecretReader(mgr.GetClient(), mgr.GetAPIReader())
	fip := &FailoverIPReconciler{
		Client: mgr.GetClient(), Reader: sys.secretsOr(mgr),
		OVH: sys.OVH, Observer: sys.OVHObserver, TaskPoll: opts.TaskPoll, IntentGrace: opts.OVHIntentGrace,
	}
	if err := fip.SetupWithManager(ctx, mgr, opts); err != nil {
		return fmt.Errorf("FailoverIP controller: %w", err)
	}
	if sys.OVHObserver != nil {
		// Stop the servers' scheduled refreshes on shutdown.
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			<-ctx.Done()
			sys.OVHObserver.Close()
			return nil
		})); err != nil {
			return err
		}
	}
	if sys.ESXi != nil {
		// Log out of every ESXi session and stop the watchers on shutdown.
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			<-ctx.Done()
			return sys.ESXi.Close(context.Background())
		})); err != nil {
			return err
		}
	}
	if err := setupBridgedVM(ctx, mgr, opts, sys); err != nil {
		return fmt.Errorf("BridgedVM controller: %w", err)
	}
	rtc := &RouterConfigReconciler{Client: mgr.GetClient(), Reader: sys.secretsOr(mgr), CallTimeout: opts.RouterCallTimeout}
	if err := rtc.SetupWithManager(ctx, mgr, opts); err != nil {
		return fmt.Errorf("RouterConfig controller: %w", err)
	}
	return nil
}

// secretsOr gives the shared Secret reader, or an uncached one when the
// controller is set up on its own.
func (s Systems) secretsOr(mgr ctrl.Manager) client.Reader {
	if s.secrets != nil {
		return s.secrets
	}
	return mgr.GetAPIReader()
}

// CacheTransform drops from every object the informers cache what the
// operator never reads: managedFields (server-side apply's record of who
// set what, about 1 KB an object) and kubectl's last-applied-configuration
// annotation (a copy of the whole spec). With 10000 objects that is tens of
// megabytes of heap, twice over under the garbage collector's headroom.
// Status and finalizer patches are computed between two cached copies, so
// neither field ever appears in them.
func CacheTransform(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a != nil {
			if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
				delete(a, corev1.LastAppliedConfigAnnotation)
				m.SetAnnotations(a)
			}
		}
	}
	return obj, nil
}
