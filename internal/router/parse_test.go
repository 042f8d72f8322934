package router

import (
	"reflect"
	"strings"
	"testing"
)

// Real-looking outputs, with documentation addresses. The Vyatta ones keep
// iproute2 3.x's double spaces and trailing blanks.
const (
	vyattaBugRoutes = "default dev eth2  proto zebra \n" +
		"10.0.10.0/24 dev eth1  proto kernel  scope link  src 10.0.10.254 \n" +
		"198.51.100.254 dev eth2  proto zebra \n"
	vyattaFixedRoutes = "default via 198.51.100.254 dev eth2 \n" +
		"10.0.10.0/24 dev eth1  proto kernel  scope link  src 10.0.10.254 \n" +
		"198.51.100.254 dev eth2  scope link \n"
	frrRoutesJSON = `[{"dst":"default","gateway":"198.51.100.254","dev":"eth2","protocol":"static","metric":20,"flags":["onlink"]},` +
		`{"dst":"10.0.10.0/24","dev":"eth1","protocol":"kernel","scope":"link","prefsrc":"10.0.10.254","flags":[]},` +
		`{"dst":"198.51.100.254","dev":"eth2","protocol":"static","scope":"link","metric":20,"flags":[]},` +
		`{"type":"blackhole","dst":"192.0.2.0/24","protocol":"static","metric":20,"flags":[]}]`
)

func TestParseRoutesText(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []Route
	}{
		{"vyatta quagga bug", vyattaBugRoutes, []Route{
			{Dst: "default", Dev: "eth2", Protocol: "zebra"},
			{Dst: "10.0.10.0/24", Dev: "eth1", Protocol: "kernel", Scope: "link"},
			{Dst: "198.51.100.254", Dev: "eth2", Protocol: "zebra"},
		}},
		{"vyatta boot script fix", vyattaFixedRoutes, []Route{
			{Dst: "default", Gateway: "198.51.100.254", Dev: "eth2", Protocol: "boot"},
			{Dst: "10.0.10.0/24", Dev: "eth1", Protocol: "kernel", Scope: "link"},
			{Dst: "198.51.100.254", Dev: "eth2", Protocol: "boot", Scope: "link"},
		}},
		{"seed's route table after the fix (one line)", "default via 198.51.100.254 dev eth2 \n198.51.100.254 dev eth2  scope link", []Route{
			{Dst: "default", Gateway: "198.51.100.254", Dev: "eth2", Protocol: "boot"},
			{Dst: "198.51.100.254", Dev: "eth2", Protocol: "boot", Scope: "link"},
		}},
		{"frr onlink, modern iproute2", "default via 198.51.100.254 dev eth2 proto static metric 20 onlink \n" +
			"198.51.100.254 dev eth2 proto static scope link metric 20 \n" +
			"blackhole 192.0.2.0/24 proto static metric 20 \n" +
			"unreachable 192.0.2.128/25 proto static metric 20\n", []Route{
			{Dst: "default", Gateway: "198.51.100.254", Dev: "eth2", Protocol: "static", Metric: 20, Flags: []string{"onlink"}},
			{Dst: "198.51.100.254", Dev: "eth2", Protocol: "static", Scope: "link", Metric: 20},
		}},
		{"multipath and nhid", "default nhid 12 proto static metric 20 \n" +
			"\tnexthop via 198.51.100.254 dev eth2 weight 1 onlink \n" +
			"\tnexthop via 198.51.100.253 dev eth3 weight 1 \n" +
			"203.0.113.0/24 via 198.51.100.254 dev eth2 proto static metric 20 mtu lock 1400 \n", []Route{
			{Dst: "default", Gateway: "198.51.100.254", Dev: "eth2", Protocol: "static", Metric: 20, Flags: []string{"onlink"}},
			{Dst: "203.0.113.0/24", Gateway: "198.51.100.254", Dev: "eth2", Protocol: "static", Metric: 20},
		}},
		{"empty", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRoutesText(c.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %#v\nwant %#v", got, c.want)
			}
		})
	}
	if _, err := ParseRoutesText("default frobnicate 3\n"); err == nil {
		t.Fatal("unknown attribute accepted")
	}
}

