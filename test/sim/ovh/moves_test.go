package ovhsim_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

// OVH's three rules for moving a block with virtual MACs (moves.go).
func TestMoveRules(t *testing.T) {
	ctx := context.Background()
	var task map[string]any
	move := func(t *testing.T, sim *ovhsim.Server, path string) error {
		return signed(t, sim.Endpoint(), appSecret).PostWithContext(ctx, path+"/move", map[string]string{"to": other}, &task)
	}
	macsOf := func(t *testing.T, sim *ovhsim.Server, server string) []string {
		var macs []string
		get(t, signed(t, sim.Endpoint(), appSecret), "/dedicated/server/"+server+"/virtualMac", &macs)
		return macs
	}

	t.Run("duplicate virtual MAC", func(t *testing.T) {
		sim := start(t, ovhsim.Options{Conformance: true})
		if err := sim.BindVirtualMAC(esx, wanMAC, webIP, wanVM); err != nil {
			t.Fatal(err)
		}
		e := apiErr(t, move(t, sim, wanPath))
		if e.Code != http.StatusForbidden || !strings.Contains(e.Message, wanMAC) || !strings.Contains(e.Message, webIP) {
			t.Fatalf("refusal = %+v", e)
		}
		if n := len(sim.Tasks()); n != 0 {
			t.Fatalf("a refused move created %d tasks", n)
		}
		custom := start(t, ovhsim.Options{DuplicateVirtualMACError: ovhsim.ErrorReply{Status: http.StatusBadRequest, Message: "duplicate"}})
		if err := custom.BindVirtualMAC(esx, wanMAC, webIP, wanVM); err != nil {
			t.Fatal(err)
		}
		if e := apiErr(t, move(t, custom, wanPath)); e.Code != http.StatusBadRequest || e.Message != "duplicate" {
			t.Fatalf("configured refusal = %+v", e)
		}
		for _, v := range sim.Violations() {
			t.Errorf("departs from OVH's API description: %s", v)
		}
	})

	t.Run("destination quota", func(t *testing.T) {
		w := seed()
		w.Servers[1].VirtualMACQuota = 1
		w.IPs = append(w.IPs, ovhsim.IP{IP: "192.0.2.50", RoutedTo: other})
		w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{Server: other, MAC: "00:50:56:00:00:09", Type: "vmware",
			Addresses: []ovhsim.VirtualAddress{{IP: "192.0.2.50", VirtualMachineName: "db"}}})
		sim := start(t, ovhsim.Options{World: w})
		e := apiErr(t, move(t, sim, wanPath))
		if e.Code != http.StatusForbidden || !strings.Contains(e.Message, "quota") {
			t.Fatalf("refusal = %+v", e)
		}
		// An IP without a virtual MAC still moves.
		if err := move(t, sim, "/ip/"+webIP+"%2F32"); err != nil {
			t.Fatalf("moving an IP without virtual MAC: %v", err)
		}
	})

	t.Run("suspended during the move, on the destination after it", func(t *testing.T) {
		clock := ovhsim.NewManualClock(time.Date(2024, 6, 10, 14, 0, 0, 0, time.UTC))
		sim := start(t, ovhsim.Options{Clock: clock, MoveDuration: time.Minute, VirtualMACReappearDelay: 30 * time.Second, Conformance: true})
		if err := move(t, sim, wanPath); err != nil {
			t.Fatal(err)
		}
		if macs := macsOf(t, sim, esx); slices.Contains(macs, wanMAC) {
			t.Fatalf("during the move the MAC is still listed on the source: %v", macs)
		}
		c := signed(t, sim.Endpoint(), appSecret)
		var out map[string]any
		err := c.PostWithContext(ctx, "/dedicated/server/"+esx+"/virtualMac",
			map[string]string{"ipAddress": wanIP, "type": "vmware", "virtualMachineName": wanVM}, &out)
		if e := apiErr(t, err); e.Code != http.StatusConflict {
			t.Fatalf("a virtual MAC for an address being moved: %+v", e)
		}
		clock.Advance(time.Minute)
		if got := routedTo(t, c, wanPath); got != other {
			t.Fatalf("routed to %q after the move", got)
		}
		if macs := macsOf(t, sim, other); slices.Contains(macs, wanMAC) {
			t.Fatalf("the MAC appeared before its delay: %v", macs)
		}
		clock.Advance(30 * time.Second)
		if macs := macsOf(t, sim, other); !slices.Equal(macs, []string{wanMAC}) {
			t.Fatalf("after the delay the destination lists %v", macs)
		}
		var ips []string
		get(t, c, "/dedicated/server/"+other+"/virtualMac/"+wanMAC+"/virtualAddress", &ips)
		if !slices.Equal(ips, []string{wanIP}) {
			t.Fatalf("the MAC carries %v on the destination", ips)
		}
		for _, v := range sim.Violations() {
			t.Errorf("departs from OVH's API description: %s", v)
		}
	})

	t.Run("a failed move gives the MACs back", func(t *testing.T) {
		sim := start(t, ovhsim.Options{MoveDuration: time.Hour})
		if err := sim.FailNextTasks(ovhsim.FunctionMoveIP, 1, ovhsim.TaskOutcome{Status: ovhsim.StatusOVHError, Comment: "no"}); err != nil {
			t.Fatal(err)
		}
		if err := move(t, sim, wanPath); err != nil {
			t.Fatal(err)
		}
		id := sim.Tasks()[0].ID
		if err := sim.SetTaskStatus(id, ovhsim.StatusOVHError, "no"); err != nil {
			t.Fatal(err)
		}
		if macs := macsOf(t, sim, esx); !slices.Contains(macs, wanMAC) {
			t.Fatalf("after the failed move the source lists %v", macs)
		}
	})
}
