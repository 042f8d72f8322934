package esxisim_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

var guestProps = []string{"guest.toolsRunningStatus", "guest.toolsStatus", "guest.net", "guest.ipStack", "guest.ipAddress", "config.hardware.device"}

// readGuest reads a VM's guest properties with a plain govmomi client.
func readGuest(t *testing.T, ctx context.Context, c *vim25.Client, name string) mo.VirtualMachine {
	t.Helper()
	vm, err := find.NewFinder(c).VirtualMachine(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), guestProps, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// addrs lists a guest NIC's addresses as CIDR.
func addrs(n types.GuestNicInfo) []string {
	var out []string
	if n.IpConfig != nil {
		for _, a := range n.IpConfig.IpAddress {
			out = append(out, fmt.Sprintf("%s/%d", a.IpAddress, a.PrefixLength))
		}
	}
	return out
}

// routes lists the guest's routes as "dst/len via gw dev n" (gw "-" on-link).
func routes(m mo.VirtualMachine) []string {
	var out []string
	for _, st := range m.Guest.IpStack {
		if st.IpRouteConfig == nil {
			continue
		}
		for _, r := range st.IpRouteConfig.IpRoute {
			gw := r.Gateway.IpAddress
			if gw == "" {
				gw = "-"
			}
			out = append(out, fmt.Sprintf("%s/%d via %s dev %s", r.Network, r.PrefixLength, gw, r.Gateway.Device))
		}
	}
	return out
}

func macs(m mo.VirtualMachine) []string {
	var out []string
	for _, d := range m.Config.Hardware.Device {
		if eth, ok := d.(types.BaseVirtualEthernetCard); ok {
			out = append(out, eth.GetVirtualEthernetCard().MacAddress)
		}
	}
	return out
}

// The seed's guests as the write-up configures them, reported the way
// VMware Tools and ESXi report a Linux guest.
func TestSeedGuestsReportTheWriteUpsConfiguration(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	ctx := testContext(t)
	c := clientFor(t, ctx, h)

	web := readGuest(t, ctx, c, "web1")
	if web.Guest.ToolsRunningStatus != string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) ||
		web.Guest.ToolsStatus != types.VirtualMachineToolsStatusToolsOk {
		t.Fatalf("web1 Tools: %s/%s", web.Guest.ToolsRunningStatus, web.Guest.ToolsStatus)
	}
	if len(web.Guest.Net) != 1 {
		t.Fatalf("web1 guest.net = %+v", web.Guest.Net)
	}
	n := web.Guest.Net[0]
	mac := macs(web)[0]
	if n.MacAddress != mac || n.Network != esxisim.PortGroupWAN || !n.Connected || n.DeviceConfigId == 0 {
		t.Errorf("web1 NIC = %+v, want MAC %s on WAN", n, mac)
	}
	if got := addrs(n); len(got) != 2 || got[0] != "203.0.113.124/32" || !strings.HasPrefix(got[1], "fe80::") || !strings.HasSuffix(got[1], "/64") {
		t.Errorf("web1 addresses = %v, want the failover IP as a /32 and a link-local /64", got)
	}
	if !slices.Equal(n.IpAddress, []string{"203.0.113.124", strings.TrimSuffix(addrs(n)[1], "/64")}) {
		t.Errorf("web1 deprecated ipAddress = %v", n.IpAddress)
	}
	if web.Guest.IpAddress != "203.0.113.124" {
		t.Errorf("web1 guest.ipAddress = %q", web.Guest.IpAddress)
	}
	want := []string{"fe80::/64 via - dev 0", "198.51.100.254/32 via - dev 0", "0.0.0.0/0 via 198.51.100.254 dev 0"}
	if got := routes(web); !slices.Equal(got, want) {
		t.Errorf("web1 routes = %v\nwant %v", got, want)
	}

	router := readGuest(t, ctx, c, "vyatta")
	if len(router.Guest.Net) != 2 || addrs(router.Guest.Net[0])[0] != "10.0.10.254/24" || addrs(router.Guest.Net[1])[0] != "203.0.113.123/32" {
		t.Fatalf("vyatta guest.net = %+v", router.Guest.Net)
	}
	want = []string{"10.0.10.0/24 via - dev 0", "fe80::/64 via - dev 0", "fe80::/64 via - dev 1",
		"198.51.100.254/32 via - dev 1", "0.0.0.0/0 via 198.51.100.254 dev 1"}
	if got := routes(router); !slices.Equal(got, want) {
		t.Errorf("vyatta routes = %v\nwant %v", got, want)
	}
}

