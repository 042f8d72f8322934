package gitops_test

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// rendered is config/default as `kubectl kustomize` renders it.
type rendered struct {
	text    string
	objects []*unstructured.Unstructured
}

func renderDefault(t *testing.T) rendered {
	t.Helper()
	text := kubectl(t, "kustomize", filepath.Join(repoRoot, "config", "default"))
	r := rendered{text: text}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	for {
		doc, err := docs.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		if string(js) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			t.Fatal(err)
		}
		r.objects = append(r.objects, u)
	}
	return r
}

// only gives the rendered objects of a kind.
func (r rendered) only(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one converts the single rendered object of a kind to its Go type.
func one[T any](t *testing.T, r rendered, kind string) *T {
	t.Helper()
	objs := r.only(kind)
	if len(objs) != 1 {
		t.Fatalf("config/default renders %d %s objects, want 1", len(objs), kind)
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// yamlOf renders objects as a multi-document stream for kubectl.
func yamlOf(t *testing.T, objs ...*unstructured.Unstructured) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes()
}

// kubectlStdin runs kubectl with input and returns stdout and stderr
// together (server warnings arrive on stderr).
func kubectlStdin(t *testing.T, input []byte, args ...string) string {
	t.Helper()
	cmd := cp.KubectlCmd(args...)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// operatorNamespace creates the rendered Namespace for real, so that the
// namespaced objects can be dry-run or applied into it, and returns its name.
func operatorNamespace(t *testing.T, r rendered) string {
	t.Helper()
	nss := r.only("Namespace")
	if len(nss) != 1 {
		t.Fatalf("config/default renders %d Namespaces, want 1", len(nss))
	}
	kubectlStdin(t, yamlOf(t, nss[0]), "apply", "--server-side", "-f", "-")
	return nss[0].GetName()
}

// TestDefaultRendersAndPassesServerDryRun: config/default renders with
// the kubectl built with the API server, holds the whole operator, and
// every object passes a server-side dry-run (schema, admission, Pod
// Security warnings) against the local control plane.
func TestDefaultRendersAndPassesServerDryRun(t *testing.T) {
	r := renderDefault(t)
	counts := map[string]int{}
	for _, o := range r.objects {
		counts[o.GetKind()]++
	}
	want := map[string]int{
		"Namespace": 1, "CustomResourceDefinition": 3, "ServiceAccount": 1, "ClusterRole": 1,
		"ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 1, "Deployment": 1, "Service": 1,
	}
	for kind, n := range want {
		if counts[kind] != n {
			t.Errorf("config/default renders %d %s, want %d", counts[kind], kind, n)
		}
	}
	for kind := range counts {
		if _, ok := want[kind]; !ok {
			t.Errorf("config/default renders an unexpected %s", kind)
		}
	}

	ns := operatorNamespace(t, r)
	for _, o := range r.objects {
		switch o.GetKind() {
		case "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
			if o.GetNamespace() != "" {
				t.Errorf("cluster-scoped %s %s has namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		default:
			if o.GetNamespace() != ns {
				t.Errorf("%s %s is in namespace %q, want the operator's %q", o.GetKind(), o.GetName(), o.GetNamespace(), ns)
			}
		}
	}

	out := kubectlStdin(t, []byte(r.text), "apply", "--server-side", "--dry-run=server", "-f", "-")
	t.Logf("server dry-run:\n%s", out)
	if n := strings.Count(out, "serverside-applied (server dry run)"); n != len(r.objects) {
		t.Errorf("%d of %d objects passed the server dry-run", n, len(r.objects))
	}
	if strings.Contains(out, "Warning") {
		t.Errorf("the API server warned about config/default:\n%s", out)
	}
}

// managerFlags lists the flags main.go defines (flag.XxxVar(&v, "name", ...)).
func managerFlags(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot, "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasSuffix(sel.Sel.Name, "Var") {
			return true
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "flag" {
			return true
		}
		if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			name, _ := strconv.Unquote(lit.Value)
			flags[name] = true
		}
		return true
	})
	return flags
}

// TestDeploymentHardening checks the manager's Deployment: arguments the
// binary knows, probes and ports that match them, a pod that runs as
// nonroot on a read-only root filesystem without capabilities — which the
// API server's Pod Security admission confirms for the namespace's
// "restricted" level.
func TestDeploymentHardening(t *testing.T) {
	r := renderDefault(t)
	dep := one[appsv1.Deployment](t, r, "Deployment")
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want the manager alone", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Arguments: flags main.go defines; addresses give the ports.
	flags := managerFlags(t)
	args := map[string]string{}
	for _, a := range c.Args {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !flags[name] {
			t.Errorf("argument %q is not a flag of main.go (flags: %v)", a, flags)
		}
		args[name] = value
	}
	if _, ok := args["leader-elect"]; !ok {
		t.Error("the manager runs without --leader-elect: a second replica would reconcile too")
	}
	if len(c.Command) != 0 {
		t.Errorf("command %v overrides the image's ENTRYPOINT", c.Command)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	portOf := func(flag string) int32 {
		_, port, err := net.SplitHostPort(args[flag])
		if err != nil {
			t.Fatalf("--%s=%q: %v", flag, args[flag], err)
		}
		n, _ := strconv.Atoi(port)
		return int32(n)
	}
	if want := portOf("metrics-bind-address"); ports["metrics"] != want {
		t.Errorf("container port metrics = %d, the manager serves metrics on %d", ports["metrics"], want)
	}
	healthPort := portOf("health-probe-bind-address")
	if healthPort != 8081 || ports["health"] != healthPort {
		t.Errorf("probes: container port health = %d, --health-probe-bind-address port %d, want both 8081", ports["health"], healthPort)
	}
	for name, probe := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("no HTTP probe on %s", name)
			continue
		}
		port := probe.HTTPGet.Port.IntVal
		if probe.HTTPGet.Port.StrVal != "" {
			port = ports[probe.HTTPGet.Port.StrVal]
		}
		if probe.HTTPGet.Path != name || port != healthPort {
			t.Errorf("probe %s:%d, want %s:%d", probe.HTTPGet.Path, port, name, healthPort)
		}
	}

	// Security context.
	ps, cs := pod.SecurityContext, c.SecurityContext
	switch {
	case ps == nil || cs == nil:
		t.Fatal("pod or container securityContext missing")
	case ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532:
		t.Error("the pod must run as nonroot user 65532 (distroless nonroot)")
	case ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("seccomp profile is not RuntimeDefault")
	case cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem:
		t.Error("root filesystem is writable")
	case cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation:
		t.Error("privilege escalation is allowed")
	case cs.Privileged != nil && *cs.Privileged:
		t.Error("privileged container")
	case cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) != 0:
		t.Errorf("capabilities %+v, want drop ALL and add none", cs.Capabilities)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("memory request or limit missing")
	}

	// The ServiceAccount the RBAC binds, and the Service that scrapes metrics.
	sa := one[corev1.ServiceAccount](t, r, "ServiceAccount")
	if pod.ServiceAccountName != sa.Name {
		t.Errorf("pod runs as ServiceAccount %q, RBAC is for %q", pod.ServiceAccountName, sa.Name)
	}
	svc := one[corev1.Service](t, r, "Service")
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("metrics Service selects %s=%s, the pod is labelled %v", k, v, dep.Spec.Template.Labels)
		}
	}
	if len(svc.Spec.Ports) != 1 || ports[svc.Spec.Ports[0].TargetPort.StrVal] != portOf("metrics-bind-address") {
		t.Errorf("metrics Service ports %+v do not reach the metrics port", svc.Spec.Ports)
	}

	// Pod Security admission: the namespace enforces "restricted"; the
	// API server warns on a Deployment whose pods it would reject.
	nsObj := one[corev1.Namespace](t, r, "Namespace")
	if nsObj.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace labels %v: Pod Security level restricted is not enforced", nsObj.Labels)
	}
	operatorNamespace(t, r)
	depObj := r.only("Deployment")[0]
	out := kubectlStdin(t, yamlOf(t, depObj), "apply", "--server-side", "--dry-run=server", "-f", "-")
	if strings.Contains(out, "PodSecurity") {
		t.Errorf("Pod Security admission objects to the Deployment:\n%s", out)
	}
	// The same Deployment with escalation allowed must be flagged, or the
	// check above proves nothing.
	loose := depObj.DeepCopy()
	containers, _, _ := unstructured.NestedSlice(loose.Object, "spec", "template", "spec", "containers")
	_ = unstructured.SetNestedField(containers[0].(map[string]any), true, "securityContext", "allowPrivilegeEscalation")
	_ = unstructured.SetNestedSlice(loose.Object, containers, "spec", "template", "spec", "containers")
	out = kubectlStdin(t, yamlOf(t, loose), "apply", "--server-side", "--dry-run=server", "-f", "-")
	if !strings.Contains(out, `would violate PodSecurity "restricted:latest"`) {
		t.Errorf("Pod Security admission did not flag a Deployment allowing privilege escalation:\n%s", out)
	}
}

// The README says client-side apply works for the CRDs: it copies each whole
// object into the last-applied-configuration annotation, which the API
// server caps (256 KiB for all annotations together). The server's dry run
// validates the object with that annotation.
func TestCRDsApplyClientSide(t *testing.T) {
	out := kubectl(t, "apply", "--dry-run=server", "-o", "name", "-f", "../../config/crd/bases")
	for _, kind := range []string{"failoverips", "bridgedvms", "routerconfigs"} {
		if !strings.Contains(out, "customresourcedefinition.apiextensions.k8s.io/"+kind+".ovhbridge.io") {
			t.Errorf("client-side apply did not take the %s CRD:\n%s", kind, out)
		}
	}
}
