package routersim

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func start(t *testing.T, p Profile, opts Options) *Router {
	t.Helper()
	r, err := New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// run executes one command over real SSH, as the drivers do.
func run(t *testing.T, r *Router, cmd, stdin string) (string, string, int) {
	t.Helper()
	c, err := ssh.Dial("tcp", r.SSHAddr(), &ssh.ClientConfig{
		User: r.Username(), Auth: []ssh.AuthMethod{ssh.Password(r.Password())},
		HostKeyCallback: ssh.FixedHostKey(r.HostPublicKey()),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if stdin != "" {
		s.Stdin = strings.NewReader(stdin)
	}
	err = s.Run(cmd)
	code := 0
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitStatus()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestKernelRoutesPerPlatform(t *testing.T) {
	cases := []struct {
		p    Profile
		want string
	}{
		{Vyatta65, "default dev eth2  proto zebra \n10.0.10.0/24 dev eth1  proto kernel  scope link  src 10.0.10.254 \n198.51.100.254 dev eth2  proto zebra \n"},
		// FRR's routes through kernel nexthop objects, as test/kernel
		// captured them (iproute2 ends every line with a space).
		{VyOS13, "default nhid 13 via 198.51.100.254 dev eth2 proto static metric 20 onlink \n10.0.10.0/24 dev eth1 proto kernel scope link src 10.0.10.254 \n198.51.100.254 nhid 12 dev eth2 proto static metric 20 \n"},
	}
	for _, c := range cases {
		seed := SeedVyatta2013
		if c.p != Vyatta65 {
			// gateway-address does not exist after VyOS 1.1
			seed = strings.Replace(seed, "gateway-address 198.51.100.254", "", 1) +
				"protocols { static { route 0.0.0.0/0 { next-hop 198.51.100.254 { } } } }\n"
			seed = strings.Replace(seed, "level admin", "", 1)
		}
		r, err := New(c.p, Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.RoutesText(); got != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.p, got, c.want)
		}
	}
	// An unresolvable next hop installs nothing; a connected one needs no help.
	r, _ := New(VyOS14, Options{Seed: "set interfaces ethernet eth1 address '10.0.10.254/24'\nset protocols static route 0.0.0.0/0 next-hop 198.51.100.254\nset protocols static route 192.0.2.0/24 next-hop 10.0.10.1\n"})
	if got := r.RoutesText(); got != "10.0.10.0/24 dev eth1 proto kernel scope link src 10.0.10.254 \n192.0.2.0/24 nhid 12 via 10.0.10.1 dev eth1 proto static metric 20 \n" {
		t.Errorf("got\n%s", got)
	}
}

func TestTrafficFillsNeighboursLikeTheKernel(t *testing.T) {
	r, err := New(Vyatta65, Options{Seed: SeedVyatta2013})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.InjectTraffic("192.0.2.1", "192.0.2.2", "10.0.10.10", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	got := r.Neighbours("")
	if len(got) != 3 || got[0].MAC != r.opts.GatewayMAC || got[1].MAC != r.opts.GatewayMAC || got[2].Dev != "eth1" {
		t.Fatalf("under the bug: %+v", got)
	}
	// Replace the routes the way the boot script does: only the gateway is
	// looked up from now on.
	r.FlushNeighbours("eth2")
	_ = r.DeleteConfig("protocols static interface-route")
	_ = r.DeleteConfig("system gateway-address")
	if err := r.AddRoute("default via 198.51.100.254 dev eth2"); err == nil || !strings.Contains(err.Error(), "Network is unreachable") {
		t.Fatalf("off-link gateway accepted: %v", err)
	}
	if err := r.AddRoute("198.51.100.254 dev eth2 scope link"); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRoute("default via 198.51.100.254 dev eth2"); err != nil {
		t.Fatal(err)
	}
	if err := r.InjectTraffic("192.0.2.1", "192.0.2.2", "192.0.2.3"); err != nil {
		t.Fatal(err)
	}
	if got := r.Neighbours("eth2"); len(got) != 1 || got[0].IP != "198.51.100.254" {
		t.Fatalf("healthy: %+v", got)
	}
}

func TestShellInterpreter(t *testing.T) {
	r := start(t, VyOS14, Options{})
	cases := []struct {
		cmd, stdin string
		out        string
		code       int
	}{
		{`echo a && false && echo b || echo "c $?"`, "", "a\nc 1\n", 0},
		{"false; echo $?", "", "1\n", 0},
		{"echo 'single $? quoted' \"double $?\"", "", "single $? quoted double 0\n", 0},
		{"no-such-tool", "", "", 127},
		{"cat /etc/shadow | head", "", "", 2},
		// Outside a session `set` is bash's builtin: silently nothing.
		{"set interfaces ethernet eth1 description LAN", "", "", 0},
		{"/bin/vbash -s", "echo from stdin\nexit 3\necho not reached\n", "from stdin\n", 3},
		{"sg vyattacfg -c '/bin/vbash -s'", "source /opt/vyatta/etc/functions/script-template\nconfigure\nset interfaces ethernet eth1 description \\\n LAN && \\\ncommit\ncli-shell-api sessionChanged || echo clean\nexit\n", "clean\n", 0},
		{"ip -j -4 neigh show dev eth9", "", "", 1},
		{"ip route replace default via 198.51.100.254 dev eth2", "", "", 2},
		{"cat /opt/vyatta/etc/version", "", "", 1},
	}
	for _, c := range cases {
		out, _, code := run(t, r, c.cmd, c.stdin)
		if out != c.out || code != c.code {
			t.Errorf("%q: got %q %d, want %q %d", c.cmd, out, code, c.out, c.code)
		}
	}
	if !strings.Contains(r.ActiveCommands(), "set interfaces ethernet eth1 description 'LAN'") {
		t.Fatal("the committed description is missing")
	}
	// A heredoc through sudo tee, then the file is there.
	_, _, code := run(t, r, "sudo tee /config/scripts/x >/dev/null <<'EOF'\nline one\n$? stays\nEOF\nsudo chmod 0755 /config/scripts/x && test -x /config/scripts/x", "")
	if code != 0 || r.files["/config/scripts/x"].content != "line one\n$? stays\n" {
		t.Fatalf("heredoc: %d %q", code, r.files["/config/scripts/x"].content)
	}
	// Vyatta's iproute2 has no JSON.
	v := start(t, Vyatta65, Options{})
	if _, errOut, code := run(t, v, "ip -j route", ""); code != 255 || !strings.Contains(errOut, `Option "-j" is unknown`) {
		t.Fatalf("vyatta ip -j: %d %q", code, errOut)
	}
	if _, errOut, code := run(t, v, "source /opt/vyatta/etc/functions/script-template", ""); code != 1 || !strings.Contains(errOut, "No such file") {
		t.Fatalf("vyatta script-template: %d %q", code, errOut)
	}
}

func TestCommitTexts(t *testing.T) {
	r := start(t, VyOS13, Options{})
	script := "source /opt/vyatta/etc/functions/script-template\nconfigure\n" +
		"set nat source rule 10 outbound-interface eth2\nset interfaces ethernet eth1 description LAN\ncommit\necho status $?\n" +
		"cli-shell-api sessionChanged && echo changed\nexit\nexit discard\n"
	out, _, _ := run(t, r, "sg vyattacfg -c '/bin/vbash -s'", script)
	for _, want := range []string{
		"[ nat source rule 10 ]\nSource NAT configuration error in rule 10: translation requires address and/or port",
		"[[nat]] failed\nCommit failed\n",
		"status 0\n", // the commit that failed still exits 0
		"changed\n",
		"Cannot exit: configuration modified.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// The interfaces subtree went through: a partial commit.
	if !strings.Contains(r.ActiveCommands(), "description 'LAN'") || strings.Contains(r.ActiveCommands(), "nat source") {
		t.Fatalf("partial commit:\n%s", r.ActiveCommands())
	}
	out, _, code := run(t, r, "sg vyattacfg -c '/bin/vbash -s'", "source /opt/vyatta/etc/functions/script-template\nconfigure\nset protocols static interface-route 198.51.100.254/32 next-hop-interface eth2\nset protocols static route 0.0.0.0/0 blackhole distance x\n")
	if code != 1 || !strings.Contains(out, "Value validation failed\n  Set failed") {
		t.Fatalf("validation: %d %q", code, out)
	}
	r.HoldLock(true)
	out, _, _ = run(t, r, "/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper begin && /opt/vyatta/sbin/vyatta-cfg-cmd-wrapper set system host-name x && /opt/vyatta/sbin/vyatta-cfg-cmd-wrapper commit_with_error; echo $?", "")
	if !strings.Contains(out, lockedMessage) || !strings.HasSuffix(out, "1\n") {
		t.Fatalf("lock: %q", out)
	}
}

func TestSaveAndRebootRoundTrip(t *testing.T) {
	for _, p := range Profiles {
		r, err := New(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.SetConfig("set interfaces ethernet eth1 address 10.0.10.254/24", "set interfaces ethernet eth1 description 'LAN side'",
			"set system name-server 192.0.2.53", "set system name-server 192.0.2.54"); err != nil {
			t.Fatal(err)
		}
		_ = r.AddRoute("192.0.2.0/24 via 10.0.10.1 dev eth1")
		before := r.ActiveCommands()
		r.mu.Lock()
		if _, err := r.save(""); err != nil {
			t.Fatal(err)
		}
		r.mu.Unlock()
		if err := r.SetConfig("set system host-name unsaved"); err != nil {
			t.Fatal(err)
		}
		if err := r.Reboot(); err != nil {
			t.Fatal(err)
		}
		if r.Boots() != 1 {
			t.Fatalf("%s: %d boots", p, r.Boots())
		}
		if got := r.ActiveCommands(); got != before {
			t.Fatalf("%s: after reboot\n%s\nwant\n%s", p, got, before)
		}
		if strings.Contains(r.RoutesText(), "192.0.2.0/24") {
			t.Fatalf("%s: manual route survived the reboot", p)
		}
		footer := "/* Release version: "
		if p == VyOS14 || p == VyOS15 {
			footer = "// Release version: "
		}
		if !strings.Contains(r.SavedConfig(), footer) || !strings.Contains(r.SavedConfig(), `description "LAN side"`) {
			t.Fatalf("%s: config.boot\n%s", p, r.SavedConfig())
		}
	}
	// The boot script runs at boot only when executable.
	r, _ := New(Vyatta65, Options{})
	_ = r.SetConfig("set interfaces ethernet eth2 address 203.0.113.123/32")
	r.mu.Lock()
	if _, err := r.save(""); err != nil {
		t.Fatal(err)
	}
	r.mu.Unlock()
	script := "#!/bin/sh\nip route replace 198.51.100.254 dev eth2 scope link\nip route replace default via 198.51.100.254 dev eth2\n"
	r.WriteBootScript(script, false)
	_ = r.Reboot()
	if strings.Contains(r.RoutesText(), "default") {
		t.Fatal("non-executable boot script ran")
	}
	r.WriteBootScript(script, true)
	_ = r.Reboot()
	if r.RoutesText() != "default via 198.51.100.254 dev eth2 \n198.51.100.254 dev eth2  scope link \n" {
		t.Fatalf("boot script routes:\n%s", r.RoutesText())
	}
}

func apiClient(r *Router) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.CACertPEM())
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func post(t *testing.T, r *Router, endpoint string, form url.Values) (int, map[string]any, string) {
	t.Helper()
	resp, err := apiClient(r).PostForm(r.APIURL()+endpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m, resp.Header.Get("Content-Type")
}

func TestHTTPAPIShapes(t *testing.T) {
	r := start(t, VyOS14, Options{Seed: "set interfaces ethernet eth1 address '10.0.10.254/24'\n" +
		"set interfaces ethernet eth2 address '203.0.113.123/32'\nset interfaces ethernet eth2 address '203.0.113.124/32'\n" +
		"set protocols static route 198.51.100.254/32 interface eth2\nset service https api keys id k key 'secret-key'\n"})
	key := "secret-key"
	status, m, ct := post(t, r, "/retrieve", url.Values{"key": {key}, "data": {`{"op":"showConfig","path":["interfaces","ethernet"]}`}})
	if status != 200 || ct != "text/html; charset=utf-8" {
		t.Fatalf("%d %s", status, ct)
	}
	data := m["data"].(map[string]any)
	if data["eth1"].(map[string]any)["address"] != "10.0.10.254/24" {
		t.Fatalf("one value must be a string: %v", data)
	}
	if addrs, ok := data["eth2"].(map[string]any)["address"].([]any); !ok || len(addrs) != 2 {
		t.Fatalf("several values must be a list: %v", data)
	}
	_, m, _ = post(t, r, "/retrieve", url.Values{"key": {key}, "data": {`{"op":"showConfig","path":["protocols","static","route","198.51.100.254/32"]}`}})
	if iface := m["data"].(map[string]any)["interface"].(map[string]any)["eth2"]; iface == nil || len(iface.(map[string]any)) != 0 {
		t.Fatalf("valueless tag value must be {}: %v", m)
	}
	status, m, _ = post(t, r, "/retrieve", url.Values{"key": {key}, "data": {`{"op":"showConfig","path":["nat"]}`}})
	if status != 400 || !strings.Contains(m["error"].(string), "Configuration under specified path is empty") || m["success"] != false {
		t.Fatalf("empty path: %d %v", status, m)
	}
	status, m, _ = post(t, r, "/retrieve", url.Values{"key": {"wrong"}, "data": {`{"op":"showConfig","path":[]}`}})
	if status != 401 || m["error"] != "Valid API key is required" {
		t.Fatalf("bad key: %d %v", status, m)
	}
	status, _, _ = post(t, r, "/configure", url.Values{"key": {key}, "data": {`[{"op":"delete","path":["system","host-name"]},{"op":"set","path":["system","host-name"],"value":"edge"}]`}})
	if status != 200 || !strings.Contains(r.ActiveCommands(), "host-name 'edge'") {
		t.Fatalf("configure: %d", status)
	}
	// JSON bodies work too.
	resp, err := apiClient(r).Post(r.APIURL()+"/retrieve", "application/json", strings.NewReader(`{"key":"secret-key","op":"returnValues","path":["interfaces","ethernet","eth1","address"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"data":["10.0.10.254/24"]`) {
		t.Fatalf("returnValues: %s", body)
	}
	// /info exists on 1.5 only.
	resp, err = apiClient(r).Get(r.APIURL() + "/info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/info on 1.4: %d", resp.StatusCode)
	}
	r15 := start(t, VyOS15, Options{})
	resp, err = apiClient(r15).Get(r15.APIURL() + "/info")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"version":"1.5-rolling`) {
		t.Fatalf("/info: %s", body)
	}
	_, m, _ = post(t, r15, "/show", url.Values{"key": {r15.APIKey()}, "data": {`{"op":"show","path":["arp"]}`}})
	if !strings.HasPrefix(m["data"].(string), "Address  Interface  Link layer address  State\n-------  ---------") {
		t.Fatalf("show arp on 1.5: %q", m["data"])
	}
}

func TestHTTPAPIConfigureSectionAndLoad(t *testing.T) {
	r := start(t, VyOS14, Options{})
	key := r.APIKey()
	if err := r.SetConfig("set interfaces ethernet eth1 description 'old'", "set interfaces ethernet eth1 mtu 1400"); err != nil {
		t.Fatal(err)
	}
	// load replaces the subtree in one commit; set merges.
	status, m, _ := post(t, r, "/configure-section", url.Values{"key": {key}, "data": {
		`{"op":"load","path":["interfaces","ethernet","eth1"],"section":{"address":["10.0.10.254/24","10.0.10.253/24"],"description":"LAN"}}`}})
	if status != 200 {
		t.Fatalf("load: %d %v", status, m)
	}
	got := r.ActiveCommands()
	if strings.Contains(got, "mtu") || strings.Contains(got, "'old'") || !strings.Contains(got, "address '10.0.10.253/24'") {
		t.Fatalf("after load:\n%s", got)
	}
	if c := r.Count("commit"); c != 1 {
		t.Fatalf("%d commits", c)
	}
	// /config-file save, then load of the saved file restores it.
	if status, _, _ := post(t, r, "/config-file", url.Values{"key": {key}, "data": {`{"op":"save"}`}}); status != 200 {
		t.Fatal(status)
	}
	_ = r.SetConfig("set system host-name changed")
	if status, m, _ := post(t, r, "/config-file", url.Values{"key": {key}, "data": {`{"op":"load","file":"/config/config.boot"}`}}); status != 200 {
		t.Fatalf("load file: %v", m)
	}
	if strings.Contains(r.ActiveCommands(), "changed") {
		t.Fatal("config-file load did not restore the saved configuration")
	}
	// /configure-section does not exist on 1.3.
	r13 := start(t, VyOS13, Options{})
	resp, err := apiClient(r13).PostForm(r13.APIURL()+"/configure-section", url.Values{"key": {r13.APIKey()}, "data": {`{}`}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/configure-section on 1.3: %d", resp.StatusCode)
	}
}
