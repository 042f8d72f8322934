package esxisim_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clientFor logs a plain govmomi client in, trusting the harness's CA.
func clientFor(t *testing.T, ctx context.Context, h *esxisim.Harness) *vim25.Client {
	t.Helper()
	u := *h.URL
	sc := soap.NewClient(&u, false)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.CAPEM)
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(h.Username, h.Password)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = session.NewManager(c).Logout(context.Background()) })
	return c
}

func TestSeedInventory(t *testing.T) {
	for _, vc := range []bool{false, true} {
		h := esxisim.StartT(t, esxisim.Options{VCenter: vc})
		ctx := testContext(t)
		vyatta, err := h.VM(ctx, "vyatta")
		if err != nil {
			t.Fatal(err)
		}
		if vyatta.PowerState != "poweredOff" || len(vyatta.NICs) != 2 {
			t.Fatalf("vcenter=%v vyatta = %+v", vc, vyatta)
		}
		want := []struct{ label, pg string }{{"Network adapter 1", "LAN"}, {"Network adapter 2", "WAN"}}
		for i, w := range want {
			n := vyatta.NICs[i]
			if n.Label != w.label || n.PortGroup != w.pg || n.MAC == "" || n.AddressType != "generated" {
				t.Errorf("vcenter=%v NIC %d = %+v, want %s on %s with a generated MAC", vc, i, n, w.label, w.pg)
			}
		}
		web1, err := h.VM(ctx, "web1")
		if err != nil {
			t.Fatal(err)
		}
		if len(web1.NICs) != 1 || web1.NICs[0].PortGroup != "WAN" {
			t.Fatalf("vcenter=%v web1 = %+v", vc, web1)
		}
	}
}

func TestRunningVMRefusesMACChangeButAllowsPortGroupChange(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	ctx := testContext(t)

	err := h.SetNICMAC(ctx, "vyatta", "Network adapter 2", "02:00:00:aa:bb:cc")
	if !fault.Is(err, &types.InvalidPowerState{}) {
		t.Fatalf("MAC change on a running VM: err = %v, want InvalidPowerState", err)
	}
	if err := h.SetNICPortGroup(ctx, "vyatta", "Network adapter 1", "WAN"); err != nil {
		t.Fatalf("port group change on a running VM: %v", err)
	}
	if err := h.SetPower(ctx, "vyatta", false); err != nil {
		t.Fatal(err)
	}
	if err := h.SetNICMAC(ctx, "vyatta", "Network adapter 2", "02:00:00:aa:bb:cc"); err != nil {
		t.Fatalf("MAC change on a powered-off VM: %v", err)
	}
	st, err := h.VM(ctx, "vyatta")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.NICs[1]; got.MAC != "02:00:00:aa:bb:cc" || got.AddressType != "manual" || got.PortGroup != "WAN" {
		t.Fatalf("NIC 2 = %+v", got)
	}
	if got := st.NICs[0]; got.PortGroup != "WAN" {
		t.Fatalf("NIC 1 = %+v, want moved to WAN", got)
	}
}

func TestMissingPortGroupIsRefusedNotCrashed(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	err := h.SetNICPortGroup(ctx, "web1", "Network adapter 1", "DMZ")
	if !fault.Is(err, &types.NotFound{}) {
		t.Fatalf("err = %v, want NotFound", err)
	}
	st, err := h.VM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if st.NICs[0].PortGroup != "WAN" {
		t.Fatalf("NIC moved anyway: %+v", st.NICs[0])
	}
}

