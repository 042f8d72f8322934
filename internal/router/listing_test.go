package router

import (
	"strings"
	"testing"
)

// Golden texts written by hand from the printing code (see listing.go for
// the repositories and files): what each tool prints for one configuration
// holding the awkward values — an apostrophe, double quotes, a backslash,
// an empty value, a quote next to a space — and what they must parse into.

var awkward = NewConfig(
	Path{"interfaces", "ethernet", "eth0", "description", `Bob's "mgmt" port`},
	Path{"interfaces", "ethernet", "eth1", "address", "10.0.10.254/24"},
	Path{"interfaces", "ethernet", "eth1", "description", `Bob's uplink`},
	Path{"interfaces", "ethernet", "eth2", "description", `C:\wan\uplink`},
	Path{"interfaces", "ethernet", "eth2", "disable"},
	Path{"interfaces", "ethernet", "eth3", "description", `say "hi"`},
	Path{"interfaces", "ethernet", "eth3", "duplex", ""},
	Path{"nat", "source", "rule", "10", "description", `it' s, 'quoted'`},
	Path{"nat", "source", "rule", "10", "outbound-interface", "eth2"},
	Path{"protocols", "static", "interface-route", "198.51.100.254/32", "next-hop-interface", "eth2"},
	Path{"system", "login", "banner", "post-login", `a"b`},
)

// cli-shell-api showConfig --show-active-only --show-commands
// (vyatta-cfg _print_cmds_list): every word ` '%s'`, nothing escaped, and
// comments as comment lines.
const awkwardCLIShellAPI = `set 'interfaces' 'ethernet' 'eth0' 'description' 'Bob's "mgmt" port'
set 'interfaces' 'ethernet' 'eth1' 'address' '10.0.10.254/24'
set 'interfaces' 'ethernet' 'eth1' 'description' 'Bob's uplink'
set 'interfaces' 'ethernet' 'eth2' 'description' 'C:\wan\uplink'
set 'interfaces' 'ethernet' 'eth2' 'disable'
set 'interfaces' 'ethernet' 'eth3' 'description' 'say "hi"'
set 'interfaces' 'ethernet' 'eth3' 'duplex' ''
set 'nat' 'source' 'rule' '10' 'description' 'it' s, 'quoted''
set 'nat' 'source' 'rule' '10' 'outbound-interface' 'eth2'
set 'protocols' 'static' 'interface-route' '198.51.100.254/32' 'next-hop-interface' 'eth2'
set 'system' 'login' 'banner' 'post-login' 'a"b'
comment 'interfaces' 'ethernet' 'eth1' 'LAN, Bob's side'
`

// VyOS `show configuration commands` (vyos1x-config render_commands): bare
// path, value in single quotes with `"` and `\` escaped, `'` not.
const awkwardVyOSCommands = `set interfaces ethernet eth0 description 'Bob's \"mgmt\" port'
set interfaces ethernet eth1 address '10.0.10.254/24'
set interfaces ethernet eth1 description 'Bob's uplink'
set interfaces ethernet eth2 description 'C:\\wan\\uplink'
set interfaces ethernet eth2 disable
set interfaces ethernet eth3 description 'say \"hi\"'
set interfaces ethernet eth3 duplex ''
set nat source rule 10 description 'it' s, 'quoted''
set nat source rule 10 outbound-interface 'eth2'
set protocols static interface-route 198.51.100.254/32 next-hop-interface eth2
set system login banner post-login 'a\"b'
`

// config.boot on Vyatta 6.5 (vyatta-cfg _print_value_str, pacifica): a
// value is quoted only when empty or holding *}{; or white space, never
// escaped; the /* */ footer of vyatta-save-config.pl.
const awkwardBootVyatta = `interfaces {
    ethernet eth0 {
        description "Bob's "mgmt" port"
    }
    /* LAN, Bob's side */
    ethernet eth1 {
        address 10.0.10.254/24
        description "Bob's uplink"
    }
    ethernet eth2 {
        description C:\wan\uplink
        disable
    }
    ethernet eth3 {
        description "say "hi""
        duplex ""
    }
}
nat {
    source {
        rule 10 {
            description "it' s, 'quoted'"
            outbound-interface eth2
        }
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
    login {
        banner {
            post-login a"b
        }
    }
}


/* Warning: Do not remove the following line. */
/* === vyatta-config-version: "nat@3:quagga@2:system@5" === */
/* Release version: VC6.5R1 */
`

