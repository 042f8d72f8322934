package routersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/ovhbridge/ovhbridge-operator/test/netns"
)

// Kernel mode (Options.Netns): the router's routes, neighbours and `ip`
// commands are a real Linux kernel's, inside a network namespace the
// simulator creates and removes by name, and its traffic is real packets.
// The configuration engine stays the simulator's: each commit's interface
// addresses are set on real links and the routing daemon's routes (Quagga's
// on Vyatta, FRR's through nexthop objects on VyOS, as deriveRoutes computes
// them, the seed's gateway-less default included) installed with `ip route
// replace`. OVH's gateway is a second namespace cabled to the WAN NIC,
// answering ARP for every address by proxy-ARP as test/kernel's does, and a
// packet socket there counts the ARP requests it receives (ARPRequests):
// the seed's flood as real ARP requests, and the repair stopping them.
//
// What stays modelled: the router's other NICs are veth links whose peers
// wait, unconfigured, in a third namespace (LANNetns; nothing answers
// behind them); traffic forwarded from a LAN host, neighbour
// ageing, failed probes and cable pulls (InjectForwarded, AgeNeighbours,
// FailUnanswered, SetCarrier) are the kernel's own business here and are
// refused or ignored; the iproute2 and net-tools that print are the host's
// (a modern iproute2 on every profile, where Vyatta 6.5 had 3.x).
type netKernel struct {
	router, gw, lan string // namespace names
	wan             string // the NIC cabled to the gateway
	arp             *netns.ARPCounter
	seen            map[string]int // ARP requests the gateway received, by target
}

// GatewayNetns is the name of the gateway's namespace in kernel mode.
func GatewayNetns(router string) string { return router + "-gw" }

// LANNetns is the name of the namespace holding the peers of the router's
// other NICs in kernel mode.
func LANNetns(router string) string { return router + "-lan" }

func (r *Router) startKernel() error {
	if err := netns.Check(nil); err != nil {
		return fmt.Errorf("routersim: kernel mode: %w", err)
	}
	wan := r.opts.WAN
	if wan == "" {
		wan = "eth2"
	}
	if !r.hasNIC(wan) {
		return fmt.Errorf("routersim: kernel mode: WAN NIC %s is not one of %v", wan, r.opts.NICs)
	}
	nk := &netKernel{router: r.opts.Netns, gw: GatewayNetns(r.opts.Netns), lan: LANNetns(r.opts.Netns), wan: wan, seen: map[string]int{}}
	var made []string
	for _, ns := range []string{nk.router, nk.gw, nk.lan} {
		if err := netns.Add(ns); err != nil {
			for _, m := range made {
				_ = netns.Del(m)
			}
			return fmt.Errorf("routersim: kernel mode: %w", err)
		}
		made = append(made, ns)
	}
	if err := nk.build(r); err != nil {
		nk.close()
		return fmt.Errorf("routersim: kernel mode: %w", err)
	}
	r.nk = nk
	return nil
}

