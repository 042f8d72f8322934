package decide

import (
	"errors"
	"slices"
	"testing"

	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

func TestRouterEndpointNormalised(t *testing.T) {
	for _, c := range []struct {
		driver  v1.RouterDriver
		address string
		want    string
	}{
		{v1.DriverSSH, "192.0.2.1", "192.0.2.1:22"},
		{"", "192.0.2.1:22", "192.0.2.1:22"},
		{v1.DriverSSH, "Router.Example.", "router.example:22"},
		{v1.DriverSSH, "[::ffff:192.0.2.1]:2222", "192.0.2.1:2222"},
		{v1.DriverSSH, "[2001:DB8::1]", "[2001:db8::1]:22"},
		{v1.DriverVyOSAPI, "https://192.0.2.1", "192.0.2.1:443"},
		{v1.DriverVyOSAPI, "https://ROUTER.example:8443/", "router.example:8443"},
		{v1.DriverVyOSAPI, "192.0.2.1", "192.0.2.1:443"},
	} {
		if got := RouterEndpoint(v1.RouterConnection{Driver: c.driver, Address: c.address}); got != c.want {
			t.Errorf("%s %q: %q, want %q", c.driver, c.address, got, c.want)
		}
	}
}

// Which parts of one VM two BridgedVMs both manage.
func TestBridgedVMSharedPart(t *testing.T) {
	label := func(l string) v1.NICSpec { return v1.NICSpec{Label: l, PortGroup: "WAN"} }
	index := func(i int32) v1.NICSpec { return v1.NICSpec{Index: &i, PortGroup: "WAN"} }
	bvm := func(nics []v1.NICSpec, observed bool, power v1.PowerState, cycle bool) *v1.BridgedVM {
		b := &v1.BridgedVM{Spec: v1.BridgedVMSpec{VMName: "web1", NICs: nics, PowerState: power, AllowPowerCycle: cycle}}
		if observed {
			b.Status.NICs = []v1.NICStatus{{Label: "Network adapter 1", Index: 0}, {Label: "Network adapter 3", Index: 1}}
		}
		return b
	}
	for _, c := range []struct {
		name string
		a, b *v1.BridgedVM
		want string
	}{
		{"same label, any case", bvm([]v1.NICSpec{label("network adapter 1")}, false, "", false),
			bvm([]v1.NICSpec{label("Network adapter 1")}, false, "", false), `NIC "network adapter 1"`},
		{"same index", bvm([]v1.NICSpec{index(1)}, false, "", false), bvm([]v1.NICSpec{index(0), index(1)}, false, "", false), "NIC index 1"},
		{"label is that index", bvm([]v1.NICSpec{index(1)}, false, "", false),
			bvm([]v1.NICSpec{label("Network adapter 3")}, true, "", false), "NIC index 1"},
		{"label is another index", bvm([]v1.NICSpec{index(1)}, false, "", false),
			bvm([]v1.NICSpec{label("Network adapter 1")}, true, "", false), ""},
		{"label the VM does not show", bvm([]v1.NICSpec{index(1)}, true, "", false),
			bvm([]v1.NICSpec{label("Network adapter 2")}, false, "", false), ""},
		{"label and index, nothing observed yet", bvm([]v1.NICSpec{index(1)}, false, "", false),
			bvm([]v1.NICSpec{label("Network adapter 9")}, false, "", false), "NIC index 1"},
		{"different labels", bvm([]v1.NICSpec{label("Network adapter 1")}, false, "", false),
			bvm([]v1.NICSpec{label("Network adapter 2")}, false, "", false), ""},
		{"both manage power", bvm([]v1.NICSpec{index(0)}, false, v1.PoweredOn, false),
			bvm([]v1.NICSpec{index(1)}, false, "", true), "the power state"},
		{"one manages power", bvm([]v1.NICSpec{index(0)}, false, v1.PoweredOn, false),
			bvm([]v1.NICSpec{index(1)}, false, "", false), ""},
	} {
		if got := SharedVMPart(c.a, c.b); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestClaimWinner(t *testing.T) {
	at := func(name, ns string, sec int64) *v1.FailoverIP {
		return &v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			CreationTimestamp: metav1.NewTime(time.Unix(sec, 0))}}
	}
	self := at("self", "b", 100)
	older := at("older", "b", 50)
	oldest := at("oldest", "z", 10)
	tieFirst := at("a-tie", "b", 100)
	tieLast := at("z-tie", "b", 100)
	newer := at("newer", "a", 200)
	all := func(self, other *v1.FailoverIP) (string, error) { return "IP 203.0.113.123", nil }
	none := func(self, other *v1.FailoverIP) (string, error) { return "", nil }
	only := func(name string) func(self, other *v1.FailoverIP) (string, error) {
		return func(self, other *v1.FailoverIP) (string, error) {
			if other.Name == name {
				return "NIC 1", nil
			}
			return "", nil
		}
	}
	for _, c := range []struct {
		name     string
		others   []*v1.FailoverIP
		conflict func(self, other *v1.FailoverIP) (string, error)
		winner   string
	}{
		{"alone", nil, all, ""},
		{"a newer claimant never wins", []*v1.FailoverIP{newer}, all, ""},
		{"the earliest wins, whatever the order", []*v1.FailoverIP{older, oldest, newer}, all, "oldest"},
		{"same second: namespace/name decides", []*v1.FailoverIP{tieLast, tieFirst}, all, "a-tie"},
		{"an earlier object claiming nothing shared", []*v1.FailoverIP{older, oldest}, none, ""},
		{"only the one that conflicts", []*v1.FailoverIP{older, oldest}, only("older"), "older"},
	} {
		w, what, found, err := ClaimWinner(self, c.others, c.conflict)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if found {
			got = w.Name
			if what == "" {
				t.Errorf("%s: no description of the claimed thing", c.name)
			}
		}
		if got != c.winner {
			t.Errorf("%s: winner %q, want %q", c.name, got, c.winner)
		}
	}
	boom := errors.New("secret unreadable")
	if _, _, _, err := ClaimWinner(self, []*v1.FailoverIP{older}, func(_, _ *v1.FailoverIP) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("a conflict check's error must stop the decision: %v", err)
	}
}

func TestIPClaimKeysAndOverlap(t *testing.T) {
	for _, c := range []struct {
		ip     string
		index  []string
		lookup []string
	}{
		{"203.0.113.123", []string{"ip:203.0.113.123/32", "in:203.0.113.0/24", "in:203.0.0.0/16"},
			[]string{"ip:203.0.113.123/32", "blk:203.0.113.0/24", "blk:203.0.0.0/16"}},
		{"203.0.113.123/32", []string{"ip:203.0.113.123/32", "in:203.0.113.0/24", "in:203.0.0.0/16"}, nil},
		{"203.0.113.120/29", []string{"ip:203.0.113.120/29", "blk:203.0.113.0/24", "blk:203.0.0.0/16"},
			[]string{"ip:203.0.113.120/29", "blk:203.0.113.0/24", "blk:203.0.0.0/16", "in:203.0.113.0/24"}},
		{"198.51.100.0/23", []string{"ip:198.51.100.0/23", "blk:198.51.100.0/24", "blk:198.51.101.0/24", "blk:198.51.0.0/16"}, nil},
	} {
		if got := IPClaimIndex(c.ip); !slices.Equal(got, c.index) {
			t.Errorf("%s: index %v, want %v", c.ip, got, c.index)
		}
		if got := IPClaimLookup(c.ip); c.lookup != nil && !slices.Equal(got, c.lookup) {
			t.Errorf("%s: lookup %v, want %v", c.ip, got, c.lookup)
		}
	}
	if got := IPClaimIndex("10.0.0.0/8"); len(got) != 257 || got[1] != "blk:10.0.0.0/16" || got[256] != "blk:10.255.0.0/16" {
		t.Errorf("10.0.0.0/8: %d index keys, %v...", len(got), got[:2])
	}
	for _, c := range []struct{ a, b, want string }{
		{"203.0.113.123", "203.0.113.123/32", "IP 203.0.113.123"},
		{"203.0.113.121", "203.0.113.120/29", "IP 203.0.113.121, inside block 203.0.113.120/29"},
		{"203.0.113.120/29", "203.0.113.121", "block 203.0.113.120/29, which holds 203.0.113.121"},
		{"203.0.113.120/29", "203.0.113.128/29", ""},
		{"203.0.113.130", "203.0.113.120/29", ""},
	} {
		if got := IPOverlap(c.a, c.b); got != c.want {
			t.Errorf("IPOverlap(%s, %s) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

// Whatever two FailoverIPs conflict on (IPOverlap), each one's claim
// lookup meets the other's index, so both compute the same winner; and two
// distinct addresses never meet (an address's check reads no neighbour).
func TestIPClaimKeysMeetWheneverIPsOverlap(t *testing.T) {
	ips := []string{
		"203.0.113.5", "203.0.113.6", "203.0.113.200", "203.0.112.7", "198.51.100.9", "10.1.2.3",
		"203.0.113.0/29", "203.0.113.0/24", "203.0.112.0/23", "203.0.113.128/25", "203.0.0.0/16", "203.0.0.0/15",
		"10.0.0.0/8", "10.1.2.0/28", "198.51.100.8/30", "203.0.113.5/32",
	}
	meets := func(a, b string) bool {
		idx := IPClaimIndex(b)
		for _, k := range IPClaimLookup(a) {
			if slices.Contains(idx, k) {
				return true
			}
		}
		return false
	}
	for _, a := range ips {
		for _, b := range ips {
			if a == b {
				continue
			}
			overlap := IPOverlap(a, b) != ""
			if overlap && (!meets(a, b) || !meets(b, a)) {
				t.Errorf("%s and %s overlap, but lookup(a)∩index(b)=%v, lookup(b)∩index(a)=%v", a, b, meets(a, b), meets(b, a))
			}
			pa, _ := parseIPv4Prefix(a)
			pb, _ := parseIPv4Prefix(b)
			if pa.Bits() == 32 && pb.Bits() == 32 && !overlap && meets(a, b) {
				t.Errorf("addresses %s and %s do not overlap, yet one's claim check reads the other", a, b)
			}
		}
	}
}
