// Package security runs the built operator as its own process, as an
// ordinary user holding nothing but the RBAC generated from the markers, and
// checks what a security review would: the credentials it is given — right
// ones and wrong ones, recognisable on purpose — appear in no log line
// (at the highest verbosity), Event, status or metric; it reads only the
// Secrets its objects name (the API server's audit log says who read what);
// the generated ClusterRole is enough to do the whole job; and with
// --metrics-secure only an identity allowed to get /metrics may scrape.
package security

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

const (
	ns           = "security"
	operatorUser = "ovhbridge-operator"
)

// Recognisable credentials: the right ones the simulators accept, and the
// wrong ones the test rotates in to drive the error paths, where secrets
// leak most often (an error that quotes its request).
var (
	creds = world.Credentials{
		OVHApplicationSecret: "ovhAppSecret-LEAKCHECK-4f1c",
		OVHConsumerKey:       "ovhConsumerKey-LEAKCHECK-9a2e",
		ESXiPassword:         "esxiPassword-LEAKCHECK-77d0",
		RouterUsername:       "vyatta",
		RouterPassword:       "routerPassword-LEAKCHECK-3b6f",
	}
	wrong = map[string][2]string{ // Secret → key, wrong value
		"ovh-credentials":    {"applicationSecret", "wrongOVHSecret-LEAKCHECK-0e11"},
		"esxi-credentials":   {"password", "wrongESXiPassword-LEAKCHECK-5c3a"},
		"router-credentials": {"password", "wrongRouterPassword-LEAKCHECK-d2b9"},
	}
)

func secretValues() []string {
	out := []string{creds.OVHApplicationSecret, creds.OVHConsumerKey, creds.ESXiPassword, creds.RouterPassword}
	for _, w := range wrong {
		out = append(out, w[1])
	}
	return out
}

type env struct {
	cp       *controlplane.ControlPlane
	w        *world.World
	op       *world.Operator
	dir      string
	auditLog string
}

