package router

import (
	"strings"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// seedDesired is the seed topology's RouterConfig: LAN on eth1, the router's
// failover IP on eth2, OVH gateway, masquerade and two port forwards.
func seedDesired(mode GatewayRouteMode) Desired {
	return Desired{
		Interfaces: []Interface{
			{Name: "eth1", Addresses: []string{"10.0.10.254/24"}, Description: "LAN"},
			{Name: "eth2", Addresses: []string{"203.0.113.123/32"}, Description: "WAN"},
		},
		WAN:       WAN{Interface: "eth2", Gateway: "198.51.100.254", Mode: mode},
		SourceNAT: []SourceNATRule{{Rule: 10, Description: "NAT-LAN-TO-WAN", OutboundInterface: "eth2", SourceAddress: "10.0.10.0/24"}},
		DestinationNAT: []DestinationNATRule{
			{Rule: 20, Description: "minecraft", InboundInterface: "eth2", Protocol: "tcp", Port: "25565", TranslationAddress: "10.0.10.10"},
			{Rule: 30, InboundInterface: "eth2", Protocol: "tcp", Port: "4040", TranslationAddress: "10.0.10.11", TranslationPort: "4040"},
		},
	}
}

func TestRenderPerPlatform(t *testing.T) {
	common := []string{
		"interfaces ethernet eth1 address 10.0.10.254/24",
		"interfaces ethernet eth1 description LAN",
		"interfaces ethernet eth2 address 203.0.113.123/32",
		"interfaces ethernet eth2 description WAN",
		"nat destination rule 20 description minecraft",
		"nat destination rule 20 destination port 25565",
		"nat destination rule 20 protocol tcp",
		"nat destination rule 20 translation address 10.0.10.10",
		"nat destination rule 30 destination port 4040",
		"nat destination rule 30 protocol tcp",
		"nat destination rule 30 translation address 10.0.10.11",
		"nat destination rule 30 translation port 4040",
		"nat source rule 10 description NAT-LAN-TO-WAN",
		"nat source rule 10 source address 10.0.10.0/24",
		"nat source rule 10 translation address masquerade",
	}
	oldNAT := []string{
		"nat destination rule 20 inbound-interface eth2",
		"nat destination rule 30 inbound-interface eth2",
		"nat source rule 10 outbound-interface eth2",
	}
	newNAT := []string{
		"nat destination rule 20 inbound-interface name eth2",
		"nat destination rule 30 inbound-interface name eth2",
		"nat source rule 10 outbound-interface name eth2",
	}
	cases := []struct {
		platform Platform
		mode     GatewayRouteMode
		extra    []string
		owned    []string
		boot     bool
	}{
		{Vyatta6, BootScriptMode, oldNAT, []string{
			"protocols static route 0.0.0.0/0", "protocols static route 198.51.100.254/32",
			"protocols static interface-route 198.51.100.254/32", "system gateway-address"}, true},
		{Vyatta6, InterfaceRouteMode, append([]string{
			"protocols static interface-route 198.51.100.254/32 next-hop-interface eth2",
			"protocols static route 0.0.0.0/0 next-hop 198.51.100.254"}, oldNAT...), nil, false},
		{VyOS13, InterfaceRouteMode, append([]string{
			"protocols static interface-route 198.51.100.254/32 next-hop-interface eth2",
			"protocols static route 0.0.0.0/0 next-hop 198.51.100.254"}, oldNAT...), []string{
			"protocols static route 0.0.0.0/0", "protocols static route 198.51.100.254/32",
			"protocols static interface-route 198.51.100.254/32"}, false},
		{VyOS14, InterfaceRouteMode, append([]string{
			"protocols static route 198.51.100.254/32 interface eth2",
			"protocols static route 0.0.0.0/0 next-hop 198.51.100.254"}, newNAT...), []string{
			"protocols static route 0.0.0.0/0", "protocols static route 198.51.100.254/32"}, false},
		{VyOS15, InterfaceRouteMode, append([]string{
			"protocols static route 198.51.100.254/32 interface eth2",
			"protocols static route 0.0.0.0/0 next-hop 198.51.100.254"}, newNAT...), nil, false},
		{VyOS15, BootScriptMode, newNAT, nil, true},
	}
	for _, c := range cases {
		t.Run(string(c.platform)+"/"+string(c.mode), func(t *testing.T) {
			r, err := Render(c.platform, seedDesired(c.mode))
			if err != nil {
				t.Fatal(err)
			}
			want := NewConfig(MustPaths(append(append([]string{}, common...), c.extra...)...)...)
			if !r.Config.Equal(want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(r.Config.Lines(), "\n"), strings.Join(want.Lines(), "\n"))
			}
			owned := map[string]bool{}
			for _, o := range r.Owned {
				owned[o.String()] = true
			}
			for _, o := range c.owned {
				if !owned[o] {
					t.Errorf("%q not owned; owned: %v", o, r.Owned)
				}
			}
			for _, p := range r.Config {
				if !isOwned(p, r.Owned) {
					t.Errorf("rendered %q outside the owned paths", p.String())
				}
			}
			if c.boot != (r.BootScriptBlock != "") || c.boot != (len(r.BootRoutes) == 2) {
				t.Fatalf("boot script block %q, routes %v", r.BootScriptBlock, r.BootRoutes)
			}
			if r.BootScriptPath != c.platform.BootScriptPath() {
				t.Errorf("boot script path %s", r.BootScriptPath)
			}
		})
	}
	// The boot-script commands are the seed's workaround, idempotent and in
	// dependency order.
	r, _ := Render(Vyatta6, seedDesired(BootScriptMode))
	wantBlock := []string{
		"ip route replace 198.51.100.254 dev eth2 scope link",
		"ip route replace default via 198.51.100.254 dev eth2",
	}
	lines := strings.Split(r.BootScriptBlock, "\n")
	var cmds []string
	for _, l := range lines {
		if strings.HasPrefix(l, "ip ") {
			cmds = append(cmds, l)
		}
	}
	if strings.Join(cmds, "\n") != strings.Join(wantBlock, "\n") || lines[0] != BootScriptBegin {
		t.Fatalf("boot block:\n%s", r.BootScriptBlock)
	}
	if r.BootScriptPath != "/config/scripts/vyatta-postconfig-bootup.script" {
		t.Fatal(r.BootScriptPath)
	}
}

