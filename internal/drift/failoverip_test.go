package drift

import (
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

func TestFailoverIP(t *testing.T) {
	const esx, other = "ns123456.ip-198-51-100.eu", "ns654321.ip-192-0-2.eu"
	addr := func() AddressState {
		return AddressState{IP: "203.0.113.123", Field: "virtualMAC", WantMACType: "vmware", BoundMAC: "00:50:56:00:00:01", BoundMACType: "vmware"}
	}
	base := func() FailoverIPState {
		return FailoverIPState{IP: "203.0.113.123", WantServer: esx, RoutedTo: esx, VMACSupported: true, Addresses: []AddressState{addr()}}
	}
	first := func(s *FailoverIPState) *AddressState { return &s.Addresses[0] }
	cases := []struct {
		name    string
		edit    func(*FailoverIPState)
		reasons []string
		msg     string // substring of the first finding's message
	}{
		{"in sync", func(*FailoverIPState) {}, nil, ""},
		{"no virtual MAC wanted", func(s *FailoverIPState) { s.Addresses = nil }, nil, ""},
		{"routed elsewhere", func(s *FailoverIPState) { s.RoutedTo = other },
			[]string{v1.ReasonRoutedElsewhere}, "routed to ns654321.ip-192-0-2.eu, not ns123456"},
		{"parked", func(s *FailoverIPState) { s.RoutedTo = "" },
			[]string{v1.ReasonRoutedElsewhere}, "nowhere (parked)"},
		{"routed elsewhere hides the vMAC check", func(s *FailoverIPState) { s.RoutedTo, first(s).BoundMAC = other, "" },
			[]string{v1.ReasonRoutedElsewhere}, ""},
		{"an address of a block routed elsewhere: no move", func(s *FailoverIPState) {
			s.IP, s.RoutedTo, s.InBlock = "203.0.113.121", other, "203.0.113.120/29"
		}, []string{v1.ReasonPartOfBlock}, "part of block 203.0.113.120/29, which OVH moves only as a whole"},
		{"an address of a block routed here is fine", func(s *FailoverIPState) { s.InBlock = "203.0.113.120/29" }, nil, ""},
		{"virtual MAC missing", func(s *FailoverIPState) { first(s).BoundMAC, first(s).BoundMACType = "", "" },
			[]string{v1.ReasonVirtualMACMissing}, "has no virtual MAC on ns123456"},
		{"previous MAC gone entirely is just missing", func(s *FailoverIPState) {
			first(s).BoundMAC, first(s).BoundMACType, first(s).PreviousMAC = "", "", "00:50:56:00:00:01"
		}, []string{v1.ReasonVirtualMACMissing}, ""},
		{"previous MAC now on another IP", func(s *FailoverIPState) {
			first(s).BoundMAC, first(s).BoundMACType = "", ""
			first(s).PreviousMAC, first(s).PreviousMACIPs = "00:50:56:00:00:01", []string{"203.0.113.124"}
		}, []string{v1.ReasonVirtualMACConflict}, "now carries 203.0.113.124"},
		{"awaited after a move: not missing", func(s *FailoverIPState) {
			first(s).BoundMAC, first(s).BoundMACType, first(s).Awaited = "", "", "it follows the move"
			first(s).PreviousMAC, first(s).PreviousMACIPs = "00:50:56:00:00:01", []string{"203.0.113.124"}
		}, []string{v1.ReasonAwaitingVirtualMAC}, "no virtual MAC on ns123456.ip-198-51-100.eu yet: it follows the move"},
		{"wrong type", func(s *FailoverIPState) { first(s).BoundMACType = "ovh" },
			[]string{v1.ReasonVirtualMACConflict}, "of type ovh, the spec wants vmware"},
		{"shared with another VM", func(s *FailoverIPState) { first(s).ForeignIPs = []string{"203.0.113.124"} },
			[]string{v1.ReasonVirtualMACConflict}, "also carries 203.0.113.124"},
		{"server without vMAC support", func(s *FailoverIPState) { s.VMACSupported, first(s).BoundMAC = false, "" },
			[]string{v1.ReasonCapabilityMissing}, "does not support virtual MACs"},
		{"a block: each address judged, in order", func(s *FailoverIPState) {
			s.IP = "203.0.113.120/29"
			b := addr()
			b.IP, b.Field, b.BoundMAC, b.BoundMACType = "203.0.113.122", "addresses[203.0.113.122].virtualMAC", "", ""
			c := addr()
			c.IP, c.Field, c.BoundMACType = "203.0.113.125", "addresses[203.0.113.125].virtualMAC", "ovh"
			s.Addresses = append(s.Addresses, b, c)
		}, []string{v1.ReasonVirtualMACMissing, v1.ReasonVirtualMACConflict}, "203.0.113.122 has no virtual MAC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			c.edit(&s)
			got := FailoverIP(s)
			if len(got) != len(c.reasons) {
				t.Fatalf("findings = %+v, want reasons %v", got, c.reasons)
			}
			for i, r := range c.reasons {
				if got[i].Reason != r {
					t.Errorf("finding %d reason = %s, want %s", i, got[i].Reason, r)
				}
			}
			if c.msg != "" && !strings.Contains(got[0].Message, c.msg) {
				t.Errorf("message %q lacks %q", got[0].Message, c.msg)
			}
		})
	}
	// A block's findings say which address they are about.
	s := base()
	s.Addresses[0].IP, s.Addresses[0].Field, s.Addresses[0].BoundMAC = "203.0.113.122", "addresses[203.0.113.122].virtualMAC", ""
	if got := FailoverIP(s); len(got) != 1 || got[0].Subject != "203.0.113.122" || got[0].Field != "addresses[203.0.113.122].virtualMAC" {
		t.Errorf("block address finding = %+v", got)
	}
}

func TestReverse(t *testing.T) {
	for _, c := range []struct {
		name, want, observed string
		drift                bool
	}{
		{"not asked for", "", "anything.example.", false},
		{"same name, OVH's trailing dot", "mail.example.com", "mail.example.com.", false},
		{"same name, both with a dot", "mail.example.com.", "mail.example.com.", false},
		{"same name, another case", "Mail.Example.com", "mail.example.com.", false},
		{"none yet", "mail.example.com", "", true},
		{"another name", "mail.example.com", "ns123456.ip-198-51-100.eu.", true},
	} {
		got := Reverse("203.0.113.123", c.want, c.observed)
		if (len(got) > 0) != c.drift {
			t.Errorf("%s: findings %+v", c.name, got)
			continue
		}
		if c.drift && (got[0].Reason != v1.ReasonReverseMismatch || !strings.Contains(got[0].Message, "spec.reverse wants "+c.want)) {
			t.Errorf("%s: finding %+v", c.name, got[0])
		}
	}
}