func TestSecretsNeverLeakAndOnlyNamedSecretsAreRead(t *testing.T) {
	e := start(t)

	// Secrets nobody refers to, here and elsewhere: the operator must
	// never read them.
	e.kubectl(t, "create", "namespace", "elsewhere")
	e.kubectl(t, "create", "secret", "generic", "decoy-here", "--from-literal=password=decoy-LEAKCHECK-here")
	if _, err := e.cp.Run("-n", "elsewhere", "create", "secret", "generic", "decoy-there", "--from-literal=password=decoy-LEAKCHECK-there"); err != nil {
		t.Fatal(err)
	}

	root, _ := controlplane.RepoRoot()
	samples, err := e.w.Samples(filepath.Join(root, "config", "samples"),
		world.Intervals{OVHSync: time.Second, RouterHealth: time.Second, ESXiResync: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.apply(t, string(e.w.Secrets()))
	e.apply(t, string(samples))
	e.allReady(t, "the seed topology converges as the RBAC-bound operator user")

	// The write-up's failures, each noticed and repaired.
	for _, f := range e.w.Failures() {
		seen := e.watchReady(t, f.Kind, f.Object)
		if err := f.Do(context.Background()); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		e.waitReason(t, f.Kind, f.Object, seen, f.Reasons...)
		e.allReady(t, "repaired after: "+f.Name)
	}

	// Wrong credentials in every Secret: each kind reports it, naming the
	// Secret, without quoting the value.
	for name, kv := range wrong {
		e.kubectl(t, "patch", "secret", name, "--type=merge", "-p", fmt.Sprintf(`{"stringData":{%q:%q}}`, kv[0], kv[1]))
	}
	for _, o := range [][2]string{{"failoverip", "router-wan"}, {"bridgedvm", "web1"}, {"routerconfig", "edge"}} {
		e.waitReason(t, o[0], o[1], e.watchReady(t, o[0], o[1]), "CredentialsInvalid")
	}
	// And back: the right values converge again.
	e.apply(t, string(e.w.Secrets()))
	e.allReady(t, "converged again with the right credentials")

	// Where secrets must not be.
	places := map[string]string{
		"operator log":           e.readFile(t, e.op.LogPath),
		"core Events":            e.kubectl(t, "get", "events", "-A", "-o", "json"),
		"events.k8s.io Events":   e.kubectl(t, "get", "events.events.k8s.io", "-A", "-o", "json"),
		"objects (spec, status)": e.kubectl(t, "get", "failoverips,bridgedvms,routerconfigs", "-A", "-o", "json"),
		"metrics":                e.metrics(t, e.token(t, "prometheus"), http.StatusOK),
	}
	for place, text := range places {
		for _, s := range append(secretValues(), "decoy-LEAKCHECK") {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the secret %q:\n%s", place, s, around(text, s))
			}
		}
	}
	// The scan is not vacuous: the log is the most verbose there is and
	// the Events tell the story, errors included.
	logText := places["operator log"]
	if !strings.Contains(logText, `"level":"debug"`) && !strings.Contains(logText, "DEBUG") {
		t.Errorf("the operator log has no debug line; was the scan done at the highest verbosity?")
	}
	for _, want := range []string{"CredentialsInvalid", "RoutedElsewhere", "GatewayRouteMissing", "MACMismatch"} {
		if !strings.Contains(places["core Events"]+places["events.k8s.io Events"], want) {
			t.Errorf("no Event mentions %s: the scenarios did not run as intended", want)
		}
	}
	// Only an authorised identity may scrape.
	e.metrics(t, "", http.StatusUnauthorized)
	e.metrics(t, e.token(t, "nobody"), http.StatusForbidden)

	// The generated RBAC was enough: nothing was refused.
	if strings.Contains(logText, "forbidden") {
		t.Errorf("the operator was refused something with the generated RBAC:\n%s", around(logText, "forbidden"))
	}

	// Which Secrets the operator read, from the API server's audit log.
	reads := e.secretReads(t)
	want := []string{"get security/esxi-credentials", "get security/ovh-credentials", "get security/router-credentials"}
	for _, w := range want {
		if reads[w] == 0 {
			t.Errorf("the audit log shows no %q by the operator; reads: %v", w, reads)
		}
	}
	for r, n := range reads {
		verb, name, _ := strings.Cut(r, " ")
		switch {
		case strings.Contains(name, "decoy"):
			t.Errorf("the operator read an unrelated Secret: %s (%d times)", r, n)
		case verb == "get" && !contains(want, r):
			t.Errorf("the operator read a Secret no object names: %s", r)
		case verb != "get" && verb != "list" && verb != "watch":
			t.Errorf("the operator did %s on Secrets", r)
		}
	}
	t.Logf("Secret requests by the operator (audit log): %v", reads)
}

func start(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := world.BuildOperator(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, auditLog: filepath.Join(dir, "audit.log")}
	if e.cp, err = controlplane.Start(controlplane.Options{KubeconfigPath: filepath.Join(dir, "kubeconfig"), AuditLogPath: e.auditLog}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.cp.Stop() })
	if e.w, err = world.Start(world.Options{Traffic: true, Credentials: &creds}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.w.Close)

	// The operator's identity: a plain user bound to the ClusterRole that
	// controller-gen renders from the markers, nothing else.
	e.kubectl(t, "apply", "-f", filepath.Join(root, "config", "rbac", "role.yaml"))
	e.kubectl(t, "create", "clusterrolebinding", "ovhbridge-operator", "--clusterrole=manager-role", "--user="+operatorUser)
	e.kubectl(t, "create", "namespace", ns)
	kubeconfig := filepath.Join(dir, "operator.kubeconfig")
	if err := e.cp.UserKubeconfig(operatorUser, nil, kubeconfig); err != nil {
		t.Fatal(err)
	}
	// Highest verbosity: debug lines are where request details would show.
	// Metrics as deployed for a shared cluster: HTTPS, every scrape
	// authenticated (TokenReview) and authorised (SubjectAccessReview).
	if e.op, err = world.StartOperator(bin, kubeconfig, dir, "--zap-log-level=10", "--metrics-secure"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.op.Stop()
		if d := os.Getenv("SECURITY_KEEP_LOG"); d != "" {
			_ = os.WriteFile(d, []byte(e.readFile(t, e.op.LogPath)), 0o600)
			_ = os.WriteFile(d+".audit", []byte(e.readFile(t, e.auditLog)), 0o600)
		}
		if t.Failed() {
			t.Logf("operator log (tail):\n%s", e.op.LogTail(40))
		}
	})
	return e
}