func TestRenderNormalisesNATOnVyOS14(t *testing.T) {
	d := Desired{SourceNAT: []SourceNATRule{{Rule: 10, OutboundInterface: "eth2", SourceAddress: "10.0.10.7/24"}}}
	r13, _ := Render(VyOS13, d)
	r14, _ := Render(VyOS14, d)
	if !r13.Config.Contains(Path{"nat", "source", "rule", "10", "source", "address", "10.0.10.7/24"}) {
		t.Errorf("1.3 changed the address: %v", r13.Config.Lines())
	}
	if !r14.Config.Contains(Path{"nat", "source", "rule", "10", "source", "address", "10.0.10.0/24"}) {
		t.Errorf("1.4 did not normalise the address: %v", r14.Config.Lines())
	}
}

func TestRenderRejectsInvalid(t *testing.T) {
	cases := map[string]Desired{
		"bad interface":   {Interfaces: []Interface{{Name: "eth1; reboot"}}},
		"bad address":     {Interfaces: []Interface{{Name: "eth1", Addresses: []string{"10.0.10.300/24"}}}},
		"newline in text": {Interfaces: []Interface{{Name: "eth1", Description: "a\nset system"}}},
		"duplicate iface": {Interfaces: []Interface{{Name: "eth1"}, {Name: "eth1"}}},
		"bad gateway":     {WAN: WAN{Interface: "eth2", Gateway: "2001:db8::1", Mode: InterfaceRouteMode}},
		"mode unresolved": {WAN: WAN{Interface: "eth2", Gateway: "198.51.100.254", Mode: "Auto"}},
		"rule number":     {SourceNAT: []SourceNATRule{{Rule: 0, OutboundInterface: "eth2"}}},
		"duplicate rule":  {SourceNAT: []SourceNATRule{{Rule: 10, OutboundInterface: "eth2"}, {Rule: 10, OutboundInterface: "eth2"}}},
		"bad port":        {DestinationNAT: []DestinationNATRule{{Rule: 1, InboundInterface: "eth2", Port: "70000", TranslationAddress: "10.0.10.1"}}},
		"bad protocol":    {DestinationNAT: []DestinationNATRule{{Rule: 1, InboundInterface: "eth2", Protocol: "icmp", TranslationAddress: "10.0.10.1"}}},
		"no translation":  {DestinationNAT: []DestinationNATRule{{Rule: 1, InboundInterface: "eth2"}}},
	}
	for name, d := range cases {
		if _, err := Render(VyOS14, d); cause.KindOf(err) != cause.Invalid {
			t.Errorf("%s: got %v, want an Invalid error", name, err)
		}
	}
	if _, err := Render("vyos-2.0", Desired{}); cause.KindOf(err) != cause.Invalid {
		t.Errorf("unknown platform: %v", err)
	}
}

