package ovhsim_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	govh "github.com/ovh/go-ovh/ovh"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

const worldYAML = `
applications:
- key: yaml-app
  secret: yaml-secret
  consumerKeys: [yaml-consumer]
servers:
- name: ns123456.ip-198-51-100.eu
  mainIP: 198.51.100.17
- name: ns654321.ip-192-0-2.eu
  mainIP: 192.0.2.10
ips:
- ip: 203.0.113.123
  routedTo: ns123456.ip-198-51-100.eu
- ip: 203.0.113.124/32
  routedTo: ns123456.ip-198-51-100.eu
virtualMacs:
- server: ns123456.ip-198-51-100.eu
  mac: 00:50:56:00:00:01
  type: vmware
  addresses:
  - ip: 203.0.113.123
    virtualMachineName: vyatta
`

func TestLoadWorldIsStrict(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "world.yaml")
	if err := os.WriteFile(good, []byte(worldYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := ovhsim.LoadWorld(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Servers) != 2 || len(w.IPs) != 2 || len(w.VirtualMACs) != 1 || w.VirtualMACs[0].Addresses[0].VirtualMachineName != "vyatta" {
		t.Fatalf("world = %+v", w)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("servers:\n- name: x\n  mainAddress: 192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ovhsim.LoadWorld(bad); err == nil {
		t.Fatal("a misspelt field must be refused, not ignored")
	}
	w.IPs = append(w.IPs, ovhsim.IP{IP: "203.0.113.9", RoutedTo: "ns-unknown"})
	if _, err := ovhsim.New(ovhsim.Options{World: w}); err == nil {
		t.Fatal("an IP routed to an unknown server must be refused")
	}
}

// TestMainBinary builds cmd/ovhsim, runs it as its own process on a YAML
// world and drives it with go-ovh, as an end-to-end test would.
func TestMainBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "ovhsim")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ovhsim")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "world.yaml")
	if err := os.WriteFile(config, []byte(worldYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-config", config, "-manual-clock", "-move-duration", "1m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var endpoint string
	select {
	case line := <-lines:
		var found bool
		if endpoint, found = strings.CutPrefix(line, "ovhsim listening on "); !found {
			t.Fatalf("unexpected first line %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ovhsim printed no endpoint within 30s")
	}

	c, err := govh.NewClient(endpoint, "yaml-app", "yaml-secret", "yaml-consumer")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ips []string
	if err := c.GetWithContext(ctx, "/ip?routedTo.serviceName=ns123456.ip-198-51-100.eu&type=failover", &ips); err != nil || len(ips) != 2 {
		t.Fatalf("ips = %v, %v", ips, err)
	}
	var tk task
	if err := c.PostWithContext(ctx, wanPath+"/move", map[string]string{"to": "ns654321.ip-192-0-2.eu"}, &tk); err != nil {
		t.Fatal(err)
	}
	if got := routedTo(t, c, wanPath); got != "ns123456.ip-198-51-100.eu" {
		t.Fatalf("routedTo before the clock moved = %q", got)
	}
	root := strings.TrimSuffix(endpoint, "/1.0")
	resp, err := http.Post(root+"/_sim/clock/advance", "application/json", strings.NewReader(`{"duration":"61s"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := routedTo(t, c, wanPath); got != "ns654321.ip-192-0-2.eu" {
		t.Fatalf("routedTo after the move = %q", got)
	}
	var macs []string
	if err := c.GetWithContext(ctx, "/dedicated/server/ns654321.ip-192-0-2.eu/virtualMac", &macs); err != nil || len(macs) != 1 {
		t.Fatalf("the virtual MAC did not follow: %v, %v", macs, err)
	}
}
