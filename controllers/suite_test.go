package controllers

import (
	"context"
	"fmt"
	"os"
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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
)

// The package's tests share one real control plane; each test runs its own
// manager restricted to its own namespace, so tests never see each other's
// objects.
var (
	cp        *controlplane.ControlPlane
	k8sClient client.Client
	scheme    = runtime.NewScheme()
	nsCounter atomic.Int32
)

func TestMain(m *testing.M) {
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(zapcore.Level(zapLevel()))))
	var err error
	cp, err = controlplane.Start(controlplane.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8sClient, err = client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = cp.Stop()
	os.Remove(cp.Kubeconfig)
	os.Exit(code)
}

// testNamespace creates a fresh namespace for one test.
func testNamespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("t%d-%d", time.Now().Unix()%100000, nsCounter.Add(1))
	if err := k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// startManager runs a manager watching only ns, with controllers added by
// setup, until the test ends.
func startManager(t *testing.T, ns string, setup func(ctrl.Manager) error) ctrl.Manager {
	mgr, _ := startStoppableManager(t, ns, setup)
	return mgr
}

// startStoppableManager is startManager with a stop function, for tests that
// restart the operator; stop is idempotent and also runs at cleanup.
func startStoppableManager(t *testing.T, ns string, setup func(ctrl.Manager) error) (ctrl.Manager, func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return mgr, stop
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
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

// conditionIs returns nil when obj (re-read) has the condition with status and
// reason (reason "" matches any).
func conditionIs(obj managed, typ string, status metav1.ConditionStatus, reason string) func() error {
	return func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(obj.GetResourceStatus().Conditions, typ)
		if c == nil {
			return fmt.Errorf("no %s condition yet; conditions: %+v", typ, obj.GetResourceStatus().Conditions)
		}
		if c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("%s is %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
		}
		return nil
	}
}

func zapLevel() int8 {
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		return -2
	}
	// Quiet by default: the tests assert on status, and the expected
	// "Reconciler error" lines of failure scenarios would bury real output.
	return 3
}

// readyHistory watches obj and records every Ready reason it goes through,
// so a test can assert a flip that lasted only a moment was visible to
// watchers (kubectl get -w, Argo CD).
func readyHistory(t *testing.T, obj client.Object, list client.ObjectList) func() []string {
	t.Helper()
	return statusHistory(t, obj, list, func(m managed) string {
		if c := meta.FindStatusCondition(m.GetResourceStatus().Conditions, v1.TypeReady); c != nil {
			return string(c.Status) + "/" + c.Reason
		}
		return ""
	})
}

// statusHistory watches obj and records describe of every version of it a
// watcher sees (empty descriptions left out).
func statusHistory(t *testing.T, obj client.Object, list client.ObjectList, describe func(managed) string) func() []string {
	t.Helper()
	wc, err := client.NewWithWatch(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), list, client.InNamespace(obj.GetNamespace()),
		client.MatchingFields{"metadata.name": obj.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	var mu sync.Mutex
	var seen []string
	go func() {
		for ev := range w.ResultChan() {
			m, ok := ev.Object.(managed)
			if !ok {
				continue
			}
			if d := describe(m); d != "" {
				mu.Lock()
				seen = append(seen, d)
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}
