// Package metrics holds the operator's Prometheus metrics. They are registered
// on controller-runtime's registry so they appear on the manager's /metrics.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

var (
	// ExternalCalls counts calls to external systems by system ("ovh",
	// "esxi", "router"), operation and result ("ok" or an error kind).
	ExternalCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ovhbridge_external_calls_total",
		Help: "Calls made to external systems (OVH API, ESXi, routers) by operation and result.",
	}, []string{"system", "operation", "result"})

	// ExternalCallDuration is the latency of external calls.
	ExternalCallDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ovhbridge_external_call_duration_seconds",
		Help:    "Latency of calls to external systems.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"system", "operation"})

	// Drift is 1 for every (kind, namespace/name, reason) currently drifted.
	Drift = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ovhbridge_drift",
		Help: "1 while an object shows the given drift reason, per kind.",
	}, []string{"kind", "namespace", "name", "reason"})

	// TaskDuration is how long external tasks (OVH tasks, ESXi tasks, router
	// commits) took from start to a terminal state, as seen by the operator.
	TaskDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ovhbridge_task_duration_seconds",
		Help:    "Time from starting an external task to seeing it finish.",
		Buckets: []float64{.1, .5, 1, 5, 15, 30, 60, 120, 300, 600},
	}, []string{"system", "function", "result"})

	// StatusConflicts counts status writes the API server refused because
	// the operator's copy was older (optimistic lock): each costs one more
	// reconcile of the object, nothing else.
	StatusConflicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ovhbridge_status_conflicts_total",
		Help: "Status or finalizer writes refused as conflicts (stale cached copy); each is reconciled again.",
	}, []string{"kind"})
)

func init() {
	crmetrics.Registry.MustRegister(ExternalCalls, ExternalCallDuration, Drift, TaskDuration, StatusConflicts)
}

// ObserveCall records one external call and its outcome:
//
//	start := time.Now()
//	err := doCall()
//	metrics.ObserveCall("ovh", "MoveIP", start, err)
func ObserveCall(system, op string, start time.Time, err error) {
	result := "ok"
	if err != nil {
		result = string(cause.KindOf(err))
		if result == "" {
			result = "error"
		}
	}
	ExternalCalls.WithLabelValues(system, op, result).Inc()
	ExternalCallDuration.WithLabelValues(system, op).Observe(time.Since(start).Seconds())
}