// config.boot on VyOS 1.4+ (vyos1x-config render_config): every value in
// double quotes, escaped; the // footer of vyos-save-config.py.
const awkwardBootVyOS14 = `interfaces {
    ethernet eth0 {
        description "Bob's \"mgmt\" port"
    }
    /* LAN, Bob's side */
    ethernet eth1 {
        address "10.0.10.254/24"
        description "Bob's uplink"
    }
    ethernet eth2 {
        description "C:\\wan\\uplink"
        disable
    }
    ethernet eth3 {
        description "say \"hi\""
        duplex ""
    }
}
nat {
    source {
        rule 10 {
            description "it' s, 'quoted'"
            outbound-interface "eth2"
        }
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
    login {
        banner {
            post-login "a\"b"
        }
    }
}
// Warning: Do not remove the following line.
// vyos-config-version: "nat@5:quagga@8:system@27"
// Release version: 1.4.0
`

func TestParseListingsAsPrinted(t *testing.T) {
	cases := []struct {
		name  string
		parse func() (Config, error)
	}{
		{"cli-shell-api --show-commands", func() (Config, error) { return ParseCommands(awkwardCLIShellAPI) }},
		{"VyOS show configuration commands", func() (Config, error) { return ParseCommands(awkwardVyOSCommands) }},
		{"Vyatta 6.5 config.boot", func() (Config, error) { return ParseConfigBoot(awkwardBootVyatta) }},
		{"Vyatta 6.5 config.boot, platform given", func() (Config, error) { return ParseConfigBootFor(Vyatta6, awkwardBootVyatta) }},
		{"VyOS 1.4 config.boot", func() (Config, error) { return ParseConfigBoot(awkwardBootVyOS14) }},
		// A 1.4 router that has not saved since its upgrade from 1.3 still
		// holds the old writer's file: the footer wins over the platform.
		{"1.3 file on a 1.4 router", func() (Config, error) { return ParseConfigBootFor(VyOS14, awkwardBootVyatta) }},
		{"1.4 file, platform 1.3", func() (Config, error) { return ParseConfigBootFor(VyOS13, awkwardBootVyOS14) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.parse()
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(awkward) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got.Lines(), "\n"), strings.Join(awkward.Lines(), "\n"))
			}
		})
	}
}

func TestConfigBootWithoutFooter(t *testing.T) {
	body, _, _ := strings.Cut(awkwardBootVyatta, "/* Warning")
	got, err := ParseConfigBootFor(Vyatta6, body)
	if err != nil || !got.Equal(awkward) {
		t.Fatalf("Vyatta file without footer: %v\n%s", err, strings.Join(got.Lines(), "\n"))
	}
	// Read as VyOS 1.4 writes it, the unescaped `"` ends the value early:
	// the platform is what tells the two apart.
	if got, err := ParseConfigBootFor(VyOS14, body); err == nil && got.Equal(awkward) {
		t.Fatal("the unescaped file read the same way in both dialects: the test proves nothing")
	}
	body, _, _ = strings.Cut(awkwardBootVyOS14, "// Warning")
	if got, err := ParseConfigBoot(body); err != nil || !got.Equal(awkward) {
		t.Fatalf("VyOS 1.4 file without footer: %v\n%s", err, strings.Join(got.Lines(), "\n"))
	}
}

