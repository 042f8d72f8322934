package gitops_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The operator's own kinds, the only objects it may write besides Events
// and its leader-election Lease.
var ownKinds = []string{"failoverips", "bridgedvms", "routerconfigs"}

var readVerbs = []string{"get", "list", "watch"}

// mayWrite says whether the ClusterRole may hold a write verb on a
// resource: the operator's kinds with their status and finalizers
// subresources, and Events.
func mayWrite(group, resource string) bool {
	if resource == "events" && (group == "" || group == "events.k8s.io") {
		return true
	}
	kind, _, _ := strings.Cut(resource, "/")
	return group == "ovhbridge.io" && slices.Contains(ownKinds, kind)
}

// grants expands rules into group/resource → verbs.
func grants(rules []rbacv1.PolicyRule) map[[2]string][]string {
	out := map[[2]string][]string{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				out[[2]string{g, res}] = append(out[[2]string{g, res}], r.Verbs...)
			}
		}
	}
	return out
}

// TestRBACLeastPrivilege reads the rendered ClusterRole (generated from the
// +kubebuilder:rbac markers in controllers/rbac.go) and leader-election
// Role: no wildcard, Secrets read-only, writes only on the operator's own
// kinds and Events, leader election confined to the operator's namespace;
// and everything the manager does is granted.
func TestRBACLeastPrivilege(t *testing.T) {
	r := renderDefault(t)
	cr := one[rbacv1.ClusterRole](t, r, "ClusterRole")
	for _, rule := range cr.Rules {
		if len(rule.NonResourceURLs) > 0 || len(rule.ResourceNames) > 0 {
			t.Errorf("ClusterRole rule %+v: nonResourceURLs or resourceNames are not expected", rule)
		}
		for _, field := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs} {
			if slices.Contains(field, "*") {
				t.Errorf("ClusterRole rule %+v has a wildcard", rule)
			}
		}
	}
	cluster := grants(cr.Rules)
	for gr, verbs := range cluster {
		group, resource := gr[0], gr[1]
		for _, v := range verbs {
			switch {
			case slices.Contains(readVerbs, v):
			case v == "create" && (group == "authentication.k8s.io" && resource == "tokenreviews" ||
				group == "authorization.k8s.io" && resource == "subjectaccessreviews"):
				// --metrics-secure asks the API server who is scraping; a
				// review changes nothing.
			case v == "escalate" || v == "bind" || v == "impersonate":
				t.Errorf("ClusterRole grants %s on %s/%s", v, group, resource)
			case !mayWrite(group, resource):
				t.Errorf("ClusterRole grants %s on %s/%s: the operator writes only its own kinds and Events", v, group, resource)
			case v == "create" || v == "delete" || v == "deletecollection":
				if group == "ovhbridge.io" {
					t.Errorf("ClusterRole grants %s on %s: the operator never creates or deletes its own objects", v, resource)
				}
			}
		}
		if group == "" && resource == "secrets" && !isSubset(verbs, readVerbs) {
			t.Errorf("Secrets verbs %v, want read-only (get, list, watch)", verbs)
		}
		if group == "coordination.k8s.io" {
			t.Errorf("the ClusterRole grants %s on leases: leader election belongs in the namespaced Role", verbs)
		}
	}
	// What the manager does, from controllers/: read and watch its kinds,
	// patch finalizers and status, read Secrets (metadata watch plus direct
	// gets), record Events with the events.k8s.io recorder.
	needs := map[[2]string][]string{
		{"", "secrets"}:             {"get", "list", "watch"},
		{"events.k8s.io", "events"}: {"create", "patch"},
	}
	for _, k := range ownKinds {
		needs[[2]string{"ovhbridge.io", k}] = []string{"get", "list", "watch", "patch"}
		needs[[2]string{"ovhbridge.io", k + "/status"}] = []string{"patch"}
	}
	for gr, verbs := range needs {
		if !isSubset(verbs, cluster[gr]) {
			t.Errorf("ClusterRole grants %v on %s/%s, the manager needs %v", cluster[gr], gr[0], gr[1], verbs)
		}
	}
	// And no more on its own kinds: every write is a patch.
	for _, k := range ownKinds {
		for _, res := range []string{k, k + "/status"} {
			gr := [2]string{"ovhbridge.io", res}
			if !isSubset(cluster[gr], needs[gr]) {
				t.Errorf("ClusterRole grants %v on %s, more than the manager uses (%v)", cluster[gr], res, needs[gr])
			}
		}
	}

	// Leader election: the Lease and the core Events its elector records,
	// in the operator's namespace.
	role := one[rbacv1.Role](t, r, "Role")
	wantRole := map[[2]string][]string{
		{"coordination.k8s.io", "leases"}: {"get", "create", "update"},
		{"", "events"}:                    {"create", "patch"},
	}
	got := grants(role.Rules)
	for gr, verbs := range got {
		if w, ok := wantRole[gr]; !ok || !isSubset(verbs, w) || !isSubset(w, verbs) {
			t.Errorf("leader-election Role grants %v on %s/%s, want %v", verbs, gr[0], gr[1], wantRole[gr])
		}
	}
	for gr := range wantRole {
		if _, ok := got[gr]; !ok {
			t.Errorf("leader-election Role lacks %s/%s", gr[0], gr[1])
		}
	}

	// Bindings: each role to the manager's ServiceAccount only.
	sa := one[corev1.ServiceAccount](t, r, "ServiceAccount")
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: sa.Namespace}}
	crb := one[rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding")
	if crb.RoleRef.Kind != "ClusterRole" || crb.RoleRef.Name != cr.Name || !slices.Equal(crb.Subjects, subjects) {
		t.Errorf("ClusterRoleBinding %s binds %s %s to %+v, want ClusterRole %s to %+v",
			crb.Name, crb.RoleRef.Kind, crb.RoleRef.Name, crb.Subjects, cr.Name, subjects)
	}
	rb := one[rbacv1.RoleBinding](t, r, "RoleBinding")
	if role.Namespace != sa.Namespace || rb.Namespace != sa.Namespace || rb.RoleRef.Kind != "Role" ||
		rb.RoleRef.Name != role.Name || !slices.Equal(rb.Subjects, subjects) {
		t.Errorf("RoleBinding %s/%s binds %s %s to %+v, want Role %s/%s to %+v",
			rb.Namespace, rb.Name, rb.RoleRef.Kind, rb.RoleRef.Name, rb.Subjects, sa.Namespace, role.Name, subjects)
	}
}

