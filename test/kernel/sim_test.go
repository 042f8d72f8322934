package kernel_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// simStates brings the router simulator through the same states as the
// lab, with its own means (configuration, out-of-band `ip` commands,
// injected traffic), so that its output can be compared with a real
// kernel's.
var simStates = map[string]func(t *testing.T, s *routersim.Router){
	"broken": func(t *testing.T, s *routersim.Router) {
		simIP(t, s, "route add default dev eth2 proto zebra scope global")
		simIP(t, s, "route add "+gwAddr+" dev eth2 proto zebra scope global")
		must(t, s.InjectTraffic(fromRouter...))
		must(t, s.InjectForwarded(lanHost, fromLAN...))
		must(t, s.InjectTraffic(unanswered[0]))
		s.FailUnanswered()
	},
	"fixed": func(t *testing.T, s *routersim.Router) {
		simIP(t, s, "route replace "+gwAddr+" dev eth2 scope link")
		simIP(t, s, "route replace default via "+gwAddr+" dev eth2")
	},
	"fixed-flushed": func(t *testing.T, s *routersim.Router) {
		s.FlushNeighbours("eth2")
		must(t, s.InjectTraffic(fromRouter...))
		must(t, s.InjectForwarded(lanHost, fromLAN...))
	},
	"frr": func(t *testing.T, s *routersim.Router) {
		simIP(t, s, "route del default")
		simIP(t, s, "route del "+gwAddr)
		must(t, s.SetConfig("set protocols static route 0.0.0.0/0 next-hop "+gwAddr,
			"set protocols static route "+gwAddr+"/32 interface eth2"))
		s.FlushNeighbours("eth2")
		must(t, s.InjectTraffic(fromRouter...))
	},
	"special": func(t *testing.T, s *routersim.Router) {
		must(t, s.SetConfig("set interfaces ethernet eth3 address 192.0.2.1/28"))
		s.SetCarrier("eth3", false)
		simIP(t, s, "route add 192.0.2.128/25 via 192.0.2.2 dev eth3")
		simIP(t, s, "route add blackhole 192.0.2.64/27 proto static metric 20")
		simIP(t, s, "route add unreachable 192.0.2.96/27")
		simIP(t, s, "route add prohibit 192.0.2.32/28")
		simIP(t, s, "route add 198.51.100.0/25 proto static metric 20 nexthop via "+gwAddr+" dev eth2 onlink nexthop via 192.0.2.2 dev eth3")
	},
	"aged": func(t *testing.T, s *routersim.Router) {
		for _, r := range []string{"198.51.100.0/25", "blackhole 192.0.2.64/27", "unreachable 192.0.2.96/27", "prohibit 192.0.2.32/28", "192.0.2.128/25"} {
			simIP(t, s, "route del "+r)
		}
		must(t, s.DeleteConfig("interfaces ethernet eth3 address"))
		must(t, s.DeleteConfig("protocols static"))
		simIP(t, s, "route add default dev eth2 proto zebra scope global")
		simIP(t, s, "route add "+gwAddr+" dev eth2 proto zebra scope global")
		s.FlushNeighbours("eth2")
		simIP(t, s, "neigh replace "+gwAddr+" lladdr "+gwMAC+" dev eth2 nud permanent")
		must(t, s.InjectTraffic(fromRouter[:8]...))
		s.AgeNeighbours()
		must(t, s.InjectTraffic(fromRouter[:2]...))
		must(t, s.InjectTraffic(fromRouter[8:]...))
		must(t, s.InjectTraffic(unanswered[0]))
		s.FailUnanswered()
		must(t, s.InjectTraffic(unanswered[1]))
	},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func simIP(t *testing.T, s *routersim.Router, args string) {
	t.Helper()
	if out, code := s.RunIP(strings.Fields(args)...); code != 0 {
		t.Fatalf("simulator: ip %s: %d %s", args, code, out)
	}
}

// simulator is a VyOS 1.4 router (modern iproute2) holding the lab's
// addresses and MACs, with the gateway's unrouted /24 unanswered.
func simulator(t *testing.T) *routersim.Router {
	t.Helper()
	s, err := routersim.New(routersim.VyOS14, routersim.Options{
		Seed: "set interfaces ethernet eth1 address '10.0.10.254/24'\n" +
			"set interfaces ethernet eth2 address '" + wanAddr + "/32'\n" +
			"set service https api keys id ovhbridge key 'sim-api-key'\n" +
			"set system login user vyos authentication encrypted-password '$6$sim$notarealhash'\n",
		Gateway: gwAddr, GatewayMAC: gwMAC, Silent: unanswered,
		Hosts: map[string]string{lanHost: lanHostMAC},
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

// simCaptures runs the captured commands on the simulator over SSH, as the
// drivers do.
func simCaptures(t *testing.T, s *routersim.Router) map[string]string {
	t.Helper()
	return simCapturesOf(t, s, captures)
}

// simCapturesOf runs the given commands on the simulator over SSH.
func simCapturesOf(t *testing.T, s *routersim.Router, captures []capture) map[string]string {
	t.Helper()
	c, err := ssh.Dial("tcp", s.SSHAddr(), &ssh.ClientConfig{
		User: s.Username(), Auth: []ssh.AuthMethod{ssh.Password(s.Password())},
		HostKeyCallback: ssh.FixedHostKey(s.HostPublicKey()),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := map[string]string{}
	for _, cp := range captures {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		sess.Stdout, sess.Stderr = &stdout, &stderr
		if err := sess.Run(strings.Join(cp.argv, " ")); err != nil {
			t.Fatalf("simulator: %s: %v: %s", strings.Join(cp.argv, " "), err, stderr.String())
		}
		sess.Close()
		out[cp.file] = stdout.String()
	}
	return out
}

var nhid = regexp.MustCompile(`nhid ([0-9]+)|"nhid":([0-9]+)`)

// sameFormat compares the simulator's output with a kernel's for one
// command: byte for byte, except the order of neighbour entries (the
// kernel's hash order) and the numbers of nexthop objects (FRR's to pick).
func sameFormat(t *testing.T, file, sim, kernel string) {
	t.Helper()
	norm := func(s string) string {
		return nhid.ReplaceAllStringFunc(s, func(m string) string {
			if strings.HasPrefix(m, `"`) {
				return `"nhid":N`
			}
			return "nhid N"
		})
	}
	var a, b string
	switch {
	case strings.Contains(file, "route"):
		a, b = norm(sim), norm(kernel)
	case strings.HasSuffix(file, ".json"):
		a, b = jsonElements(t, sim), jsonElements(t, kernel)
	default:
		a, b = sortedBody(sim), sortedBody(kernel)
	}
	if a != b {
		t.Errorf("%s: the simulator prints\n%s\na real kernel\n%s", file, a, b)
	}
}

// jsonElements lists a JSON array's elements as printed, sorted.
func jsonElements(t *testing.T, s string) string {
	t.Helper()
	var els []json.RawMessage
	if err := json.Unmarshal([]byte(s), &els); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	lines := make([]string, len(els))
	for i, e := range els {
		lines[i] = string(e)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n(final newline: " + string(rune('0'+strings.Count(s[len(strings.TrimRight(s, "\n")):], "\n"))) + ")"
}

// sortedBody keeps a table's header line in place and sorts the rest.
func sortedBody(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > 0 && (strings.HasPrefix(lines[0], "IP address") || strings.HasPrefix(lines[0], "Address")) {
		body := append([]string{}, lines[1:]...)
		sort.Strings(body)
		return strings.Join(append(lines[:1:1], body...), "\n")
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestSimulatorPrintsLikeTheKernel walks the simulator through the states
// and compares what it prints with the committed captures of a real kernel.
func TestSimulatorPrintsLikeTheKernel(t *testing.T) {
	s := simulator(t)
	for _, st := range states() {
		simStates[st.name](t, s)
		got := simCaptures(t, s)
		golden := readCaptures(t, "testdata/"+st.name)
		t.Run(st.name, func(t *testing.T) {
			for _, c := range captures {
				sameFormat(t, c.file, got[c.file], golden[c.file])
			}
			// And the drivers reach the same verdicts on it.
			checkCaptures(t, st, got)
		})
	}
}
