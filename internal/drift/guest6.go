package drift

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// The guest's IPv6 on the WAN, checked like its IPv4. What a bridged VM
// needs comes from OVH's IPv6 guide for dedicated servers (github ovh/docs,
// pages/cloud/dedicated/network_ipv6/guide.en-gb.md): an address of the
// server's block (configured there as a /128 or a /64: the prefix length
// is not judged), `ip -f inet6 route add IPv6_GATEWAY dev eth0` — the
// gateway lies outside the block — then `ip -f inet6 route add default via
// IPv6_GATEWAY`; and, for a VM, "a failover IP configured with a vMAC.
// Otherwise, the IPv6 won't be routed by our routers/switches": the address
// belongs on the interface carrying a virtual MAC. Some newer ranges answer
// fe80::1 (status.ipv6.gateway's comment): a link-local gateway is on every
// link, so only the default route, on the virtual MAC's interface, is
// needed. A default route without a gateway makes the kernel solicit every
// destination (test/kernel's IPv6 lab: one neighbour solicitation per
// destination at OVH's gateway), the NDP flood.
//
// What Tools report is read the way open-vm-tools gathers it (github
// vmware/open-vm-tools, lib/nicInfo/nicInfoPosix.c RecordRoutingInfoIPv6:
// /proc/net/ipv6_route's routes that are up, the next hop only with
// RTF_GATEWAY) and ESXi serves it (govmomi v0.56.0 vim25/types/types.go:
// GuestNicInfo.ipConfig.ipAddress[] {ipAddress, prefixLength} and
// GuestStackInfo.ipRouteConfig.ipRoute[] {network, prefixLength,
// gateway {ipAddress, device}}, IPv6 spelled as RFC 2373 text). VMware's
// reference says the same (developer.broadcom.com, vSphere Web Services
// API: vim.vm.GuestInfo.StackInfo's ipRouteConfig, vim.net.IpRouteConfigInfo
// .Gateway with device and ipAddress both optional; the vCenter REST
// schema "Vcenter Vm Guest Networking Routes Info": IPv6 prefix lengths
// 0-128, the gateway address optional).

// guest6 is what the guest needs for one server's IPv6 block: usually one
// per VM, shared by every NIC whose FailoverIP is routed to that server.
type guest6 struct {
	block netip.Prefix
	gw    netip.Addr
	wants []GuestWant
}

// guest6Needs groups the wants that know their server's IPv6.
func guest6Needs(s GuestState) []guest6 {
	var out []guest6
	for _, w := range s.Want {
		if !w.Block6.IsValid() || !w.Gateway6.IsValid() {
			continue
		}
		found := false
		for i := range out {
			if out[i].block == w.Block6 && out[i].gw == w.Gateway6 {
				out[i].wants = append(out[i].wants, w)
				found = true
			}
		}
		if !found {
			out = append(out, guest6{block: w.Block6, gw: w.Gateway6, wants: []GuestWant{w}})
		}
	}
	return out
}

// ipv6Routes keeps the IPv6 routes Tools report.
func ipv6Routes(routes []GuestRoute) []guestRoute {
	var out []guestRoute
	for _, r := range routes {
		a, err := netip.ParseAddr(r.Network)
		if err != nil || !a.Is6() || a.Is4In6() || r.PrefixLength < 0 || r.PrefixLength > 128 {
			continue
		}
		gr := guestRoute{Dst: netip.PrefixFrom(a.WithZone(""), r.PrefixLength).Masked(), Device: -1}
		if gw, err := netip.ParseAddr(r.Gateway); err == nil {
			gr.Gateway = gw.WithZone("")
		}
		if d, err := strconv.Atoi(r.Device); err == nil {
			gr.Device = d
		}
		out = append(out, gr)
	}
	return out
}

