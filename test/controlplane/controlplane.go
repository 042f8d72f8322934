// Package controlplane starts a real local Kubernetes control plane — etcd and
// kube-apiserver on loopback, built by hack/envtest-assets.sh — installs the
// operator's CRDs, and writes a kubeconfig for kubectl. Tests, the e2e suite
// and `make demo` all use it.
package controlplane

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// K8sVersion is the version of kube-apiserver and kubectl the project builds.
const K8sVersion = "1.37.2"

// ControlPlane is a running etcd + kube-apiserver.
type ControlPlane struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the same user.
	Kubeconfig string
	// Kubectl is the path of the kubectl binary built with the API server.
	Kubectl string
	// AssetsDir is where kube-apiserver, etcd and kubectl live.
	AssetsDir string

	env *envtest.Environment
}

// Options configure Start.
type Options struct {
	// RepoRoot is the repository root; CRDs are read from
	// RepoRoot/config/crd/bases. Found from the working directory if empty.
	RepoRoot string
	// KubeconfigPath is where to write the kubeconfig; a temporary file if empty.
	KubeconfigPath string
	// SkipCRDs starts the control plane without installing the CRDs.
	SkipCRDs bool
	// AuditLogPath, when set, makes the API server write an audit log there
	// (one JSON event per line) of every request on Secrets, at Metadata
	// level: who read which Secret, never its data.
	AuditLogPath string
}

// auditPolicy records requests on Secrets only, so that a test can tell
// exactly which Secrets a client read without wading through the rest.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets"]
- level: None
`

// AssetsDir gives the directory holding the control plane binaries:
// $KUBEBUILDER_ASSETS if set, else where setup-envtest and
// hack/envtest-assets.sh put them.
func AssetsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "kubebuilder-envtest", "k8s", fmt.Sprintf("%s-%s-%s", K8sVersion, runtime.GOOS, runtime.GOARCH))
}

// RepoRoot finds the repository root (the directory holding go.mod) from the
// working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "config", "crd", "bases")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (go.mod next to config/crd/bases) above the working directory")
		}
		dir = parent
	}
}

// Start starts etcd and kube-apiserver, waits until they serve, installs the
// CRDs and writes a kubeconfig.
func Start(opts Options) (*ControlPlane, error) {
	assets := AssetsDir()
	for _, bin := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run hack/envtest-assets.sh (make envtest-assets) first", bin, assets)
		}
	}
	root := opts.RepoRoot
	if root == "" {
		var err error
		if root, err = RepoRoot(); err != nil {
			return nil, err
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		ErrorIfCRDPathMissing: true,
	}
	if opts.AuditLogPath != "" {
		policy := opts.AuditLogPath + ".policy.yaml"
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return nil, err
		}
		env.ControlPlane.GetAPIServer().Configure().
			Set("audit-policy-file", policy).
			Set("audit-log-path", opts.AuditLogPath).
			Set("audit-log-format", "json")
	}
	if !opts.SkipCRDs {
		env.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	cp := &ControlPlane{Config: cfg, Kubectl: filepath.Join(assets, "kubectl"), AssetsDir: assets, env: env}
	if err := cp.writeKubeconfig(opts.KubeconfigPath); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return cp, nil
}

func (c *ControlPlane) writeKubeconfig(path string) error {
	user, err := c.env.AddUser(envtest.User{Name: "ovhbridge-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating the admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if path == "" {
		f, err := os.CreateTemp("", "ovhbridge-kubeconfig-*")
		if err != nil {
			return err
		}
		path = f.Name()
		_ = f.Close()
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	c.Kubeconfig = path
	return nil
}

// UserKubeconfig writes a kubeconfig at path for a new user authenticated
// by a client certificate, with the given groups and no other rights than
// what RBAC grants them: a test runs the operator as that user to prove the
// generated RBAC is enough, and finds its requests in the audit log by name.
func (c *ControlPlane) UserKubeconfig(name string, groups []string, path string) error {
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return fmt.Errorf("creating user %s: %w", name, err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// KubectlCmd prepares a kubectl command against this control plane.
func (c *ControlPlane) KubectlCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(c.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	return cmd
}

// Run runs kubectl and returns its combined output; the error includes it.
func (c *ControlPlane) Run(args ...string) (string, error) {
	out, err := c.KubectlCmd(args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Stop stops kube-apiserver and etcd and removes their data.
func (c *ControlPlane) Stop() error {
	if c == nil || c.env == nil {
		return nil
	}
	return c.env.Stop()
}