func TestParseRoutesJSON(t *testing.T) {
	got, err := ParseRoutesJSON([]byte(frrRoutesJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{Dst: "default", Gateway: "198.51.100.254", Dev: "eth2", Protocol: "static", Metric: 20, Flags: []string{"onlink"}},
		{Dst: "10.0.10.0/24", Dev: "eth1", Protocol: "kernel", Scope: "link"},
		{Dst: "198.51.100.254", Dev: "eth2", Protocol: "static", Scope: "link", Metric: 20},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
	// A route added by `ip route replace` has no "protocol" (boot) and the
	// bug's default has no "gateway".
	got, err = ParseRoutesJSON([]byte(`[{"dst":"default","dev":"eth2","protocol":"zebra","flags":[]},{"dst":"198.51.100.254","dev":"eth2","scope":"link","flags":[]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Gateway != "" || got[0].Protocol != "zebra" || got[1].Protocol != "boot" || got[1].Scope != "link" {
		t.Fatalf("got %#v", got)
	}
	if _, err := ParseRoutesJSON([]byte(`{"dst":"default"}`)); err == nil {
		t.Fatal("object accepted where iproute2 prints a list")
	}
}

func TestParseNeighbours(t *testing.T) {
	flood := []Neighbour{
		{IP: "192.0.2.20", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: StateComplete},
		{IP: "192.0.2.120", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: StateComplete},
		{IP: "198.51.100.7", Dev: "eth2", State: StateIncomplete},
	}
	cases := []struct {
		name  string
		parse func() ([]Neighbour, error)
		want  []Neighbour
	}{
		{"proc net arp (Vyatta)", func() ([]Neighbour, error) {
			return ParseProcNetARP("IP address       HW type     Flags       HW address            Mask     Device\n"+
				"192.0.2.20       0x1         0x2         00:05:73:A0:00:01     *        eth2\n"+
				"10.0.10.10       0x1         0x2         52:54:00:00:0a:0a     *        eth1\n"+
				"192.0.2.120      0x1         0x2         00:05:73:a0:00:01     *        eth2\n"+
				"198.51.100.7     0x1         0x0         00:00:00:00:00:00     *        eth2\n", "eth2")
		}, flood},
		{"ip -j neigh show dev eth2 (no dev key)", func() ([]Neighbour, error) {
			return ParseNeighboursJSON([]byte(`[{"dst":"192.0.2.20","lladdr":"00:05:73:a0:00:01","state":["REACHABLE"]},`+
				`{"dst":"198.51.100.254","lladdr":"00:05:73:a0:00:01","state":["STALE"]},{"dst":"198.51.100.7","state":["FAILED"]}]`), "eth2")
		}, []Neighbour{
			{IP: "192.0.2.20", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: "REACHABLE"},
			{IP: "198.51.100.254", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: "STALE"},
			{IP: "198.51.100.7", Dev: "eth2", State: StateFailed},
		}},
		{"ip -j neigh, all devices, filtered", func() ([]Neighbour, error) {
			return ParseNeighboursJSON([]byte(`[{"dst":"10.0.10.10","dev":"eth1","lladdr":"52:54:00:00:0a:0a","state":["REACHABLE"]},`+
				`{"dst":"198.51.100.254","dev":"eth2","lladdr":"00:05:73:a0:00:01","state":["DELAY","ROUTER"]}]`), "eth2")
		}, []Neighbour{{IP: "198.51.100.254", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: "DELAY,ROUTER"}}},
		{"show arp on VyOS 1.3 (arp -e -n)", func() ([]Neighbour, error) {
			return ParseShowARP("Address                  HWtype  HWaddress           Flags Mask            Iface\n"+
				"192.0.2.20               ether   00:05:73:a0:00:01   C                     eth2\n"+
				"10.0.10.10               ether   52:54:00:00:0a:0a   C                     eth1\n"+
				"192.0.2.120              ether   00:05:73:a0:00:01   C                     eth2\n"+
				"198.51.100.7                     (incomplete)                              eth2\n", "eth2")
		}, flood},
		{"show arp on VyOS 1.4+ (tabulate)", func() ([]Neighbour, error) {
			return ParseShowARP("Address         Interface    Link layer address    State\n"+
				"--------------  -----------  --------------------  ---------\n"+
				"198.51.100.254  eth2         00:05:73:a0:00:01     REACHABLE\n"+
				"198.51.100.7    eth2                               FAILED\n"+
				"10.0.10.10      eth1         52:54:00:00:0a:0a     STALE, ROUTER", "")
		}, []Neighbour{
			{IP: "198.51.100.254", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: "REACHABLE"},
			{IP: "198.51.100.7", Dev: "eth2", State: StateFailed},
			{IP: "10.0.10.10", Dev: "eth1", MAC: "52:54:00:00:0a:0a", State: "STALE,ROUTER"},
		}},
		{"permanent entry in /proc", func() ([]Neighbour, error) {
			return ParseProcNetARP("IP address       HW type     Flags       HW address            Mask     Device\n"+
				"198.51.100.254   0x1         0x6         00:05:73:a0:00:01     *        eth2\n", "")
		}, []Neighbour{{IP: "198.51.100.254", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: StatePermanent}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.parse()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %#v\nwant %#v", got, c.want)
			}
		})
	}
	if ns, _ := ParseNeighboursJSON([]byte(`[{"dst":"198.51.100.7","state":["FAILED"]}]`), "eth2"); ns[0].Resolved() {
		t.Fatal("a FAILED entry counts as resolved")
	}
	if _, err := ParseShowARP("something else entirely", ""); err == nil {
		t.Fatal("text without a header accepted")
	}
}

// seedBoot is the seed's Vyatta configuration as config.boot holds it, with
// documentation addresses and the write-up's trailing blanks.
const seedBoot = `interfaces {    
    ethernet eth1 {       
        address 10.0.10.254/24       
        description LAN       
        duplex auto   
    }    
    ethernet eth2 {       
        address 203.0.113.123/32       
        description "WAN uplink"
        duplex auto    
    }
}
protocols {    
    static {       
        interface-route 198.51.100.254/32 {          
            next-hop-interface eth2 {          
            }       
        }    
    }
}
system {    
    gateway-address 198.51.100.254
    name-server 192.0.2.53
    name-server 192.0.2.54
}


/* Warning: Do not remove the following line. */
/* === vyatta-config-version: "cluster@1:config-management@1:nat@3:quagga@2:system@5" === */
/* Release version: VC6.5R1 */
`

func TestParseConfigBoot(t *testing.T) {
	cfg, err := ParseConfigBoot(seedBoot)
	if err != nil {
		t.Fatal(err)
	}
	want := NewConfig(MustPaths(
		"interfaces ethernet eth1 address 10.0.10.254/24",
		"interfaces ethernet eth1 description LAN",
		"interfaces ethernet eth1 duplex auto",
		"interfaces ethernet eth2 address 203.0.113.123/32",
		"interfaces ethernet eth2 description 'WAN uplink'",
		"interfaces ethernet eth2 duplex auto",
		"protocols static interface-route 198.51.100.254/32 next-hop-interface eth2",
		"system gateway-address 198.51.100.254",
		"system name-server 192.0.2.53",
		"system name-server 192.0.2.54",
	)...)
	if !cfg.Equal(want) {
		t.Fatalf("got\n%s", strings.Join(cfg.Lines(), "\n"))
	}
	vyos14 := "nat {\n    source {\n        rule 10 {\n            outbound-interface {\n                name eth2\n            }\n" +
		"            translation {\n                address masquerade\n            }\n        }\n    }\n}\n" +
		"// Warning: Do not remove the following line.\n// vyos-config-version: \"nat@8:system@27\"\n// Release version: 1.4.0\n"
	cfg, err = ParseConfigBoot(vyos14)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Equal(NewConfig(MustPaths("nat source rule 10 outbound-interface name eth2", "nat source rule 10 translation address masquerade")...)) {
		t.Fatalf("got %v", cfg.Lines())
	}
	for _, bad := range []string{"a {\n", "}\n", "a b c d {\n}\n", "x \"unterminated\n", "/* never closed"} {
		if _, err := ParseConfigBoot(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseRetrieveJSON(t *testing.T) {
	// One value is a string, several a list, a valueless node {}, tag
	// nodes are maps; the same configuration as the set commands below.
	data := `{"interfaces":{"ethernet":{"eth1":{"address":"10.0.10.254/24","description":"LAN"},` +
		`"eth2":{"address":["203.0.113.123/32","203.0.113.124/32"]}}},` +
		`"protocols":{"static":{"route":{"0.0.0.0/0":{"next-hop":{"198.51.100.254":{}}},"198.51.100.254/32":{"interface":{"eth2":{}}}}}},` +
		`"service":{"ssh":{"disable-password-authentication":{}}}}`
	got, err := ParseRetrieveJSON([]byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseCommands(`set interfaces ethernet eth1 address '10.0.10.254/24'
set interfaces ethernet eth1 description 'LAN'
set interfaces ethernet eth2 address '203.0.113.123/32'
set interfaces ethernet eth2 address '203.0.113.124/32'
set protocols static route 0.0.0.0/0 next-hop 198.51.100.254
set protocols static route 198.51.100.254/32 interface eth2
set service ssh disable-password-authentication`)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got.Lines(), "\n"), strings.Join(want.Lines(), "\n"))
	}
	sub, err := ParseRetrieveJSON([]byte(`{"eth2":{"address":"203.0.113.123/32"}}`), Path{"interfaces", "ethernet"})
	if err != nil || !sub.Equal(NewConfig(MustPaths("interfaces ethernet eth2 address 203.0.113.123/32")...)) {
		t.Fatalf("prefix not applied: %v %v", sub.Lines(), err)
	}
	if _, err := ParseRetrieveJSON([]byte(`{"a":[1,2]}`), nil); err == nil {
		t.Fatal("numbers in a value list accepted")
	}
}

func TestPlatformDetection(t *testing.T) {
	cases := []struct {
		in      string
		want    Platform
		version string
	}{
		{"Version :    VC6.5R1\nDescription : Vyatta Core 6.5 R1\n", Vyatta6, "VC6.5R1"},
		{"Version :    VyOS 1.1.8\nDescription : VyOS 1.1.8 (helium)\n", Vyatta6, "1.1.8"},
		{`{"version": "1.3.8", "release_train": "equuleus"}`, VyOS13, "1.3.8"},
		{`{"version": "1.2.9-S1"}`, VyOS13, "1.2.9-S1"},
		{`{"version": "1.4-rolling-202301010000"}`, VyOS14, "1.4-rolling-202301010000"},
		{`{"version": "1.5-stream-2025-Q1"}`, VyOS15, "1.5-stream-2025-Q1"},
	}
	for _, c := range cases {
		got, err := PlatformFromVersionFile(c.in)
		if err != nil || got.Platform != c.want || got.Version != c.version {
			t.Errorf("%q: got %+v, %v; want %s %s", c.in, got, err, c.want, c.version)
		}
	}
	got, err := PlatformFromShowVersion("Version:          VyOS 1.4.0\nRelease train:    sagitta\n")
	if err != nil || got.Platform != VyOS14 {
		t.Errorf("show version: %+v %v", got, err)
	}
	if _, err := PlatformFromVersionFile("Version :    VSE7.0R1\n"); err == nil {
		t.Error("Vyatta 7 accepted")
	}
}
