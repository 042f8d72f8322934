// Package kernel_test builds the seed's topology in network namespaces,
// sends real packets through a real kernel and captures the exact output of
// every command the router drivers run, in each state the operator meets:
// the Quagga bug's ARP flood, the boot-script fix before and after the
// neighbour flush, FRR's routes, the route types the parsers must skip and
// every neighbour state. The captures are committed under testdata/ so that
// the parsers, the drift verdicts and the router simulator's output format
// are checked against a real kernel's output on any machine; on a machine
// with CAP_NET_ADMIN (CI runs as root) they are also made afresh and
// checked the same way.
//
//	go test ./test/kernel -run TestKernelCaptures -update   # rewrite testdata/
package kernel_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/router"
)

var update = flag.Bool("update", false, "rewrite testdata/ from this machine's kernel")

// capture is one command the drivers (or the VyOS op-mode commands behind
// the HTTP API) run on the router, and the file its output is kept in.
type capture struct {
	file string
	argv []string
}

var captures = []capture{
	// Vyatta 6.x over SSH (iproute2 without -j).
	{"ip-4-route-show-table-main.txt", []string{"ip", "-4", "route", "show", "table", "main"}},
	{"proc-net-arp.txt", []string{"cat", "/proc/net/arp"}},
	// VyOS over SSH.
	{"ip-j-4-route-show-table-main.json", []string{"ip", "-j", "-4", "route", "show", "table", "main"}},
	{"ip-j-4-neigh-show-dev-eth2.json", []string{"ip", "-j", "-4", "neigh", "show", "dev", "eth2"}},
	// `show ip route forward` (vyos-1x op-mode-definitions/show-ip-route.xml.in:
	// `ip route list`), `show arp` on 1.3 (show-arp.xml.in, equuleus:
	// `/usr/sbin/arp -e -n`), the table 1.4's neighbor.py formats
	// (`ip --family inet --json neighbor list`, sagitta), and plain text.
	{"ip-route-list.txt", []string{"ip", "route", "list"}},
	{"arp-e-n.txt", []string{"arp", "-e", "-n"}},
	{"ip-j-4-neigh-show.json", []string{"ip", "-j", "-4", "neigh", "show"}},
	{"ip-4-neigh-show.txt", []string{"ip", "-4", "neigh", "show"}},
}

// Destinations the router and the LAN host send to: answered by the
// gateway's proxy-ARP, except unanswered (the gateway's own /24, which it
// does not route elsewhere).
var (
	fromRouter = []string{"192.0.2.20", "192.0.2.120", "192.0.2.251", "192.0.2.175", "192.0.2.8", "192.0.2.42",
		"192.0.2.191", "192.0.2.163", "192.0.2.98", "192.0.2.63"}
	fromLAN    = []string{"203.0.113.7", "203.0.113.77"}
	unanswered = []string{"198.51.100.9", "198.51.100.10"}
)

var wan = drift.RouterWAN{Interface: "eth2", Gateway: gwAddr}

// state is one situation of the router: how to bring the lab into it, and
// what the drivers must make of it.
type state struct {
	name string
	// setup brings a live lab from the previous state into this one.
	setup func(l *lab)
	// routes is the main table as the parsers must read it.
	routes []router.Route
	// neigh is the WAN neighbour table (address -> iproute2 state).
	neigh map[string]string
	// The drift reasons RouterRoutes and RouterNeighbours must give.
	routeReasons, neighReasons []string
}

var (
	connectedLAN = router.Route{Dst: "10.0.10.0/24", Dev: "eth1", Protocol: "kernel", Scope: "link"}
	quaggaRoutes = []router.Route{
		{Dst: "default", Dev: "eth2", Protocol: "zebra"},
		connectedLAN,
		{Dst: gwAddr, Dev: "eth2", Protocol: "zebra"},
	}
	frrRoutes = []router.Route{
		{Dst: "default", Gateway: gwAddr, Dev: "eth2", Protocol: "static", Metric: 20, Flags: []string{"onlink"}},
		connectedLAN,
		{Dst: gwAddr, Dev: "eth2", Protocol: "static", Metric: 20},
	}
)

