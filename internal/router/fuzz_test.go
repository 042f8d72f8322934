package router

import (
	"strings"
	"testing"
)

// Fuzz targets for every parser of router output: whatever a router (or an
// attacker on its management network) prints, parsing must not panic. Run
// briefly in CI with e.g. `go test -run '^$' -fuzz FuzzParseRoutesText
// -fuzztime 10s ./internal/router`.

func FuzzParseRoutesText(f *testing.F) {
	f.Add(vyattaBugRoutes)
	f.Add(vyattaFixedRoutes)
	f.Add("default nhid 12 proto static metric 20 \n\tnexthop via 198.51.100.254 dev eth2 weight 1 onlink \n")
	f.Add("blackhole 192.0.2.0/24 proto static metric 20\nunicast 192.0.2.1 via 198.51.100.254 dev eth2 mtu lock 1400\n")
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseRoutesText(s)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Dst == "" || r.Protocol == "" {
				t.Fatalf("route without destination or protocol: %#v", r)
			}
		}
	})
}

func FuzzParseRoutesJSON(f *testing.F) {
	f.Add(frrRoutesJSON)
	f.Add(`[{"dst":"default","dev":"eth2","protocol":"zebra","flags":[]}]`)
	f.Add(`[{"dst":"default","nexthops":[{"gateway":"198.51.100.254","dev":"eth2","flags":["onlink"]}],"flags":[]}]`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseRoutesJSON([]byte(s))
	})
}

func FuzzParseNeighboursJSON(f *testing.F) {
	f.Add(`[{"dst":"192.0.2.20","lladdr":"00:05:73:a0:00:01","state":["REACHABLE"]}]`, "eth2")
	f.Add(`[{"dst":"198.51.100.7","dev":"eth2","state":["FAILED"]}]`, "")
	f.Fuzz(func(t *testing.T, s, dev string) {
		ns, err := ParseNeighboursJSON([]byte(s), dev)
		if err != nil {
			return
		}
		for _, n := range ns {
			if dev != "" && n.Dev != dev {
				t.Fatalf("entry of %q kept when filtering %q", n.Dev, dev)
			}
		}
	})
}

func FuzzParseProcNetARP(f *testing.F) {
	f.Add("IP address       HW type     Flags       HW address            Mask     Device\n"+
		"192.0.2.20       0x1         0x2         00:05:73:a0:00:01     *        eth2\n", "eth2")
	f.Add("198.51.100.7     0x1         0x0         00:00:00:00:00:00     *        eth2\n", "")
	f.Fuzz(func(t *testing.T, s, dev string) {
		_, _ = ParseProcNetARP(s, dev)
	})
}

func FuzzParseShowARP(f *testing.F) {
	f.Add("Address                  HWtype  HWaddress           Flags Mask            Iface\n" +
		"192.0.2.20               ether   00:05:73:a0:00:01   C                     eth2\n" +
		"198.51.100.7                     (incomplete)                              eth2\n")
	f.Add("Address         Interface    Link layer address    State\n" +
		"--------------  -----------  --------------------  ---------\n" +
		"198.51.100.254  eth2         00:05:73:a0:00:01     REACHABLE\n" +
		"198.51.100.7    eth2                               FAILED")
	f.Add("Address  Interface  Link layer address  State\n-  -  -\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseShowARP(s, "")
	})
}

func FuzzParseCommands(f *testing.F) {
	f.Add(awkwardCLIShellAPI)
	f.Add(awkwardVyOSCommands)
	f.Add("set interfaces ethernet eth1 address '10.0.10.254/24'\nset service ssh disable-password-authentication\n")
	f.Add("set 'a' ''' 'b'\nset 'x'' ''y'\n")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseCommands(s)
		if err != nil {
			return
		}
		// Whatever parsed, printed again as cli-shell-api prints it, reads
		// back the same unless a word falls in the documented ambiguity.
		var b strings.Builder
		for _, p := range cfg {
			if cliShellAPIAmbiguous(p) {
				return
			}
			b.WriteString(printCLIShellAPI(p))
		}
		again, err := ParseCommands(b.String())
		if err != nil {
			t.Fatalf("re-parse of printed config failed: %v\n%s", err, b.String())
		}
		if !again.Equal(cfg) {
			t.Fatalf("round trip changed the config:\n%q\n%q", cfg, again)
		}
	})
}