func route6String(r guestRoute, dev func(int) string) string {
	dst := r.Dst.String()
	switch {
	case r.Dst.Bits() == 0:
		dst = "default"
	case r.Dst.Bits() == 128:
		dst = r.Dst.Addr().String()
	}
	if r.onLink() {
		return fmt.Sprintf("%s dev %s", dst, dev(r.Device))
	}
	return fmt.Sprintf("%s via %s dev %s", dst, r.Gateway, dev(r.Device))
}

// Guest6 checks the guest's IPv6 for each server block its FailoverIPs
// know (GuestWant.Block6, Gateway6) under s.IPv6. It returns the findings,
// in the order a person fixes them (address, route to the gateway, default
// route), and a note for a guest with nothing to fix: what it holds, or
// that it is IPv4-only.
func Guest6(s GuestState) ([]Finding, string) {
	if s.IPv6 == v1.GuestIPv6Ignore {
		return nil, ""
	}
	needs := guest6Needs(s)
	if len(needs) == 0 {
		return nil, ""
	}
	routes := ipv6Routes(s.Routes)
	var out []Finding
	var notes []string
	for _, n := range needs {
		c := guest6Check{s: s, n: n, routes: routes, nic: -1}
		fs, note := c.check()
		out = append(out, fs...)
		if note != "" {
			notes = append(notes, note)
		}
	}
	return out, strings.Join(notes, "; ")
}

// guest6Check checks one server block.
type guest6Check struct {
	s      GuestState
	n      guest6
	routes []guestRoute
	// nic is the guest interface (a position in s.NICs) that holds, or
	// should hold, the block's address; want is its FailoverIP need.
	nic  int
	want GuestWant
	addr guestAddr
}

func (c *guest6Check) inside() string { return "inside the guest of VM " + c.s.VMName }

func (c *guest6Check) dev() string { return fmt.Sprintf("eth%d", c.want.Index) }

func (c *guest6Check) iface() string {
	return fmt.Sprintf("the interface with MAC %s (%s in the commands: use the guest's own name for it)", c.want.MAC, c.dev())
}

// devName names a guest interface for commands, as Guest does.
func (c *guest6Check) devName(i int) string {
	if i < 0 || i >= len(c.s.NICs) {
		return "<unknown interface>"
	}
	for _, w := range c.s.Want {
		if strings.EqualFold(w.MAC, c.s.NICs[i].MAC) {
			return fmt.Sprintf("eth%d", w.Index)
		}
	}
	for v, mac := range c.s.VNICMACs {
		if strings.EqualFold(mac, c.s.NICs[i].MAC) {
			return fmt.Sprintf("eth%d", v)
		}
	}
	return fmt.Sprintf("<the interface with MAC %s>", c.s.NICs[i].MAC)
}

// blockAddr is an address of the block on guest interface i, if any: a
// global one, as the block is (a link-local fe80:: never is).
func (c *guest6Check) blockAddr(i int) (guestAddr, bool) {
	for _, a := range parseGuestAddrs(c.s.NICs[i].Addresses) {
		if a.Addr.Is6() && c.n.block.Contains(a.Addr.WithZone("")) {
			return a, true
		}
	}
	return guestAddr{}, false
}

func (c *guest6Check) check() ([]Finding, string) {
	// The interface to hold the address: the first virtual MAC's
	// interface that holds one, else the first that Tools report.
	first := -1
	for _, w := range c.n.wants {
		for i, nic := range c.s.NICs {
			if !strings.EqualFold(nic.MAC, w.MAC) {
				continue
			}
			if a, ok := c.blockAddr(i); ok {
				c.nic, c.want, c.addr = i, w, a
				break
			}
			if first < 0 {
				first, c.want = i, w
			}
		}
		if c.nic >= 0 {
			break
		}
	}
	if c.nic < 0 {
		if first < 0 {
			// No interface with a virtual MAC: the IPv4 check says so.
			return nil, ""
		}
		c.nic = first
		if f, ok := c.addressElsewhere(); ok {
			return append([]Finding{f}, c.routeFindings()...), ""
		}
		if c.s.IPv6 != v1.GuestIPv6Required {
			return nil, fmt.Sprintf("the guest of VM %s has no address of the server's IPv6 block %s: IPv4 only (spec.guest.ipv6 is IfConfigured; Required makes that a finding)",
				c.s.VMName, c.n.block)
		}
		return append([]Finding{c.missing()}, c.routeFindings()...), ""
	}
	fs := c.routeFindings()
	if len(fs) > 0 {
		return fs, ""
	}
	return nil, fmt.Sprintf("the guest of VM %s has %s of the server's IPv6 block on %s, the route to the IPv6 gateway %s and the default route via it",
		c.s.VMName, c.addr, c.dev(), c.n.gw)
}