// Tools run only while the VM does: powered off, nothing is reported; a
// VM without a guest configuration has no Tools at all, as in vcsim.
func TestGuestFollowsPower(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{VMs: append(esxisim.DefaultVMs(false),
		esxisim.VMSpec{Name: "bare", PoweredOn: true, NICs: []esxisim.NICSpec{{PortGroup: esxisim.PortGroupLAN}}})})
	ctx := testContext(t)
	c := clientFor(t, ctx, h)
	web := readGuest(t, ctx, c, "web1")
	if web.Guest.ToolsRunningStatus != string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning) || len(web.Guest.Net) != 0 {
		t.Fatalf("powered-off web1 reports %s, %+v", web.Guest.ToolsRunningStatus, web.Guest.Net)
	}
	if err := h.SetPower(ctx, "web1", true); err != nil {
		t.Fatal(err)
	}
	if web = readGuest(t, ctx, c, "web1"); len(web.Guest.Net) != 1 || len(routes(web)) != 3 {
		t.Fatalf("after power-on: %+v %v", web.Guest.Net, routes(web))
	}
	bare := readGuest(t, ctx, c, "bare")
	if bare.Guest.ToolsStatus != types.VirtualMachineToolsStatusToolsNotInstalled {
		t.Errorf("a VM without guest configuration: toolsStatus %s", bare.Guest.ToolsStatus)
	}
	if _, err := h.GuestState("bare"); err == nil {
		t.Error("GuestState of a VM without Tools: no error")
	}
}

// The write-up's warning: what is set by hand inside the guest is lost at
// the next reboot. And the kernel's rules: a default route needs its
// gateway on the link first; deleting the on-link route leaves the default
// route dangling.
func TestGuestRoutesByHandAndReboot(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	ctx := testContext(t)
	c := clientFor(t, ctx, h)

	// The guest boots without the gateway route: the default route via the
	// gateway is refused too.
	boot := esxisim.WriteUpGuest("203.0.113.124", "198.51.100.254")
	boot.Routes = boot.Routes[1:]
	if err := h.SetGuestBootNetwork("web1", *boot); err != nil {
		t.Fatal(err)
	}
	if got := routes(readGuest(t, ctx, c, "web1")); len(got) != 3 {
		t.Fatalf("a boot configuration change alone changed the running routes: %v", got)
	}
	if err := h.RebootGuest("web1"); err != nil {
		t.Fatal(err)
	}
	if got := routes(readGuest(t, ctx, c, "web1")); !slices.Equal(got, []string{"fe80::/64 via - dev 0"}) {
		t.Fatalf("after the reboot: %v", got)
	}
	err := h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "default", Gateway: "198.51.100.254", NIC: 0})
	if err == nil || !strings.Contains(err.Error(), "Nexthop has invalid gateway") {
		t.Fatalf("default route without the gateway on the link: err = %v", err)
	}
	// The write-up's two commands, in ip route's words.
	if err := h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "198.51.100.254", NIC: 0}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "default", Gateway: "198.51.100.254", NIC: 0}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "default", Gateway: "198.51.100.254", NIC: 0}); err == nil ||
		!strings.Contains(err.Error(), "File exists") {
		t.Fatalf("the same route twice: err = %v", err)
	}
	if err := h.DeleteGuestRoute("web1", "198.51.100.254/32"); err != nil {
		t.Fatal(err)
	}
	want := []string{"fe80::/64 via - dev 0", "0.0.0.0/0 via 198.51.100.254 dev 0"}
	if got := routes(readGuest(t, ctx, c, "web1")); !slices.Equal(got, want) {
		t.Fatalf("after deleting the gateway route: %v, want %v", got, want)
	}
	if err := h.DeleteGuestRoute("web1", "198.51.100.254"); err == nil || !strings.Contains(err.Error(), "No such process") {
		t.Fatalf("deleting a missing route: err = %v", err)
	}
	// A power cycle is a reboot too.
	if err := h.SetGuestNetwork("web1", *esxisim.WriteUpGuest("203.0.113.124", "198.51.100.254")); err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		if err := h.SetPower(ctx, "web1", on); err != nil {
			t.Fatal(err)
		}
	}
	st, err := h.GuestState("web1")
	if err != nil {
		t.Fatal(err)
	}
	if !st.ToolsRunning || len(st.Running.Routes) != 0 {
		t.Fatalf("after a power cycle: %+v", st)
	}
}

