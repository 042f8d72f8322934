package drift

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

func TestGuest6(t *testing.T) {
	const (
		vmac  = "00:50:56:00:00:02" // web-wan's virtual MAC
		other = "00:0c:29:00:00:09"
		gw6   = "2001:db8:1:ff:ff:ff:ff:ff" // the older ranges' gateway of 2001:db8:1:1::/64
	)
	block := netip.MustParsePrefix("2001:db8:1:1::/64")
	want := GuestWant{
		NIC: "0", Index: 0, MAC: vmac, FailoverIP: "web-wan",
		Address: netip.MustParsePrefix("203.0.113.124/32"), Gateway: netip.MustParseAddr("198.51.100.254"),
		Allowed: []netip.Prefix{netip.MustParsePrefix("203.0.113.124/32")},
		Block6:  block, Gateway6: netip.MustParseAddr(gw6),
	}
	// web1 dual stack as OVH's IPv6 guide configures a machine (the /64
	// variant), as Tools report a Linux guest: the kernel's prefix and
	// link-local routes, the route to the gateway, the default via it.
	base := func() GuestState {
		return GuestState{
			VMName: "web1",
			NICs:   []GuestNIC{{MAC: vmac, Addresses: []string{"203.0.113.124/32", "2001:db8:1:1::124/64", "fe80::250:56ff:fe00:2/64"}}},
			Routes: []GuestRoute{
				{Network: "198.51.100.254", PrefixLength: 32, Device: "0"},
				{Network: "0.0.0.0", PrefixLength: 0, Gateway: "198.51.100.254", Device: "0"},
				{Network: "2001:db8:1:1::", PrefixLength: 64, Device: "0"},
				{Network: "fe80::", PrefixLength: 64, Device: "0"},
				{Network: gw6, PrefixLength: 128, Device: "0"},
				{Network: "::", PrefixLength: 0, Gateway: gw6, Device: "0"},
			},
			Want: []GuestWant{want},
		}
	}
	without := func(s *GuestState, network string) {
		s.Routes = slices.DeleteFunc(s.Routes, func(r GuestRoute) bool { return r.Network == network })
	}
	ipv4Only := func(s *GuestState) {
		s.NICs[0].Addresses = []string{"203.0.113.124/32", "fe80::250:56ff:fe00:2/64"}
		without(s, "2001:db8:1:1::")
		without(s, gw6)
		without(s, "::")
	}
	cases := []struct {
		name    string
		edit    func(*GuestState)
		reasons []string
		msgs    []string // substrings of the findings' messages, in order
		note    string   // substring of Guest6's note
	}{
		{"dual stack as OVH's guide configures it", func(*GuestState) {}, nil, nil,
			"has 2001:db8:1:1::124/64 of the server's IPv6 block on eth0, the route to the IPv6 gateway 2001:db8:1:ff:ff:ff:ff:ff and the default route via it"},
		{"the guide's /128 variant", func(s *GuestState) {
			s.NICs[0].Addresses[1] = "2001:db8:1:1::124/128"
			without(s, "2001:db8:1:1::")
		}, nil, nil, "2001:db8:1:1::124/128"},
		{"Tools may spell IPv6 in capitals", func(s *GuestState) {
			s.NICs[0].Addresses[1] = "2001:DB8:1:1::124/64"
			s.Routes[4].Network, s.Routes[5].Gateway = strings.ToUpper(gw6), strings.ToUpper(gw6)
		}, nil, nil, ""},
		{"netplan's on-link default needs no gateway route", func(s *GuestState) { without(s, gw6) }, nil, nil, ""},
		{"a prefix covering the gateway puts it on the link", func(s *GuestState) {
			s.NICs[0].Addresses[1] = "2001:db8:1:1::124/56"
			s.Routes[2] = GuestRoute{Network: "2001:db8:1::", PrefixLength: 56, Device: "0"}
			without(s, gw6)
			without(s, "::")
		}, []string{v1.ReasonGuestDefaultRoute6Missing}, nil, ""},
		{"an IPv4-only guest is left alone under IfConfigured", ipv4Only, nil, nil,
			"no address of the server's IPv6 block 2001:db8:1:1::/64: IPv4 only (spec.guest.ipv6 is IfConfigured"},
		{"Ignore looks at no IPv6", func(s *GuestState) {
			s.IPv6 = v1.GuestIPv6Ignore
			without(s, "::")
		}, nil, nil, ""},
		{"without the server's IPv6 nothing is checked", func(s *GuestState) {
			ipv4Only(s)
			s.IPv6 = v1.GuestIPv6Required
			s.Want[0].Block6, s.Want[0].Gateway6 = netip.Prefix{}, netip.Addr{}
		}, nil, nil, ""},
		{"a link-local address is not an address of the block", func(s *GuestState) {
			ipv4Only(s)
			s.IPv6 = v1.GuestIPv6Required
		}, []string{v1.ReasonGuestAddress6Missing, v1.ReasonGuestGatewayRoute6Missing, v1.ReasonGuestDefaultRoute6Missing},
			[]string{"inside the guest of VM web1, the interface with MAC 00:50:56:00:00:02 (eth0 in the commands: use the guest's own name for it) has no address of the server's IPv6 block 2001:db8:1:1::/64 (spec.guest.ipv6 is Required): run `ip -6 addr add 2001:db8:1:1::1/64 dev eth0`",
				"run `ip -6 route add 2001:db8:1:ff:ff:ff:ff:ff dev eth0`",
				"run `ip -6 route add default via 2001:db8:1:ff:ff:ff:ff:ff dev eth0`"}, ""},
		{"the address on the interface without a virtual MAC", func(s *GuestState) {
			s.VNICMACs = []string{vmac, other}
			s.NICs = append(s.NICs, GuestNIC{MAC: other, Addresses: []string{"10.0.10.10/24", "2001:db8:1:1::124/64"}})
			s.NICs[0].Addresses = []string{"203.0.113.124/32"}
		}, []string{v1.ReasonGuestAddress6Missing},
			[]string{"2001:db8:1:1::124/64 is on the interface with MAC 00:0c:29:00:00:09, but OVH routes the server's IPv6 only to a virtual MAC (FailoverIP web-wan's is 00:50:56:00:00:02): run `ip -6 addr del 2001:db8:1:1::124/64 dev eth1 && ip -6 addr add 2001:db8:1:1::124/64 dev eth0`"}, ""},
		{"the demo's failure: the IPv6 default route is gone", func(s *GuestState) { without(s, "::") },
			[]string{v1.ReasonGuestDefaultRoute6Missing},
			[]string{"inside the guest of VM web1, there is no IPv6 default route", "run `ip -6 route add default via 2001:db8:1:ff:ff:ff:ff:ff dev eth0`"}, ""},
		{"after a reboot that lost both routes", func(s *GuestState) {
			without(s, gw6)
			without(s, "::")
		}, []string{v1.ReasonGuestGatewayRoute6Missing, v1.ReasonGuestDefaultRoute6Missing},
			[]string{"there is no route to the IPv6 gateway 2001:db8:1:ff:ff:ff:ff:ff on the interface with MAC 00:50:56:00:00:02", "the gateway is outside the block 2001:db8:1:1::/64", "`ip -6 route add 2001:db8:1:ff:ff:ff:ff:ff dev eth0`",
				"no IPv6 default route"}, ""},
		{"the NDP flood: an IPv6 default route without gateway", func(s *GuestState) {
			s.Routes[5].Gateway = ""
		}, []string{v1.ReasonGuestDefaultRoute6WithoutGateway},
			[]string{"the IPv6 default route has no gateway (default dev eth0): the guest takes every IPv6 destination for a neighbour and solicits each, the NDP flood",
				"`ip -6 route del default dev eth0 && ip -6 route add default via 2001:db8:1:ff:ff:ff:ff:ff dev eth0`"}, ""},
		{"Tools may write an on-link gateway as ::", func(s *GuestState) { s.Routes[5].Gateway = "::" },
			[]string{v1.ReasonGuestDefaultRoute6WithoutGateway}, nil, ""},
		{"a router advertisement's default route", func(s *GuestState) { s.Routes[5].Gateway = "fe80::1" },
			[]string{v1.ReasonGuestDefaultRoute6Missing},
			[]string{"the IPv6 default route is default via fe80::1 dev eth0, not via the server's IPv6 gateway 2001:db8:1:ff:ff:ff:ff:ff on eth0", "`ip -6 route replace default via 2001:db8:1:ff:ff:ff:ff:ff dev eth0`"}, ""},
		{"the gateway route through the other interface", func(s *GuestState) {
			s.NICs = append(s.NICs, GuestNIC{MAC: other, Addresses: []string{"10.0.10.10/24"}})
			without(s, "::")
			s.Routes[4].Device = "1"
			s.Routes = append(s.Routes, GuestRoute{Network: "::", PrefixLength: 0, Gateway: gw6, Device: "1"})
		}, []string{v1.ReasonGuestGatewayRoute6Missing},
			[]string{"the route to the IPv6 gateway 2001:db8:1:ff:ff:ff:ff:ff leaves through <the interface with MAC 00:0c:29:00:00:09>, not the interface with MAC 00:50:56:00:00:02"}, ""},
		{"a link-local gateway needs only the default route", func(s *GuestState) {
			s.Want[0].Gateway6 = netip.MustParseAddr("fe80::1")
			without(s, gw6)
			s.Routes[len(s.Routes)-1].Gateway = "fe80::1"
		}, nil, nil, "the route to the IPv6 gateway fe80::1"},
		{"a link-local gateway on another link is another router", func(s *GuestState) {
			s.Want[0].Gateway6 = netip.MustParseAddr("fe80::1")
			s.NICs = append(s.NICs, GuestNIC{MAC: other, Addresses: []string{"10.0.10.10/24"}})
			without(s, gw6)
			s.Routes[len(s.Routes)-1].Gateway, s.Routes[len(s.Routes)-1].Device = "fe80::1", "1"
		}, []string{v1.ReasonGuestDefaultRoute6Missing},
			[]string{"the IPv6 default route is default via fe80::1 dev <the interface with MAC 00:0c:29:00:00:09>, not via the server's IPv6 gateway fe80::1 on eth0"}, ""},
		{"two virtual MACs: the address on the second one, its routes there", func(s *GuestState) {
			second := want
			second.NIC, second.Index, second.MAC, second.FailoverIP = "1", 1, other, "web-wan2"
			second.Address = netip.MustParsePrefix("203.0.113.125/32")
			second.Allowed = []netip.Prefix{second.Address}
			s.Want = append(s.Want, second)
			s.NICs[0].Addresses = []string{"203.0.113.124/32"}
			s.NICs = append(s.NICs, GuestNIC{MAC: other, Addresses: []string{"203.0.113.125/32", "2001:db8:1:1::125/64"}})
			s.Routes = append(s.Routes, GuestRoute{Network: "198.51.100.254", PrefixLength: 32, Device: "1"})
			for i := range s.Routes {
				if strings.Contains(s.Routes[i].Network, ":") {
					s.Routes[i].Device = "1"
				}
			}
		}, nil, nil, "has 2001:db8:1:1::125/64 of the server's IPv6 block on eth1"},
		{"IPv4's reasons come first", func(s *GuestState) {
			without(s, "0.0.0.0")
			without(s, "::")
		}, []string{v1.ReasonGuestDefaultRouteMissing, v1.ReasonGuestDefaultRoute6Missing}, nil, ""},
		{"an IPv4 default route is no IPv6 default route", func(s *GuestState) {
			without(s, "::")
			s.Routes = append(s.Routes, GuestRoute{Network: "0.0.0.0", PrefixLength: 0, Gateway: "", Device: "0"})
		}, []string{v1.ReasonGuestDefaultRouteWithoutGateway, v1.ReasonGuestDefaultRoute6Missing}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			c.edit(&s)
			fs := Guest(s)
			var reasons []string
			for _, f := range fs {
				reasons = append(reasons, f.Reason)
				if f.Field == "" || f.Expected == "" || f.Observed == "" {
					t.Errorf("finding without field, expected or observed: %+v", f)
				}
			}
			if !slices.Equal(reasons, c.reasons) {
				t.Fatalf("reasons = %v, want %v\n%+v", reasons, c.reasons, fs)
			}
			all := ""
			for _, f := range fs {
				all += f.Message + "\n"
			}
			rest := all
			for _, m := range c.msgs {
				i := strings.Index(rest, m)
				if i < 0 {
					t.Fatalf("messages lack %q (in order):\n%s", m, all)
				}
				rest = rest[i+len(m):]
			}
			_, note := Guest6(s)
			if !strings.Contains(note, c.note) {
				t.Errorf("note = %q, want it to contain %q", note, c.note)
			}
		})
	}
}

// IPv6 drift fields name what differs the way status.drift shows it.
func TestGuest6DriftFields(t *testing.T) {
	fs, _ := Guest6(GuestState{
		VMName: "web1", IPv6: v1.GuestIPv6Required,
		NICs: []GuestNIC{{MAC: "00:50:56:00:00:02", Addresses: []string{"203.0.113.124/32"}}},
		Want: []GuestWant{{NIC: "Network adapter 1", MAC: "00:50:56:00:00:02", FailoverIP: "web-wan",
			Block6: netip.MustParsePrefix("2001:db8:1:1::/64"), Gateway6: netip.MustParseAddr("2001:db8:1:ff:ff:ff:ff:ff")}},
	})
	got := map[string]string{}
	for _, f := range fs {
		got[f.Field] = f.Expected + " | " + f.Observed
	}
	want := map[string]string{
		"guest.nics[Network adapter 1].addresses6": "an address of 2001:db8:1:1::/64 | (none)",
		"guest.routes6[2001:db8:1:ff:ff:ff:ff:ff]": "2001:db8:1:ff:ff:ff:ff:ff dev eth0 | (none)",
		"guest.routes6[default]":                   "default via 2001:db8:1:ff:ff:ff:ff:ff dev eth0 | (none)",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
