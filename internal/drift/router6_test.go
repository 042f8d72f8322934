package drift

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"

	"github.com/ovhbridge/ovhbridge-operator/internal/router"
)

var wan6 = RouterWAN6{Interface: "eth2", Gateway: "2001:db8:1:ff:ff:ff:ff:ff", OnLink: []netip.Prefix{netip.MustParsePrefix("2001:db8:1:1::/64")}}

func TestRouterRoutes6(t *testing.T) {
	const connected = "2001:db8:1:1::/64 dev eth2 proto kernel metric 256 pref medium\nfe80::/64 dev eth2 proto kernel metric 256 pref medium\n"
	cases := []struct {
		name, text string
		wan        RouterWAN6
		want       string
	}{
		{"Quagga's gateway-less default (test/kernel ipv6/broken)", connected +
			"2001:db8:1:ff:ff:ff:ff:ff dev eth2 proto zebra metric 1024 pref medium\ndefault dev eth2 proto zebra metric 1024 pref medium\n",
			wan6, v1.ReasonDefaultRoute6WithoutGateway},
		{"the boot script's routes (ipv6/fixed)", connected +
			"2001:db8:1:ff:ff:ff:ff:ff dev eth2 metric 1024 pref medium\ndefault via 2001:db8:1:ff:ff:ff:ff:ff dev eth2 metric 1024 pref medium\n",
			wan6, ""},
		{"FRR's onlink default alone", "default nhid 13 via 2001:db8:1:ff:ff:ff:ff:ff dev eth2 proto static metric 20 onlink pref medium\n", wan6, ""},
		{"the gateway spelled with its zeros", "2001:db8:1:ff:ff:ff:ff:ff dev eth2 metric 1024\ndefault via 2001:db8:1:ff:ff:ff:ff:ff dev eth2 metric 1024\n",
			RouterWAN6{Interface: "eth2", Gateway: "2001:0db8:0001:00ff:00ff:00ff:00ff:00ff"}, ""},
		{"after a reboot without the boot script", connected, wan6, v1.ReasonGatewayRoute6Missing + "," + v1.ReasonGatewayRoute6Missing},
		{"gateway route deleted by hand", "default via 2001:db8:1:ff:ff:ff:ff:ff dev eth2 metric 1024\n", wan6, v1.ReasonGatewayRoute6Missing},
		{"default learnt from a router advertisement on another interface", "default via fe80::1 dev eth0 proto ra metric 1024 expires 1799sec\n" +
			"2001:db8:1:ff:ff:ff:ff:ff dev eth2 metric 1024\n", wan6, v1.ReasonGatewayRoute6Missing},
		{"a link-local gateway needs no route of its own", "default via fe80::1 dev eth2 metric 1024\n",
			RouterWAN6{Interface: "eth2", Gateway: "fe80::1"}, ""},
		{"the lowest metric default wins", "default via 2001:db8:1:ff:ff:ff:ff:ff dev eth2 metric 1024\ndefault dev eth2 proto zebra metric 20\n" +
			"2001:db8:1:ff:ff:ff:ff:ff dev eth2 metric 1024\n", wan6, v1.ReasonDefaultRoute6WithoutGateway},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := RouterRoutes6(mustRoutesText(t, c.text), c.wan)
			if got := reasons(fs); got != c.want {
				t.Fatalf("got %q, want %q: %+v", got, c.want, fs)
			}
			for _, f := range fs {
				if f.Field == "" || f.Expected == "" || f.Observed == "" || f.Message == "" {
					t.Fatalf("incomplete finding %+v", f)
				}
			}
		})
	}
	def, gw := RouterObservedRoutes6(mustRoutesText(t, connected+"2001:db8:1:ff:ff:ff:ff:ff dev eth2 proto zebra metric 1024\ndefault dev eth2 proto zebra metric 1024\n"), wan6)
	if def == nil || def.Gateway != "" || gw == nil || gw.Protocol != "zebra" {
		t.Fatalf("observed routes: %+v %+v", def, gw)
	}
}