// TestRBACEffective applies the rendered ServiceAccount and RBAC for real
// and asks the API server's RBAC authorizer what the manager's
// ServiceAccount may do.
func TestRBACEffective(t *testing.T) {
	r := renderDefault(t)
	ns := operatorNamespace(t, r)
	var objs []*unstructured.Unstructured
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		objs = append(objs, r.only(kind)...)
	}
	kubectlStdin(t, yamlOf(t, objs...), "apply", "--server-side", "-f", "-")
	sa := one[corev1.ServiceAccount](t, r, "ServiceAccount")
	as := "--as=system:serviceaccount:" + sa.Namespace + ":" + sa.Name

	const users = "topology" // any namespace holding the user's objects
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "secrets", "-A"}, "yes"},
		{[]string{"watch", "secrets", "-A"}, "yes"},
		{[]string{"get", "secrets", "-n", users}, "yes"},
		{[]string{"watch", "failoverips.ovhbridge.io", "-A"}, "yes"},
		{[]string{"patch", "routerconfigs.ovhbridge.io", "-n", users}, "yes"},
		{[]string{"patch", "bridgedvms.ovhbridge.io", "--subresource=status", "-n", users}, "yes"},
		{[]string{"create", "events.events.k8s.io", "-n", users}, "yes"},
		{[]string{"update", "leases.coordination.k8s.io", "-n", ns}, "yes"},
		{[]string{"create", "events", "-n", ns}, "yes"},

		{[]string{"create", "secrets", "-n", users}, "no"},
		{[]string{"update", "secrets", "-n", users}, "no"},
		{[]string{"patch", "secrets", "-n", users}, "no"},
		{[]string{"delete", "secrets", "-n", users}, "no"},
		{[]string{"create", "failoverips.ovhbridge.io", "-n", users}, "no"},
		{[]string{"delete", "routerconfigs.ovhbridge.io", "-n", users}, "no"},
		{[]string{"update", "leases.coordination.k8s.io", "-n", users}, "no"},
		{[]string{"delete", "leases.coordination.k8s.io", "-n", ns}, "no"},
		{[]string{"create", "events", "-n", users}, "no"},
		{[]string{"get", "configmaps", "-n", users}, "no"},
		{[]string{"create", "pods", "-n", ns}, "no"},
		{[]string{"list", "nodes"}, "no"},
		{[]string{"escalate", "clusterroles.rbac.authorization.k8s.io"}, "no"},
		{[]string{"impersonate", "users"}, "no"},
	} {
		args := append([]string{"auth", "can-i"}, c.args...)
		// can-i exits 1 for "no"; its answer is on stdout either way.
		out, _ := cp.KubectlCmd(append(args, as)...).Output()
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("kubectl auth can-i %s as the manager: %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
}

func isSubset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
