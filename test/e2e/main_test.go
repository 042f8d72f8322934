// Package e2e runs the operator as its own built binary against a real
// kube-apiserver and the simulators, and drives it only the way a user does:
// through the built kubectl.
package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

const ns = "e2e"

// creds are recognisable, so that a test can look for them where they must
// not be (the demo's router password, "vyatta", is also a VM's name).
var creds = world.Credentials{
	OVHApplicationSecret: "e2e-ovh-application-secret-7c41",
	OVHConsumerKey:       "e2e-ovh-consumer-key-1d9b",
	ESXiPassword:         "e2e-esxi-password-5f02",
	RouterUsername:       "vyatta",
	RouterPassword:       "e2e-router-password-a3e8",
}

var (
	cp *controlplane.ControlPlane
	w  *world.World
	op *world.Operator
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		if op != nil {
			if log, err := os.ReadFile(op.LogPath); err == nil {
				fmt.Fprintf(os.Stderr, "operator log:\n%s\n", log)
			}
		}
		code = 1
	}
	if op != nil {
		if err := op.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the operator:", err)
		}
	}
	if w != nil {
		w.Close()
	}
	if cp != nil {
		_ = cp.Stop()
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "ovhbridge-e2e-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	root, err := controlplane.RepoRoot()
	if err != nil {
		return 1, err
	}
	bin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 1, fmt.Errorf("building the operator: %v\n%s", err, out)
	}
	if cp, err = controlplane.Start(controlplane.Options{KubeconfigPath: filepath.Join(dir, "kubeconfig")}); err != nil {
		return 1, err
	}
	if w, err = world.Start(world.Options{Traffic: true, Credentials: &creds}); err != nil {
		return 1, err
	}
	if op, err = world.StartOperator(bin, cp.Kubeconfig, dir); err != nil {
		return 1, err
	}
	samples, err := w.Samples(filepath.Join(root, "config", "samples"),
		world.Intervals{OVHSync: time.Second, RouterHealth: time.Second})
	if err != nil {
		return 1, err
	}
	if _, err := cp.Run("create", "namespace", ns); err != nil {
		return 1, err
	}
	for _, m := range [][]byte{w.Secrets(), samples} {
		cmd := cp.KubectlCmd("apply", "-n", ns, "-f", "-")
		cmd.Stdin = strings.NewReader(string(m))
		if out, err := cmd.CombinedOutput(); err != nil {
			return 1, fmt.Errorf("kubectl apply: %v\n%s", err, out)
		}
	}
	code := m.Run()
	if code != 0 {
		if log, err := os.ReadFile(op.LogPath); err == nil {
			fmt.Fprintf(os.Stderr, "operator log (last 60 lines):\n%s\n", tail(string(log), 60))
		}
	}
	return code, nil
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kubectl runs the built kubectl in the test namespace.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cp.Run(append([]string{"-n", ns}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// watchFor starts `kubectl get -w` on obj before the world is broken and
// returns once its first line is printed: kubectl has listed the object and
// watches from that list's resourceVersion, so a condition that flips and
// recovers quickly is still seen. The returned function waits until the
// condition typ shows status.
func watchFor(t *testing.T, obj, typ, status string, timeout time.Duration) func() {
	t.Helper()
	cmd := cp.KubectlCmd("-n", ns, "get", obj, "-w", "-o",
		fmt.Sprintf(`jsonpath={.status.conditions[?(@.type=="%s")].status}{"\n"}`, typ))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	select {
	case <-lines: // the listed state: the watch is established
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl get -w %s printed nothing in 30s", obj)
	}
	return func() {
		t.Helper()
		deadline := time.After(timeout)
		var seen []string
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("kubectl get -w %s ended before %s=%s (saw %v)", obj, typ, status, seen)
				}
				seen = append(seen, l)
				if l == status {
					return
				}
			case <-deadline:
				t.Fatalf("%s never showed %s=%s within %v (saw %v)", obj, typ, status, timeout, seen)
			}
		}
	}
}