func TestRouterNeighbours6(t *testing.T) {
	const gwMAC = "00:05:73:a0:00:01"
	line := func(ip, rest string) string { return ip + " " + rest + " \n" }
	var flood, unresolved string
	for i := 1; i <= 12; i++ {
		flood += line(fmt.Sprintf("2001:db8:ffff::%x", i), "lladdr "+gwMAC+" REACHABLE")
		unresolved += line(fmt.Sprintf("2001:db8:ffff::%x", i), "FAILED")
	}
	gateway := line("2001:db8:1:ff:ff:ff:ff:ff", "lladdr "+gwMAC+" router REACHABLE")
	// The host and a WAN-side VM in the server's /64, and the gateway's
	// link-local address: on-link, never a flood.
	peers := line("2001:db8:1:1::1", "lladdr 00:50:56:00:00:01 STALE") + line("2001:db8:1:1::124", "lladdr 00:50:56:00:00:24 REACHABLE") +
		line("fe80::205:73ff:fea0:1", "lladdr "+gwMAC+" router STALE")
	cases := []struct {
		name, text string
		threshold  int
		want       string
		offLink    int
	}{
		{"the flood answered by the gateway's MAC (ipv6/broken)", flood, 0, v1.ReasonNDPFlood + "," + v1.ReasonGatewayNDPMissing, 12},
		{"a flood nobody answers", unresolved, 0, v1.ReasonNDPFlood + "," + v1.ReasonGatewayNDPMissing, 12},
		{"the flood's entries beside a resolved gateway", flood + gateway, 0, v1.ReasonNDPFlood, 12},
		{"below the threshold the gateway is still missed", flood, 20, v1.ReasonGatewayNDPMissing, 12},
		{"healthy: the gateway and on-link peers", gateway + peers, 0, "", 0},
		{"on-link peers without a gateway entry are not drift", peers, 0, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns, err := router.ParseNeighboursText(c.text, "eth2")
			if err != nil {
				t.Fatal(err)
			}
			sum, fs := RouterNeighbours6(ns, wan6, c.threshold)
			if got := reasons(fs); got != c.want {
				t.Fatalf("got %q, want %q: %+v", got, c.want, fs)
			}
			if sum.OffLink != c.offLink {
				t.Fatalf("summary %+v, want %d off-link", sum, c.offLink)
			}
			for _, f := range fs {
				if f.Field == "" || f.Expected == "" || f.Observed == "" || f.Message == "" {
					t.Fatalf("incomplete finding %+v", f)
				}
			}
		})
	}
	_, fs := RouterNeighbours6(mustNeigh6(t, flood), wan6, 5)
	if !strings.Contains(fs[0].Observed, "12 off-link entries, 12 with MAC "+gwMAC) || !strings.Contains(fs[0].Message, "one MAC") {
		t.Fatalf("flood finding %+v", fs[0])
	}
	_, fs = RouterNeighbours6(mustNeigh6(t, flood+line("2001:db8:1:ff:ff:ff:ff:ff", "lladdr "+gwMAC+" router STALE")), wan6, 5)
	if !strings.Contains(fs[0].Message, "the gateway's MAC") {
		t.Fatalf("flood finding %+v", fs[0])
	}
	_, fs = RouterNeighbours6(mustNeigh6(t, unresolved), wan6, 5)
	if !strings.Contains(fs[0].Observed, "12 never resolved") {
		t.Fatalf("unresolved flood finding %+v", fs[0])
	}
}

func mustNeigh6(t *testing.T, text string) []router.Neighbour {
	t.Helper()
	ns, err := router.ParseNeighboursText(text, "eth2")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestRouterNDPProxy(t *testing.T) {
	want := []string{"2001:db8:1:1:1::10", "2001:0db8:1:1:1::11"}
	if fs := RouterNDPProxy([]string{"2001:db8:1:1:1::11", "2001:db8:1:1:1::10"}, want, "eth2"); len(fs) != 0 {
		t.Errorf("every address proxied, in any spelling: %+v", fs)
	}
	fs := RouterNDPProxy([]string{"2001:db8:1:1:1::10", "2001:db8:1:1:1::99"}, want, "eth2")
	if len(fs) != 1 || fs[0].Reason != v1.ReasonNDPProxyMissing || !strings.Contains(fs[0].Message, "2001:db8:1:1:1::11 is unreachable over IPv6") {
		t.Fatalf("findings %+v", fs)
	}
	if got := MissingNDPProxies(fs); len(got) != 1 || got[0] != "2001:db8:1:1:1::11" {
		t.Errorf("missing %v", got)
	}
	if fs := RouterNDPProxy(nil, nil, "eth2"); len(fs) != 0 {
		t.Errorf("nothing asked: %+v", fs)
	}
}
