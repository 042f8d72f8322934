package decide

import (
	"net/netip"
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
)

func TestAddressInBlock(t *testing.T) {
	for _, c := range []struct {
		block, host string
		plen        int
		want, err   string
	}{
		{"2001:db8:1:1::/64", "::1", 0, "2001:db8:1:1::1/64", ""},
		{"2001:db8:1:1::/64", "::1", 128, "2001:db8:1:1::1/128", ""},
		{"2001:db8:1:1::/64", "::a:0:0:10", 0, "2001:db8:1:1:a::10/64", ""},
		{"2001:db8:1:100::/56", "::1:0:0:0:1", 64, "2001:db8:1:101::1/64", ""},
		// The status may spell the block with host bits: masked first.
		{"2001:db8:1:1::5/64", "::1", 0, "2001:db8:1:1::1/64", ""},
		{"2001:db8:1:1::/64", "2001:db8:1:1::1", 0, "", "has bits inside the block"},
		{"2001:db8:1:1::/64", "::", 0, "", "network address"},
		{"2001:db8:1:1::/64", "::1", 48, "", "shorter than the block"},
		{"2001:db8:1:1::/64", "10.0.0.1", 0, "", "not an IPv6 address"},
		{"203.0.113.0/24", "::1", 0, "", "not an IPv6 prefix"},
		{"", "::1", 0, "", "not an IPv6 prefix"},
	} {
		got, err := AddressInBlock(c.block, c.host, c.plen)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s + %s /%d: error %v, want %q", c.block, c.host, c.plen, err, c.err)
		case c.err == "" && (err != nil || got.String() != c.want):
			t.Errorf("%s + %s /%d = %v, %v; want %s", c.block, c.host, c.plen, got, err, c.want)
		}
	}
}

func TestGateway6InPrefixes(t *testing.T) {
	wan := []netip.Prefix{netip.MustParsePrefix("2001:db8:1:1::1/64")}
	if p, in := Gateway6InPrefixes("2001:db8:1:1::ffff", wan); !in || p.String() != "2001:db8:1:1::/64" {
		t.Errorf("a gateway inside the WAN's /64 must be named: %v %v", p, in)
	}
	// OVH's older ranges: the last addresses of the enclosing /56.
	if _, in := Gateway6InPrefixes("2001:db8:1:ff:ff:ff:ff:ff", wan); in {
		t.Error("OVH's gateway outside the block is right")
	}
	if _, in := Gateway6InPrefixes("fe80::1", wan); in {
		t.Error("a link-local gateway is never inside a global block")
	}
	// A /128 WAN address has no on-link peers: nothing is inside it but itself.
	if _, in := Gateway6InPrefixes("2001:db8:1:1::1", []netip.Prefix{netip.MustParsePrefix("2001:db8:1:1::1/128")}); in {
		t.Error("a /128 holds only the router's own address")
	}
}

func TestRouterFlushNeighbours6(t *testing.T) {
	noGW := []drift.Finding{{Reason: v1.ReasonDefaultRoute6WithoutGateway}}
	missing := []drift.Finding{{Reason: v1.ReasonGatewayRoute6Missing}}
	flood := []drift.Finding{{Reason: v1.ReasonNDPFlood}}
	arpFlood := []drift.Finding{{Reason: v1.ReasonARPFlood}}
	for _, c := range []struct {
		name                 string
		before, after, neigh []drift.Finding
		want                 bool
	}{
		{"gateway-less IPv6 default fixed: flush", noGW, nil, nil, true},
		{"NDP flood seen, routes fine: flush", nil, nil, flood, true},
		{"routes still wrong: flushing would refill the table", noGW, noGW, flood, false},
		{"a missing route alone leaves no flood", missing, nil, nil, false},
		{"an IPv4 ARP flood is IPv4's to flush", nil, nil, arpFlood, false},
		{"gateway NDP missing is not a flood", nil, nil, []drift.Finding{{Reason: v1.ReasonGatewayNDPMissing}}, false},
		{"healthy", nil, nil, nil, false},
	} {
		if got := RouterFlushNeighbours6(c.before, c.after, c.neigh); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}

func TestRouterAddNDPProxies(t *testing.T) {
	for _, c := range []struct {
		name    string
		missing []string
		shell   bool
		want    bool
	}{
		{"entries missing after the commit, over SSH: add them", []string{"2001:db8:1:1:1::10"}, true, true},
		{"the commit's conf script created them: nothing to add", nil, true, false},
		{"the HTTP API cannot run ip", []string{"2001:db8:1:1:1::10"}, false, false},
	} {
		if got := RouterAddNDPProxies(c.missing, c.shell); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}