// build cables the namespaces: links are created inside them (never in the
// caller's namespace), so removing the namespaces removes them.
func (nk *netKernel) build(r *Router) error {
	for i, nic := range r.opts.NICs {
		mac := fmt.Sprintf("00:0c:29:00:00:%02x", i)
		if n, err := strconv.Atoi(strings.TrimPrefix(nic, "eth")); err == nil {
			mac = fmt.Sprintf("00:0c:29:00:00:%02x", n)
		}
		var err error
		if nic == nk.wan {
			_, err = netns.IP("", "link", "add", nic, "netns", nk.router, "address", mac, "type", "veth",
				"peer", "name", "gw0", "netns", nk.gw, "address", r.opts.GatewayMAC)
		} else {
			peer := "p-" + nic
			_, err = netns.IP("", "link", "add", nic, "netns", nk.router, "address", mac, "type", "veth",
				"peer", "name", peer, "netns", nk.lan)
			if err == nil {
				_, err = netns.IP(nk.lan, "link", "set", peer, "up")
			}
		}
		if err != nil {
			return err
		}
	}
	for _, dev := range append([]string{"lo"}, r.opts.NICs...) {
		if _, err := netns.IP(nk.router, "link", "set", dev, "up"); err != nil {
			return err
		}
	}
	if err := netns.Sysctl(nk.router, "net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	gw, err := netip.ParseAddr(r.opts.Gateway)
	if err != nil || !gw.Is4() {
		return fmt.Errorf("gateway %q is not an IPv4 address", r.opts.Gateway)
	}
	if err := netns.ProxyARPGateway(nk.gw, "gw0", netip.PrefixFrom(gw, 24).String()); err != nil {
		return err
	}
	nk.arp, err = netns.CountARP(nk.gw, "gw0")
	return err
}

func (nk *netKernel) close() {
	if nk.arp != nil {
		_ = nk.arp.Close()
	}
	for _, ns := range []string{nk.lan, nk.gw, nk.router} {
		_ = netns.Del(ns)
	}
}

// ip runs iproute2 in the router's namespace, as a shell there would.
func (nk *netKernel) ip(args ...string) (stdout, stderr string, code int) {
	out, errOut, code, err := netns.IPRun(nk.router, args...)
	if err != nil {
		return "", err.Error() + "\n", 255
	}
	return out, errOut, code
}

func (nk *netKernel) text(args ...string) string {
	out, _, _ := nk.ip(args...)
	return out
}

// sync makes the namespace hold the active configuration: the addresses of
// every NIC, the routing daemon's routes (proto zebra or static) and
// nothing else of the daemon's. Manual routes are left alone, except where
// the daemon's replace overwrites one with the same destination and
// metric, as zebra does. Callers hold r.mu.
func (nk *netKernel) sync(r *Router, daemon []kroute) error {
	var errs []error
	for _, nic := range r.opts.NICs {
		errs = append(errs, nk.syncAddresses(r, nic))
	}
	proto := "static"
	if r.profile == Vyatta65 {
		proto = "zebra"
	}
	want := map[string]bool{}
	for _, d := range daemon {
		want[d.dstText()+"/"+strconv.Itoa(d.metric)] = true
	}
	var have []struct {
		Dst    string `json:"dst"`
		Metric int    `json:"metric"`
	}
	if err := json.Unmarshal([]byte(nk.text("-j", "-4", "route", "show", "table", "main", "proto", proto)), &have); err != nil {
		errs = append(errs, fmt.Errorf("reading the daemon's routes: %w", err))
	}
	for _, h := range have {
		if !want[h.Dst+"/"+strconv.Itoa(h.Metric)] {
			errs = append(errs, nk.must("route", "del", h.Dst, "proto", proto, "metric", strconv.Itoa(h.Metric)))
		}
	}
	// More specific first: the route to the gateway before the default
	// route that needs it.
	sorted := append([]kroute(nil), daemon...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].dst.Bits() > sorted[j].dst.Bits() })
	for _, d := range sorted {
		errs = append(errs, nk.install(d))
	}
	return errors.Join(errs...)
}

func (nk *netKernel) must(args ...string) error {
	if _, errOut, code := nk.ip(args...); code != 0 {
		return fmt.Errorf("ip %s: %s", strings.Join(args, " "), strings.TrimSpace(errOut))
	}
	return nil
}

// install puts one daemon route into the kernel as the daemon does: Quagga
// with a plain route in universe scope (no scope given, test/kernel
// testdata/broken), FRR through a nexthop object (zebra/rt_netlink.c,
// RTA_NH_ID; test/kernel testdata/frr).
func (nk *netKernel) install(d kroute) error {
	hop := []string{}
	if d.gw != "" {
		hop = append(hop, "via", d.gw)
	}
	hop = append(hop, "dev", d.dev)
	if d.onlink {
		hop = append(hop, "onlink")
	}
	args := []string{"route", "replace", d.dstText()}
	if d.nhid > 0 {
		if err := nk.must(append([]string{"nexthop", "replace", "id", strconv.Itoa(d.nhid)}, hop...)...); err != nil {
			return err
		}
		args = append(args, "nhid", strconv.Itoa(d.nhid))
	} else {
		args = append(args, hop...)
		if d.gw == "" {
			args = append(args, "scope", "global")
		}
	}
	args = append(args, "proto", d.proto)
	if d.metric > 0 {
		args = append(args, "metric", strconv.Itoa(d.metric))
	}
	return nk.must(args...)
}