// Every guest change reaches a property collector as an update, the way
// Tools' own reports reach ESXi's clients; stopping Tools empties the
// report.
func TestGuestChangesArriveAsPropertyCollectorUpdates(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	ctx := testContext(t)
	c := clientFor(t, ctx, h)
	vm, err := find.NewFinder(c).VirtualMachine(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := property.DefaultCollector(c).Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Destroy(context.Background()) })

	type update struct {
		status string
		nics   int
		routes int
	}
	updates := make(chan update, 16)
	done := make(chan error, 1)
	go func() {
		cur := update{}
		done <- property.Wait(ctx, pc, vm.Reference(), []string{"guest.toolsRunningStatus", "guest.net", "guest.ipStack"}, func(changes []types.PropertyChange) bool {
			for _, ch := range changes {
				switch v := ch.Val.(type) {
				case string:
					cur.status = v
				case types.ArrayOfGuestNicInfo:
					cur.nics = len(v.GuestNicInfo)
				case types.ArrayOfGuestStackInfo:
					cur.routes = 0
					for _, st := range v.GuestStackInfo {
						if st.IpRouteConfig != nil {
							cur.routes += len(st.IpRouteConfig.IpRoute)
						}
					}
				case nil:
					if ch.Name == "guest.net" {
						cur.nics = 0
					}
					if ch.Name == "guest.ipStack" {
						cur.routes = 0
					}
				}
			}
			updates <- cur
			return cur.status == string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
		})
	}()
	next := func(what string, ok func(update) bool) {
		t.Helper()
		for {
			select {
			case u := <-updates:
				if ok(u) {
					return
				}
			case err := <-done:
				t.Fatalf("%s: the wait ended: %v", what, err)
			case <-ctx.Done():
				t.Fatalf("%s: no update", what)
			}
		}
	}
	next("the current report", func(u update) bool { return u.routes == 3 && u.nics == 1 })
	if err := h.DeleteGuestRoute("web1", "198.51.100.254"); err != nil {
		t.Fatal(err)
	}
	next("the route deletion", func(u update) bool { return u.routes == 2 })
	if err := h.SetGuestAddresses("web1", 0, "203.0.113.124/32", "203.0.113.200/32"); err != nil {
		t.Fatal(err)
	}
	next("the added address", func(u update) bool { return u.routes == 2 && u.nics == 1 })
	if err := h.SetTools("web1", false); err != nil {
		t.Fatal(err)
	}
	next("Tools stopped", func(u update) bool { return u.status == "guestToolsNotRunning" && u.nics == 0 && u.routes == 0 })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := h.SetTools("web1", true); err != nil {
		t.Fatal(err)
	}
	st, err := h.GuestState("web1")
	if err != nil {
		t.Fatal(err)
	}
	if !st.ToolsRunning || len(st.Running.Interfaces[0].Addresses) != 2 {
		t.Fatalf("Tools restarted: %+v", st)
	}
}

