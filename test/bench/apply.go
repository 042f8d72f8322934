package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// applyResult is one `kubectl apply` of the 10× manifest alone: no
// operator, no simulator, only kubectl and the API server.
type applyResult struct {
	ServerSide bool
	Objects    int
	Took       time.Duration
	// Requests are the API server's requests by verb during the apply.
	Requests map[string]int
}

// applyModes times kubectl apply of the 10× objects, client-side then
// server-side, each into its own namespace of one fresh control plane.
func (b *bench) applyModes(ctx context.Context) ([]applyResult, error) {
	top := b.big().Top
	dir, err := os.MkdirTemp("", "ovhbridge-bench-apply-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cp, err := controlplane.Start(controlplane.Options{KubeconfigPath: filepath.Join(dir, "kubeconfig")})
	if err != nil {
		return nil, err
	}
	defer func() { _ = cp.Stop() }()
	manifest := top.objects(nil)
	var out []applyResult
	for _, serverSide := range []bool{false, true} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ns := "apply-client-side"
		if serverSide {
			ns = "apply-server-side"
		}
		if _, err := cp.Run("create", "namespace", ns); err != nil {
			return nil, err
		}
		before, err := scrape(cp)
		if err != nil {
			return nil, err
		}
		b.logf("apply: %d objects, server-side %v", top.objectCount(), serverSide)
		took, err := applyManifest(cp, ns, manifest, serverSide)
		if err != nil {
			return nil, err
		}
		after, err := scrape(cp)
		if err != nil {
			return nil, err
		}
		res := applyResult{ServerSide: serverSide, Objects: top.objectCount(), Took: took, Requests: map[string]int{}}
		for _, verb := range []string{"GET", "LIST", "POST", "PATCH", "PUT", "APPLY"} {
			m := map[string]string{"verb": verb}
			if n := int(after.Sum("apiserver_request_total", m) - before.Sum("apiserver_request_total", m)); n > 0 {
				res.Requests[verb] = n
			}
		}
		b.logf("apply: server-side %v took %.1fs; API server requests %v", serverSide, took.Seconds(), res.Requests)
		out = append(out, res)
	}
	return out, nil
}

func scrape(cp *controlplane.ControlPlane) (world.Samples, error) {
	out, err := cp.KubectlCmd("get", "--raw", "/metrics").Output()
	if err != nil {
		return nil, fmt.Errorf("API server metrics: %w", err)
	}
	return world.ParseSamples(bytesReader(out))
}
