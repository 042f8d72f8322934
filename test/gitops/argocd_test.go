package gitops_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// argoKinds are the kinds config/argocd has a health check for: every kind
// of the operator.
var argoKinds = []string{"BridgedVM", "FailoverIP", "RouterConfig"}

// argoGroupDir is Argo CD's resource_customizations/<group> directory.
var argoGroupDir = filepath.Join(repoRoot, "config", "argocd", "ovhbridge.io")

// healthCase is one entry of a health_test.yaml, in Argo CD's format.
type healthCase struct {
	HealthStatus healthStatus `json:"healthStatus"`
	InputPath    string       `json:"inputPath"`
}

// kindChecks is a kind's health script with its test cases.
type kindChecks struct {
	kind   string
	dir    string
	script string
	cases  []healthCase
}

func loadKindChecks(t *testing.T) []kindChecks {
	t.Helper()
	entries, err := os.ReadDir(argoGroupDir)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e.Name())
	}
	if !slices.Equal(kinds, argoKinds) {
		t.Fatalf("%s holds %v, want one directory per kind %v", argoGroupDir, kinds, argoKinds)
	}
	var out []kindChecks
	for _, kind := range kinds {
		dir := filepath.Join(argoGroupDir, kind)
		script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Tests []healthCase `json:"tests"`
		}
		if err := yaml.UnmarshalStrict(data, &file); err != nil {
			t.Fatalf("%s/health_test.yaml: %v", kind, err)
		}
		out = append(out, kindChecks{kind: kind, dir: dir, script: string(script), cases: file.Tests})
	}
	return out
}

// readObject reads a testdata manifest the way Argo CD's own health tests
// do: YAML to JSON to map[string]any (numbers become float64).
func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

// TestArgoCDHealthChecks runs every case of every kind's health_test.yaml
// through its health.lua in Argo CD's sandbox, and checks the cases cover
// every health the script can give and every testdata file.
func TestArgoCDHealthChecks(t *testing.T) {
	for _, k := range loadKindChecks(t) {
		seen := map[string]bool{}
		used := map[string]bool{}
		for _, c := range k.cases {
			t.Run(k.kind+"/"+c.InputPath, func(t *testing.T) {
				obj := readObject(t, filepath.Join(k.dir, c.InputPath))
				u := unstructured.Unstructured{Object: obj}
				if gvk := u.GroupVersionKind(); gvk.Group != "ovhbridge.io" || gvk.Kind != k.kind {
					t.Fatalf("testdata is a %s, want an ovhbridge.io %s", gvk, k.kind)
				}
				got, err := runArgoHealth(k.script, obj, false)
				if err != nil {
					t.Fatalf("health.lua: %v", err)
				}
				if got != c.HealthStatus {
					t.Errorf("health = %+v\nwant     %+v", got, c.HealthStatus)
				}
			})
			seen[c.HealthStatus.Status] = true
			used[filepath.Clean(c.InputPath)] = true
		}
		for _, want := range []string{"Healthy", "Progressing", "Degraded", "Suspended"} {
			if !seen[want] {
				t.Errorf("%s/health_test.yaml has no %s case", k.kind, want)
			}
		}
		files, err := filepath.Glob(filepath.Join(k.dir, "testdata", "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if rel, _ := filepath.Rel(k.dir, f); !used[rel] {
				t.Errorf("%s is not used by %s/health_test.yaml", rel, k.kind)
			}
		}
	}
}

