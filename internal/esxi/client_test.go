package esxi_test

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vmware/govmomi/simulator"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
	"github.com/ovhbridge/ovhbridge-operator/internal/metrics"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

const wanMAC = "02:00:00:aa:bb:cc" // an OVH-style virtual MAC

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func credsFor(t *testing.T, h *esxisim.Harness, extra ...string) esxi.Credentials {
	t.Helper()
	data := h.SecretData()
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(data, extra[i])
			continue
		}
		data[extra[i]] = []byte(extra[i+1])
	}
	c, err := esxi.CredentialsFromSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPool returns a pool closed at the end of the test (before the harness,
// which was started first). A short MaxWait keeps harness shutdown quick when
// a test abandons a wait on purpose (re-login).
func newPool(t *testing.T, opts esxi.Options) *esxi.Sessions {
	t.Helper()
	if opts.WatchMaxWait == 0 {
		opts.WatchMaxWait = 2 * time.Second
	}
	p := esxi.NewSessions(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

func connect(t *testing.T, h *esxisim.Harness) esxi.Client {
	t.Helper()
	c, err := newPool(t, esxi.Options{}).Get(testContext(t), credsFor(t, h))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitTask polls a task until it is done, as a controller would across
// reconciles.
func waitTask(t *testing.T, ctx context.Context, c esxi.Client, ref string) esxi.TaskInfo {
	t.Helper()
	if ref == "" {
		t.Fatal("no task was started")
	}
	for {
		info, err := c.Task(ctx, ref)
		if err != nil {
			t.Fatalf("Task(%s): %v", ref, err)
		}
		if info.Done() {
			return info
		}
		select {
		case <-ctx.Done():
			t.Fatalf("task %s not done: %+v", ref, info)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestFindVMReadsNICsPowerAndGuest(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	c := connect(t, h)

	want, err := h.VM(ctx, "vyatta")
	if err != nil {
		t.Fatal(err)
	}
	vm, err := c.FindVM(ctx, "vyatta")
	if err != nil {
		t.Fatal(err)
	}
	if vm.Name != "vyatta" || vm.PowerState != esxi.PoweredOff || !strings.HasPrefix(vm.Ref, "VirtualMachine:") {
		t.Fatalf("vm = %+v", vm)
	}
	if len(vm.NICs) != 2 {
		t.Fatalf("NICs = %+v", vm.NICs)
	}
	for i, n := range vm.NICs {
		w := want.NICs[i]
		if n.Key != w.Key || n.Label != w.Label || n.Index != i || n.MAC != strings.ToLower(w.MAC) ||
			n.PortGroup != w.PortGroup || n.AddressType != "generated" {
			t.Errorf("NIC %d = %+v, want %+v", i, n, w)
		}
	}
	if n, ok := vm.NICByLabel("network adapter 2"); !ok || n.PortGroup != "WAN" {
		t.Errorf("NICByLabel = %+v, %v", n, ok)
	}
	if _, ok := vm.NICByIndex(2); ok {
		t.Error("NICByIndex(2) found a third NIC")
	}
	if vm.Guest.ToolsRunning || len(vm.Guest.IPs) != 0 {
		t.Errorf("guest = %+v, want nothing without Tools", vm.Guest)
	}

	// What Tools report on the seed's router: the /32 on eth2 and the
	// gateway route out of it.
	wan := vm.NICs[1].MAC
	if err := h.SetGuest("vyatta", esxisim.Guest{
		ToolsRunning: true,
		NICs:         []esxisim.GuestNIC{{MAC: strings.ToUpper(wan), Network: "WAN", IPs: []string{"203.0.113.123"}}},
		Routes: []esxisim.GuestRoute{
			{Network: "198.51.100.254", PrefixLength: 32, Device: "1"},
			{Network: "0.0.0.0", PrefixLength: 0, Gateway: "198.51.100.254", Device: "1"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	vm, err = c.FindVM(ctx, "vyatta")
	if err != nil {
		t.Fatal(err)
	}
	wantGuest := esxi.Guest{
		ToolsRunning: true,
		IPs:          map[string][]string{wan: {"203.0.113.123"}},
		NICs:         []esxi.GuestNIC{{MAC: wan, Addresses: []string{"203.0.113.123/32"}}},
		Routes: []esxi.Route{
			{Network: "198.51.100.254", PrefixLength: 32, Device: "1"},
			{Network: "0.0.0.0", PrefixLength: 0, Gateway: "198.51.100.254", Device: "1"},
		},
	}
	if !reflect.DeepEqual(vm.Guest, wantGuest) {
		t.Fatalf("guest = %+v, want %+v", vm.Guest, wantGuest)
	}
}

// A Linux guest as Tools report it (the simulator's seed web1): every
// address with its prefix length, IPv6 link-local included, NICs in Tools'
// order, on-link routes without a gateway.
func TestFindVMReadsGuestPrefixesAndOnLinkRoutes(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	vm, err := connect(t, h).FindVM(testContext(t), "web1")
	if err != nil {
		t.Fatal(err)
	}
	g := vm.Guest
	if !g.ToolsRunning || len(g.NICs) != 1 || g.NICs[0].MAC != vm.NICs[0].MAC {
		t.Fatalf("guest = %+v", g)
	}
	if a := g.NICs[0].Addresses; len(a) != 2 || a[0] != "203.0.113.124/32" || !strings.HasPrefix(a[1], "fe80::") || !strings.HasSuffix(a[1], "/64") {
		t.Errorf("addresses = %v", a)
	}
	want := []esxi.Route{
		{Network: "fe80::", PrefixLength: 64, Device: "0"},
		{Network: "198.51.100.254", PrefixLength: 32, Device: "0"},
		{Network: "0.0.0.0", PrefixLength: 0, Gateway: "198.51.100.254", Device: "0"},
	}
	if !reflect.DeepEqual(g.Routes, want) {
		t.Errorf("routes = %+v, want %+v", g.Routes, want)
	}
}

func TestFindVMMissingIsNotFound(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	_, err := connect(t, h).FindVM(testContext(t), "mail1")
	if !cause.Is(err, cause.NotFound) || !strings.Contains(err.Error(), "mail1") {
		t.Fatalf("err = %v (kind %q), want NotFound naming the VM", err, cause.KindOf(err))
	}
}

func TestReconfigurePoweredOffVM(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	c := connect(t, h)
	vm, err := c.FindVM(ctx, "vyatta")
	if err != nil {
		t.Fatal(err)
	}
	wan := vm.NICs[1]

	ref, err := c.ReconfigureNIC(ctx, vm.Ref, wan.Key, "02-00-00-AA-BB-CC", "")
	if err != nil {
		t.Fatal(err)
	}
	if info := waitTask(t, ctx, c, ref); info.State != esxi.TaskSuccess {
		t.Fatalf("task = %+v", info)
	}
	vm, err = c.FindVM(ctx, "vyatta")
	if err != nil {
		t.Fatal(err)
	}
	got := vm.NICs[1]
	// The whole device was edited: the port group survived the MAC change.
	if got.MAC != wanMAC || got.AddressType != "manual" || got.PortGroup != "WAN" || got.Label != wan.Label {
		t.Fatalf("NIC after reconfigure = %+v", got)
	}
	if vm.NICs[0].MAC == wanMAC {
		t.Fatal("the other NIC changed too")
	}

	// Asking again for what is already there starts nothing.
	ref, err = c.ReconfigureNIC(ctx, vm.Ref, wan.Key, wanMAC, "WAN")
	if err != nil || ref != "" {
		t.Fatalf("no-op reconfigure = %q, %v; want no task", ref, err)
	}

	// Port group only: the MAC stays.
	ref, err = c.ReconfigureNIC(ctx, vm.Ref, wan.Key, "", "LAN")
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, ctx, c, ref)
	vm, _ = c.FindVM(ctx, "vyatta")
	if got := vm.NICs[1]; got.PortGroup != "LAN" || got.MAC != wanMAC {
		t.Fatalf("NIC after port group change = %+v", got)
	}
}

func TestReconfigureRunningVMFailsWithInvalidPowerState(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	ctx := testContext(t)
	c := connect(t, h)
	vm, err := c.FindVM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if vm.PowerState != esxi.PoweredOn {
		t.Fatalf("power = %s", vm.PowerState)
	}
	ref, err := c.ReconfigureNIC(ctx, vm.Ref, vm.NICs[0].Key, wanMAC, "")
	if err != nil {
		t.Fatal(err)
	}
	info := waitTask(t, ctx, c, ref)
	if info.State != esxi.TaskError || info.Fault != "InvalidPowerState" || info.FaultKind != cause.Conflict || info.Error == "" {
		t.Fatalf("task = %+v, want an InvalidPowerState failure", info)
	}
	vm, _ = c.FindVM(ctx, "web1")
	if vm.NICs[0].MAC == wanMAC {
		t.Fatal("MAC changed on a running VM")
	}
	// A port group change is allowed while running, as on ESXi.
	ref, err = c.ReconfigureNIC(ctx, vm.Ref, vm.NICs[0].Key, "", "LAN")
	if err != nil {
		t.Fatal(err)
	}
	if info := waitTask(t, ctx, c, ref); info.State != esxi.TaskSuccess {
		t.Fatalf("port group task = %+v", info)
	}
}

func TestPowerTasks(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	c := connect(t, h)
	vm, err := c.FindVM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.PowerOn(ctx, vm.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if info := waitTask(t, ctx, c, ref); info.State != esxi.TaskSuccess || info.Completed.IsZero() {
		t.Fatalf("power-on task = %+v", info)
	}
	if st, _ := h.VM(ctx, "web1"); st.PowerState != "poweredOn" {
		t.Fatalf("power = %s after power-on", st.PowerState)
	}
	// Task references outlive the session that started them (they are
	// stored in status across operator restarts).
	other := connect(t, h)
	if info, err := other.Task(ctx, ref); err != nil || info.State != esxi.TaskSuccess {
		t.Fatalf("task read from another session = %+v, %v", info, err)
	}
	// A second power-on fails on the host, as a task.
	ref2, err := c.PowerOn(ctx, vm.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if info := waitTask(t, ctx, c, ref2); info.State != esxi.TaskError || info.FaultKind != cause.Conflict {
		t.Fatalf("second power-on = %+v", info)
	}
	ref, err = c.PowerOff(ctx, vm.Ref)
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, ctx, c, ref)
	if vm, _ := c.FindVM(ctx, "web1"); vm.PowerState != esxi.PoweredOff {
		t.Fatalf("power = %s after power-off", vm.PowerState)
	}
	if _, err := c.Task(ctx, "Task:no-such-task"); !cause.Is(err, cause.NotFound) {
		t.Fatalf("unknown task: %v", err)
	}
	if _, err := c.PowerOn(ctx, "not-a-ref"); !cause.Is(err, cause.Invalid) {
		t.Fatalf("malformed ref: %v", err)
	}
}

func TestPortGroupsAndMissingPortGroupRefusedLocally(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	c := connect(t, h)
	pgs, err := c.PortGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pgs, []string{"LAN", "Management Network", "VM Network", "WAN"}) {
		t.Fatalf("port groups = %q", pgs)
	}
	vm, err := c.FindVM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	h.ResetCalls()
	_, err = c.ReconfigureNIC(ctx, vm.Ref, vm.NICs[0].Key, "", "DMZ")
	if !cause.Is(err, cause.NotFound) || !strings.Contains(err.Error(), `"DMZ"`) {
		t.Fatalf("err = %v, want NotFound naming the port group", err)
	}
	if n := h.Calls()["ReconfigVM_Task"]; n != 0 {
		t.Fatalf("a reconfigure was sent to a missing port group (%d calls)", n)
	}
	if _, err := c.ReconfigureNIC(ctx, vm.Ref, 9999, wanMAC, ""); !cause.Is(err, cause.NotFound) {
		t.Fatalf("unknown NIC key: %v", err)
	}
	if _, err := c.ReconfigureNIC(ctx, vm.Ref, vm.NICs[0].Key, "01:00:5e:00:00:01", ""); !cause.Is(err, cause.Invalid) {
		t.Fatalf("multicast MAC: %v", err)
	}
}

func TestTrust(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	other := esxisim.StartT(t, esxisim.Options{}) // another host, another certificate
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{})

	plain := strings.ToLower(strings.ReplaceAll(h.Thumbprint, ":", ""))
	for name, creds := range map[string]esxi.Credentials{
		"pinned thumbprint":         credsFor(t, h),
		"pinned, lower, no colons":  credsFor(t, h, "thumbprint", plain),
		"CA from the secret":        credsFor(t, h, "thumbprint", "", "ca.crt", string(h.CAPEM)),
		"insecure, explicitly":      credsFor(t, h, "thumbprint", "", "insecureSkipTLSVerify", "true"),
		"pin wins over bad CA":      credsFor(t, h, "ca.crt", string(other.CAPEM)),
		"pin wins over insecure=on": credsFor(t, h, "insecureSkipTLSVerify", "true"),
	} {
		if _, err := pool.Get(ctx, creds); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	for name, creds := range map[string]esxi.Credentials{
		"thumbprint of another host": credsFor(t, h, "thumbprint", other.Thumbprint),
		"CA of another host":         credsFor(t, h, "thumbprint", "", "ca.crt", string(other.CAPEM)),
		"default (system roots)":     credsFor(t, h, "thumbprint", ""),
	} {
		h.ResetCalls()
		_, err := pool.Get(ctx, creds)
		if !cause.Is(err, cause.TrustFailure) {
			t.Errorf("%s: err = %v (kind %q), want TrustFailure", name, err, cause.KindOf(err))
			continue
		}
		if !strings.Contains(err.Error(), h.Thumbprint) {
			t.Errorf("%s: %v does not show the presented thumbprint", name, err)
		}
		if n := h.Calls()["Login"]; n != 0 {
			t.Errorf("%s: the password was sent to an untrusted server (%d logins)", name, n)
		}
	}
}

func TestBadPasswordAndUnreachable(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{})
	_, err := pool.Get(ctx, credsFor(t, h, "password", "hunter2"))
	if !cause.Is(err, cause.CredentialsInvalid) || !strings.Contains(err.Error(), `"root"`) {
		t.Fatalf("err = %v (kind %q), want CredentialsInvalid naming the user", err, cause.KindOf(err))
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), h.Password) {
		t.Fatalf("error shows a password: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, err = pool.Get(ctx, credsFor(t, h, "url", "https://"+addr+"/sdk"))
	if !cause.Is(err, cause.Unreachable) {
		t.Fatalf("closed port: err = %v (kind %q), want Unreachable", err, cause.KindOf(err))
	}
}

func TestOneSessionPerKeyAndMetrics(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{})
	before := testutil.ToFloat64(metrics.ExternalCalls.WithLabelValues("esxi", "Login", "ok"))
	for range 3 {
		c, err := pool.Get(ctx, credsFor(t, h))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.FindVM(ctx, "web1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.Calls()["Login"]; n != 1 {
		t.Fatalf("%d logins for one set of credentials, want 1", n)
	}
	if d := testutil.ToFloat64(metrics.ExternalCalls.WithLabelValues("esxi", "Login", "ok")) - before; d != 1 {
		t.Fatalf("login metric moved by %v, want 1", d)
	}
	if testutil.ToFloat64(metrics.ExternalCalls.WithLabelValues("esxi", "RetrievePropertiesEx", "ok")) == 0 {
		t.Fatal("property retrievals are not counted")
	}
	if err := pool.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.Calls()["Logout"]; n != 1 {
		t.Fatalf("Close sent %d logouts, want 1", n)
	}
	if _, err := pool.Get(ctx, credsFor(t, h)); err == nil {
		t.Fatal("Get after Close succeeded")
	}
}

func TestSessionExpiryReLogsInTransparently(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	c := connect(t, h)
	if _, err := c.FindVM(ctx, "web1"); err != nil {
		t.Fatal(err)
	}
	if n, err := h.ExpireSessions(ctx); err != nil || n != 1 {
		t.Fatalf("expired %d sessions: %v", n, err)
	}
	h.ResetCalls()
	if _, err := c.FindVM(ctx, "web1"); err != nil {
		t.Fatalf("FindVM after expiry: %v", err)
	}
	if n := h.Calls()["Login"]; n != 1 {
		t.Fatalf("%d logins after expiry, want 1", n)
	}
}

// A NotAuthenticated fault from the call itself (not a dead session) is
// retried once after a login; the retry must not report the first fault.
func TestNotAuthenticatedFaultRetriedWithFreshResponse(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	c := connect(t, h)
	vm, err := c.FindVM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	h.ResetCalls()
	h.AddFault(simulator.FaultInjectionRule{
		MethodName: "PowerOnVM_Task",
		FaultType:  simulator.FaultTypeNotAuthenticated,
		MaxCount:   1,
	})
	ref, err := c.PowerOn(ctx, vm.Ref)
	if err != nil {
		t.Fatalf("PowerOn after a NotAuthenticated fault: %v", err)
	}
	if info := waitTask(t, ctx, c, ref); info.State != esxi.TaskSuccess {
		t.Fatalf("task = %+v", info)
	}
	if n := h.Calls()["Login"]; n != 1 {
		t.Fatalf("%d logins, want 1", n)
	}
}

func TestVCenterWithAndWithoutDatacenter(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{VCenter: true})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{})
	for i, dc := range []string{"", "DC0"} {
		c, err := pool.Get(ctx, credsFor(t, h, "datacenter", dc))
		if err != nil {
			t.Fatal(err)
		}
		vm, err := c.FindVM(ctx, "vyatta")
		if err != nil {
			t.Fatalf("datacenter %q: %v", dc, err)
		}
		if len(vm.NICs) != 2 || vm.NICs[0].PortGroup != "LAN" {
			t.Fatalf("datacenter %q: vm = %+v", dc, vm)
		}
		pgs, err := c.PortGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !contains(pgs, "LAN") || !contains(pgs, "WAN") {
			t.Fatalf("datacenter %q: port groups %q", dc, pgs)
		}
		mac := fmt.Sprintf("02:00:00:aa:bb:%02x", i)
		ref, err := c.ReconfigureNIC(ctx, vm.Ref, vm.NICs[1].Key, mac, "LAN")
		if err != nil {
			t.Fatal(err)
		}
		if info := waitTask(t, ctx, c, ref); info.State != esxi.TaskSuccess {
			t.Fatalf("reconfigure on vCenter: %+v", info)
		}
		if st, _ := h.VM(ctx, "vyatta"); st.NICs[1].MAC != mac || st.NICs[1].PortGroup != "LAN" {
			t.Fatalf("after reconfigure on vCenter: %+v", st.NICs[1])
		}
	}
	// A distributed port group: named in observations, and a no-op once
	// the NIC is on it.
	c, err := pool.Get(ctx, credsFor(t, h, "datacenter", "DC0"))
	if err != nil {
		t.Fatal(err)
	}
	vm, err := c.FindVM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.ReconfigureNIC(ctx, vm.Ref, vm.NICs[0].Key, "", "DC0_DVPG0")
	if err != nil {
		t.Fatal(err)
	}
	if info := waitTask(t, ctx, c, ref); info.State != esxi.TaskSuccess {
		t.Fatalf("move to a distributed port group: %+v", info)
	}
	if vm, err = c.FindVM(ctx, "web1"); err != nil || vm.NICs[0].PortGroup != "DC0_DVPG0" {
		t.Fatalf("after the move: %+v, %v", vm.NICs, err)
	}
	if ref, err := c.ReconfigureNIC(ctx, vm.Ref, vm.NICs[0].Key, "", "DC0_DVPG0"); ref != "" || err != nil {
		t.Fatalf("repeated move = %q, %v; want nothing to do", ref, err)
	}

	c, err = pool.Get(ctx, credsFor(t, h, "datacenter", "DC9"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindVM(ctx, "vyatta"); !cause.Is(err, cause.NotFound) || !strings.Contains(err.Error(), "DC9") {
		t.Fatalf("unknown datacenter: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPerCallDeadline(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	c, err := newPool(t, esxi.Options{CallTimeout: 200 * time.Millisecond}).Get(ctx, credsFor(t, h))
	if err != nil {
		t.Fatal(err)
	}
	// The host hangs on property retrievals far longer than the deadline.
	h.SetMethodDelay("RetrievePropertiesEx", time.Second)
	t.Cleanup(func() { h.SetMethodDelay("RetrievePropertiesEx", 0) })
	_, err = c.FindVM(ctx, "web1")
	if !cause.Is(err, cause.Unreachable) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v (kind %q), want an Unreachable timeout", err, cause.KindOf(err))
	}
}

func TestKeepAliveLogsInAgainWhileIdle(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	if _, err := newPool(t, esxi.Options{KeepAlive: 100 * time.Millisecond}).Get(ctx, credsFor(t, h)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ExpireSessions(ctx); err != nil {
		t.Fatal(err)
	}
	h.ResetCalls()
	// Nobody calls the client: the keep-alive finds the session gone.
	for h.Calls()["Login"] == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the idle session was not renewed")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestUnusedSessionsAreLoggedOut(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	pool := newPool(t, esxi.Options{IdleTimeout: 200 * time.Millisecond})
	if _, err := pool.Get(ctx, credsFor(t, h)); err != nil {
		t.Fatal(err)
	}
	for h.Calls()["Logout"] == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the unused session was never logged out")
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Asking again logs in again.
	h.ResetCalls()
	c, err := pool.Get(ctx, credsFor(t, h))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindVM(ctx, "web1"); err != nil {
		t.Fatal(err)
	}
	if n := h.Calls()["Login"]; n != 1 {
		t.Fatalf("%d logins after eviction, want 1", n)
	}
}