// syncAddresses sets nic's IPv4 addresses to the configuration's. A /32 on
// the WAN (a failover IP) also gets the gateway's route back to it, which
// OVH's router has.
func (nk *netKernel) syncAddresses(r *Router, nic string) error {
	want := map[string]bool{}
	vals, _ := r.active.values([]string{"interfaces", "ethernet", nic, "address"})
	for _, v := range vals {
		if p, err := netip.ParsePrefix(v); err == nil && p.Addr().Is4() {
			want[p.String()] = true
		}
	}
	var have []struct {
		AddrInfo []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(nk.text("-j", "-4", "addr", "show", "dev", nic)), &have); err != nil {
		return fmt.Errorf("reading %s's addresses: %w", nic, err)
	}
	var errs []error
	for _, h := range have {
		for _, a := range h.AddrInfo {
			p := a.Local + "/" + strconv.Itoa(a.PrefixLen)
			if a.Family == "inet" && !want[p] {
				errs = append(errs, nk.must("addr", "del", p, "dev", nic))
			}
			delete(want, p)
		}
	}
	for p := range want {
		errs = append(errs, nk.must("addr", "add", p, "dev", nic))
		if pfx := netip.MustParsePrefix(p); nic == nk.wan && pfx.Bits() == 32 {
			if _, err := netns.IP(nk.gw, "route", "replace", pfx.Addr().String(), "dev", "gw0"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// reboot empties the kernel's tables as a restart does: routes, nexthop
// objects, neighbours and addresses.
func (nk *netKernel) reboot(r *Router) error {
	var errs []error
	errs = append(errs, nk.must("route", "flush", "table", "main"))
	errs = append(errs, nk.must("neigh", "flush", "all"))
	for _, nic := range r.opts.NICs {
		errs = append(errs, nk.must("addr", "flush", "dev", nic))
	}
	// Routes through them are gone; the objects themselves may be missing.
	_, _, _ = nk.ip("nexthop", "flush")
	return errors.Join(errs...)
}

// refresh reads the kernel's main table and neighbour cache into the
// model's structures, for the op-mode views formatted from them (`show ip
// route`, `show arp` on 1.4+) and for Neighbours. Callers hold r.mu.
func (nk *netKernel) refresh(r *Router) {
	var routes []struct {
		Type     string   `json:"type"`
		Dst      string   `json:"dst"`
		Gateway  string   `json:"gateway"`
		Dev      string   `json:"dev"`
		Protocol string   `json:"protocol"`
		Scope    string   `json:"scope"`
		Prefsrc  string   `json:"prefsrc"`
		Metric   int      `json:"metric"`
		Nhid     int      `json:"nhid"`
		Flags    []string `json:"flags"`
	}
	_ = json.Unmarshal([]byte(nk.text("-j", "-4", "route", "show", "table", "main")), &routes)
	r.routes = r.routes[:0]
	for _, rt := range routes {
		dst := rt.Dst
		if dst == "default" {
			dst = "0.0.0.0/0"
		}
		p, err := parsePrefixOrAddr(dst)
		if err != nil {
			continue
		}
		typ := rt.Type
		if typ == "unicast" {
			typ = ""
		}
		scope := rt.Scope
		if scope == "global" {
			scope = ""
		}
		r.routes = append(r.routes, kroute{typ: typ, dst: p, nhid: rt.Nhid, gw: rt.Gateway, dev: rt.Dev, proto: rt.Protocol,
			scope: scope, src: rt.Prefsrc, metric: rt.Metric, onlink: contains(rt.Flags, "onlink"), origin: fromManual})
	}
	var neigh []struct {
		Dst    string   `json:"dst"`
		Dev    string   `json:"dev"`
		Lladdr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	_ = json.Unmarshal([]byte(nk.text("-j", "-4", "neigh", "show")), &neigh)
	r.neigh = r.neigh[:0]
	for _, n := range neigh {
		r.neigh = append(r.neigh, neighbour{ip: n.Dst, dev: n.Dev, mac: n.Lladdr, state: strings.Join(n.State, ",")})
	}
}

// arpRequests drains the gateway's packet socket into the running totals.
func (nk *netKernel) arpRequests() (map[string]int, error) {
	got, err := nk.arp.Drain()
	for k, v := range got {
		nk.seen[k] += v
	}
	out := make(map[string]int, len(nk.seen))
	for k, v := range nk.seen {
		out[k] = v
	}
	return out, err
}

// Kernel reports the namespaces of a router in kernel mode: its own and
// the gateway's ("" and false in model mode).
func (r *Router) Kernel() (router, gateway string, ok bool) {
	if r.nk == nil {
		return "", "", false
	}
	return r.nk.router, r.nk.gw, true
}

// ARPRequests is, in kernel mode, how many ARP requests OVH's gateway has
// received from the router since it started, by target address. It misses
// none the gateway has answered: the kernel hands a request to the
// counting socket in the same receive pass that answers it.
func (r *Router) ARPRequests() (map[string]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nk == nil {
		return nil, errors.New("routersim: ARP requests are counted in kernel mode only (Options.Netns)")
	}
	return r.nk.arpRequests()
}
