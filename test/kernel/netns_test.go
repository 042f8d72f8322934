package kernel_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/test/netns"
)

// lab is the seed's topology in three network namespaces this test creates
// and removes by name: the router (WAN eth2 with the /32 failover address,
// LAN eth1), OVH's gateway (answering ARP for every address it routes
// elsewhere, as OVH's router did by proxy-ARP), and a LAN host.
type lab struct {
	t               *testing.T
	router, gw, lan string
}

const (
	wanAddr    = "203.0.113.123"
	gwAddr     = "198.51.100.254"
	gwMAC      = "00:05:73:a0:00:01" // the simulator's default GatewayMAC
	wanMAC     = "00:0c:29:00:00:02"
	lanMAC     = "00:0c:29:00:00:01"
	lanHost    = "10.0.10.10"
	lanHostMAC = "52:54:00:00:0a:0a" // what the simulator answers for 10.0.10.10
)

// requireNetAdmin fails (never skips) when the test cannot create network
// namespaces: CI runs as root, and a missing capability must be seen.
func requireNetAdmin(t *testing.T) {
	t.Helper()
	if err := netns.Check(map[string]string{"arp": "the test captures `arp -e -n`: .ci/run installs net-tools; apt-get install net-tools"}); err != nil {
		t.Fatalf("this test builds network namespaces: %v", err)
	}
}

func newLab(t *testing.T) *lab {
	requireNetAdmin(t)
	suffix := strconv.Itoa(os.Getpid())
	l := &lab{t: t, router: "ovhb-rt-" + suffix, gw: "ovhb-gw-" + suffix, lan: "ovhb-lan-" + suffix}
	for _, ns := range []string{l.router, l.gw, l.lan} {
		if err := netns.Add(ns); err != nil {
			t.Fatalf("%v (this test needs CAP_NET_ADMIN)", err)
		}
		ns := ns
		t.Cleanup(func() {
			if err := netns.Del(ns); err != nil {
				t.Error(err)
			}
		})
	}
	// Links are created inside the namespaces (never in the caller's), so
	// deleting the namespaces removes them.
	l.ip("", "link", "add", "eth2", "netns", l.router, "address", wanMAC, "type", "veth", "peer", "name", "gw0", "netns", l.gw, "address", gwMAC)
	l.ip("", "link", "add", "eth1", "netns", l.router, "address", lanMAC, "type", "veth", "peer", "name", "lan0", "netns", l.lan, "address", lanHostMAC)
	if err := netns.ProxyARPGateway(l.gw, "gw0", gwAddr+"/24"); err != nil {
		t.Fatal(err)
	}
	for ns, links := range map[string][]string{l.router: {"lo", "eth1", "eth2"}, l.lan: {"lo", "lan0"}} {
		for _, dev := range links {
			l.ip(ns, "link", "set", dev, "up")
		}
	}
	l.ip(l.router, "addr", "add", wanAddr+"/32", "dev", "eth2")
	l.ip(l.router, "addr", "add", "10.0.10.254/24", "dev", "eth1")
	l.ip(l.gw, "route", "add", wanAddr, "dev", "gw0")
	l.ip(l.lan, "addr", "add", lanHost+"/24", "dev", "lan0")
	l.ip(l.lan, "route", "add", "default", "via", "10.0.10.254")
	l.sysctl(l.router, "net/ipv4/ip_forward", "1")
	// Unanswered destinations fail after three probes 50 ms apart.
	l.sysctl(l.router, "net/ipv4/neigh/eth2/retrans_time_ms", "50")
	return l
}

// ip runs iproute2 in namespace ns ("" for the caller's) and fails the test
// on error.
func (l *lab) ip(ns string, args ...string) string {
	l.t.Helper()
	out, err := netns.IP(ns, args...)
	if err != nil {
		l.t.Fatal(err)
	}
	return out
}

// exec runs a command inside ns through `ip netns exec`, as the drivers'
// commands run on the router.
func (l *lab) exec(ns string, argv ...string) string {
	l.t.Helper()
	out, errOut, code, err := netns.Exec(ns, argv...)
	if err != nil || code != 0 {
		l.t.Fatalf("%s in %s: %v (exit %d): %s", strings.Join(argv, " "), ns, err, code, errOut)
	}
	return out
}

// sysctl writes /proc/sys/<key> inside ns.
func (l *lab) sysctl(ns, key, value string) {
	l.t.Helper()
	if err := netns.Sysctl(ns, key, value); err != nil {
		l.t.Fatal(err)
	}
}

// send makes ns send one UDP datagram to each destination: real packets,
// routed by the namespace's kernel, which resolves the next hop by ARP.
func (l *lab) send(ns string, dsts ...string) {
	l.t.Helper()
	if err := netns.SendUDP(ns, dsts...); err != nil {
		l.t.Fatalf("sending from %s: %v", ns, err)
	}
}

// waitNeigh blocks until cond holds for the router's eth2 neighbour table
// (address -> state), woken by the kernel's neighbour notifications.
func (l *lab) waitNeigh(what string, cond func(map[string]string) bool) map[string]string {
	l.t.Helper()
	st, err := netns.WaitNeigh(l.router, "eth2", 30*time.Second, cond)
	if err != nil {
		l.t.Fatalf("the router's neighbour table never reached %s: %v", what, err)
	}
	return st
}
