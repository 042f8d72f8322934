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
	Parallel   int // kubectl processes at once
	Objects    int
	Took       time.Duration
	// Requests are the API server's requests by verb during the apply.
	Requests map[string]int
}

// applyParallelism is how many kubectl processes the parallel mode runs.
const applyParallelism = 4

// applyModes times kubectl apply of the 10× objects, client-side, then
// server-side, then server-side split among applyParallelism kubectl
// processes, each into its own namespace of one fresh control plane.
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
	modes := []struct {
		serverSide bool
		parallel   int
	}{{false, 1}, {true, 1}, {true, applyParallelism}}
	for _, m := range modes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		serverSide := m.serverSide
		ns := fmt.Sprintf("apply-client-side-%d", m.parallel)
		if serverSide {
			ns = fmt.Sprintf("apply-server-side-%d", m.parallel)
		}
		if _, err := cp.Run("create", "namespace", ns); err != nil {
			return nil, err
		}
		before, err := scrape(cp)
		if err != nil {
			return nil, err
		}
		b.logf("apply: %d objects, server-side %v, %d kubectl at once", top.objectCount(), serverSide, m.parallel)
		took, err := applyParallel(cp, ns, manifest, serverSide, m.parallel)
		if err != nil {
			return nil, err
		}
		after, err := scrape(cp)
		if err != nil {
			return nil, err
		}
		res := applyResult{ServerSide: serverSide, Parallel: m.parallel, Objects: top.objectCount(), Took: took, Requests: map[string]int{}}
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