func (c *guest6Check) addrField() string { return "guest.nics[" + c.want.NIC + "].addresses6" }

// example is an address to suggest: the block's ::1 is as good as any,
// the person picks the host part.
func (c *guest6Check) example() string {
	a := c.n.block.Addr().As16()
	a[15] |= 1
	return fmt.Sprintf("%s/%d", netip.AddrFrom16(a), max(c.n.block.Bits(), 64))
}

func (c *guest6Check) missing() Finding {
	return Finding{
		Reason: v1.ReasonGuestAddress6Missing, Field: c.addrField(), Expected: "an address of " + c.n.block.String(),
		Observed: addr6List(parseGuestAddrs(c.s.NICs[c.nic].Addresses)),
		Message: fmt.Sprintf("%s, %s has no address of the server's IPv6 block %s (spec.guest.ipv6 is Required): run `ip -6 addr add %s dev %s` (any host part of the block no other machine uses in place of ::1) and add it to the guest's network configuration",
			c.inside(), c.iface(), c.n.block, c.example(), c.dev()),
	}
}

// addressElsewhere finds the block's address on an interface without a
// virtual MAC, where OVH does not deliver it.
func (c *guest6Check) addressElsewhere() (Finding, bool) {
	for i, nic := range c.s.NICs {
		if i == c.nic {
			continue
		}
		a, ok := c.blockAddr(i)
		if !ok {
			continue
		}
		c.addr = a
		return Finding{
			Reason: v1.ReasonGuestAddress6Missing, Field: c.addrField(), Expected: "an address of " + c.n.block.String() + " on MAC " + c.want.MAC,
			Observed: fmt.Sprintf("%s on MAC %s", a, nic.MAC),
			Message: fmt.Sprintf("%s, %s is on the interface with MAC %s, but OVH routes the server's IPv6 only to a virtual MAC (FailoverIP %s's is %s): run `ip -6 addr del %s dev %s && ip -6 addr add %s dev %s`",
				c.inside(), a, nic.MAC, c.want.FailoverIP, c.want.MAC, a, c.devName(i), a, c.dev()),
		}, true
	}
	return Finding{}, false
}

// routeFindings checks the route to the gateway, then the default route.
func (c *guest6Check) routeFindings() []Finding {
	var out []Finding
	if f, ok := c.gatewayRoute(); !ok {
		out = append(out, f)
	}
	if f, ok := c.defaultRoute(); !ok {
		out = append(out, f)
	}
	return out
}

