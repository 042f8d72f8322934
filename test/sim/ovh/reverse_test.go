package ovhsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// OVH sets a reverse only when its name resolves to the address, refuses it
// with a 400 otherwise, serves it fully qualified, and replaces it with the
// same POST.
func TestReverseNeedsForwardDNS(t *testing.T) {
	sim := start(t, ovhsim.Options{Conformance: true})
	c := signed(t, sim.Endpoint(), appSecret)
	ctx := context.Background()
	set := func(name string) error {
		var out map[string]string
		return c.PostWithContext(ctx, wanPath+"/reverse", map[string]string{"ipReverse": wanIP, "reverse": name}, &out)
	}

	e := apiErr(t, set("router.example.com"))
	if e.Code != http.StatusBadRequest || e.Message != "Cannot check if router.example.com. resolves to "+wanIP {
		t.Fatalf("name that does not resolve: %+v", e)
	}
	if err := sim.SetDNS("router.example.com", webIP); err != nil {
		t.Fatal(err)
	}
	if e := apiErr(t, set("router.example.com")); e.Code != http.StatusBadRequest || e.Message != "router.example.com. does not resolve to "+wanIP {
		t.Fatalf("name resolving elsewhere: %+v", e)
	}
	var ips []string
	get(t, c, wanPath+"/reverse", &ips)
	if len(ips) != 0 {
		t.Fatalf("a refused reverse was recorded: %v", ips)
	}

	if err := sim.SetDNS("Router.Example.com.", wanIP); err != nil {
		t.Fatal(err)
	}
	if err := set("router.example.com"); err != nil {
		t.Fatal(err)
	}
	var rev struct{ IPReverse, Reverse string }
	get(t, c, wanPath+"/reverse/"+wanIP, &rev)
	if rev.IPReverse != wanIP || rev.Reverse != "router.example.com." {
		t.Fatalf("reverse = %+v, want the name with its trailing dot", rev)
	}
	if err := sim.SetDNS("wan.example.net", wanIP); err != nil {
		t.Fatal(err)
	}
	if err := set("wan.example.net."); err != nil {
		t.Fatalf("replacing a reverse: %v", err)
	}
	if got := sim.ReverseOf(wanIP); got != "wan.example.net." {
		t.Fatalf("replaced reverse = %q", got)
	}
	get(t, c, wanPath+"/reverse", &ips)
	if !slices.Equal(ips, []string{wanIP}) {
		t.Fatalf("reverse list = %v", ips)
	}

	var none json.RawMessage
	if e := apiErr(t, c.GetWithContext(ctx, "/ip/"+webIP+"%2F32/reverse/"+webIP, &none)); e.Code != http.StatusNotFound {
		t.Fatalf("no reverse: %+v", e)
	}
	if e := apiErr(t, c.GetWithContext(ctx, wanPath+"/reverse/"+webIP, &none)); e.Code != http.StatusBadRequest {
		t.Fatalf("an address outside the block: %+v", e)
	}
	if err := c.DeleteWithContext(ctx, wanPath+"/reverse/"+wanIP, nil); err != nil {
		t.Fatal(err)
	}
	if got := sim.ReverseOf(wanIP); got != "" {
		t.Fatalf("deleted reverse = %q", got)
	}
	if w := sim.World(); len(w.DNS) != 2 || w.DNS[0].Name != "router.example.com" {
		t.Fatalf("world DNS = %+v", w.DNS)
	}
	for _, v := range sim.Violations() {
		t.Errorf("departs from OVH's API description: %s", v)
	}
}

// An address inside a wider block is no object of OVH's: 404 by default,
// the block when configured so; the list's ip filter finds its block, and
// moving the address alone is refused either way.
func TestAddressInsideABlock(t *testing.T) {
	for _, mode := range []ovhsim.AddressInBlock{"", ovhsim.AddressInBlockBlock} {
		w := seed()
		w.IPs = append(w.IPs, ovhsim.IP{IP: "198.51.100.64/29", RoutedTo: other})
		sim := start(t, ovhsim.Options{World: w, AddressInBlock: mode, Conformance: true})
		c := signed(t, sim.Endpoint(), appSecret)
		ctx := context.Background()
		var rec map[string]any
		err := c.GetWithContext(ctx, "/ip/198.51.100.66%2F32", &rec)
		switch mode {
		case "":
			if e := apiErr(t, err); e.Code != http.StatusNotFound || e.Message != "This service does not exist" {
				t.Fatalf("address in a block: %+v", e)
			}
		default:
			if err != nil || rec["ip"] != "198.51.100.64/29" {
				t.Fatalf("address in a block, %s: %v %v", mode, rec, err)
			}
		}
		var blocks []string
		get(t, c, "/ip?ip=198.51.100.66%2F32", &blocks)
		if !slices.Equal(blocks, []string{"198.51.100.64/29"}) {
			t.Fatalf("ip filter: %v", blocks)
		}
		if e := apiErr(t, c.PostWithContext(ctx, "/ip/198.51.100.66%2F32/move", map[string]string{"to": esx}, &rec)); e.Code != http.StatusNotFound {
			t.Fatalf("moving an address of a block: %+v", e)
		}
		for _, v := range sim.Violations() {
			t.Errorf("departs from OVH's API description: %s", v)
		}
	}
	if _, err := ovhsim.New(ovhsim.Options{AddressInBlock: "maybe"}); err == nil {
		t.Error("an unknown AddressInBlock was accepted")
	}
}
