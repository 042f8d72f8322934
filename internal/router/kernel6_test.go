package router

import (
	"reflect"
	"strings"
	"testing"
)

// IPv6 outputs as test/kernel captured them from iproute2 6.1 (testdata/
// ipv6), and as older iproute2 prints them.
const (
	quagga6Routes = "2001:db8:1:1::/64 dev eth2 proto kernel metric 256 pref medium\n" +
		"2001:db8:1:ff:ff:ff:ff:ff dev eth2 proto zebra metric 1024 pref medium\n" +
		"fe80::/64 dev eth2 proto kernel metric 256 pref medium\n" +
		"default dev eth2 proto zebra metric 1024 pref medium\n"
	flood6Neigh = "2001:db8:ffff::163 lladdr 00:05:73:a0:00:01 REACHABLE \n" +
		"2001:db8:ffff::99 FAILED \n" +
		"2001:db8:1:ff:ff:ff:ff:ff lladdr 00:05:73:A0:00:01 router STALE \n"
)

func TestParseRoutesTextIPv6(t *testing.T) {
	cases := []struct {
		name, text string
		want       []Route
	}{
		{"quagga's gateway-less default (iproute2 6.1)", quagga6Routes, []Route{
			{Dst: "2001:db8:1:1::/64", Dev: "eth2", Protocol: "kernel", Metric: 256},
			{Dst: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", Protocol: "zebra", Metric: 1024},
			{Dst: "fe80::/64", Dev: "eth2", Protocol: "kernel", Metric: 256},
			{Dst: "default", Dev: "eth2", Protocol: "zebra", Metric: 1024},
		}},
		{"iproute2 3.x with metrics, ::/0 and /128 spelled out", "::/0 via 2001:db8:1:ff:ff:ff:ff:ff dev eth2  metric 1024  mtu 1500 advmss 1440 hoplimit 0\n" +
			"2001:db8:1:ff:ff:ff:ff:ff/128 dev eth2  metric 1024  mtu 1500 advmss 1440 hoplimit 0\n" +
			"2001:db8:ffff::/48 via fe80::1 dev eth2  proto ra  metric 1024  expires 1785sec\n", []Route{
			{Dst: "default", Gateway: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", Protocol: "boot", Metric: 1024},
			{Dst: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", Protocol: "boot", Metric: 1024},
			{Dst: "2001:db8:ffff::/48", Gateway: "fe80::1", Dev: "eth2", Protocol: "ra", Metric: 1024},
		}},
		{"frr's nexthop objects", "default nhid 13 via 2001:db8:1:ff:ff:ff:ff:ff dev eth2 proto static metric 20 onlink pref medium\n", []Route{
			{Dst: "default", Gateway: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", Protocol: "static", Metric: 20, Flags: []string{"onlink"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRoutesText(c.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got\n%#v\nwant\n%#v", got, c.want)
			}
		})
	}
}

func TestParseRoutesJSONIPv6(t *testing.T) {
	got, err := ParseRoutesJSON([]byte(`[{"dst":"::/0","gateway":"2001:db8:1:ff:ff:ff:ff:ff","dev":"eth2","metric":1024,"flags":[],"pref":"medium"},` +
		`{"dst":"2001:db8:1:ff:ff:ff:ff:ff/128","dev":"eth2","metric":1024,"flags":[],"pref":"medium"}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{Dst: "default", Gateway: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", Protocol: "boot", Metric: 1024},
		{Dst: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", Protocol: "boot", Metric: 1024},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	if !(Route{Dst: "::/0"}).IsDefault() {
		t.Fatal("::/0 is a default route")
	}
}

func TestParseNeighboursText(t *testing.T) {
	cases := []struct {
		name, text, dev string
		want            []Neighbour
		err             string
	}{
		{"filtered by device: no dev, the router flag, a failure", flood6Neigh, "eth2", []Neighbour{
			{IP: "2001:db8:ffff::163", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: "REACHABLE"},
			{IP: "2001:db8:ffff::99", Dev: "eth2", State: "FAILED"},
			{IP: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", MAC: "00:05:73:a0:00:01", Router: true, State: "STALE"},
		}, ""},
		{"unfiltered, another device left out", "fe80::1 dev eth1 lladdr 52:54:00:00:0a:0a router REACHABLE\n" +
			"2001:db8:1:ff:ff:ff:ff:ff dev eth2 lladdr 00:05:73:a0:00:01 router PROBE\n" +
			"2001:db8:1:1::124 dev eth2 used 12/3/1 probes 0 INCOMPLETE\n", "eth2", []Neighbour{
			{IP: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", MAC: "00:05:73:a0:00:01", Router: true, State: "PROBE"},
			{IP: "2001:db8:1:1::124", Dev: "eth2", State: "INCOMPLETE"},
		}, ""},
		{"a permanent entry by hand", "2001:db8:1:ff:ff:ff:ff:ff dev eth2 lladdr 00:05:73:a0:00:01 PERMANENT\n", "", []Neighbour{
			{IP: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: "PERMANENT"},
		}, ""},
		{"empty", "", "eth2", nil, ""},
		{"not an address", "garbage dev eth2 FAILED\n", "", nil, "bad address"},
		{"unknown word", "2001:db8::1 dev eth2 wibble REACHABLE\n", "", nil, "unknown word"},
		{"no device anywhere", "2001:db8::1 lladdr 00:05:73:a0:00:01 REACHABLE\n", "", nil, "no device"},
		{"dev without value", "2001:db8::1 dev", "", nil, "without value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseNeighboursText(c.text, c.dev)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got\n%#v\nwant\n%#v", got, c.want)
			}
		})
	}
}

func TestParseNeighboursJSONRouterFlag(t *testing.T) {
	got, err := ParseNeighboursJSON([]byte(`[{"dst":"2001:db8:1:ff:ff:ff:ff:ff","lladdr":"00:05:73:a0:00:01","router":null,"state":["REACHABLE"]},`+
		`{"dst":"2001:db8:ffff::20","lladdr":"00:05:73:a0:00:01","state":["REACHABLE"]}]`), "eth2")
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Router || got[1].Router {
		t.Fatalf("router flags: %+v", got)
	}
}

// VyOS 1.4+'s `show ipv6 neighbors`: neighbor.py joins the states with ", "
// and leaves the link layer address blank for unresolved entries.
const showIPv6NeighborsTable = "Address                    Interface    Link layer address    State\n" +
	"-------------------------  -----------  --------------------  ---------------\n" +
	"2001:db8:1:ff:ff:ff:ff:ff  eth2         00:05:73:a0:00:01     REACHABLE\n" +
	"2001:db8:ffff::99          eth2                               FAILED\n" +
	"fe80::1                    eth1         52:54:00:00:0a:0a     STALE, NOARP\n"

func TestParseShowIPv6Neighbors(t *testing.T) {
	table, err := ParseShowIPv6Neighbors(showIPv6NeighborsTable, "eth2")
	if err != nil {
		t.Fatal(err)
	}
	want := []Neighbour{
		{IP: "2001:db8:1:ff:ff:ff:ff:ff", Dev: "eth2", MAC: "00:05:73:a0:00:01", State: "REACHABLE"},
		{IP: "2001:db8:ffff::99", Dev: "eth2", State: "FAILED"},
	}
	if !reflect.DeepEqual(table, want) {
		t.Fatalf("1.4+ table:\n%#v\nwant\n%#v", table, want)
	}
	all, err := ParseShowIPv6Neighbors(showIPv6NeighborsTable, "")
	if err != nil || len(all) != 3 || all[2].State != "STALE,NOARP" {
		t.Fatalf("unfiltered table: %#v %v", all, err)
	}
	text, err := ParseShowIPv6Neighbors("\n2001:db8:ffff::99 dev eth2 FAILED \n", "eth2")
	if err != nil || !reflect.DeepEqual(text, want[1:]) {
		t.Fatalf("1.3 text: %#v %v", text, err)
	}
	if _, err := ParseShowIPv6Neighbors("Address  HWtype  HWaddress\n", ""); err == nil {
		t.Fatal("an arp -e header is not show ipv6 neighbors")
	}
	if ns, err := ParseShowIPv6Neighbors("", "eth2"); err != nil || ns != nil {
		t.Fatalf("empty: %#v %v", ns, err)
	}
}