// A port group created after start can take NICs at once.
func TestAddPortGroup(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	if err := h.AddPortGroup(ctx, "DMZ"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetNICPortGroup(ctx, "web1", "Network adapter 1", "DMZ"); err != nil {
		t.Fatal(err)
	}
	st, err := h.VM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if st.NICs[0].PortGroup != "DMZ" {
		t.Fatalf("NIC 1 = %+v, want on DMZ", st.NICs[0])
	}
}

func TestExpireSessionsAndCallCounts(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	c := clientFor(t, ctx, h)
	h.ResetCalls()

	f := find.NewFinder(c)
	if _, err := f.Datacenter(ctx, h.Datacenter); err != nil {
		t.Fatal(err)
	}
	calls := h.Calls()
	if calls["RetrievePropertiesEx"]+calls["RetrieveProperties"] == 0 {
		t.Fatalf("calls = %v, want the finder's property retrievals counted", calls)
	}
	// The harness's own calls are not counted.
	h.ResetCalls()
	if _, err := h.VM(ctx, "web1"); err != nil {
		t.Fatal(err)
	}
	if calls := h.Calls(); len(calls) != 0 {
		t.Fatalf("harness calls were counted: %v", calls)
	}

	n, err := h.ExpireSessions(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ExpireSessions = %d, %v; want 1 session ended", n, err)
	}
	us, err := session.NewManager(c).UserSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if us != nil {
		t.Fatalf("session still active after expiry: %v", us.Key)
	}
	if _, err := f.Datacenter(ctx, h.Datacenter); err == nil {
		t.Fatal("a call on the expired session was served")
	}
	if without := h.CallsWithoutSession(); without["RetrievePropertiesEx"]+without["RetrieveProperties"] == 0 {
		t.Fatalf("calls without a session = %v, want the refused retrieval counted (calls: %v)", without, h.Calls())
	}
	// The harness itself keeps working.
	if _, err := h.VM(ctx, "web1"); err != nil {
		t.Fatal(err)
	}
}

func TestSecretDataNamesTheEndpoint(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	d := h.SecretData()
	if !strings.HasPrefix(string(d["url"]), "https://127.0.0.1:") || string(d["thumbprint"]) != h.Thumbprint ||
		len(strings.Split(h.Thumbprint, ":")) != 32 {
		t.Fatalf("secret data = %q", d)
	}
}

func TestAdminAPI(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	srv := httptest.NewServer(h.AdminHandler())
	t.Cleanup(srv.Close)
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	if code, body := call("PUT", "/vms/vyatta/nics/2", `{"mac": "02:00:00:aa:bb:cc"}`); code != 200 || !strings.Contains(body, `"mac":"02:00:00:aa:bb:cc"`) {
		t.Fatalf("set MAC: %d %s", code, body)
	}
	if code, body := call("PUT", "/vms/vyatta/power", `{"on": true}`); code != 200 || !strings.Contains(body, `"powerState":"poweredOn"`) {
		t.Fatalf("power on: %d %s", code, body)
	}
	if code, body := call("PUT", "/vms/vyatta/nics/Network%20adapter%202", `{"mac": "02:00:00:aa:bb:dd"}`); code != 409 || !strings.Contains(body, "The attempted operation cannot be performed in the current state (Powered on).") {
		t.Fatalf("MAC change while running: %d %s", code, body)
	}
	if code, body := call("PUT", "/vms/vyatta/nics/1", `{"portGroup": "WAN"}`); code != 200 || !strings.Contains(body, `"label":"Network adapter 1","mac"`) {
		t.Fatalf("port group change while running: %d %s", code, body)
	}
	if code, _ := call("PUT", "/vms/vyatta/guest", `{"toolsRunning": true, "nics": [{"mac": "02:00:00:aa:bb:cc", "ips": ["203.0.113.123"]}]}`); code != 200 {
		t.Fatalf("set guest: %d", code)
	}
	// Inside web1's guest, as a person logged into it would.
	if code, body := call("DELETE", "/vms/web1/guest/routes/default", ""); code != 409 || !strings.Contains(body, "does not run") {
		t.Fatalf("a route deleted in a guest that is off: %d %s", code, body)
	}
	if code, body := call("PUT", "/vms/web1/power", `{"on": true}`); code != 200 {
		t.Fatalf("power on web1: %d %s", code, body)
	}
	if code, body := call("DELETE", "/vms/web1/guest/routes/198.51.100.254", ""); code != 200 ||
		!strings.Contains(body, `"running":{"interfaces":[{"nic":0,"addresses":["203.0.113.124/32"]}],"routes":[{"destination":"default"`) {
		t.Fatalf("delete the gateway route: %d %s", code, body)
	}
	if code, body := call("POST", "/vms/web1/guest/routes", `{"destination": "198.51.100.254", "nic": 0}`); code != 200 {
		t.Fatalf("add it back: %d %s", code, body)
	}
	// IPv6, as `ip -6 route add` and `ip -6 route del default` would: the
	// IPv6 default route is "::_0" in the path, IPv4's stays.
	for _, r := range []string{`{"destination": "2001:db8:1:ff:ff:ff:ff:ff", "nic": 0}`, `{"destination": "default", "gateway": "2001:db8:1:ff:ff:ff:ff:ff", "nic": 0}`} {
		if code, body := call("POST", "/vms/web1/guest/routes", r); code != 200 {
			t.Fatalf("add %s: %d %s", r, code, body)
		}
	}
	if code, body := call("DELETE", "/vms/web1/guest/routes/::_0", ""); code != 200 ||
		strings.Contains(body, `"gateway":"2001:db8:1:ff:ff:ff:ff:ff"`) || !strings.Contains(body, `{"destination":"default","gateway":"198.51.100.254","nic":0}`) {
		t.Fatalf("delete the IPv6 default route: %d %s", code, body)
	}
	if code, body := call("PUT", "/vms/web1/guest/tools", `{"running": false}`); code != 200 || !strings.Contains(body, `"toolsRunning":false`) {
		t.Fatalf("stop Tools: %d %s", code, body)
	}
	if code, body := call("POST", "/vms/web1/guest/reboot", ""); code != 200 || !strings.Contains(body, `"toolsRunning":true`) {
		t.Fatalf("reboot: %d %s", code, body)
	}
	if code, body := call("PUT", "/vms/web1/guest/network", `{"interfaces": [], "routes": [{"destination": "default", "nic": 0}]}`); code != 200 {
		t.Fatalf("set the running network: %d %s", code, body)
	}
	if code, body := call("GET", "/vms/web1/guest/state", ""); code != 200 || !strings.Contains(body, `"running":{"interfaces":[],"routes":[{"destination":"default","nic":0}]}`) {
		t.Fatalf("state: %d %s", code, body)
	}
	if code, body := call("PUT", "/vms/web1/power", `{"on": "yes"}`); code != 400 {
		t.Fatalf("bad body: %d %s", code, body)
	}
	if code, body := call("GET", "/calls", ""); code != 200 || body != "{}\n" {
		t.Fatalf("calls (the harness's own are not counted): %d %s", code, body)
	}
	if code, body := call("POST", "/sessions/expire", ""); code != 200 || !strings.Contains(body, `"expired":0`) {
		t.Fatalf("expire: %d %s", code, body)
	}
}

func TestSessionTimeoutExpiresIdleSessions(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{})
	ctx := testContext(t)
	if err := h.SetSessionTimeout(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c := clientFor(t, ctx, h)
	for {
		us, err := session.NewManager(c).UserSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if us == nil {
			return // expired while idle between checks
		}
		select {
		case <-ctx.Done():
			t.Fatal("the session never expired")
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func TestRestoreNICMACChangesARunningVM(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	ctx := context.Background()
	if err := h.RestoreNICMAC("vyatta", "Network adapter 2", "00:50:56:3f:00:99"); err != nil {
		t.Fatal(err)
	}
	st, err := h.VM(ctx, "vyatta")
	if err != nil {
		t.Fatal(err)
	}
	if st.PowerState != "poweredOn" || len(st.NICs) != 2 || st.NICs[1].MAC != "00:50:56:3f:00:99" ||
		st.NICs[1].AddressType != "manual" || st.NICs[1].PortGroup != esxisim.PortGroupWAN || st.NICs[0].MAC == "00:50:56:3f:00:99" {
		t.Fatalf("after restore: %+v", st)
	}
	if err := h.RestoreNICMAC("vyatta", "Network adapter 9", "00:50:56:3f:00:98"); err == nil {
		t.Fatal("an unknown NIC must be an error")
	}
}

// FailNextTask fails exactly the next task of the method, as a task error
// (not a SOAP fault), and leaves the VM as it was.
func TestFailNextTask(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	ctx := testContext(t)
	h.FailNextTask("PowerOffVM_Task", &types.TaskInProgress{})
	h.FailNextTask("ReconfigVM_Task", &types.GenericVmConfigFault{Reason: "disk locked"})
	if err := h.SetPower(ctx, "web1", false); !fault.Is(err, &types.TaskInProgress{}) {
		t.Fatalf("first power-off: err = %v, want the queued TaskInProgress", err)
	}
	if err := h.SetPower(ctx, "web1", false); err != nil {
		t.Fatalf("second power-off: %v", err)
	}
	if err := h.SetNICPortGroup(ctx, "web1", "Network adapter 1", "LAN"); !fault.Is(err, &types.GenericVmConfigFault{}) {
		t.Fatalf("first reconfigure: err = %v, want the queued fault", err)
	}
	st, err := h.VM(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if st.PowerState != "poweredOff" || st.NICs[0].PortGroup != "WAN" {
		t.Fatalf("web1 = %+v, want powered off and still on WAN", st)
	}
	h.FailNextTask("PowerOnVM_Task", &types.InsufficientResourcesFault{})
	if err := h.SetPower(ctx, "web1", true); !fault.Is(err, &types.InsufficientResourcesFault{}) {
		t.Fatalf("power-on: err = %v", err)
	}
	if err := h.SetPower(ctx, "web1", true); err != nil {
		t.Fatal(err)
	}
}
