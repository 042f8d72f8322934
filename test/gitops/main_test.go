// Package gitops_test checks what a GitOps user of the operator relies on:
// the Argo CD health checks in config/argocd, run the way Argo CD runs them;
// what kstatus (kpt, cli-utils, Flux-style waiters) makes of the operator's
// status; and that config/default renders with kubectl's kustomize and passes
// a server-side dry-run against a real kube-apiserver with least-privilege
// RBAC and a hardened Deployment.
package gitops_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
)

// cp is the local control plane (etcd + kube-apiserver, CRDs installed)
// shared by the tests that need an API server.
var cp *controlplane.ControlPlane

// repoRoot is the repository root, for paths in config/ and the Dockerfile.
var repoRoot = filepath.Join("..", "..")

func TestMain(m *testing.M) {
	log.SetLogger(logr.Discard()) // the tests' clients have nothing to say
	var err error
	cp, err = controlplane.Start(controlplane.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := cp.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping control plane:", err)
	}
	os.Remove(cp.Kubeconfig)
	os.Exit(code)
}

// kubectl runs the kubectl built with the API server and fails the test on
// error.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cp.Run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
