package api_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestGetByCategory: `kubectl get ovhbridge` lists every kind at once with the
// identity columns, READY and REASON.
func TestGetByCategory(t *testing.T) {
	ns := namespace(t, "category")
	kubectl(t, "apply", "-n", ns, "-f", filepath.Join("..", "..", "config", "samples"))
	out := kubectl(t, "get", "ovhbridge", "-n", ns)
	t.Logf("kubectl get ovhbridge:\n%s", out)
	headers := map[string]*regexp.Regexp{
		"FailoverIP":   regexp.MustCompile(`NAME\s+IP\s+SERVER\s+ROUTED-TO\s+VMAC\s+READY\s+REASON\s+AGE`),
		"BridgedVM":    regexp.MustCompile(`NAME\s+VM\s+POWER\s+GUEST\s+READY\s+REASON\s+AGE`),
		"RouterConfig": regexp.MustCompile(`NAME\s+ADDRESS\s+PLATFORM\s+READY\s+REASON\s+AGE`),
	}
	for kind, re := range headers {
		if !re.MatchString(out) {
			t.Errorf("%s header missing from `kubectl get ovhbridge`", kind)
		}
	}
	for _, row := range []string{
		`failoverip.ovhbridge.io/router-wan\s+203\.0\.113\.123\s+ns123456\.ip-198-51-100\.eu`,
		`bridgedvm.ovhbridge.io/vyatta\s+vyatta`,
		`routerconfig.ovhbridge.io/edge\s+10\.0\.10\.254`,
	} {
		if !regexp.MustCompile(row).MatchString(out) {
			t.Errorf("row %q missing", row)
		}
	}
	// Short names work.
	for _, short := range []string{"fip", "bvm", "rtc"} {
		if out := kubectl(t, "get", short, "-n", ns, "-o", "name"); strings.TrimSpace(out) == "" {
			t.Errorf("kubectl get %s listed nothing", short)
		}
	}
	// -o wide adds the policy.
	if out := kubectl(t, "get", "fip", "-n", ns, "-o", "wide"); !strings.Contains(out, "POLICY") {
		t.Errorf("-o wide lacks POLICY:\n%s", out)
	}
	// And the gateways of both families for a router.
	if out := kubectl(t, "get", "rtc", "-n", ns, "-o", "wide"); !regexp.MustCompile(`GATEWAY\s+GATEWAY6`).MatchString(out) {
		t.Errorf("-o wide lacks GATEWAY GATEWAY6:\n%s", out)
	}
}

// TestExplain: `kubectl explain` shows useful text at every level.
func TestExplain(t *testing.T) {
	for path, want := range map[string]string{
		"failoverip":                                       "OVH failover",
		"failoverip.spec.ip":                               "Immutable",
		"failoverip.spec.virtualMAC.type":                  "vmware (for ESXi VMs) or ovh",
		"failoverip.spec.ovh.credentialsSecretRef":         "applicationKey",
		"failoverip.status.gateway":                        ".254",
		"bridgedvm.spec.allowPowerCycle":                   "PowerOffRequired",
		"bridgedvm.spec.nics.macFrom":                      "status.macAddress",
		"bridgedvm.spec.guest.check":                       "VMware Tools",
		"routerconfig.spec.wan.gatewayRouteMode":           "BootScript on Vyatta 6",
		"routerconfig.status.wanNeighbours.offLinkEntries": "ARP flood",
		"routerconfig.spec.health.arpFloodThreshold":       "off-link",
		"routerconfig.spec.wan.ipv6.gateway":               "outside the block",
		"routerconfig.spec.wan.ipv6.ndpProxy":              "on-link on the WAN",
		"routerconfig.spec.interfaces.ipv6.addressFrom":    "status.ipv6.block",
		"routerconfig.status.ipv6.wanNeighbours":           "NDP flood",
	} {
		out := kubectl(t, "explain", path)
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain %s lacks %q:\n%s", path, want, out)
		}
	}
}

// TestEveryFieldDocumented walks the generated schemas: a field without a
// description is a field `kubectl explain` cannot explain.
func TestEveryFieldDocumented(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("want 3 CRDs, got %v (%v)", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		v := crd.Spec.Versions[0]
		if crd.Spec.Group != "ovhbridge.io" || v.Name != "v1alpha1" || v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("%s: want ovhbridge.io/v1alpha1 with a status subresource", f)
		}
		if len(crd.Spec.Names.Categories) != 1 || crd.Spec.Names.Categories[0] != "ovhbridge" {
			t.Errorf("%s: categories %v", f, crd.Spec.Names.Categories)
		}
		var walk func(path string, s apiextensionsv1.JSONSchemaProps)
		walk = func(path string, s apiextensionsv1.JSONSchemaProps) {
			for name, p := range s.Properties {
				sub := path + "." + name
				if strings.TrimSpace(p.Description) == "" && !strings.HasSuffix(sub, ".metadata") &&
					!strings.HasSuffix(sub, ".apiVersion") && !strings.HasSuffix(sub, ".kind") {
					t.Errorf("%s: %s has no description", crd.Spec.Names.Kind, sub)
				}
				walk(sub, p)
			}
			if s.Items != nil && s.Items.Schema != nil {
				walk(path+"[]", *s.Items.Schema)
			}
		}
		walk("", *v.Schema.OpenAPIV3Schema)
		conds := v.Schema.OpenAPIV3Schema.Properties["status"].Properties["conditions"]
		if conds.XListType == nil || *conds.XListType != "map" || len(conds.XListMapKeys) != 1 || conds.XListMapKeys[0] != "type" {
			t.Errorf("%s: status.conditions must be a list map keyed by type", f)
		}
		if _, ok := conds.Items.Schema.Properties["observedGeneration"]; !ok {
			t.Errorf("%s: conditions need observedGeneration", f)
		}
		if _, ok := v.Schema.OpenAPIV3Schema.Properties["status"].Properties["observedGeneration"]; !ok {
			t.Errorf("%s: status needs observedGeneration", f)
		}
	}
}
