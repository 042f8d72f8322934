package routersim

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// What the simulator saves on Vyatta 6.5 and VyOS 1.3 loads back through the
// cparse model statement for statement, backslashes and apostrophes
// included.
func TestCparseLoadsWhatSaveWrites(t *testing.T) {
	for _, p := range []Profile{Vyatta65, VyOS13} {
		opts := Options{}
		if p == Vyatta65 {
			opts.Seed = SeedVyatta2013
		}
		r, err := New(p, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.SetConfig(
			`set interfaces ethernet eth1 description "Bob's LAN; {the} *one*"`,
			`set interfaces ethernet eth3 description 'C:\wan\uplink'`,
			`set interfaces ethernet eth2 description 'a"b'`,
		); err != nil {
			t.Fatal(err)
		}
		saved := r.configBoot(r.active)
		got, err := parseCparse(saved, p == VyOS13)
		if err != nil {
			t.Fatalf("%s: %v\n%s", p, err, saved)
		}
		loaded := r.emptyTree()
		for _, st := range got {
			if err := loaded.set(st); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		if loaded.commands() != r.active.commands() {
			t.Errorf("%s: loaded\n%s\nwant\n%s", p, loaded.commands(), r.active.commands())
		}
	}
}

// The lexer and grammar as read from vyatta-cfg (cparse.go): where a value
// ends, what a second value on a line does, the backslash rule that differs
// between pacifica and equuleus, comments of each branch.
func TestCparseRules(t *testing.T) {
	wrap := func(line string) string { return "interfaces {\n    ethernet eth1 {\n        " + line + "\n    }\n}\n" }
	cases := []struct {
		name, text string
		equuleus   bool
		want       []string // the eth1 statement, or nil when the file fails
		errLine    int
		errText    string
	}{
		{name: "quoted value", text: wrap(`description "the LAN side"`), want: []string{"description", "the LAN side"}},
		{name: "bare value with a quote inside", text: wrap(`description a"b`), want: []string{"description", `a"b`}},
		{name: "bare value quoted as a whole loses its quotes", text: wrap(`description "x"`), want: []string{"description", "x"}},
		{name: "backslashes kept", text: wrap(`description "C:\wan \"up\" link"`), want: []string{"description", `C:\wan \"up\" link`}},
		{name: "a quote ends the value: the rest is a second value", text: wrap(`description "Bob's "LAN" side"`),
			errLine: 3, errText: `LAN"`},
		{name: "a quote and a space at the end", text: wrap(`description "say "hi" "`), errLine: 3, errText: `hi"`},
		{name: "trailing backslash, pacifica: the string runs on", text: wrap(`description "share C:\wan\"`),
			errLine: 6, errText: ""},
		{name: "trailing backslash, equuleus (VyOS bug 593 fixed)", text: wrap(`description "share C:\wan\"`), equuleus: true,
			want: []string{"description", `share C:\wan\`}},
		{name: "// comment, equuleus", text: "// a comment\n" + wrap("mtu 1500"), equuleus: true, want: []string{"mtu", "1500"}},
		{name: "// comment, pacifica", text: "// a comment\n" + wrap("mtu 1500"), errLine: 1, errText: "/"},
		{name: "stray brace", text: wrap("mtu 1500") + "}\n", errLine: 6, errText: "}"},
	}
	for _, c := range cases {
		got, err := parseCparse(c.text, c.equuleus)
		if c.want == nil {
			var ce *cparseError
			if !errors.As(err, &ce) {
				t.Errorf("%s: got %q, %v; want a parse error", c.name, got, err)
				continue
			}
			if ce.line != c.errLine || ce.text != c.errText {
				t.Errorf("%s: error at line %d text [%s], want line %d text [%s]", c.name, ce.line, ce.text, c.errLine, c.errText)
			}
			if !strings.Contains(err.Error(), "Failed to parse specified config file") {
				t.Errorf("%s: %q", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		want := append([]string{"interfaces", "ethernet", "eth1"}, c.want...)
		if !slices.ContainsFunc(got, func(st []string) bool { return slices.Equal(st, want) }) {
			t.Errorf("%s: got %q, want %q among them", c.name, got, want)
		}
	}
}

// A config.boot the platform's boot loader rejects: the router reboots
// without any configuration, the boot script still runs, and Reboot says
// what the loader printed. The same save on VyOS 1.4 (escaped) reboots with
// its configuration.
func TestRebootRejectsUnloadableConfigBoot(t *testing.T) {
	for _, p := range Profiles {
		r, err := New(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\nip route replace 198.51.100.254 dev eth2 scope link\n"
		r.WriteBootScript(script, true)
		if err := r.SetConfig(
			"set interfaces ethernet eth2 address 203.0.113.123/32",
			`set interfaces ethernet eth1 description "Bob's \"LAN\" side"`,
		); err != nil {
			t.Fatal(err)
		}
		r.Save()
		err = r.Reboot()
		var be *BootLoadError
		if p == VyOS14 || p == VyOS15 {
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if !strings.Contains(r.ActiveCommands(), "203.0.113.123/32") {
				t.Errorf("%s: configuration not loaded:\n%s", p, r.ActiveCommands())
			}
			continue
		}
		if !errors.As(err, &be) {
			t.Fatalf("%s: Reboot returned %v, want a BootLoadError", p, err)
		}
		if !strings.Contains(be.Output, `error at line`) || !strings.Contains(be.Output, `text [LAN"]`) {
			t.Errorf("%s: loader output %q", p, be.Output)
		}
		if active := strings.TrimSpace(r.ActiveCommands()); active != "" {
			t.Errorf("%s: the router came up with a configuration:\n%s", p, active)
		}
		if r.Boots() != 1 {
			t.Errorf("%s: %d boots", p, r.Boots())
		}
		// The boot script ran: its route is there, on an interface with no
		// address left.
		if routes := r.RoutesText(); !strings.Contains(routes, "198.51.100.254 dev eth2") {
			t.Errorf("%s: the boot script did not run:\n%s", p, routes)
		}
	}
}
