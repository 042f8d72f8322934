package drift

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

func TestGuest(t *testing.T) {
	const (
		vmac  = "00:50:56:00:00:02" // web-wan's virtual MAC
		other = "00:0c:29:00:00:09"
	)
	gw := netip.MustParseAddr("198.51.100.254")
	want := GuestWant{
		NIC: "0", Index: 0, MAC: vmac, FailoverIP: "web-wan",
		Address: netip.MustParsePrefix("203.0.113.124/32"), Gateway: gw,
		Allowed: []netip.Prefix{netip.MustParsePrefix("203.0.113.124/32")},
	}
	// web1 as the write-up configures it, as Tools report a Linux guest.
	base := func() GuestState {
		return GuestState{
			VMName: "web1",
			NICs:   []GuestNIC{{MAC: vmac, Addresses: []string{"203.0.113.124/32", "fe80::250:56ff:fe00:2/64"}}},
			Routes: []GuestRoute{
				{Network: "fe80::", PrefixLength: 64, Device: "0"},
				{Network: "198.51.100.254", PrefixLength: 32, Device: "0"},
				{Network: "0.0.0.0", PrefixLength: 0, Gateway: "198.51.100.254", Device: "0"},
			},
			Want: []GuestWant{want},
		}
	}
	withoutRoute := func(s *GuestState, network string) {
		s.Routes = slices.DeleteFunc(s.Routes, func(r GuestRoute) bool { return r.Network == network })
	}
	cases := []struct {
		name    string
		edit    func(*GuestState)
		reasons []string
		msgs    []string // substrings of the findings' messages, in order
	}{
		{"as the write-up configures it", func(*GuestState) {}, nil, nil},
		{"MACs compare without case", func(s *GuestState) { s.NICs[0].MAC = strings.ToUpper(vmac) }, nil, nil},
		{"an address without a prefix length is not judged on it", func(s *GuestState) { s.NICs[0].Addresses = []string{"203.0.113.124"} }, nil, nil},
		{"netplan's on-link default needs no gateway route", func(s *GuestState) { withoutRoute(s, "198.51.100.254") }, nil, nil},
		{"IPv6 and IPv4 link-local addresses are nobody's business", func(s *GuestState) {
			s.NICs[0].Addresses = append(s.NICs[0].Addresses, "2001:db8::124/64", "169.254.10.1/16")
			s.Routes = append(s.Routes, GuestRoute{Network: "::", PrefixLength: 0, Gateway: "2001:db8::1", Device: "0"})
		}, nil, nil},
		{"a block's address", func(s *GuestState) {
			s.Want[0].Address = netip.MustParsePrefix("203.0.113.120/29")
			s.Want[0].Allowed = []netip.Prefix{netip.MustParsePrefix("203.0.113.120/29")}
			s.NICs[0].Addresses = []string{"203.0.113.121/32"}
		}, nil, nil},

		{"address missing", func(s *GuestState) { s.NICs[0].Addresses = nil },
			[]string{v1.ReasonGuestAddressMissing},
			[]string{"inside the guest of VM web1, the interface with MAC 00:50:56:00:00:02 (eth0 in the commands: use the guest's own name for it) does not have 203.0.113.124/32 (FailoverIP web-wan): run `ip addr add 203.0.113.124/32 dev eth0`"}},
		{"the address with a /24", func(s *GuestState) { s.NICs[0].Addresses = []string{"203.0.113.124/24"} },
			[]string{v1.ReasonGuestAddressMissing},
			[]string{"has 203.0.113.124/24 instead of 203.0.113.124/32", "`ip addr del 203.0.113.124/24 dev eth0 && ip addr add 203.0.113.124/32 dev eth0`"}},
		{"no interface with the virtual MAC", func(s *GuestState) { s.NICs[0].MAC = other },
			[]string{v1.ReasonGuestAddressMissing}, []string{"Tools report no interface with MAC 00:50:56:00:00:02"}},
		{"the address on the other interface", func(s *GuestState) {
			s.VNICMACs = []string{vmac, other}
			s.NICs = []GuestNIC{{MAC: other, Addresses: []string{"203.0.113.124/32"}}, {MAC: vmac}}
			s.Routes = []GuestRoute{
				{Network: "198.51.100.254", PrefixLength: 32, Device: "1"},
				{Network: "0.0.0.0", PrefixLength: 0, Gateway: "198.51.100.254", Device: "1"},
			}
		}, []string{v1.ReasonGuestAddressOnWrongNIC},
			[]string{"203.0.113.124/32 is on the interface with MAC 00:0c:29:00:00:09, but OVH delivers it only to FailoverIP web-wan's virtual MAC 00:50:56:00:00:02: run `ip addr del 203.0.113.124/32 dev eth1 && ip addr add 203.0.113.124/32 dev eth0`"}},
		{"an address no FailoverIP bound to the MAC holds", func(s *GuestState) {
			s.NICs[0].Addresses = append(s.NICs[0].Addresses, "203.0.113.200/32")
		}, []string{v1.ReasonGuestForeignAddress},
			[]string{"also has 203.0.113.200/32, which no FailoverIP bound to virtual MAC 00:50:56:00:00:02 holds", "`ip addr del 203.0.113.200/32 dev eth0`"}},
		{"a second FailoverIP bound to the same MAC", func(s *GuestState) {
			s.NICs[0].Addresses = append(s.NICs[0].Addresses, "203.0.113.200/32")
			s.Want[0].Allowed = append(s.Want[0].Allowed, netip.MustParsePrefix("203.0.113.200/32"))
		}, nil, nil},
		{"after a reboot that lost the write-up's route add", func(s *GuestState) {
			withoutRoute(s, "198.51.100.254")
			withoutRoute(s, "0.0.0.0")
		}, []string{v1.ReasonGuestGatewayRouteMissing, v1.ReasonGuestDefaultRouteMissing},
			[]string{"no route to the gateway 198.51.100.254 on the interface with MAC 00:50:56:00:00:02", "run `ip route add 198.51.100.254 dev eth0` and add it to the guest's network configuration, or the next reboot loses it again",
				"there is no default route", "run `ip route add default via 198.51.100.254`"}},
		{"the gateway route through the other interface", func(s *GuestState) {
			s.NICs = append(s.NICs, GuestNIC{MAC: other, Addresses: []string{"10.0.10.10/24"}})
			s.Routes = []GuestRoute{
				{Network: "198.51.100.254", PrefixLength: 32, Device: "1"},
				{Network: "0.0.0.0", PrefixLength: 0, Gateway: "198.51.100.254", Device: "1"},
			}
		}, []string{v1.ReasonGuestGatewayRouteMissing},
			[]string{"the route to the gateway 198.51.100.254 leaves through <the interface with MAC 00:0c:29:00:00:09>, not the interface with MAC 00:50:56:00:00:02"}},
		{"only the default route is missing", func(s *GuestState) { withoutRoute(s, "0.0.0.0") },
			[]string{v1.ReasonGuestDefaultRouteMissing}, []string{"`ip route add default via 198.51.100.254`"}},
		{"an IPv6 default route is no IPv4 default route", func(s *GuestState) {
			withoutRoute(s, "0.0.0.0")
			s.Routes = append(s.Routes, GuestRoute{Network: "::", PrefixLength: 0, Gateway: "2001:db8::1", Device: "0"})
		}, []string{v1.ReasonGuestDefaultRouteMissing}, nil},
		{"the write-up's ARP flood: a default route without gateway", func(s *GuestState) {
			s.Routes[2].Gateway = ""
		}, []string{v1.ReasonGuestDefaultRouteWithoutGateway},
			[]string{"the default route has no gateway (default dev eth0): the guest ARPs for every destination", "`ip route del default dev eth0 && ip route add default via 198.51.100.254`"}},
		{"Tools may write an on-link gateway as 0.0.0.0", func(s *GuestState) {
			s.Routes[2].Gateway = "0.0.0.0"
		}, []string{v1.ReasonGuestDefaultRouteWithoutGateway}, nil},
		{"a gateway-less default next to the right one still floods", func(s *GuestState) {
			s.Routes = append(s.Routes, GuestRoute{Network: "0.0.0.0", PrefixLength: 0, Device: "0"})
		}, []string{v1.ReasonGuestDefaultRouteWithoutGateway}, nil},
		{"the default route via another gateway", func(s *GuestState) { s.Routes[2].Gateway = "10.0.10.254" },
			[]string{v1.ReasonGuestDefaultRouteMissing},
			[]string{"the default route goes via 10.0.10.254, not via the server's gateway 198.51.100.254", "`ip route replace default via 198.51.100.254`"}},
		{"the router's second NIC is eth1", func(s *GuestState) {
			s.Want[0].Index, s.Want[0].NIC = 1, "Network adapter 2"
			s.NICs = []GuestNIC{{MAC: other, Addresses: []string{"10.0.10.254/24"}}, {MAC: vmac}}
			s.Routes = []GuestRoute{{Network: "10.0.10.0", PrefixLength: 24, Device: "0"}}
		}, []string{v1.ReasonGuestAddressMissing, v1.ReasonGuestGatewayRouteMissing, v1.ReasonGuestDefaultRouteMissing},
			[]string{"`ip addr add 203.0.113.124/32 dev eth1`", "`ip route add 198.51.100.254 dev eth1`"}},
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
		})
	}
}

// Drift fields name what differs the way status.drift shows it.
func TestGuestDriftFields(t *testing.T) {
	fs := Guest(GuestState{
		VMName: "web1",
		NICs:   []GuestNIC{{MAC: "00:50:56:00:00:02"}},
		Want: []GuestWant{{NIC: "Network adapter 1", MAC: "00:50:56:00:00:02", FailoverIP: "web-wan",
			Address: netip.MustParsePrefix("203.0.113.124/32"), Gateway: netip.MustParseAddr("198.51.100.254")}},
	})
	got := map[string]string{}
	for _, f := range fs {
		got[f.Field] = f.Expected + " | " + f.Observed
	}
	want := map[string]string{
		"guest.nics[Network adapter 1].addresses": "203.0.113.124/32 | (none)",
		"guest.routes[198.51.100.254]":            "198.51.100.254 dev eth0 | (none)",
		"guest.routes[default]":                   "default via 198.51.100.254 | (none)",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