func TestListingAmbiguities(t *testing.T) {
	// What listing.go documents as ambiguous behaves as documented.
	// A word holding quote-space-quote is split in two by the
	// cli-shell-api listing:
	got, err := ParseCommands("set 'interfaces' 'ethernet' 'eth0' 'description' 'it' 'is'\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Path{"interfaces", "ethernet", "eth0", "description", "it", "is"}); !got.Contains(want) {
		t.Fatalf("got %q", got)
	}
	// ... which is why Render refuses such a description.
	d := Desired{Interfaces: []Interface{{Name: "eth0", Addresses: []string{"192.0.2.1/24"}, Description: "it' 'is"}}}
	if _, err := Render(VyOS14, d); err == nil {
		t.Fatal("a description the listing cannot read back was rendered")
	}
	d.Interfaces[0].Description = `Bob's 'mgmt' port`
	if _, err := Render(Vyatta6, d); err != nil {
		t.Fatalf("apostrophes refused: %v", err)
	}
	// A value printed bare that starts and ends with a double quote reads
	// as if the printer had quoted it.
	got, err = ParseConfigBootFor(Vyatta6, "system {\n    host-name \"x\"\n}\n")
	if err != nil || !got.Contains(Path{"system", "host-name", "x"}) {
		t.Fatalf("got %q %v", got, err)
	}
	// A value holding a newline cannot be read from either unescaped form.
	if _, err := ParseCommands("set 'system' 'login' 'banner' 'pre-login' 'line one\nline two'\n"); err == nil {
		t.Fatal("a value cut by a newline was accepted")
	}
	if _, err := ParseConfigBootFor(Vyatta6, "system {\n    login {\n        banner {\n            pre-login \"line one\nline two\"\n        }\n    }\n}\n"); err == nil {
		t.Fatal("a value cut by a newline was accepted")
	}
	// In VyOS's escaped forms the newline is \n and reads back.
	got, err = ParseCommands(`set system login banner pre-login 'line one\nline two'` + "\n")
	if err != nil || !got.Contains(Path{"system", "login", "banner", "pre-login", "line one\nline two"}) {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestParseCommandsRefusals(t *testing.T) {
	for _, bad := range []string{
		"set 'system' 'host-name' 'unterminated\n",
		"set system host-name 'unterminated\n",
		"set system host-name it's\n",
	} {
		if _, err := ParseCommands(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Banners, prompts and comment commands are not configuration.
	got, err := ParseCommands("vyos@vyos:~$ show configuration commands\n\n  set system host-name 'vyos'  \ncomment 'system' 'ours'\n")
	if err != nil || !got.Equal(NewConfig(Path{"system", "host-name", "vyos"})) {
		t.Fatalf("got %q %v", got, err)
	}
}

// printCLIShellAPI prints one statement as vyatta-cfg's _print_cmds_list.
func printCLIShellAPI(p Path) string {
	var b strings.Builder
	b.WriteString("set")
	for _, w := range p {
		b.WriteString(" '" + w + "'")
	}
	return b.String() + "\n"
}

// cliShellAPIAmbiguous: a word holding quote-space-quote, or a word other
// than the last ending with quote-space, cannot be told from a word
// boundary; nor can a newline from the end of the line.
func cliShellAPIAmbiguous(p Path) bool {
	for i, w := range p {
		if strings.Contains(w, "' '") || strings.Contains(w, "\n") || i < len(p)-1 && strings.HasSuffix(w, "' ") {
			return true
		}
	}
	return false
}

// needsVyattaQuotes is _print_value_str's test (strcspn with
// "*}{;\011\012\013\014\015 " or empty).
func needsVyattaQuotes(v string) bool { return v == "" || strings.ContainsAny(v, "*}{;\t\n\v\f\r ") }

// escapeVyOS1xForTest is vyos1x-config Util.escape_string restated for the
// tests: `"` `\` and \n \t \r \b with a backslash, other control characters
// and DEL as three decimal digits.
func escapeVyOS1xForTest(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteString(`\` + string(c))
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c < 32 || c == 127 {
				b.WriteString(`\` + string(rune('0'+c/100)) + string(rune('0'+c/10%10)) + string(rune('0'+c%10)))
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}
