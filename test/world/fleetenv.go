package world

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
)

// FleetEnv is what the suites that run the operator binary as processes
// against a Fleet share (crash consistency, leader election): the built
// binary, a control plane of their own, the fleet, a client, and the
// namespace the fleet's objects live in. Everything stops with the test.
type FleetEnv struct {
	CP     *controlplane.ControlPlane
	Fleet  *Fleet
	Client client.Client
	// Binary is the built operator; Dir a directory for its logs.
	Binary, Dir string
	NS          string
}

// StartFleetEnv builds the operator, starts a control plane and a fleet
// sized by opts, and creates namespace ns.
func StartFleetEnv(t *testing.T, ns string, opts FleetOptions) *FleetEnv {
	t.Helper()
	dir := t.TempDir()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BuildOperator(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := controlplane.Start(controlplane.Options{KubeconfigPath: filepath.Join(dir, "kubeconfig")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	f, err := StartFleet(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	c, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Run("create", "namespace", ns); err != nil {
		t.Fatal(err)
	}
	return &FleetEnv{CP: cp, Fleet: f, Client: c, Binary: bin, Dir: dir, NS: ns}
}

// Apply applies the fleet's Secrets and objects in the namespace.
func (e *FleetEnv) Apply(t *testing.T) {
	t.Helper()
	cmd := e.CP.KubectlCmd("apply", "-n", e.NS, "-f", "-")
	cmd.Stdin = strings.NewReader(string(e.Fleet.Manifests()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// LogTail is the last n lines of the operator's log, for a failing test's
// output.
func (o *Operator) LogTail(n int) string {
	b, err := os.ReadFile(o.LogPath)
	if err != nil {
		return err.Error()
	}
	return Tail(string(b), n)
}

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
