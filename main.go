// Command manager runs the ovhbridge operator: it keeps OVH failover IPs and
// virtual MACs, ESXi bridged VMs and a Vyatta/VyOS router in the state their
// FailoverIP, BridgedVM and RouterConfig objects describe.
package main

import (
	"flag"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/controllers"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh/credsetup"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == credsetup.Command {
		os.Exit(credsetup.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	var (
		metricsAddr, probeAddr, leaderNS, pprofAddr string
		leaderElect, secureMetrics, esxiEvents      bool
		opts                                        controllers.Options
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus /metrics endpoint (0 disables it).")
	flag.BoolVar(&secureMetrics, "metrics-secure", false, "Serve /metrics over HTTPS with authentication and authorisation through the API server.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles at a time.")
	flag.StringVar(&leaderNS, "leader-election-namespace", "", "Namespace of the leader-election Lease (default: the operator's own).")
	// The Lease timings are flags so that a test can hand over in seconds;
	// the defaults are controller-runtime's.
	var leaseDuration, renewDeadline, retryPeriod time.Duration
	flag.DurationVar(&leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a non-leader waits after the last renewal before taking the Lease over.")
	flag.DurationVar(&renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew the Lease before it stops reconciling.")
	flag.DurationVar(&retryPeriod, "leader-election-retry-period", 2*time.Second, "How often candidates try to acquire or renew the Lease.")
	flag.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", 4, "Objects of one kind reconciled in parallel.")
	flag.DurationVar(&opts.RetryBaseDelay, "retry-base-delay", 0, "First retry delay after a transient external failure (default 1s).")
	flag.DurationVar(&opts.RetryMaxDelay, "retry-max-delay", 0, "Longest retry delay after repeated failures (default 5m).")
	var ovhRate float64
	var ovhBurst int
	flag.Float64Var(&ovhRate, "ovh-requests-per-second", 0, "Request budget of each OVH consumer key, shared by every object using it (0: OVH's fair use, 60 a minute).")
	flag.IntVar(&ovhBurst, "ovh-burst", 5, "Requests allowed at once above the OVH budget.")
	flag.DurationVar(&opts.TaskPoll, "task-poll-interval", 5*time.Second, "How often an external task in flight (OVH move, ESXi reconfigure) is looked at.")
	flag.DurationVar(&opts.ReconcileTimeout, "reconcile-timeout", 2*time.Minute, "Longest time one reconcile may take; its external calls get this minus 10s, kept for writing the status.")
	flag.DurationVar(&opts.OVHIntentGrace, "ovh-intent-grace", 2*time.Minute, "How long a recorded OVH write whose task id was never saved waits for its task to appear before it is deemed never sent.")
	flag.DurationVar(&opts.ESXiIntentGrace, "esxi-intent-grace", time.Minute, "How long a recorded ESXi write whose task was never saved waits for its effect on the VM before it is deemed never sent.")
	flag.BoolVar(&esxiEvents, "esxi-change-events", true, "Follow ESXi VM changes as they happen (property collector); false observes BridgedVMs only every spec.esxi.resyncInterval.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address of the Go pprof endpoints, /debug/pprof/ (empty disables them; never expose it beyond loopback).")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	opts.DisableESXiChangeEvents = !esxiEvents
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions(metricsAddr, secureMetrics),
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "ovhbridge-operator.ovhbridge.io",
		LeaderElectionNamespace: leaderNS,
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
		// Stop reconciling at once when leadership is lost, so two replicas
		// never write to a router at the same time.
		LeaderElectionReleaseOnCancel: true,
		// Profiles are how a missed benchmark target is explained (test/bench).
		PprofBindAddress: pprofAddr,
		Cache:            cache.Options{DefaultTransform: controllers.CacheTransform},
	})
	if err != nil {
		log.Error(err, "cannot create the manager")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	sys := controllers.NewSystems(ovh.Options{RequestsPerSecond: ovhRate, Burst: ovhBurst},
		esxi.Options{Logger: ctrl.Log.WithName("esxi")})
	if err := controllers.SetupAll(ctx, mgr, opts, sys); err != nil {
		log.Error(err, "cannot set up the controllers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "cannot add the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "cannot add the readiness check")
		os.Exit(1)
	}
	log.Info("starting the manager")
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}

// metricsOptions serves /metrics in plain HTTP (behind a NetworkPolicy or on
// loopback) or, with --metrics-secure, over HTTPS where every scrape must
// carry a token the API server authenticates and authorises (TokenReview and
// SubjectAccessReview on the /metrics non-resource URL).
func metricsOptions(addr string, secure bool) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr, SecureServing: secure}
	if secure {
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return opts
}
