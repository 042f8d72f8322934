package drift

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"

	"github.com/ovhbridge/ovhbridge-operator/internal/router"
)

var wan = RouterWAN{Interface: "eth2", Gateway: "198.51.100.254"}

func reasons(fs []Finding) string {
	var rs []string
	for _, f := range fs {
		rs = append(rs, f.Reason)
	}
	return strings.Join(rs, ",")
}

func mustRoutesText(t *testing.T, s string) []router.Route {
	t.Helper()
	rs, err := router.ParseRoutesText(s)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func mustRoutesJSON(t *testing.T, s string) []router.Route {
	t.Helper()
	rs, err := router.ParseRoutesJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestRouterRoutes(t *testing.T) {
	cases := []struct {
		name   string
		routes func(t *testing.T) []router.Route
		want   string
	}{
		{"Vyatta 6.5 configured the 2013 way (the seed)", func(t *testing.T) []router.Route {
			return mustRoutesText(t, "default dev eth2  proto zebra \n10.0.10.0/24 dev eth1  proto kernel  scope link  src 10.0.10.254 \n198.51.100.254 dev eth2  proto zebra \n")
		}, v1.ReasonDefaultRouteWithoutGateway},
		{"the seed's table after the workaround", func(t *testing.T) []router.Route {
			return mustRoutesText(t, "default via 198.51.100.254 dev eth2 \n198.51.100.254 dev eth2  scope link \n")
		}, ""},
		{"VyOS 1.4 FRR, JSON", func(t *testing.T) []router.Route {
			return mustRoutesJSON(t, `[{"dst":"default","gateway":"198.51.100.254","dev":"eth2","protocol":"static","metric":20,"flags":["onlink"]},`+
				`{"dst":"198.51.100.254","dev":"eth2","protocol":"static","scope":"link","metric":20,"flags":[]}]`)
		}, ""},
		{"FRR onlink default alone is enough", func(t *testing.T) []router.Route {
			return mustRoutesJSON(t, `[{"dst":"default","gateway":"198.51.100.254","dev":"eth2","protocol":"static","metric":20,"flags":["onlink"]}]`)
		}, ""},
		{"after a reboot without the boot script", func(t *testing.T) []router.Route {
			return mustRoutesText(t, "10.0.10.0/24 dev eth1  proto kernel  scope link  src 10.0.10.254 \n")
		}, v1.ReasonGatewayRouteMissing + "," + v1.ReasonGatewayRouteMissing},
		{"gateway route deleted by hand", func(t *testing.T) []router.Route {
			return mustRoutesText(t, "default via 198.51.100.254 dev eth2 \n")
		}, v1.ReasonGatewayRouteMissing},
		{"default via a DHCP gateway on eth0", func(t *testing.T) []router.Route {
			return mustRoutesText(t, "default via 192.0.2.1 dev eth0 proto dhcp metric 1024\n198.51.100.254 dev eth2 scope link\n")
		}, v1.ReasonGatewayRouteMissing},
		{"the lowest metric default wins", func(t *testing.T) []router.Route {
			return mustRoutesText(t, "default via 198.51.100.254 dev eth2 metric 100\ndefault dev eth2 proto zebra metric 10\n198.51.100.254 dev eth2 scope link\n")
		}, v1.ReasonDefaultRouteWithoutGateway},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := RouterRoutes(c.routes(t), wan)
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
	def, gw := RouterObservedRoutes(mustRoutesText(t, "default dev eth2  proto zebra \n198.51.100.254 dev eth2  proto zebra \n"), wan)
	if def == nil || def.Gateway != "" || gw == nil || gw.Protocol != "zebra" {
		t.Fatalf("observed routes: %+v %+v", def, gw)
	}
}

// procARP renders /proc/net/arp lines for entries "ip mac flags".
func procARP(entries ...string) string {
	var b strings.Builder
	b.WriteString("IP address       HW type     Flags       HW address            Mask     Device\n")
	for _, e := range entries {
		f := strings.Fields(e)
		fmt.Fprintf(&b, "%-16s 0x1         %-11s %-21s *        eth2\n", f[0], f[2], f[1])
	}
	return b.String()
}

func TestRouterNeighbours(t *testing.T) {
	const gwMAC = "00:05:73:a0:00:01"
	// The seed's ARP log, translated to documentation addresses: every
	// contacted address resolved to the gateway's MAC, and no gateway entry.
	var seedFlood []string
	for _, ip := range []string{"192.0.2.20", "192.0.2.120", "192.0.2.251", "192.0.2.175", "192.0.2.8",
		"192.0.2.42", "192.0.2.191", "192.0.2.163", "192.0.2.98", "192.0.2.63"} {
		seedFlood = append(seedFlood, ip+" "+gwMAC+" 0x2")
	}
	parse := func(t *testing.T, text string) []router.Neighbour {
		ns, err := router.ParseProcNetARP(text, "")
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	cases := []struct {
		name      string
		text      string
		threshold int
		want      string
		sum       NeighbourSummary
	}{
		{"the seed's flood", procARP(seedFlood...), 5, v1.ReasonARPFlood + "," + v1.ReasonGatewayARPMissing,
			NeighbourSummary{Interface: "eth2", Entries: 10, OffLink: 10, GatewayState: GatewayMissing, DominantMAC: gwMAC, DominantMACEntries: 10}},
		{"flood below the threshold still misses the gateway", procARP(seedFlood[:3]...), 5, v1.ReasonGatewayARPMissing,
			NeighbourSummary{Interface: "eth2", Entries: 3, OffLink: 3, GatewayState: GatewayMissing, DominantMAC: gwMAC, DominantMACEntries: 3}},
		{"flood with the gateway entry present", procARP(append(seedFlood, "198.51.100.254 "+gwMAC+" 0x2")...), 5, v1.ReasonARPFlood,
			NeighbourSummary{Interface: "eth2", Entries: 11, OffLink: 10, GatewayState: router.StateComplete, GatewayMAC: gwMAC, DominantMAC: gwMAC, DominantMACEntries: 10}},
		{"healthy: only the gateway", procARP("198.51.100.254 " + gwMAC + " 0x2"), 5, "",
			NeighbourSummary{Interface: "eth2", Entries: 1, GatewayState: router.StateComplete, GatewayMAC: gwMAC}},
		{"gateway aged out, nothing else: not drift", procARP(), 5, "",
			NeighbourSummary{Interface: "eth2", GatewayState: GatewayMissing}},
		{"gateway incomplete while a WAN VM is reached", procARP("198.51.100.254 00:00:00:00:00:00 0x0", "203.0.113.124 00:50:56:00:00:24 0x2"), 5, v1.ReasonGatewayARPMissing,
			NeighbourSummary{Interface: "eth2", Entries: 2, OffLink: 1, GatewayState: router.StateIncomplete, DominantMAC: "00:50:56:00:00:24", DominantMACEntries: 1}},
		{"many entries with distinct MACs are not a flood", procARP("198.51.100.254 "+gwMAC+" 0x2",
			"203.0.113.1 00:50:56:00:00:01 0x2", "203.0.113.2 00:50:56:00:00:02 0x2", "203.0.113.3 00:50:56:00:00:03 0x2"), 2, "",
			NeighbourSummary{Interface: "eth2", Entries: 4, OffLink: 3, GatewayState: router.StateComplete, GatewayMAC: gwMAC, DominantMAC: "00:50:56:00:00:01", DominantMACEntries: 1}},
		{"default threshold", procARP(seedFlood...), 0, v1.ReasonGatewayARPMissing,
			NeighbourSummary{Interface: "eth2", Entries: 10, OffLink: 10, GatewayState: GatewayMissing, DominantMAC: gwMAC, DominantMACEntries: 10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sum, fs := RouterNeighbours(parse(t, c.text), wan, c.threshold)
			if got := reasons(fs); got != c.want {
				t.Fatalf("got %q, want %q: %+v", got, c.want, fs)
			}
			if sum != c.sum {
				t.Fatalf("summary %+v, want %+v", sum, c.sum)
			}
		})
	}
	// The flood finding names the count and the MAC.
	_, fs := RouterNeighbours(parse(t, procARP(seedFlood...)), wan, 5)
	if !strings.Contains(fs[0].Observed, "10 off-link entries, 10 with MAC "+gwMAC) {
		t.Fatalf("observed %q", fs[0].Observed)
	}
	// Entries on other interfaces are not the WAN's business.
	ns, _ := router.ParseNeighboursJSON([]byte(`[{"dst":"10.0.10.10","dev":"eth1","lladdr":"52:54:00:00:0a:0a","state":["REACHABLE"]},`+
		`{"dst":"198.51.100.254","dev":"eth2","lladdr":"`+gwMAC+`","state":["STALE"]}]`), "")
	if sum, fs := RouterNeighbours(ns, wan, 5); len(fs) != 0 || sum.Entries != 1 || sum.GatewayState != "STALE" {
		t.Fatalf("%+v %+v", sum, fs)
	}
}

func TestRouterBootScript(t *testing.T) {
	rend, err := router.Render(router.Vyatta6, router.Desired{WAN: router.WAN{Interface: "eth2", Gateway: "198.51.100.254", Mode: router.BootScriptMode}})
	if err != nil {
		t.Fatal(err)
	}
	block := rend.BootScriptBlock
	good := router.MergeBootScript("#!/bin/sh\n", block)
	other, _ := router.Render(router.Vyatta6, router.Desired{WAN: router.WAN{Interface: "eth2", Gateway: "198.51.100.1", Mode: router.BootScriptMode}})
	cases := []struct {
		name  string
		bs    router.BootScript
		want  string
		state string
	}{
		{"present", router.BootScript{Present: true, Executable: true, Content: good}, "", BootScriptPresent},
		{"absent", router.BootScript{}, v1.ReasonBootScriptMissing, BootScriptMissing},
		{"not executable", router.BootScript{Present: true, Content: good}, v1.ReasonBootScriptMissing, BootScriptNotExecutable},
		{"the seed's hand-written routes, no block", router.BootScript{Present: true, Executable: true,
			Content: "#!/bin/sh\nroute add 198.51.100.254 dev eth2\nroute add default gw 198.51.100.254\n"}, v1.ReasonBootScriptMissing, BootScriptOutdated},
		{"block for another gateway", router.BootScript{Present: true, Executable: true, Content: router.MergeBootScript("", other.BootScriptBlock)}, v1.ReasonBootScriptMissing, BootScriptOutdated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state, fs := RouterBootScript(c.bs, block)
			if reasons(fs) != c.want || state != c.state {
				t.Fatalf("got %s %q, want %s %q", state, reasons(fs), c.state, c.want)
			}
		})
	}
	if state, fs := RouterBootScript(router.BootScript{}, ""); state != BootScriptNotRequired || fs != nil {
		t.Fatalf("InterfaceRoute mode: %s %+v", state, fs)
	}
}

func TestRouterSavedConfigAndNAT(t *testing.T) {
	rend, err := router.Render(router.VyOS14, router.Desired{
		SourceNAT:      []router.SourceNATRule{{Rule: 10, OutboundInterface: "eth2", SourceAddress: "10.0.10.0/24"}},
		DestinationNAT: []router.DestinationNATRule{{Rule: 20, InboundInterface: "eth2", Protocol: "tcp", Port: "25565", TranslationAddress: "10.0.10.10"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	running, err := router.ParseCommands(`set nat source rule 10 outbound-interface name 'eth2'
set nat source rule 10 source address '10.0.10.0/24'
set nat source rule 10 translation address 'masquerade'
set nat destination rule 20 inbound-interface name 'eth2'
set nat destination rule 20 protocol 'tcp'
set nat destination rule 20 translation address '10.0.10.99'`)
	if err != nil {
		t.Fatal(err)
	}
	fs := RouterNATRules(running, rend.Config)
	if reasons(fs) != v1.ReasonNATRuleMissing || fs[0].Field != "nat.destination[20]" || !strings.Contains(fs[0].Message, "destination port 25565") {
		t.Fatalf("%+v", fs)
	}
	if fs := RouterNATRules(rend.Config, rend.Config); len(fs) != 0 {
		t.Fatalf("complete rules reported: %+v", fs)
	}
	if fs := RouterNATRules(nil, rend.Config); len(fs) != 2 || fs[0].Observed != "absent" {
		t.Fatalf("absent rules: %+v", fs)
	}

	saved, err := router.ParseConfigBoot("nat {\n    source {\n        rule 10 {\n            outbound-interface {\n                name eth2\n            }\n" +
		"            source {\n                address 10.0.10.0/24\n            }\n            translation {\n                address masquerade\n            }\n        }\n    }\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	fs = RouterSavedConfig(running.Owned(rend.Owned), saved.Owned(rend.Owned))
	if reasons(fs) != v1.ReasonUnsavedConfig || !strings.Contains(fs[0].Observed, "unsaved: nat destination rule 20") {
		t.Fatalf("%+v", fs)
	}
	if fs := RouterSavedConfig(saved, saved); fs != nil {
		t.Fatalf("equal configs reported: %+v", fs)
	}
}
