package kernel_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/router"
	"github.com/ovhbridge/ovhbridge-operator/test/netns"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// NDP proxy on a real kernel, for a machine behind the router: OVH's
// gateway holds the server's block on-link (its /56 on gw0 covers the
// router's /64), so it solicits a LAN host's address on the WAN. Without a
// proxy entry nothing answers and the gateway's entry never resolves; with
// the entry VyOS 1.4+ renders (`ip -6 neigh add proxy A dev eth2`) and
// proxy_ndp on eth2 (the sysctl the operator renders beside it) the router
// answers with its WAN MAC. What `ip -6 neigh show proxy` prints is
// compared with the parser and with the simulator.
func TestKernelNDPProxy(t *testing.T) {
	l := newLab6(t)
	const lanHost = "2001:db8:1:1:1::10"
	l.ip(l.router, "-6", "addr", "add", "2001:db8:1:1:1::1/80", "dev", "eth1", "nodad")
	l.ip(l.lan, "-6", "addr", "add", lanHost+"/80", "dev", "lan0", "nodad")
	l.sysctl(l.gw, "net/ipv6/neigh/gw0/retrans_time_ms", "50")

	resolved := func(st map[string]string) bool { return st[lanHost] == "REACHABLE" || st[lanHost] == "STALE" }
	failed := func(st map[string]string) bool { return st[lanHost] == "FAILED" }
	l.send(l.gw, lanHost)
	if st, err := netns.WaitNeigh6(l.gw, "gw0", 5*time.Second, func(st map[string]string) bool { return failed(st) || resolved(st) }); err != nil || !failed(st) {
		t.Fatalf("without a proxy entry the gateway's solicitation for %s must go unanswered: %v %v", lanHost, st, err)
	}

	// The router answers a proxied solicitation after a random delay of
	// up to proxy_delay (0.8 s by default, which VyOS keeps): the gateway
	// goes back to the kernel's default of three probes a second apart.
	l.sysctl(l.gw, "net/ipv6/neigh/gw0/retrans_time_ms", "1000")
	l.sysctl(l.router, "net/ipv6/conf/eth2/proxy_ndp", "1")
	l.ip(l.router, "-6", "neigh", "add", "proxy", lanHost, "dev", "eth2")
	l.ip(l.gw, "-6", "neigh", "flush", "dev", "gw0")
	l.send(l.gw, lanHost)
	st, err := netns.WaitNeigh6(l.gw, "gw0", 5*time.Second, resolved)
	if err != nil {
		t.Fatalf("with the proxy entry the router must answer for %s: %v", lanHost, err)
	}
	t.Logf("the gateway's neighbour table: %v", st)
	if mac := l.ip(l.gw, "-6", "neigh", "show", lanHost, "dev", "gw0"); !strings.Contains(mac, wanMAC) {
		t.Errorf("%s resolved to %q, want the router's WAN MAC %s", lanHost, mac, wanMAC)
	}

	kernel := l.ip(l.router, "-6", "neigh", "show", "proxy", "dev", "eth2")
	got, err := router.ParseNDPProxies(kernel)
	if err != nil || !reflect.DeepEqual(got, []string{lanHost}) {
		t.Errorf("%q read as %v, %v", kernel, got, err)
	}
	s, err := routersim.New(routersim.VyOS14, routersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig("set protocols static neighbor-proxy nd " + lanHost + " interface eth2"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-6", "neigh", "show", "proxy", "dev", "eth2"}, {"-6", "neigh", "show", "proxy"}} {
		sim, code := s.RunIP(args...)
		if real := l.ip(l.router, args...); code != 0 || sim != real {
			t.Errorf("ip %v: the simulator prints %q, a real kernel %q", args, sim, real)
		}
	}
	// A flush of the neighbour table leaves proxy entries alone.
	l.ip(l.router, "-6", "neigh", "flush", "dev", "eth2")
	if after := l.ip(l.router, "-6", "neigh", "show", "proxy", "dev", "eth2"); after != kernel {
		t.Errorf("ip -6 neigh flush changed the proxy table: %q", after)
	}
}