func (e *env) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.cp.Run(append([]string{"-n", ns}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) apply(t *testing.T, manifest string) {
	t.Helper()
	cmd := e.cp.KubectlCmd("apply", "-n", ns, "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

func (e *env) allReady(t *testing.T, what string) {
	t.Helper()
	if _, err := e.cp.Run("-n", ns, "wait", "--for=condition=Ready", "--timeout=120s",
		"failoverips,bridgedvms,routerconfigs", "--all"); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, e.kubectl(t, "get", "failoverips,bridgedvms,routerconfigs"))
	}
}

// watchReady records every Ready and Synced reason kind/name goes through
// from now on: a repair can be quicker than any poll, a watch sees every
// step. (An external failure such as refused credentials is reported by
// Synced; Ready keeps saying what was last observed.)
func (e *env) watchReady(t *testing.T, kind, name string) func() []string {
	t.Helper()
	cmd := e.cp.KubectlCmd("-n", ns, "get", kind, name, "--watch", "-o",
		`jsonpath={.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Synced")].reason}{"\n"}`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var mu sync.Mutex
	var reasons []string
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			mu.Lock()
			reasons = append(reasons, strings.Fields(sc.Text())...)
			mu.Unlock()
			if first {
				close(started)
				first = false
			}
		}
	}()
	// The watch's first line is the current state: from then on, nothing
	// is missed.
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl get --watch %s/%s printed nothing", kind, name)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), reasons...)
	}
}

// waitReason waits until the watch has seen one of reasons.
func (e *env) waitReason(t *testing.T, kind, name string, seen func() []string, reasons ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range seen() {
			if contains(reasons, r) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s/%s never reported %v (Ready and Synced reasons seen: %v)", kind, name, reasons, seen())
}

// token is a ServiceAccount token for sa, created on first use; the
// ServiceAccount "prometheus" may get /metrics, any other may not.
func (e *env) token(t *testing.T, sa string) string {
	t.Helper()
	if _, err := e.cp.Run("-n", ns, "get", "serviceaccount", sa); err != nil {
		e.kubectl(t, "create", "serviceaccount", sa)
	}
	if sa == "prometheus" {
		if _, err := e.cp.Run("get", "clusterrole", "metrics-reader"); err != nil {
			e.kubectl(t, "create", "clusterrole", "metrics-reader", "--verb=get", "--non-resource-url=/metrics")
			e.kubectl(t, "create", "clusterrolebinding", "metrics-reader", "--clusterrole=metrics-reader", "--serviceaccount="+ns+":prometheus")
		}
	}
	return strings.TrimSpace(e.kubectl(t, "create", "token", sa))
}

// metrics scrapes the operator with token (empty: none) and checks the
// status; on 200 it returns the exposition.
func (e *env) metrics(t *testing.T, token string, want int) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+e.op.MetricsAddr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// The manager's serving certificate is self-signed at start; what is
	// under test here is who may scrape, not the certificate.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("scraping /metrics: %s, want %d:\n%s", resp.Status, want, world.Tail(string(b), 5))
	}
	if want == http.StatusOK && !strings.Contains(string(b), "ovhbridge_") {
		t.Fatalf("the metrics endpoint serves no ovhbridge_ series:\n%s", world.Tail(string(b), 10))
	}
	return string(b)
}

func (e *env) readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// secretReads counts the operator user's requests on Secrets by
// "verb namespace/name" ("list security/" for a list).
func (e *env) secretReads(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(e.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reads := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Stage string `json:"stage"`
			Verb  string `json:"verb"`
			User  struct {
				Username string `json:"username"`
			} `json:"user"`
			ObjectRef struct {
				Resource, Namespace, Name string
			} `json:"objectRef"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit log line: %v", err)
		}
		// A watch logs ResponseStarted and ResponseComplete; count each
		// request once.
		if ev.User.Username != operatorUser || ev.ObjectRef.Resource != "secrets" || ev.Stage == "ResponseStarted" {
			continue
		}
		reads[ev.Verb+" "+ev.ObjectRef.Namespace+"/"+ev.ObjectRef.Name]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return reads
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// around shows where s occurs in text, for the failure message only (the
// values are test fixtures, not real secrets).
func around(text, s string) string {
	i := strings.Index(text, s)
	lo, hi := max(0, i-200), min(len(text), i+len(s)+200)
	return text[lo:hi]
}
