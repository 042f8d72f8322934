// Package harness is what the fault suites (test/faults/...) share: one real
// kube-apiserver + etcd per test binary, a namespace and an in-process
// operator (every controller, wired as main.go wires them but with short
// retry and polling delays) per test, the three simulators with their
// credential Secrets, and polling helpers that read state through the API
// server, the way kubectl and Argo CD see it.
//
// Each fault case then reads as: break something on a simulator, wait for
// the condition that names it, clear the fault, wait for Ready, and compare
// the simulator's write counters with the writes the change needed.
package harness

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/controllers"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
)

var (
	// Scheme knows the core kinds and ovhbridge.io.
	Scheme = runtime.NewScheme()

	cp        *controlplane.ControlPlane
	k8sClient client.Client
	nsCounter atomic.Int32
)

// Main starts the control plane, runs the tests and stops it. Call it from
// the package's TestMain.
func Main(m *testing.M) {
	_ = clientgoscheme.AddToScheme(Scheme)
	_ = v1.AddToScheme(Scheme)
	level := zapcore.Level(3) // quiet: the expected "Reconciler error" lines of a fault would bury real output
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		level = -2
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(level)))
	var err error
	if cp, err = controlplane.Start(controlplane.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if k8sClient, err = client.New(cp.Config, client.Options{Scheme: Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = cp.Stop()
	os.Remove(cp.Kubeconfig)
	os.Exit(code)
}

// Client talks to the control plane as an administrator.
func Client() client.Client { return k8sClient }

// Config is the control plane's REST config.
func Config() *rest.Config { return cp.Config }

// Namespace creates a fresh namespace for one test.
func Namespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("f%d-%d", time.Now().Unix()%100000, nsCounter.Add(1))
	if err := k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// OperatorOptions tune the in-process operator; zero values give the
// suite's defaults (short delays so a fault case takes seconds).
type OperatorOptions struct {
	// ESXiCallTimeout bounds each SOAP call (default 5s), so a latency
	// case can exceed it without making the test slow.
	ESXiCallTimeout time.Duration
	// OVHTimeout bounds each OVH HTTP request (default 5s).
	OVHTimeout time.Duration
	// OVHReadAttempts is how many times an OVH read is tried (default 2).
	OVHReadAttempts int
	// RouterCallTimeout bounds each router call (default 5s), so a case
	// can hold a reply longer without making the test slow.
	RouterCallTimeout time.Duration
}

// Operator is one in-process operator restricted to a namespace.
type Operator struct {
	stop func()
}

// Stop stops the operator (its sessions are logged out); idempotent.
func (o *Operator) Stop() { o.stop() }

// StartOperator runs every controller for ns until Stop or the end of the
// test, with fresh clients: a second StartOperator is a restarted process.
func StartOperator(t *testing.T, ns string, opts OperatorOptions) *Operator {
	t.Helper()
	if opts.ESXiCallTimeout == 0 {
		opts.ESXiCallTimeout = 5 * time.Second
	}
	if opts.OVHTimeout == 0 {
		opts.OVHTimeout = 5 * time.Second
	}
	if opts.OVHReadAttempts == 0 {
		opts.OVHReadAttempts = 2
	}
	if opts.RouterCallTimeout == 0 {
		opts.RouterCallTimeout = 5 * time.Second
	}
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme:  Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sys := controllers.NewSystems(
		ovh.Options{
			RequestsPerSecond: math.Inf(1), Timeout: opts.OVHTimeout,
			Retry: ovh.RetryPolicy{Attempts: opts.OVHReadAttempts, BaseDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond},
		},
		// A short MaxWait makes a lost watcher session noticed quickly and
		// shutdown fast; the watcher's periodic re-announcement is off so
		// only real changes make events.
		esxi.Options{CallTimeout: opts.ESXiCallTimeout, WatchMaxWait: time.Second, WatchResync: -1},
	)
	if err := controllers.SetupAll(ctx, mgr, controllers.Options{
		SkipNameValidation: true, RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: time.Second,
		TaskPoll: 100 * time.Millisecond, RouterCallTimeout: opts.RouterCallTimeout,
	}, sys); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	o := &Operator{stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}}
	t.Cleanup(o.Stop)
	return o
}

// Create creates objects, failing the test on error.
func Create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8sClient.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// Managed is any ovhbridge.io object.
type Managed interface {
	client.Object
	GetResourceStatus() *v1.ResourceStatus
}

// Eventually polls cond until it returns nil or the deadline passes.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
}

// Condition re-reads obj and returns its condition typ (nil if absent).
func Condition(obj Managed, typ string) (*metav1.Condition, error) {
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil, err
	}
	return meta.FindStatusCondition(obj.GetResourceStatus().Conditions, typ), nil
}

// ConditionIs returns a poll function that succeeds when obj's condition
// typ has status and one of reasons (none: any reason) for the object's
// current generation.
func ConditionIs(obj Managed, typ string, status metav1.ConditionStatus, reasons ...string) func() error {
	return func() error {
		c, err := Condition(obj, typ)
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("no %s condition yet; conditions: %+v", typ, obj.GetResourceStatus().Conditions)
		}
		if c.Status != status || (len(reasons) > 0 && !contains(reasons, c.Reason)) {
			return fmt.Errorf("%s is %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, strings.Join(reasons, "|"))
		}
		if c.ObservedGeneration != obj.GetGeneration() {
			return fmt.Errorf("%s is for generation %d, object at %d", typ, c.ObservedGeneration, obj.GetGeneration())
		}
		return nil
	}
}

// MessageContains returns a poll function that succeeds when obj's
// condition typ has status and its message contains every part.
func MessageContains(obj Managed, typ string, status metav1.ConditionStatus, parts ...string) func() error {
	return func() error {
		c, err := Condition(obj, typ)
		if err != nil {
			return err
		}
		if c == nil || c.Status != status {
			return fmt.Errorf("%s is %+v, want status %s", typ, c, status)
		}
		for _, p := range parts {
			if !strings.Contains(c.Message, p) {
				return fmt.Errorf("%s message %q lacks %q", typ, c.Message, p)
			}
		}
		return nil
	}
}

// Ready waits for Ready=True for the current generation.
func Ready(t *testing.T, obj Managed, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, obj.GetName()+" Ready", ConditionIs(obj, v1.TypeReady, metav1.ConditionTrue))
}

// Events lists the Events recorded for obj, oldest first.
func Events(t *testing.T, obj client.Object) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.UID == obj.GetUID() {
			out = append(out, e)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
