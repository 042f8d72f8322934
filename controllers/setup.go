package controllers

import (
	"time"

	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
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

// SetupAll registers every kind's controller with the manager.
func SetupAll(mgr ctrl.Manager, opts Options) error {
	return nil
}