func TestDiff(t *testing.T) {
	r, err := Render(Vyatta6, seedDesired(BootScriptMode))
	if err != nil {
		t.Fatal(err)
	}
	// The seed's 2013 configuration, plus something the operator does not own.
	observed, err := ParseConfigBoot(seedBoot)
	if err != nil {
		t.Fatal(err)
	}
	observed = NewConfig(append(observed, MustPaths(
		"interfaces ethernet eth1 address 10.0.10.1/24",
		"nat source rule 10 outbound-interface eth2",
		"nat source rule 10 translation address 198.51.100.17",
		"nat source rule 99 outbound-interface eth3",
	)...)...)
	tx := Diff(observed, r.Config, r.Owned)
	var got []string
	for _, op := range tx {
		got = append(got, op.String())
	}
	want := []string{
		"delete interfaces ethernet eth1 address 10.0.10.1/24",
		"delete interfaces ethernet eth2 description 'WAN uplink'",
		"delete protocols static interface-route 198.51.100.254/32",
		"delete system gateway-address",
		"delete nat source rule 10 translation address 198.51.100.17",
		"set interfaces ethernet eth2 description WAN",
		"set nat destination rule 20 description minecraft",
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing %q in\n%s", w, strings.Join(got, "\n"))
		}
	}
	// Deletes come before sets; nothing unowned is touched.
	seenSet := false
	for _, op := range tx {
		if op.Kind == OpSet {
			seenSet = true
		} else if seenSet {
			t.Fatalf("delete after a set: %s", op)
		}
		if !isOwned(op.Path, r.Owned) {
			t.Fatalf("unowned path touched: %s", op)
		}
		if strings.Contains(op.Path.String(), "duplex") || strings.Contains(op.Path.String(), "name-server") || strings.Contains(op.Path.String(), "rule 99") {
			t.Fatalf("unowned path touched: %s", op)
		}
	}
	// Applying the transaction to observed gives desired within owned.
	after := applyTx(observed, tx)
	if !after.Owned(r.Owned).Equal(r.Config) {
		t.Fatalf("after the transaction:\n%s", strings.Join(after.Owned(r.Owned).Lines(), "\n"))
	}
	if !after.Unowned(r.Owned).Equal(observed.Unowned(r.Owned)) {
		t.Fatal("unowned configuration changed")
	}
	if len(Diff(after, r.Config, r.Owned)) != 0 {
		t.Fatal("second diff is not empty")
	}
	// Desired statements outside owned are ignored, never set.
	if tx := Diff(Config{}, NewConfig(MustPaths("service ssh port 2222")...), r.Owned); len(tx) != 0 {
		t.Fatalf("unowned desired statement set: %v", tx)
	}
}

// applyTx is a model of the router's set/delete semantics on normalised configs.
func applyTx(c Config, tx Transaction) Config {
	out := append(Config{}, c...)
	for _, op := range tx {
		if op.Kind == OpDelete {
			var keep Config
			for _, p := range out {
				if !p.HasPrefix(op.Path) {
					keep = append(keep, p)
				}
			}
			out = keep
		} else {
			out = append(out, op.Path)
		}
	}
	return NewConfig(out...)
}