func states() []state {
	flood := map[string]string{}
	for _, d := range append(append([]string{}, fromRouter...), fromLAN...) {
		flood[d] = "REACHABLE"
	}
	flood[unanswered[0]] = "FAILED"
	onlyGateway := map[string]string{gwAddr: "REACHABLE"}
	aged := map[string]string{gwAddr: "PERMANENT", unanswered[0]: "FAILED", unanswered[1]: "INCOMPLETE"}
	for i, d := range fromRouter {
		switch {
		case i < 2:
			aged[d] = "DELAY"
		case i < 8:
			aged[d] = "STALE"
		default:
			aged[d] = "REACHABLE"
		}
	}
	return []state{{
		// Vyatta 6.5 + Quagga 0.99.20 with interface-route and
		// gateway-address: both routes without a gateway, in universe
		// scope as zebra installs them (no `scope` given to the kernel).
		name: "broken",
		setup: func(l *lab) {
			l.ip(l.router, "route", "add", "default", "dev", "eth2", "proto", "zebra", "scope", "global")
			l.ip(l.router, "route", "add", gwAddr, "dev", "eth2", "proto", "zebra", "scope", "global")
			l.send(l.router, fromRouter...)
			l.send(l.lan, fromLAN...)
			l.send(l.router, unanswered[0])
			l.waitNeigh("the flood settled", func(m map[string]string) bool { return reflect.DeepEqual(m, flood) })
		},
		routes: quaggaRoutes, neigh: flood,
		routeReasons: []string{v1.ReasonDefaultRouteWithoutGateway},
		neighReasons: []string{v1.ReasonARPFlood, v1.ReasonGatewayARPMissing},
	}, {
		// The boot script's two commands, before the neighbour flush: the
		// routes are right, the flood's entries are still there.
		name: "fixed",
		setup: func(l *lab) {
			l.ip(l.router, "route", "replace", gwAddr, "dev", "eth2", "scope", "link")
			l.ip(l.router, "route", "replace", "default", "via", gwAddr, "dev", "eth2")
		},
		routes: []router.Route{
			{Dst: "default", Gateway: gwAddr, Dev: "eth2", Protocol: "boot"},
			connectedLAN,
			{Dst: gwAddr, Dev: "eth2", Protocol: "boot", Scope: "link"},
		},
		neigh:        flood,
		neighReasons: []string{v1.ReasonARPFlood, v1.ReasonGatewayARPMissing},
	}, {
		name: "fixed-flushed",
		setup: func(l *lab) {
			l.ip(l.router, "neigh", "flush", "dev", "eth2")
			l.send(l.router, fromRouter...)
			l.send(l.lan, fromLAN...)
			l.waitNeigh("only the gateway", func(m map[string]string) bool { return reflect.DeepEqual(m, onlyGateway) })
		},
		routes: []router.Route{
			{Dst: "default", Gateway: gwAddr, Dev: "eth2", Protocol: "boot"},
			connectedLAN,
			{Dst: gwAddr, Dev: "eth2", Protocol: "boot", Scope: "link"},
		},
		neigh: onlyGateway,
	}, {
		// What FRR (VyOS 1.3+) installs for `protocols static route
		// 0.0.0.0/0 next-hop GW` and the interface route to GW: kernel
		// nexthop objects, proto static, metric 20, onlink default. The
		// nexthop ids are FRR's to choose.
		name: "frr",
		setup: func(l *lab) {
			l.ip(l.router, "route", "del", "default")
			l.ip(l.router, "route", "del", gwAddr)
			l.ip(l.router, "nexthop", "add", "id", "12", "dev", "eth2")
			l.ip(l.router, "nexthop", "add", "id", "13", "via", gwAddr, "dev", "eth2", "onlink")
			l.ip(l.router, "route", "add", gwAddr, "nhid", "12", "proto", "static", "metric", "20")
			l.ip(l.router, "route", "add", "default", "nhid", "13", "proto", "static", "metric", "20")
			l.ip(l.router, "neigh", "flush", "dev", "eth2")
			l.send(l.router, fromRouter...)
			l.waitNeigh("only the gateway", func(m map[string]string) bool { return reflect.DeepEqual(m, onlyGateway) })
		},
		routes: frrRoutes, neigh: onlyGateway,
	}, {
		// Routes the parsers must read or skip: blackhole, unreachable and
		// prohibit (no next hop), multipath, and linkdown (a LAN whose
		// cable is out).
		name: "special",
		setup: func(l *lab) {
			l.ip(l.router, "link", "add", "eth3", "type", "veth", "peer", "name", "eth3p")
			l.ip(l.router, "link", "set", "eth3", "up")
			l.ip(l.router, "addr", "add", "192.0.2.1/28", "dev", "eth3")
			l.ip(l.router, "route", "add", "192.0.2.128/25", "via", "192.0.2.2", "dev", "eth3")
			l.ip(l.router, "route", "add", "blackhole", "192.0.2.64/27", "proto", "static", "metric", "20")
			l.ip(l.router, "route", "add", "unreachable", "192.0.2.96/27")
			l.ip(l.router, "route", "add", "prohibit", "192.0.2.32/28")
			l.ip(l.router, "route", "add", "198.51.100.0/25", "proto", "static", "metric", "20",
				"nexthop", "via", gwAddr, "dev", "eth2", "onlink", "nexthop", "via", "192.0.2.2", "dev", "eth3")
		},
		routes: []router.Route{
			frrRoutes[0],
			connectedLAN,
			{Dst: "192.0.2.0/28", Dev: "eth3", Protocol: "kernel", Scope: "link", Flags: []string{"linkdown"}},
			{Dst: "192.0.2.128/25", Gateway: "192.0.2.2", Dev: "eth3", Protocol: "boot", Flags: []string{"linkdown"}},
			{Dst: "198.51.100.0/25", Gateway: gwAddr, Dev: "eth2", Protocol: "static", Metric: 20, Flags: []string{"onlink"}},
			frrRoutes[2],
		},
		neigh: onlyGateway,
	}, {
		// The seed's table some time into the flood, with the gateway
		// entered by hand ("même en rentrant celle-ci manuellement dans la
		// table ARP"): entries aged to STALE, some used again (DELAY),
		// fresh ones REACHABLE, an unanswered one FAILED and one still
		// being resolved (INCOMPLETE).
		name: "aged",
		setup: func(l *lab) {
			l.ip(l.router, "route", "del", "198.51.100.0/25")
			for _, typ := range []string{"blackhole 192.0.2.64/27", "unreachable 192.0.2.96/27", "prohibit 192.0.2.32/28"} {
				l.ip(l.router, append([]string{"route", "del"}, strings.Fields(typ)...)...)
			}
			l.ip(l.router, "link", "del", "eth3")
			// Deleting the nexthop objects deletes the routes using them.
			l.ip(l.router, "nexthop", "del", "id", "13")
			l.ip(l.router, "nexthop", "del", "id", "12")
			l.ip(l.router, "route", "add", "default", "dev", "eth2", "proto", "zebra", "scope", "global")
			l.ip(l.router, "route", "add", gwAddr, "dev", "eth2", "proto", "zebra", "scope", "global")
			l.ip(l.router, "neigh", "flush", "dev", "eth2")
			l.ip(l.router, "neigh", "replace", gwAddr, "lladdr", gwMAC, "dev", "eth2", "nud", "permanent")
			// Answered entries go STALE after reachable_time (a random
			// 0.5-1.5 of base_reachable_time) unless used within
			// delay_first_probe_time, and a STALE entry used again is
			// DELAY for delay_first_probe_time (net/core/neighbour.c,
			// neigh_timer_handler and __neigh_event_send).
			l.sysctl(l.router, "net/ipv4/neigh/eth2/base_reachable_time_ms", "100")
			l.sysctl(l.router, "net/ipv4/neigh/eth2/delay_first_probe_time", "0")
			l.send(l.router, fromRouter[:8]...)
			l.waitNeigh("eight STALE entries", func(m map[string]string) bool {
				for _, d := range fromRouter[:8] {
					if m[d] != "STALE" {
						return false
					}
				}
				return true
			})
			l.sysctl(l.router, "net/ipv4/neigh/eth2/base_reachable_time_ms", "600000")
			l.sysctl(l.router, "net/ipv4/neigh/eth2/delay_first_probe_time", "600")
			l.send(l.router, fromRouter[:2]...)
			l.send(l.router, fromRouter[8:]...)
			l.send(l.router, unanswered[0])
			l.waitNeigh("fresh entries and a failure", func(m map[string]string) bool {
				return m[fromRouter[8]] == "REACHABLE" && m[fromRouter[9]] == "REACHABLE" && m[unanswered[0]] == "FAILED"
			})
			// Probe for a long time: the entry stays INCOMPLETE.
			l.sysctl(l.router, "net/ipv4/neigh/eth2/mcast_solicit", "10000")
			l.sysctl(l.router, "net/ipv4/neigh/eth2/retrans_time_ms", "60000")
			l.send(l.router, unanswered[1])
		},
		routes: quaggaRoutes, neigh: aged,
		routeReasons: []string{v1.ReasonDefaultRouteWithoutGateway},
		neighReasons: []string{v1.ReasonARPFlood},
	}}
}

