package harness

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// OVHWriteRoutes are the OVH calls that change something, with the short
// names outcome lines use.
var OVHWriteRoutes = map[string]string{
	ovhsim.RouteIPMove:     "move",
	ovhsim.RouteVMACCreate: "vmac",
	ovhsim.RouteVMACBind:   "bind",
	ovhsim.RouteVMACUnbind: "unbind",
}

// OVHWrites counts the write calls the simulators received, by short name,
// zero counts included so that a case can compare whole maps.
func OVHWrites(sims ...*ovhsim.Server) map[string]int {
	out := map[string]int{}
	for route, name := range OVHWriteRoutes {
		out[name] = 0
		for _, s := range sims {
			out[name] += s.CallCount(route)
		}
	}
	return out
}

// ESXiWriteMethods are the SOAP calls that change a VM, with short names.
var ESXiWriteMethods = map[string]string{
	"ReconfigVM_Task": "reconfig",
	"PowerOffVM_Task": "off",
	"PowerOnVM_Task":  "on",
}

// ESXiWrites counts the write calls the host received, by short name.
func ESXiWrites(h *esxisim.Harness) map[string]int {
	// A call on an expired session is refused before it does anything;
	// whether the operator's next call lands before or after its re-login
	// is timing, not behaviour.
	calls, refused := h.Calls(), h.CallsWithoutSession()
	out := map[string]int{}
	for method, name := range ESXiWriteMethods {
		out[name] = int(calls[method] - refused[method])
	}
	return out
}

// FormatCounts prints counts sorted by name: "move=1 vmac=0".
func FormatCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// ExpectCounts fails the test unless got equals want for every key of
// either.
func ExpectCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(mergeKeys(got, want))) {
		if got[k] != want[k] {
			t.Errorf("%s: %s = %d, want %d (all: %s)", what, k, got[k], want[k], FormatCounts(got))
		}
	}
}

func mergeKeys(a, b map[string]int) map[string]int {
	out := maps.Clone(a)
	for k := range b {
		out[k] = 0
	}
	return out
}

// Outcome logs the one line the fault note is built from (collect with
// `go test -v ./test/faults/... | grep case`).
func Outcome(t *testing.T, name, during string, converged time.Duration, writes string) {
	t.Helper()
	t.Logf("case %s: during=%s converged in %s, writes %s", name, during, converged.Round(10*time.Millisecond), writes)
}

// Transition is one change of one condition, as a watcher saw it.
type Transition struct{ Type, Status, Reason, Message string }

func (tr Transition) String() string {
	return fmt.Sprintf("%s=%s/%s", tr.Type, tr.Status, tr.Reason)
}

// Trail records every condition transition of one object, as a watcher
// (kubectl, Argo CD) sees them: "Synced=False/Unreachable" and its message.
// A fault that lasted one reconcile is in it even when no poll would have
// caught it.
type Trail struct {
	mu   sync.Mutex
	seen []Transition
	last map[string]Transition
}