func TestTransactionValidate(t *testing.T) {
	bad := []Transaction{
		{{Kind: "rename", Path: Path{"a"}}},
		{{Kind: OpSet}},
		{{Kind: OpSet, Path: Path{"system", "host-name", "a\nb"}}},
		{{Kind: OpDelete, Path: Path{"service", "https", "api"}}},
	}
	for _, tx := range bad {
		if err := tx.Validate(); cause.KindOf(err) != cause.Invalid {
			t.Errorf("%v: got %v", tx, err)
		}
	}
	if err := (Transaction{{Kind: OpSet, Path: Path{"system", "host-name", "it's fine"}}}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestMergeBootScript(t *testing.T) {
	r, _ := Render(Vyatta6, seedDesired(BootScriptMode))
	block := r.BootScriptBlock
	vendor := "#!/bin/sh\n# vendor header\n/usr/local/bin/user-thing --keep\n"

	merged := MergeBootScript(vendor, block)
	if !strings.HasPrefix(merged, vendor) {
		t.Fatalf("user content not kept first:\n%s", merged)
	}
	if got, ok := ExtractBootScriptBlock(merged); !ok || got != block {
		t.Fatalf("block not found back:\n%s", merged)
	}
	if MergeBootScript(merged, block) != merged {
		t.Fatal("merging twice changed the script")
	}
	// A changed gateway replaces the block in place, keeping what follows.
	d := seedDesired(BootScriptMode)
	d.WAN.Gateway = "198.51.100.1"
	r2, _ := Render(Vyatta6, d)
	updated := MergeBootScript(merged+"echo after\n", r2.BootScriptBlock)
	if strings.Contains(updated, "198.51.100.254") || !strings.Contains(updated, "198.51.100.1 dev eth2") ||
		!strings.HasSuffix(updated, "echo after\n") || !strings.Contains(updated, "user-thing") {
		t.Fatalf("block not replaced in place:\n%s", updated)
	}
	// An empty script gets a shebang; an empty block removes the section.
	if s := MergeBootScript("", block); !strings.HasPrefix(s, "#!/bin/sh\n") {
		t.Fatalf("no shebang:\n%s", s)
	}
	if s := MergeBootScript(merged, ""); strings.Contains(s, BootScriptBegin) || !strings.Contains(s, "user-thing") {
		t.Fatalf("section not removed:\n%s", s)
	}
}

// A double quote in a description is refused on every platform
// (checkRoundTrip), every description field naming itself, the platform and
// the consequence: up to 1.3 the saved file would not load at the next boot;
// from 1.4 the commit's own scripts would fail to read the configuration.
func TestRenderRefusesDoubleQuotes(t *testing.T) {
	with := func(desc string) map[string]Desired {
		return map[string]Desired{
			"interface eth1 description": {Interfaces: []Interface{{Name: "eth1", Description: desc}}},
			"source NAT rule 10 description": {SourceNAT: []SourceNATRule{
				{Rule: 10, Description: desc, OutboundInterface: "eth2"}}},
			"destination NAT rule 20 description": {DestinationNAT: []DestinationNATRule{
				{Rule: 20, Description: desc, InboundInterface: "eth2", TranslationAddress: "10.0.10.10"}}},
		}
	}
	why := map[Platform]string{
		Vyatta6: "would not load at the next boot", VyOS13: "would not load at the next boot",
		VyOS14: "failing the commit", VyOS15: "failing the commit",
	}
	for _, desc := range []string{`Bob's "LAN" side`, `a"b`, `"x"`, `say "hi"`} {
		for field, d := range with(desc) {
			for _, p := range Platforms {
				_, err := Render(p, d)
				if cause.KindOf(err) != cause.Invalid {
					t.Errorf("%s %q on %s: got %v, want Invalid", field, desc, p, err)
					continue
				}
				for _, part := range []string{field, string(p), "double quote", why[p]} {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("%s %q on %s: %q does not say %q", field, desc, p, err, part)
					}
				}
			}
		}
	}
	// Pacifica's lexer lets a quoted value's last backslash escape the
	// closing quote (fixed from VyOS 1.2 on): refused on Vyatta only, and
	// only where the printer quotes the value.
	trailing := Desired{Interfaces: []Interface{{Name: "eth1", Description: `share C:\wan\`}}}
	if _, err := Render(Vyatta6, trailing); cause.KindOf(err) != cause.Invalid || !strings.Contains(err.Error(), "backslash") {
		t.Errorf("trailing backslash on Vyatta: %v", err)
	}
	for _, p := range []Platform{VyOS13, VyOS14} {
		if _, err := Render(p, trailing); err != nil {
			t.Errorf("trailing backslash on %s: %v", p, err)
		}
	}
	for _, ok := range []string{`C:\wan\`, `C:\wan\uplink`, `Bob's uplink`, `it's 'ours'`} {
		if _, err := Render(Vyatta6, Desired{Interfaces: []Interface{{Name: "eth1", Description: ok}}}); err != nil {
			t.Errorf("%q refused on Vyatta: %v", ok, err)
		}
	}
}

// The IPv6 gateway routes in each platform's syntax (render.go
// renderGateway6 names the templates), the WAN's IPv6 address beside its
// IPv4 one, and the boot script's `ip -6 route replace` lines.
func TestRenderIPv6PerPlatform(t *testing.T) {
	const gw6 = "2001:db8:1:ff:ff:ff:ff:ff"
	dual := func(mode GatewayRouteMode, gw string) Desired {
		d := seedDesired(mode)
		d.Interfaces[1].Addresses = append(d.Interfaces[1].Addresses, "2001:0db8:1:1::123/64")
		d.WAN.Gateway6 = gw
		return d
	}
	cases := []struct {
		platform Platform
		mode     GatewayRouteMode
		gw       string
		lines    []string
		owned    []string
		boot     []string
	}{
		{Vyatta6, BootScriptMode, gw6, nil,
			[]string{"protocols static route6 ::/0", "protocols static route6 " + gw6 + "/128", "protocols static interface-route6 " + gw6 + "/128"},
			[]string{"ip -6 route replace " + gw6 + " dev eth2", "ip -6 route replace default via " + gw6 + " dev eth2"}},
		{VyOS13, InterfaceRouteMode, gw6, []string{
			"protocols static interface-route6 " + gw6 + "/128 next-hop-interface eth2",
			"protocols static route6 ::/0 next-hop " + gw6},
			[]string{"protocols static interface-route6 " + gw6 + "/128"}, nil},
		{VyOS14, InterfaceRouteMode, gw6, []string{
			"protocols static route6 " + gw6 + "/128 interface eth2",
			"protocols static route6 ::/0 next-hop " + gw6}, nil, nil},
		{VyOS15, InterfaceRouteMode, "fe80::1", []string{"protocols static route6 ::/0 next-hop fe80::1 interface eth2"}, nil, nil},
		{VyOS15, BootScriptMode, "fe80::1", nil, []string{"protocols static route6 ::/0"}, []string{"ip -6 route replace default via fe80::1 dev eth2"}},
	}
	for _, c := range cases {
		t.Run(string(c.platform)+"/"+string(c.mode)+"/"+c.gw, func(t *testing.T) {
			r, err := Render(c.platform, dual(c.mode, c.gw))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Join(r.Config.Lines(), "\n")
			if !strings.Contains(lines, "interfaces ethernet eth2 address 2001:db8:1:1::123/64") {
				t.Errorf("the WAN's IPv6 address, canonical:\n%s", lines)
			}
			var v6 []string
			for _, l := range r.Config.Lines() {
				if strings.Contains(l, "route6") {
					v6 = append(v6, l)
				}
			}
			if strings.Join(v6, "\n") != strings.Join(c.lines, "\n") {
				t.Errorf("IPv6 route statements:\n%s\nwant\n%s", strings.Join(v6, "\n"), strings.Join(c.lines, "\n"))
			}
			owned := map[string]bool{}
			for _, o := range r.Owned {
				owned[o.String()] = true
			}
			for _, o := range c.owned {
				if !owned[o] {
					t.Errorf("%q not owned: %v", o, r.Owned)
				}
			}
			if c.gw == "fe80::1" && owned["protocols static route6 fe80::1/128"] {
				t.Error("a link-local gateway has no route of its own to own")
			}
			for _, b := range c.boot {
				if !strings.Contains(r.BootScriptBlock, b+"\n") {
					t.Errorf("boot script lacks %q:\n%s", b, r.BootScriptBlock)
				}
			}
			if c.mode == InterfaceRouteMode && r.BootScriptBlock != "" {
				t.Errorf("boot script in InterfaceRoute mode:\n%s", r.BootScriptBlock)
			}
		})
	}
	for _, bad := range []string{"198.51.100.254", "ff02::1", "::", "not-an-address", "::ffff:198.51.100.254"} {
		if _, err := Render(VyOS14, dual(InterfaceRouteMode, bad)); err == nil {
			t.Errorf("IPv6 gateway %q accepted", bad)
		}
	}
	d := seedDesired(InterfaceRouteMode)
	d.Interfaces[1].Addresses = append(d.Interfaces[1].Addresses, "fe80::1/64")
	if _, err := Render(VyOS14, d); err == nil {
		t.Error("a link-local interface address accepted")
	}
}

// LAN IPv6 for the machines behind the router: router advertisements on
// the LAN for its prefix in each platform's syntax, and NDP proxy for
// their addresses on the WAN where the platform has it (VyOS 1.4+),
// refused with the reason elsewhere.
func TestRenderLANIPv6PerPlatform(t *testing.T) {
	const lan6 = "2001:db8:1:1:1::1/80"
	lan := func() Desired {
		d := seedDesired(InterfaceRouteMode)
		d.Interfaces[0].Addresses = append(d.Interfaces[0].Addresses, lan6)
		d.Interfaces[0].RouterAdvert = true
		d.Interfaces[1].Addresses = append(d.Interfaces[1].Addresses, "2001:db8:1:1::123/64")
		d.WAN.Gateway6 = "2001:db8:1:ff:ff:ff:ff:ff"
		d.WAN.NDPProxy = []string{"2001:db8:1:1:1::10", "2001:0db8:1:1:1::11"}
		return d
	}
	ra := map[Platform]string{
		Vyatta6: "interfaces ethernet eth1 ipv6 router-advert prefix 2001:db8:1:1:1::/80",
		VyOS13:  "service router-advert interface eth1 prefix 2001:db8:1:1:1::/80",
		VyOS14:  "service router-advert interface eth1 prefix 2001:db8:1:1:1::/80",
		VyOS15:  "service router-advert interface eth1 prefix 2001:db8:1:1:1::/80",
	}
	for p, want := range ra {
		d := lan()
		d.WAN.NDPProxy = nil
		if p == Vyatta6 {
			d.WAN.Mode = BootScriptMode
		}
		r, err := Render(p, d)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		lines := strings.Join(r.Config.Lines(), "\n")
		if !strings.Contains(lines, want) {
			t.Errorf("%s: no %q in\n%s", p, want, lines)
		}
		if strings.Contains(lines, "router-advert interface eth2") || strings.Contains(lines, "eth2 ipv6 router-advert") {
			t.Errorf("%s: advertisements on the WAN, which did not ask for them:\n%s", p, lines)
		}
	}
	for _, p := range []Platform{VyOS14, VyOS15} {
		r, err := Render(p, lan())
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Join(r.Config.Lines(), "\n")
		for _, want := range []string{
			"protocols static neighbor-proxy nd 2001:db8:1:1:1::10 interface eth2",
			"protocols static neighbor-proxy nd 2001:db8:1:1:1::11 interface eth2",
			"system sysctl parameter net.ipv6.conf.eth2.proxy_ndp value 1",
		} {
			if !strings.Contains(lines, want) {
				t.Errorf("%s: no %q in\n%s", p, want, lines)
			}
		}
		owned := map[string]bool{}
		for _, o := range r.Owned {
			owned[o.String()] = true
		}
		if owned["protocols static neighbor-proxy nd"] || !owned["protocols static neighbor-proxy nd 2001:db8:1:1:1::10"] {
			t.Errorf("%s: each proxied address is owned, not the user's others: %v", p, r.Owned)
		}
	}
	for _, p := range []Platform{Vyatta6, VyOS13} {
		d := lan()
		if p == Vyatta6 {
			d.WAN.Mode = BootScriptMode
		}
		_, err := Render(p, d)
		if err == nil || !strings.Contains(err.Error(), "needs VyOS 1.4 or later") {
			t.Errorf("%s: NDP proxy: %v", p, err)
		}
	}
	d := lan()
	d.Interfaces[0].Addresses = []string{"10.0.10.254/24"}
	if _, err := Render(VyOS14, d); err == nil || !strings.Contains(err.Error(), "need an IPv6 address") {
		t.Errorf("router advertisements without a prefix: %v", err)
	}
}
