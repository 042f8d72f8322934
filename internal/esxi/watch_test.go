package esxi_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

// changes subscribes to a pool and starts watching the harness's endpoint.
func watchHarness(t *testing.T, pool *esxi.Sessions, h *esxisim.Harness) (<-chan esxi.VMChange, esxi.Credentials) {
	t.Helper()
	ch, unsubscribe := pool.Subscribe()
	t.Cleanup(unsubscribe)
	creds := credsFor(t, h)
	if err := pool.Watch(testContext(t), creds); err != nil {
		t.Fatal(err)
	}
	return ch, creds
}

// expect reads changes until one matches, failing after a generous deadline.
// Only arrival is asserted; the latency is logged.
func expect(t *testing.T, ch <-chan esxi.VMChange, what string, match func(esxi.VMChange) bool) {
	t.Helper()
	start := time.Now()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case c := <-ch:
			if match(c) {
				t.Logf("%s: arrived after %v", what, time.Since(start))
				return
			}
		case <-deadline:
			t.Fatalf("%s: no change delivered", what)
		}
	}
}

func is(name string, kind esxi.ChangeKind) func(esxi.VMChange) bool {
	return func(c esxi.VMChange) bool { return c.VMName == name && c.Kind == kind }
}

// expectResync waits for a full listing: one resync per VM of the seed.
func expectResync(t *testing.T, ch <-chan esxi.VMChange, what string) {
	t.Helper()
	seen := map[string]bool{}
	expect(t, ch, what, func(c esxi.VMChange) bool {
		if c.Kind == esxi.VMResync {
			seen[c.VMName] = true
		}
		return seen["vyatta"] && seen["web1"]
	})
}

func TestWatcherDeliversOutOfBandChangesWithoutPolling(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{WatchResync: -1})
	ch, creds := watchHarness(t, pool, h)
	expectResync(t, ch, "initial listing")

	h.ResetCalls()
	// A person edits web1's MAC in the vSphere client.
	if err := h.SetNICMAC(ctx, "web1", "Network adapter 1", wanMAC); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "out-of-band MAC change", func(c esxi.VMChange) bool {
		return c.VMName == "web1" && c.Kind == esxi.VMModified && c.Endpoint == creds.Key()
	})
	// ...then powers vyatta on, and Tools start reporting.
	if err := h.SetPower(ctx, "vyatta", true); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "power change", is("vyatta", esxi.VMModified))
	if err := h.SetGuest("vyatta", esxisim.Guest{ToolsRunning: true}); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "guest change", is("vyatta", esxi.VMModified))
	// Inside the router's guest, someone deletes the gateway route, then
	// stops Tools: each is one more update of the same watch.
	if err := h.DeleteGuestRoute("vyatta", "198.51.100.254"); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "guest route deleted", is("vyatta", esxi.VMModified))
	if err := h.SetTools("vyatta", false); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "Tools stopped", is("vyatta", esxi.VMModified))

	// Everything above came from long polls: no property retrieval, no
	// other call.
	for method, n := range h.Calls() {
		if method != "WaitForUpdatesEx" {
			t.Errorf("the watcher polled: %d %s calls", n, method)
		}
	}
}

func TestWatcherRebuiltAfterSessionExpiry(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{WatchResync: -1})
	ch, creds := watchHarness(t, pool, h)
	expectResync(t, ch, "initial listing")

	if n, err := h.ExpireSessions(ctx); err != nil || n != 1 {
		t.Fatalf("expired %d sessions: %v", n, err)
	}
	// A reconcile notices first and logs in again, transparently.
	c, err := pool.Get(ctx, creds)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindVM(ctx, "web1"); err != nil {
		t.Fatalf("FindVM after expiry: %v", err)
	}
	// The watcher's view and collector died with the old session: it
	// rebuilds them and announces a full resync.
	expectResync(t, ch, "resync after re-login")

	h.ResetCalls()
	if err := h.SetNICPortGroup(ctx, "vyatta", "Network adapter 1", "WAN"); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "change after rebuild", is("vyatta", esxi.VMModified))
	if n := h.Calls()["Login"]; n != 0 {
		t.Fatalf("%d extra logins", n)
	}
}