// FuzzCLIShellAPIWords prints arbitrary words the way vyatta-cfg's
// _print_cmds_list does and checks they read back, except in the one case
// listing.go documents as ambiguous.
func FuzzCLIShellAPIWords(f *testing.F) {
	f.Add("interfaces\x1fethernet\x1feth0\x1fdescription\x1fBob's uplink")
	f.Add("a\x1f'\x1fb")
	f.Add("x'\x1f'y")
	f.Add("a' \x1fb")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p := Path(strings.Split(s, "\x1f"))
		if cliShellAPIAmbiguous(p) {
			return
		}
		got, err := ParseCommands(printCLIShellAPI(p))
		if err != nil {
			t.Fatalf("%q: %v", printCLIShellAPI(p), err)
		}
		if !got.Equal(NewConfig(p)) {
			t.Fatalf("%q read back as %q", p, got)
		}
	})
}

// FuzzBootValue puts an arbitrary value in config.boot as each writer
// prints it and reads it back: always for VyOS 1.4's escaped form; for
// vyatta-cfg's unescaped form unless the value is in the documented
// ambiguity (starts and ends with a double quote, or holds a newline).
func FuzzBootValue(f *testing.F) {
	for _, v := range []string{`Bob's "mgmt" port`, `C:\wan`, `a"b`, "", `"x"`, "tab\there", "\x01\x7f", "é", `"a b`} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		want := NewConfig(Path{"interfaces", "ethernet", "eth0", "description", v})
		wrap := func(text, footer string) string {
			return "interfaces {\n    ethernet eth0 {\n        description " + text + "\n    }\n}\n" + footer
		}
		got, err := ParseConfigBoot(wrap(`"`+escapeVyOS1xForTest(v)+`"`, "// vyos-config-version: \"system@27\"\n"))
		if err != nil || !got.Equal(want) {
			t.Fatalf("escaped %q: %q %v", v, got, err)
		}
		if strings.ContainsAny(v, "\n\r") || len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			return
		}
		text := v
		if needsVyattaQuotes(v) {
			text = `"` + v + `"`
		}
		got, err = ParseConfigBoot(wrap(text, "/* === vyatta-config-version: \"system@5\" === */\n"))
		if err != nil || !got.Equal(want) {
			t.Fatalf("unescaped %q printed as %q: %q %v", v, text, got, err)
		}
	})
}

func FuzzParseConfigBoot(f *testing.F) {
	f.Add(seedBoot)
	f.Add(awkwardBootVyatta)
	f.Add(awkwardBootVyOS14)
	f.Add("nat {\n    source {\n        rule 10 {\n            outbound-interface {\n                name eth2\n            }\n        }\n    }\n}\n// vyos-config-version: \"nat@8\"\n")
	f.Add("a { b \"c d\" }\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range Platforms {
			_, _ = ParseConfigBootFor(p, s)
		}
	})
}

func FuzzParseRetrieveJSON(f *testing.F) {
	f.Add(`{"interfaces":{"ethernet":{"eth1":{"address":["10.0.10.254/24","10.0.10.253/24"],"description":"LAN"}}}}`)
	f.Add(`{"protocols":{"static":{"route":{"0.0.0.0/0":{"next-hop":{"198.51.100.254":{}}}}}}}`)
	f.Add(`"just a string"`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseRetrieveJSON([]byte(s), Path{"x"})
	})
}

func FuzzPlatformFromVersionFile(f *testing.F) {
	f.Add("Version :    VC6.5R1\n")
	f.Add(`{"version": "1.4.0"}`)
	f.Fuzz(func(t *testing.T, s string) {
		info, err := PlatformFromVersionFile(s)
		if err == nil && !info.Platform.Valid() {
			t.Fatalf("invalid platform %q without error", info.Platform)
		}
	})
}

func FuzzParseNeighboursText(f *testing.F) {
	f.Add(flood6Neigh, "eth2")
	f.Add("fe80::1 dev eth1 lladdr 52:54:00:00:0a:0a router REACHABLE\n2001:db8:1:1::124 dev eth2 used 12/3/1 probes 0 INCOMPLETE\n", "")
	f.Add("192.0.2.20 dev eth2 lladdr 00:05:73:a0:00:01 STALE \n", "")
	f.Fuzz(func(t *testing.T, s, dev string) {
		ns, err := ParseNeighboursText(s, dev)
		if err != nil {
			return
		}
		for _, n := range ns {
			if n.Dev == "" || dev != "" && n.Dev != dev {
				t.Fatalf("entry %+v kept when filtering %q", n, dev)
			}
		}
	})
}

func FuzzParseShowIPv6Neighbors(f *testing.F) {
	f.Add(showIPv6NeighborsTable, "eth2")
	f.Add(flood6Neigh, "eth2")
	f.Add("Address  Interface  Link layer address  State\n-  -  -\n", "")
	f.Fuzz(func(t *testing.T, s, dev string) {
		_, _ = ParseShowIPv6Neighbors(s, dev)
	})
}