// A dual-stack guest, configured as OVH's IPv6 guide configures a machine,
// reported the way Tools and ESXi report one: the IPv6 address with its
// prefix in ipConfig, the kernel's prefix route for it, the on-link route
// to the gateway and the IPv6 default route via it, next to IPv4's. Without
// the on-link route, the kernel refuses the default route at boot and by
// hand, as it does for IPv4; `ip -6 route del default` leaves IPv4's alone.
func TestDualStackGuest(t *testing.T) {
	const gw6 = "2001:db8:1:ff:ff:ff:ff:ff"
	vms := esxisim.DefaultVMs(true)
	vms[1].Guest = esxisim.WriteUpGuest("203.0.113.124", "198.51.100.254").WithIPv6("2001:db8:1:1::124/64", gw6)
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true, VMs: vms})
	ctx := testContext(t)
	c := clientFor(t, ctx, h)

	web := readGuest(t, ctx, c, "web1")
	if got := addrs(web.Guest.Net[0]); len(got) != 3 || got[1] != "2001:db8:1:1::124/64" {
		t.Fatalf("web1 addresses = %v, want the /32, the IPv6 address and the link-local one", got)
	}
	want := []string{"2001:db8:1:1::/64 via - dev 0", "fe80::/64 via - dev 0", "198.51.100.254/32 via - dev 0",
		"0.0.0.0/0 via 198.51.100.254 dev 0", gw6 + "/128 via - dev 0", "::/0 via " + gw6 + " dev 0"}
	if got := routes(web); !slices.Equal(got, want) {
		t.Fatalf("web1 routes = %v\nwant %v", got, want)
	}

	if err := h.DeleteGuestRoute("web1", "::/0"); err != nil {
		t.Fatal(err)
	}
	if got := routes(readGuest(t, ctx, c, "web1")); slices.Contains(got, "::/0 via "+gw6+" dev 0") || !slices.Contains(got, "0.0.0.0/0 via 198.51.100.254 dev 0") {
		t.Fatalf("after ip -6 route del default: %v", got)
	}
	if err := h.DeleteGuestRoute("web1", gw6); err != nil {
		t.Fatal(err)
	}
	err := h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "default", Gateway: gw6})
	if err == nil || !strings.Contains(err.Error(), "No route to host") {
		t.Fatalf("IPv6 default route via an off-link gateway: %v, want the kernel's No route to host", err)
	}
	if err := h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: gw6}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "default", Gateway: gw6}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddGuestRoute("web1", esxisim.GuestIPRoute{Destination: "::/0"}); err == nil || !strings.Contains(err.Error(), "File exists") {
		t.Fatalf("a second IPv6 default route: %v, want File exists", err)
	}

	// A link-local gateway (fe80::1 on some ranges) is on the link: no
	// route to it, and the boot installs the default route.
	boot := esxisim.WriteUpGuest("203.0.113.124", "198.51.100.254").WithIPv6("2001:db8:1:1::124/64", "fe80::1")
	if err := h.SetGuestBootNetwork("web1", *boot); err != nil {
		t.Fatal(err)
	}
	if err := h.RebootGuest("web1"); err != nil {
		t.Fatal(err)
	}
	if got := routes(readGuest(t, ctx, c, "web1")); !slices.Contains(got, "::/0 via fe80::1 dev 0") || slices.Contains(got, gw6+"/128 via - dev 0") {
		t.Fatalf("a link-local gateway's routes = %v", got)
	}
	// A boot configuration with the IPv6 gateway route left out: the kernel
	// refuses the default route, IPv4 comes up.
	boot = esxisim.WriteUpGuest("203.0.113.124", "198.51.100.254").WithIPv6("2001:db8:1:1::124/64", gw6)
	boot.Routes = slices.DeleteFunc(boot.Routes, func(r esxisim.GuestIPRoute) bool { return r.Destination == gw6 })
	if err := h.SetGuestBootNetwork("web1", *boot); err != nil {
		t.Fatal(err)
	}
	if err := h.RebootGuest("web1"); err != nil {
		t.Fatal(err)
	}
	got := routes(readGuest(t, ctx, c, "web1"))
	if slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, "::/0") }) || !slices.Contains(got, "0.0.0.0/0 via 198.51.100.254 dev 0") {
		t.Fatalf("booted without the IPv6 gateway route: %v", got)
	}
}