// gatewayRoute checks that the gateway, outside the block, is on the link
// of the interface. As in IPv4, a default route via the gateway on that
// interface counts (`default via GW dev eth0 onlink`: Tools report no
// flags, and the kernel could not have added it otherwise). A link-local
// gateway needs no route: fe80::/64 is on every link.
func (c *guest6Check) gatewayRoute() (Finding, bool) {
	gw := c.n.gw
	if gw.IsLinkLocalUnicast() {
		return Finding{}, true
	}
	elsewhere := -1
	for _, r := range c.routes {
		reaches := r.onLink() && r.Dst.Bits() > 0 && r.Dst.Contains(gw)
		viaGW := r.Dst.Bits() == 0 && !r.onLink() && r.Gateway == gw
		switch {
		case (reaches || viaGW) && r.Device == c.nic:
			return Finding{}, true
		case reaches:
			elsewhere = r.Device
		}
	}
	f := Finding{
		Reason: v1.ReasonGuestGatewayRoute6Missing, Field: "guest.routes6[" + gw.String() + "]",
		Expected: fmt.Sprintf("%s dev %s", gw, c.dev()), Observed: "(none)",
		Message: fmt.Sprintf("%s, there is no route to the IPv6 gateway %s on %s: the gateway is outside the block %s, so the guest cannot reach it (OVH's IPv6 guide adds it first); run `ip -6 route add %s dev %s` and add it to the guest's network configuration",
			c.inside(), gw, c.iface(), c.n.block, gw, c.dev()),
	}
	if elsewhere >= 0 {
		f.Observed = fmt.Sprintf("%s dev %s", gw, c.devName(elsewhere))
		f.Message = fmt.Sprintf("%s, the route to the IPv6 gateway %s leaves through %s, not %s: run `ip -6 route del %s dev %s && ip -6 route add %s dev %s`",
			c.inside(), gw, c.devName(elsewhere), c.iface(), gw, c.devName(elsewhere), gw, c.dev())
	}
	return f, false
}

// defaultRoute checks the IPv6 default route: via the gateway, never
// without one. A link-local gateway is only that gateway on the virtual
// MAC's interface (fe80::1 on another link is another router).
func (c *guest6Check) defaultRoute() (Finding, bool) {
	gw := c.n.gw
	expected := fmt.Sprintf("default via %s dev %s", gw, c.dev())
	field := "guest.routes6[default]"
	for _, r := range c.routes {
		if r.Dst.Bits() == 0 && r.onLink() {
			s := route6String(r, c.devName)
			return Finding{
				Reason: v1.ReasonGuestDefaultRoute6WithoutGateway, Field: field, Expected: expected, Observed: s,
				Message: fmt.Sprintf("%s, the IPv6 default route has no gateway (%s): the guest takes every IPv6 destination for a neighbour and solicits each, the NDP flood (IPv6's ARP flood); run `ip -6 route del default dev %s && ip -6 route add default via %s dev %s`",
					c.inside(), s, c.devName(r.Device), gw, c.dev()),
			}, false
		}
	}
	var other *guestRoute
	for i, r := range c.routes {
		if r.Dst.Bits() != 0 {
			continue
		}
		if r.Gateway == gw && (!gw.IsLinkLocalUnicast() || r.Device == c.nic) {
			return Finding{}, true
		}
		other = &c.routes[i]
	}
	if other != nil {
		s := route6String(*other, c.devName)
		return Finding{
			Reason: v1.ReasonGuestDefaultRoute6Missing, Field: field, Expected: expected, Observed: s,
			Message: fmt.Sprintf("%s, the IPv6 default route is %s, not via the server's IPv6 gateway %s on %s: replies from the block's addresses leave the wrong way; run `ip -6 route replace default via %s dev %s` and make it the guest's configured IPv6 gateway",
				c.inside(), s, gw, c.dev(), gw, c.dev()),
		}, false
	}
	return Finding{
		Reason: v1.ReasonGuestDefaultRoute6Missing, Field: field, Expected: expected, Observed: "(none)",
		Message: fmt.Sprintf("%s, there is no IPv6 default route: nothing beyond the server's IPv6 gateway %s is reachable over IPv6; run `ip -6 route add default via %s dev %s` and make it the guest's configured IPv6 gateway",
			c.inside(), gw, gw, c.dev()),
	}, false
}

func addr6List(as []guestAddr) string {
	var parts []string
	for _, a := range as {
		if a.Addr.Is6() && !a.Addr.IsLinkLocalUnicast() {
			parts = append(parts, a.String())
		}
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, ", ")
}
