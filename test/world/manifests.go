package world

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Intervals shorten the samples' periodic checks so that a demo or a test
// does not wait minutes to see drift. Zero leaves a sample's value.
type Intervals struct {
	// RouterObserve applies the RouterConfig under managementPolicy Observe,
	// the way one adopts a router that already runs.
	RouterObserve bool

	OVHSync      time.Duration // FailoverIP spec.ovh.syncInterval
	RouterHealth time.Duration // RouterConfig spec.health.interval
	ESXiResync   time.Duration // BridgedVM spec.esxi.resyncInterval
}

// Secrets renders the three credential Secrets for this world, with the
// names config/samples refers to.
func (w *World) Secrets() []byte {
	esxi := map[string]string{}
	for k, v := range w.ESXi.SecretData() {
		esxi[k] = string(v)
	}
	secrets := []map[string]any{
		secret("ovh-credentials", map[string]string{
			"endpoint": w.OVH.Endpoint(), "applicationKey": ovhAppKey,
			"applicationSecret": w.ovhAppSecret, "consumerKey": w.ovhConsumerKey,
		}),
		secret("esxi-credentials", esxi),
		secret("router-credentials", map[string]string{
			"username": w.Router.Username(), "password": w.Router.Password(), "hostKey": w.Router.HostKeyLine(),
		}),
	}
	var out bytes.Buffer
	for _, s := range secrets {
		b, _ := yaml.Marshal(s)
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes()
}

func secret(name string, data map[string]string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata":   map[string]any{"name": name},
		"stringData": data,
	}
}

// Samples renders config/samples (without its placeholder Secrets) against
// this world: the router address becomes the simulated router's SSH address,
// and the intervals are shortened as asked.
func (w *World) Samples(samplesDir string, iv Intervals) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if obj == nil {
				continue
			}
			u := unstructured.Unstructured{Object: obj}
			if err := w.adapt(&u, iv); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if u.GetKind() == "" {
				continue
			}
			b, err := yaml.Marshal(u.Object)
			if err != nil {
				return nil, err
			}
			out.WriteString("---\n")
			out.Write(b)
		}
	}
	return out.Bytes(), nil
}

func (w *World) adapt(u *unstructured.Unstructured, iv Intervals) error {
	set := func(v any, path ...string) error { return unstructured.SetNestedField(u.Object, v, path...) }
	switch u.GetKind() {
	case "Secret":
		u.Object = map[string]any{} // the world brings real ones
	case "FailoverIP":
		if iv.OVHSync > 0 {
			return set(iv.OVHSync.String(), "spec", "ovh", "syncInterval")
		}
	case "BridgedVM":
		if iv.ESXiResync > 0 {
			return set(iv.ESXiResync.String(), "spec", "esxi", "resyncInterval")
		}
	case "RouterConfig":
		if err := set(w.Router.SSHAddr(), "spec", "router", "address"); err != nil {
			return err
		}
		if iv.RouterObserve {
			if err := set("Observe", "spec", "managementPolicy"); err != nil {
				return err
			}
		}
		if iv.RouterHealth > 0 {
			return set(iv.RouterHealth.String(), "spec", "health", "interval")
		}
	}
	return nil
}