// TestArgoCDSandbox pins down the sandbox runArgoHealth reproduces: what a
// customization in argocd-cm may use, and what makes Argo CD report an
// error instead of a health. A health.lua that needed a library Argo CD
// does not open would fail TestArgoCDHealthChecks the same way.
func TestArgoCDSandbox(t *testing.T) {
	allowed := []struct {
		name, script string
		want         healthStatus
	}{
		{"base and table", `return {status = "Healthy", message = table.concat({tostring(1), type(obj), "x"}, ",")}`,
			healthStatus{"Healthy", "1,table,x"}},
		{"reduced os", `return {status = "Healthy", message = os.date("!%Y-%m-%d %H:%M", 0) .. " " .. tostring(os.time() > 0) ..
			" " .. os.date("!%Y", os.time({year = 2026, month = 6, day = 15})) .. " " .. tostring(os.date("!*t", 86400).day)}`,
			healthStatus{"Healthy", "1970-01-01 00:00 true 2026 2"}},
		{"require os", `local o = require("os") return {status = "Healthy", message = o.date("!%Y", 0)}`,
			healthStatus{"Healthy", "1970"}},
		{"status outside Argo CD's list", `return {status = "Fine"}`,
			healthStatus{"Unknown", argoInvalidHealthStatus}},
		{"no opinion", `return nil`, healthStatus{}},
		{"empty table", `return {}`, healthStatus{}},
		{"table of another shape", `return {status = {"Healthy"}}`, healthStatus{}},
	}
	for _, c := range allowed {
		t.Run(c.name, func(t *testing.T) {
			got, err := runArgoHealth(c.script, map[string]any{}, false)
			if err != nil {
				t.Fatalf("Argo CD runs this script; here: %v", err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}

	// Each refused script fails in the sandbox. The library calls work once
	// an admin sets useOpenLibs, which shows they fail for the sandbox's
	// sake and not for a typo; require of a standard library, a runaway
	// loop and a result that is not a table fail either way.
	refused := []struct {
		name, body       string
		evenWithOpenLibs bool
	}{
		{"string library", `local m = string.format("%d", 1)`, false},
		{"string methods", `local m = ("x"):upper()`, false},
		{"math library", `local m = math.max(1, 2)`, false},
		{"io library", `local f = io.stdout`, false},
		{"require string", `local s = require("string")`, true},
		{"coroutine library", `local c = coroutine.create(function() end)`, false},
		{"debug library", `local m = debug.traceback()`, false},
		{"os.getenv", `local m = os.getenv("HOME")`, false},
		{"os.clock", `local c = os.clock()`, false},
		{"runaway loop", `while true do end`, true},
		{"non-table result", `do return "Healthy" end`, true},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			script := c.body + "\nreturn {status = \"Healthy\"}"
			if got, err := runArgoHealth(script, map[string]any{}, false); err == nil {
				t.Fatalf("Argo CD refuses this script in its sandbox; here it returned %+v", got)
			}
			_, err := runArgoHealth(script, map[string]any{}, true)
			if c.evenWithOpenLibs && err == nil {
				t.Errorf("Argo CD refuses this script even with useOpenLibs; here it ran")
			}
			if !c.evenWithOpenLibs && err != nil {
				t.Errorf("with useOpenLibs Argo CD runs this script; here: %v", err)
			}
		})
	}
}

// TestArgoCDObjectConversion checks obj looks to a script as Argo CD makes
// it look, both for objects read from YAML (float64 numbers) and from the
// API server (int64): 1-based arrays, nil for missing keys, numbers that
// compare as numbers.
func TestArgoCDObjectConversion(t *testing.T) {
	script := `
local s = obj.spec
return {status = "Healthy", message = s.list[1] .. "," .. s.list[3] .. "," .. tostring(s.list[4]) .. "," ..
  tostring(#s.list) .. "," .. tostring(s.missing) .. "," .. tostring(s.n + 1) .. "," .. tostring(s.n < 100) .. "," ..
  tostring(s.flag) .. "," .. tostring(s.null) .. "," .. s.big}`
	for name, n := range map[string]any{"float64": float64(41), "int64": int64(41), "int": 41} {
		t.Run(name, func(t *testing.T) {
			obj := map[string]any{"spec": map[string]any{
				"list": []any{"a", "b", "c"}, "n": n, "flag": true, "null": nil, "big": json.Number("12345678901234567890"),
			}}
			got, err := runArgoHealth(script, obj, false)
			if err != nil {
				t.Fatal(err)
			}
			if want := "a,c,nil,3,nil,42,true,true,nil,12345678901234567890"; got.Message != want {
				t.Errorf("message = %q, want %q", got.Message, want)
			}
		})
	}
}

// TestArgoCDConfigMap checks the argocd-cm patch carries exactly the
// kinds' health.lua files, runs them sandboxed, is what the README shows,
// and is a ConfigMap the API server accepts.
func TestArgoCDConfigMap(t *testing.T) {
	path := filepath.Join(repoRoot, "config", "argocd", "argocd-cm.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" || cm.Namespace != "argocd" {
		t.Errorf("%s is %s %s/%s, want ConfigMap argocd/argocd-cm", path, cm.Kind, cm.Namespace, cm.Name)
	}
	checks := loadKindChecks(t)
	want := map[string]string{}
	for _, k := range checks {
		want["resource.customizations.health.ovhbridge.io_"+k.kind] = k.script
	}
	for key, script := range cm.Data {
		if strings.HasPrefix(key, "resource.customizations.useOpenLibs.") {
			t.Errorf("%s enables the full Lua library (%s): the scripts are written for the sandbox", path, key)
			continue
		}
		w, ok := want[key]
		if !ok {
			t.Errorf("%s has an unexpected key %s", path, key)
			continue
		}
		if script != w {
			t.Errorf("%s: %s differs from the kind's health.lua", path, key)
		}
		delete(want, key)
	}
	for key := range want {
		t.Errorf("%s lacks %s", path, key)
	}

	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(data)+"```\n") {
		t.Errorf("README.md does not show %s as it is (a yaml code block with the file's exact content)", path)
	}

	kubectlStdin(t, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n"), "apply", "--server-side", "-f", "-")
	out := kubectl(t, "apply", "--server-side", "--dry-run=server", "-f", path)
	if !strings.Contains(out, "configmap/argocd-cm serverside-applied (server dry run)") {
		t.Errorf("server dry-run of %s:\n%s", path, out)
	}
}

// TestArgoCDConfigMapAsKustomizePatch: the README suggests listing the
// patch under `patches:` next to Argo CD's own argocd-cm; kustomize must
// expand the YAML anchor into three keys and keep the other settings.
func TestArgoCDConfigMapAsKustomizePatch(t *testing.T) {
	dir := t.TempDir()
	patch, err := os.ReadFile(filepath.Join(repoRoot, "config", "argocd", "argocd-cm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"argocd-cm.yaml": string(patch),
		"install.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
data:
  url: https://argocd.example.com
`,
		"kustomization.yaml": "resources:\n- install.yaml\npatches:\n- path: argocd-cm.yaml\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal([]byte(kubectl(t, "kustomize", dir)), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["url"] != "https://argocd.example.com" {
		t.Errorf("the patch lost Argo CD's own settings: %v", cm.Data)
	}
	for _, k := range loadKindChecks(t) {
		if got := cm.Data["resource.customizations.health.ovhbridge.io_"+k.kind]; got != k.script {
			t.Errorf("after kustomize, the %s health check is not its health.lua:\n%s", k.kind, got)
		}
	}
}

// TestArgoCDHealthOnLiveObjects stores every testdata object in the API
// server — which validates spec and status against the CRDs, so the
// testdata is what the operator can actually write — and runs the health
// check on the object as read back, the shape Argo CD's controller sees
// (int64 numbers, server defaults).
func TestArgoCDHealthOnLiveObjects(t *testing.T) {
	c := newClient(t)
	for _, k := range loadKindChecks(t) {
		for _, hc := range k.cases {
			t.Run(k.kind+"/"+hc.InputPath, func(t *testing.T) {
				live := liveObject(t, c, filepath.Join(k.dir, hc.InputPath))
				got, err := runArgoHealth(k.script, live.Object, false)
				if err != nil {
					t.Fatalf("health.lua: %v", err)
				}
				if got != hc.HealthStatus {
					t.Errorf("health = %+v\nwant     %+v", got, hc.HealthStatus)
				}
			})
		}
	}
}