// Follow starts a Trail for obj (list is its kind's list type).
func Follow(t *testing.T, obj client.Object, list client.ObjectList) *Trail {
	t.Helper()
	wc, err := client.NewWithWatch(cp.Config, client.Options{Scheme: Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), list, client.InNamespace(obj.GetNamespace()),
		client.MatchingFields{"metadata.name": obj.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	tr := &Trail{last: map[string]Transition{}}
	go func() {
		for ev := range w.ResultChan() {
			m, ok := ev.Object.(Managed)
			if !ok {
				continue
			}
			tr.mu.Lock()
			for _, c := range m.GetResourceStatus().Conditions {
				next := Transition{c.Type, string(c.Status), c.Reason, c.Message}
				if tr.last[c.Type] != next {
					tr.last[c.Type] = next
					tr.seen = append(tr.seen, next)
				}
			}
			tr.mu.Unlock()
		}
	}()
	return tr
}

// Transitions returns the transitions so far, oldest first.
func (tr *Trail) Transitions() []Transition {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.seen)
}

// Seen returns the transitions so far as "Type=Status/Reason", oldest
// first (a change of message alone repeats the previous entry).
func (tr *Trail) Seen() []string {
	var out []string
	for _, t := range tr.Transitions() {
		out = append(out, t.String())
	}
	return out
}

// Has reports whether a transition to typ=status/reason was seen.
func (tr *Trail) Has(typ, statusReason string) bool {
	return slices.Contains(tr.Seen(), typ+"="+statusReason)
}

// Await waits until one of the transitions "Type=Status/Reason" was seen
// and returns it.
func (tr *Trail) Await(t *testing.T, timeout time.Duration, want ...string) string {
	t.Helper()
	var got string
	Eventually(t, timeout, strings.Join(want, " or "), func() error {
		seen := tr.Seen()
		for _, w := range want {
			if slices.Contains(seen, w) {
				got = w
				return nil
			}
		}
		return fmt.Errorf("seen so far: %v", seen)
	})
	return got
}

// ConditionMessage re-reads obj and returns condition typ's message.
func ConditionMessage(obj Managed, typ string) string {
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return ""
	}
	if c := meta.FindStatusCondition(obj.GetResourceStatus().Conditions, typ); c != nil {
		return c.Message
	}
	return ""
}

// UpdateSecret changes a Secret's string data (or, with nothing to change,
// only its annotations, which still wakes the objects that use it).
func UpdateSecret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	ctx := context.Background()
	var s corev1.Secret
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations["faults.ovhbridge.io/touched"] = time.Now().Format(time.RFC3339Nano)
	if err := k8sClient.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
}

// Update re-reads obj, applies change and writes it back, retrying on
// conflicts with the operator's status writes.
func Update[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	ctx := context.Background()
	Eventually(t, 10*time.Second, "update of "+obj.GetName(), func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return k8sClient.Update(ctx, obj)
	})
}

// OVHDown closes sim, as an OVH outage: the endpoint in the Secret refuses
// connections. The returned function serves sim's world again on the same
// address (tasks and counters start afresh) and returns the new simulator.
func OVHDown(t *testing.T, sim *ovhsim.Server, opts ovhsim.Options) (back func() *ovhsim.Server) {
	t.Helper()
	opts.World, opts.Addr = sim.World(), strings.TrimPrefix(sim.URL(), "http://")
	sim.Close()
	return func() *ovhsim.Server {
		t.Helper()
		next, err := ovhsim.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := next.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(next.Close)
		return next
	}
}

// Proxy forwards TCP connections to a target and can be cut (listener and
// open connections closed, so the port refuses connections) and restored on
// the same address: a host that becomes unreachable and comes back, with
// its TLS identity untouched since bytes pass through.
type Proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	l     net.Listener
	conns map[net.Conn]struct{}
}

// NewProxy starts forwarding a local port to target.
func NewProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, target: target, addr: l.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(l)
	t.Cleanup(p.Down)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Down closes the listener and every open connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		_ = p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// Up listens again on the same address.
func (p *Proxy) Up() {
	p.t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(l)
}

func (p *Proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.l == nil { // cut meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	_ = c.Close()
	_ = up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// ESXiBehindProxy is ESXi with the Secret's URL pointing at a Proxy in
// front of the host, so that a case can make the host unreachable and
// bring it back.
func ESXiBehindProxy(t *testing.T, ns string, opts esxisim.Options) (*esxisim.Harness, *Proxy) {
	t.Helper()
	sim := esxisim.StartT(t, opts)
	p := NewProxy(t, sim.URL.Host)
	data := sim.SecretData()
	u := *sim.URL
	u.Host = p.Addr()
	data["url"] = []byte(u.String())
	Create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ESXiSecretName}, Data: data})
	return sim, p
}