// TestKernelCaptures builds the lab, walks it through every state and
// checks what a real kernel prints (refreshing testdata/ with -update).
func TestKernelCaptures(t *testing.T) {
	l := newLab(t)
	sim := simulator(t)
	for _, st := range states() {
		st.setup(l)
		simStates[st.name](t, sim)
		simOut := simCaptures(t, sim)
		got := map[string]string{}
		for _, c := range captures {
			if c.argv[0] == "ip" {
				got[c.file] = l.ip(l.router, c.argv[1:]...)
			} else {
				got[c.file] = l.exec(l.router, c.argv...)
			}
		}
		t.Run(st.name, func(t *testing.T) {
			checkCaptures(t, st, got)
			for _, c := range captures {
				sameFormat(t, c.file, simOut[c.file], got[c.file])
			}
			dir := filepath.Join("testdata", st.name)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for f, out := range got {
					if err := os.WriteFile(filepath.Join(dir, f), []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			// This kernel and the one that made testdata/ agree on
			// what the drivers read.
			golden := readCaptures(t, dir)
			for _, c := range captures {
				if a, b := parsedView(t, c.file, got[c.file]), parsedView(t, c.file, golden[c.file]); a != b {
					t.Errorf("%s: this kernel's output reads differently from testdata:\n%s\n---\n%s", c.file, a, b)
				}
			}
		})
	}
}

// TestGoldenCaptures checks the committed captures without any privilege.
func TestGoldenCaptures(t *testing.T) {
	for _, st := range states() {
		t.Run(st.name, func(t *testing.T) {
			checkCaptures(t, st, readCaptures(t, filepath.Join("testdata", st.name)))
		})
	}
}

func readCaptures(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range captures {
		b, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatalf("%v (refresh with: go test ./test/kernel -run TestKernelCaptures -update, as root)", err)
		}
		out[c.file] = string(b)
	}
	return out
}

// checkCaptures runs every parser the drivers use over the captures of one
// state, and the drift verdicts over what they read.
func checkCaptures(t *testing.T, st state, caps map[string]string) {
	t.Helper()
	for _, f := range []string{"ip-4-route-show-table-main.txt", "ip-route-list.txt", "ip-j-4-route-show-table-main.json"} {
		var routes []router.Route
		var err error
		if strings.HasSuffix(f, ".json") {
			routes, err = router.ParseRoutesJSON([]byte(caps[f]))
		} else {
			routes, err = router.ParseRoutesText(caps[f])
		}
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !reflect.DeepEqual(routes, st.routes) {
			t.Errorf("%s read as\n%v\nwant\n%v", f, routes, st.routes)
		}
		if got := reasons(drift.RouterRoutes(routes, wan)); !reflect.DeepEqual(got, sorted(st.routeReasons)) {
			t.Errorf("%s: route findings %v, want %v", f, got, st.routeReasons)
		}
	}
	neighbours := map[string]func() ([]router.Neighbour, error){
		"ip-j-4-neigh-show-dev-eth2.json": func() ([]router.Neighbour, error) {
			return router.ParseNeighboursJSON([]byte(caps["ip-j-4-neigh-show-dev-eth2.json"]), "eth2")
		},
		"ip-j-4-neigh-show.json": func() ([]router.Neighbour, error) {
			return router.ParseNeighboursJSON([]byte(caps["ip-j-4-neigh-show.json"]), "eth2")
		},
		"proc-net-arp.txt": func() ([]router.Neighbour, error) { return router.ParseProcNetARP(caps["proc-net-arp.txt"], "eth2") },
		"arp-e-n.txt":      func() ([]router.Neighbour, error) { return router.ParseShowARP(caps["arp-e-n.txt"], "eth2") },
	}
	for f, parse := range neighbours {
		ns, err := parse()
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		got := map[string]string{}
		for _, n := range ns {
			got[n.IP] = n.State
			if n.Resolved() != (n.MAC != "") || n.Resolved() && n.MAC != gwMAC {
				t.Errorf("%s: %+v: every answer on the WAN is the gateway's MAC", f, n)
			}
		}
		want := st.neigh
		if strings.HasPrefix(f, "proc") || strings.HasPrefix(f, "arp") {
			// These sources only tell complete, incomplete, permanent.
			want = map[string]string{}
			for ip, s := range st.neigh {
				switch s {
				case "INCOMPLETE", "FAILED", "PERMANENT":
					if s == "FAILED" {
						s = "INCOMPLETE"
					}
					want[ip] = s
				default:
					want[ip] = router.StateComplete
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s read as\n%v\nwant\n%v", f, got, want)
		}
		if _, fs := drift.RouterNeighbours(ns, wan, 0); !reflect.DeepEqual(reasons(fs), sorted(st.neighReasons)) {
			t.Errorf("%s: neighbour findings %v, want %v", f, reasons(fs), st.neighReasons)
		}
	}
}

func reasons(fs []drift.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Reason)
	}
	sort.Strings(out)
	return out
}

func sorted(xs []string) []string {
	out := append([]string{}, xs...)
	sort.Strings(out)
	return out
}

// parsedView is what a driver makes of one capture, in a form where the
// kernel's neighbour hash order does not matter.
func parsedView(t *testing.T, file, text string) string {
	t.Helper()
	var lines []string
	switch {
	case strings.Contains(file, "route"):
		var rs []router.Route
		var err error
		if strings.HasSuffix(file, ".json") {
			rs, err = router.ParseRoutesJSON([]byte(text))
		} else {
			rs, err = router.ParseRoutesText(text)
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, r := range rs {
			lines = append(lines, r.String())
		}
		return strings.Join(lines, "\n")
	case strings.HasSuffix(file, ".json"):
		ns, err := router.ParseNeighboursJSON([]byte(text), "")
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, n := range ns {
			lines = append(lines, n.IP+" "+n.Dev+" "+n.MAC+" "+n.State)
		}
	case file == "proc-net-arp.txt":
		ns, err := router.ParseProcNetARP(text, "")
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, n := range ns {
			lines = append(lines, n.IP+" "+n.Dev+" "+n.MAC+" "+n.State)
		}
	case file == "arp-e-n.txt":
		ns, err := router.ParseShowARP(text, "")
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, n := range ns {
			lines = append(lines, n.IP+" "+n.Dev+" "+n.MAC+" "+n.State)
		}
	default:
		for _, l := range strings.Split(text, "\n") {
			if l = strings.TrimRight(l, " "); l != "" {
				lines = append(lines, l)
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
