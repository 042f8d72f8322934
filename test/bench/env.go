package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// env is one complete installation: a fresh control plane, the simulators
// holding top's world, and the operator binary as its own process. Every
// measurement starts from a fresh env so that no cache (the operator's, the
// API server's) carries over from the one before.
type env struct {
	b    *bench
	top  topology
	size size // the scale runs' size (profile names)
	dir  string
	cp   *controlplane.ControlPlane
	w    *world.World
	// hosts are the ESXi hosts, hosts[0] being the world's own; routers
	// likewise.
	hosts   []*esxisim.Harness
	routers []*routersim.Router
	// ovhLog stamps every request to the OVH simulator with its time and
	// consumer key: the Secrets' endpoint is ovhLogURL, in front of it.
	ovhLog    *ovhsim.RequestLog
	ovhLogURL string
	op        *world.Operator
	kube      client.Client
	tr        *tracker
	// pprofAddr serves the operator's pprof endpoints when profiling (with
	// -profile, and always at 10×); profiles go to profDir.
	pprofAddr string
	profiling bool
	profDir   string
	probe     *vmProbe
	closers   []func()
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1.AddToScheme(s)
	return s
}

// startEnv brings everything up but the operator, and applies the Secrets.
func (b *bench) startEnv(ctx context.Context, top topology, opts world.Options) (_ *env, err error) {
	if err := top.validate(); err != nil {
		return nil, err
	}
	e := &env{b: b, top: top}
	defer func() {
		if err != nil {
			e.close() // e, not the nil returned with err
		}
	}()
	if e.dir, err = os.MkdirTemp("", "ovhbridge-bench-"); err != nil {
		return nil, err
	}
	if e.cp, err = controlplane.Start(controlplane.Options{KubeconfigPath: filepath.Join(e.dir, "kubeconfig")}); err != nil {
		return nil, err
	}
	seed := top.ovhWorld()
	opts.OVH, opts.ESXiVMs, opts.RouterSeed = &seed, top.vms(0), top.routerSeed(0)
	if e.w, err = world.Start(opts); err != nil {
		return nil, err
	}
	e.ovhLog = ovhsim.NewRequestLog(e.w.OVH)
	ovhFront := httptest.NewServer(e.ovhLog)
	e.closers = append(e.closers, ovhFront.Close)
	e.ovhLogURL = ovhFront.URL
	if e.hosts, err = startHosts(e.w, top); err != nil {
		return nil, err
	}
	if e.routers, err = top.startRouters(e.w); err != nil {
		return nil, err
	}
	scheme := newScheme()
	if e.kube, err = client.New(e.cp.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if _, err = e.cp.Run("create", "namespace", top.Namespace); err != nil {
		return nil, err
	}
	if e.tr, err = startTracker(ctx, e.cp.Config, scheme, top.Namespace); err != nil {
		return nil, err
	}
	if _, err = e.apply(top.secrets(e.ovhLogURL+"/1.0", e.hosts, e.routers)); err != nil {
		return nil, err
	}
	return e, nil
}

// startOperator runs the operator binary with the world's usual flags
// (world.StartOperator) plus args, and pprof on loopback when profiling.
func (e *env) startOperator(args ...string) error {
	args = append(args, e.b.operatorArgs...)
	if e.b.profileDir != "" || e.profiling {
		e.profDir = e.b.profileDir
		if e.profDir == "" {
			e.profDir = e.dir
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		e.pprofAddr = port
		args = append(args, "--pprof-bind-address", port)
	}
	op, err := world.StartOperator(e.b.operator, e.cp.Kubeconfig, e.dir, args...)
	if err != nil {
		return err
	}
	e.op = op
	return nil
}

// stopOperator reads the operator's resource use, then stops it.
func (e *env) stopOperator() (usage, error) {
	if e.op == nil {
		return usage{}, nil
	}
	u, err := readUsage(e.op.Pid())
	if stopErr := e.op.Stop(); stopErr != nil && err == nil {
		err = fmt.Errorf("stopping the operator: %w", stopErr)
	}
	e.op = nil
	return u, err
}

func (e *env) usage() (usage, error) { return readUsage(e.op.Pid()) }

// apply runs one `kubectl apply` of a multi-document manifest in the
// namespace and returns how long kubectl took; applyWith can ask for
// server-side apply.
func (e *env) apply(manifest []byte) (time.Duration, error) { return e.applyWith(manifest, false) }

func (e *env) applyWith(manifest []byte, serverSide bool) (time.Duration, error) {
	return applyManifest(e.cp, e.top.Namespace, manifest, serverSide)
}

// applySize applies as the size says: server-side or not, in parallel
// parts or not.
func (e *env) applySize(manifest []byte, sz size) (time.Duration, error) {
	return applyParallel(e.cp, e.top.Namespace, manifest, sz.ServerSide, sz.Parallel)
}

// applyParallel splits a manifest's documents round robin into n parts
// and applies them with n kubectl processes at once: how a person gets
// 10000 objects in faster than one kubectl, which sends them one by one.
func applyParallel(cp *controlplane.ControlPlane, ns string, manifest []byte, serverSide bool, n int) (time.Duration, error) {
	if n <= 1 {
		return applyManifest(cp, ns, manifest, serverSide)
	}
	parts := make([]bytes.Buffer, n)
	for i, doc := range bytes.Split(bytes.TrimPrefix(manifest, []byte("---\n")), []byte("\n---\n")) {
		parts[i%n].WriteString("---\n")
		parts[i%n].Write(doc)
		parts[i%n].WriteString("\n")
	}
	start := time.Now()
	var g errgroup.Group
	for i := range parts {
		g.Go(func() error {
			_, err := applyManifest(cp, ns, parts[i].Bytes(), serverSide)
			return err
		})
	}
	err := g.Wait()
	return time.Since(start), err
}

func applyManifest(cp *controlplane.ControlPlane, ns string, manifest []byte, serverSide bool) (time.Duration, error) {
	args := []string{"apply", "-n", ns, "-f", "-"}
	if serverSide {
		args = append(args, "--server-side", "--field-manager=bench")
	}
	cmd := cp.KubectlCmd(args...)
	cmd.Stdin = bytes.NewReader(manifest)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("kubectl apply: %w\n%s", err, tail(out, 2000))
	}
	return time.Since(start), nil
}

// startHosts starts the ESXi hosts beyond the world's own (host 0), in
// parallel: each builds its inventory of VMs.
func startHosts(w *world.World, top topology) ([]*esxisim.Harness, error) {
	hosts := make([]*esxisim.Harness, max(top.Hosts, 1))
	hosts[0] = w.ESXi
	var g errgroup.Group
	for h := 1; h < len(hosts); h++ {
		g.Go(func() error {
			hs, err := esxisim.Start(esxisim.Options{PoweredOn: true, VMs: top.vms(h)})
			hosts[h] = hs
			return err
		})
	}
	err := g.Wait()
	if err != nil {
		for _, hs := range hosts[1:] {
			if hs != nil {
				hs.Close()
			}
		}
		return nil, err
	}
	return hosts, nil
}

// keys names every object of the topology, as the tracker keys them.
func (e *env) keys() []string {
	var keys []string
	for i := range e.top.IPs {
		keys = append(keys, kindFIP+"/"+e.top.fipName(i))
	}
	for i := range e.top.vmCount() {
		keys = append(keys, kindBVM+"/"+e.top.bvmName(i))
	}
	for r := range e.top.Routers {
		keys = append(keys, kindRTC+"/"+e.top.rtcName(r))
	}
	return keys
}

// injectLatency delays every call the operator makes to the three systems:
// every OVH API route, the ESXi SOAP methods named (esxisim delays per
// method), and every router SSH command.
func (e *env) injectLatency(d time.Duration, esxiMethods []string) {
	e.w.OVH.InjectFault("*", ovhsim.Fault{Latency: d})
	for _, h := range e.hosts {
		for _, m := range esxiMethods {
			h.SetMethodDelay(m, d)
		}
	}
	for _, r := range e.routers {
		r.SetLatency(d)
	}
}

// routerCalls sums the routers' call counters, the SSH routers' apart from
// the API routers'.
func (e *env) routerCalls() (ssh, api map[string]int) {
	ssh, api = map[string]int{}, map[string]int{}
	for i, r := range e.routers {
		sum := ssh
		if e.top.apiRouter(i) {
			sum = api
		}
		for k, v := range r.Calls() {
			sum[k] += v
		}
	}
	return ssh, api
}

// esxiCalls sums the hosts' SOAP call counters.
func (e *env) esxiCalls() map[string]int64 {
	sum := map[string]int64{}
	for _, h := range e.hosts {
		for k, v := range h.Calls() {
			sum[k] += v
		}
	}
	return sum
}

// fail adds the operator's log location to an error.
func (e *env) fail(err error) error {
	if e.op != nil {
		return fmt.Errorf("%w (operator log: %s)", err, e.op.LogPath)
	}
	return err
}

func (e *env) close() {
	if e.op != nil {
		_, _ = e.stopOperator()
	}
	if e.tr != nil {
		e.tr.Close()
	}
	for _, c := range e.closers {
		c()
	}
	for _, r := range e.routers[min(1, len(e.routers)):] {
		r.Close() // router 0 is the world's own
	}
	for _, h := range e.hosts[min(1, len(e.hosts)):] {
		h.Close() // host 0 is the world's own
	}
	if e.w != nil {
		e.w.Close()
	}
	if e.cp != nil {
		_ = e.cp.Stop()
	}
	if e.dir != "" && !e.b.keepLogs {
		_ = os.RemoveAll(e.dir)
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