// A watcher whose own long poll is the first to find the session gone
// logs in again and rebuilds too.
func TestWatcherNoticesExpiryItself(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{WatchResync: -1, WatchMaxWait: time.Second})
	ch, _ := watchHarness(t, pool, h)
	expectResync(t, ch, "initial listing")
	if _, err := h.ExpireSessions(ctx); err != nil {
		t.Fatal(err)
	}
	expectResync(t, ch, "resync after the watcher's own re-login")
	if err := h.SetPower(ctx, "web1", true); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "change after rebuild", is("web1", esxi.VMModified))
}

func TestWatcherReportsRenamesAndPeriodicResync(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{WatchResync: 300 * time.Millisecond, WatchMaxWait: time.Second})
	ch, _ := watchHarness(t, pool, h)
	expectResync(t, ch, "initial listing")
	expectResync(t, ch, "periodic resync")

	if err := h.RenameVM(ctx, "web1", "web2"); err != nil {
		t.Fatal(err)
	}
	// BridgedVMs naming the old name must learn it is gone.
	left, entered := false, false
	expect(t, ch, "rename", func(c esxi.VMChange) bool {
		left = left || (c.VMName == "web1" && c.Kind == esxi.VMLeft)
		entered = entered || (c.VMName == "web2" && c.Kind == esxi.VMEntered)
		return left && entered
	})
}

func TestSourceMapsChangesToRequests(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{WatchResync: -1})
	creds := credsFor(t, h)
	src := pool.Source(func(_ context.Context, c esxi.VMChange) []reconcile.Request {
		if c.Endpoint != creds.Key() || c.VMName != "web1" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: "edge", Name: "web1"}}}
	})
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	srcCtx, stop := context.WithCancel(ctx)
	defer stop()
	if err := src.Start(srcCtx, q); err != nil {
		t.Fatal(err)
	}
	if err := pool.Watch(ctx, creds); err != nil {
		t.Fatal(err)
	}
	if err := h.SetNICMAC(ctx, "web1", "Network adapter 1", wanMAC); err != nil {
		t.Fatal(err)
	}
	got := make(chan reconcile.Request, 1)
	go func() {
		r, shutdown := q.Get()
		if !shutdown {
			got <- r
		}
	}()
	select {
	case r := <-got:
		if r.Namespace != "edge" || r.Name != "web1" {
			t.Fatalf("request = %v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no reconcile request")
	}
}

// With a watch running, FindVM reads a VM in one call: the watch knows which
// VM bears the name, so no search. The hint may be out of date (the VM was
// renamed and the watch has not said so yet): the read is checked against
// the name and the search done, so a renamed VM is never found under its
// old name. Port groups are read once for callers close together.
func TestFindVMUsesTheWatchAndPortGroupsAreShared(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{WatchResync: -1})
	ch, creds := watchHarness(t, pool, h)
	expectResync(t, ch, "initial listing")
	c, err := pool.Get(ctx, creds)
	if err != nil {
		t.Fatal(err)
	}

	h.ResetCalls()
	for range 3 {
		vm, err := c.FindVM(ctx, "web1")
		if err != nil || vm.Name != "web1" {
			t.Fatalf("FindVM(web1) = %+v, %v", vm, err)
		}
	}
	if calls := h.Calls(); calls["FindChild"] != 0 || calls["CreateContainerView"] != 0 {
		t.Errorf("FindVM searched although the watch knew the VM: %v", calls)
	}

	// Renamed out of band: whatever the watch has heard yet, the old name
	// finds nothing and the new one finds the VM.
	if err := h.RenameVM(ctx, "web1", "web2"); err != nil {
		t.Fatal(err)
	}
	if vm, err := c.FindVM(ctx, "web1"); err == nil {
		t.Errorf("FindVM(web1) after the rename = %+v, want not found", vm)
	}
	if vm, err := c.FindVM(ctx, "web2"); err != nil || vm.Name != "web2" {
		t.Errorf("FindVM(web2) after the rename = %+v, %v", vm, err)
	}

	total := func() (n int64) {
		for _, v := range h.Calls() {
			n += v
		}
		return n
	}
	h.ResetCalls()
	if _, err := c.PortGroups(ctx); err != nil {
		t.Fatal(err)
	}
	one := total()
	for range 4 {
		if pgs, err := c.PortGroups(ctx); err != nil || len(pgs) == 0 {
			t.Fatalf("PortGroups = %v, %v", pgs, err)
		}
	}
	if one == 0 || total() != one {
		t.Errorf("a port group read made %d calls, 4 more right after made %d, want none", one, total()-one)
	}
}
