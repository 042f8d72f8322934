package kernel_test

import (
	"sort"
	"strings"
	"testing"

	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// simStates6 brings the router simulator through the IPv6 lab's states
// with its own means, so that what it prints can be held to the captures.
var simStates6 = map[string]func(t *testing.T, s *routersim.Router){
	"broken": func(t *testing.T, s *routersim.Router) {
		simIP(t, s, "-6 route add default dev eth2 proto zebra")
		simIP(t, s, "-6 route add "+gw6Addr+" dev eth2 proto zebra")
		must(t, s.InjectTraffic(fromRouter6...))
		must(t, s.InjectTraffic(unanswered6))
		s.FailUnanswered()
	},
	"fixed": func(t *testing.T, s *routersim.Router) {
		simIP(t, s, "-6 route replace "+gw6Addr+" dev eth2")
		simIP(t, s, "-6 route replace default via "+gw6Addr+" dev eth2")
	},
	"fixed-flushed": func(t *testing.T, s *routersim.Router) {
		simIP(t, s, "-6 neigh flush dev eth2")
		must(t, s.InjectTraffic(fromRouter6...))
	},
	"frr": func(t *testing.T, s *routersim.Router) {
		simIP(t, s, "-6 route del default")
		simIP(t, s, "-6 route del "+gw6Addr)
		must(t, s.SetConfig("set protocols static route6 ::/0 next-hop "+gw6Addr,
			"set protocols static route6 "+gw6Addr+"/128 interface eth2"))
		simIP(t, s, "-6 neigh flush dev eth2")
		must(t, s.InjectTraffic(fromRouter6...))
	},
}

// simulator6 is a VyOS 1.4 router with the IPv6 lab's WAN address, the
// unanswered destination silent.
func simulator6(t *testing.T) *routersim.Router {
	t.Helper()
	s, err := routersim.New(routersim.VyOS14, routersim.Options{
		Seed: "set interfaces ethernet eth1 address '10.0.10.254/24'\n" +
			"set interfaces ethernet eth2 address '" + wanAddr + "/32'\n" +
			"set interfaces ethernet eth2 address '" + wan6Addr + "/64'\n" +
			"set service https api keys id ovhbridge key 'sim-api-key'\n" +
			"set system login user vyos authentication encrypted-password '$6$sim$notarealhash'\n",
		Gateway: gwAddr, GatewayMAC: gwMAC, Silent: []string{unanswered6},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// sameFormat6 compares the simulator's output with a kernel's: byte for
// byte once lines (or JSON elements) are sorted — the order of same-length
// IPv6 prefixes and of neighbour entries is the kernel's business — and
// nexthop numbers are left out.
func sameFormat6(t *testing.T, file, sim, kernel string) {
	t.Helper()
	norm := func(s string) string {
		s = nhid.ReplaceAllStringFunc(s, func(m string) string {
			if strings.HasPrefix(m, `"`) {
				return `"nhid":0`
			}
			return "nhid N"
		})
		if strings.HasSuffix(file, ".json") {
			return jsonElements(t, s)
		}
		lines := strings.Split(s, "\n")
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	if a, b := norm(sim), norm(kernel); a != b {
		t.Errorf("%s: the simulator prints\n%s\na real kernel\n%s", file, a, b)
	}
}

// TestSimulatorPrintsLikeTheKernel6 walks the simulator through the IPv6
// states and compares what it prints over SSH with the committed captures.
func TestSimulatorPrintsLikeTheKernel6(t *testing.T) {
	s := simulator6(t)
	for _, st := range states6() {
		simStates6[st.name](t, s)
		got := simCapturesOf(t, s, captures6)
		golden := readCaptures6(t, "testdata/ipv6/"+st.name)
		t.Run(st.name, func(t *testing.T) {
			for _, c := range captures6 {
				sameFormat6(t, c.file, got[c.file], golden[c.file])
			}
			checkCaptures6(t, st, got)
		})
	}
}
