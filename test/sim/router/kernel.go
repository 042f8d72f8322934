package routersim

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ovhbridge/ovhbridge-operator/test/netns"
)

// origin says who installed a kernel route, which decides what survives a
// configuration change (daemon routes are recomputed) and a reboot (only
// kernel and daemon routes come back).
type origin int

const (
	fromKernel origin = iota // connected routes of interface addresses
	fromDaemon               // Quagga (Vyatta) or FRR (VyOS) from the configuration
	fromManual               // `ip route` commands (boot script, operator, human)
)

type kroute struct {
	typ    string // "" unicast, blackhole, unreachable, prohibit
	dst    netip.Prefix
	nhid   int // kernel nexthop object FRR installed the route through
	gw     string
	dev    string
	proto  string // kernel, zebra, static, boot
	scope  string // "" universe, link, host
	src    string
	metric int
	onlink bool
	// multipath next hops (gw/dev/onlink above are then empty)
	hops   []nexthop
	origin origin
}

type nexthop struct {
	gw     string
	dev    string
	weight int
	onlink bool
}

func (r kroute) key() string {
	k := r.dst.String() + "/" + strconv.Itoa(r.metric)
	if r.v6() && r.origin == fromKernel {
		// Every interface has its own fe80::/64, same metric: the
		// kernel keeps them all (fib6 nodes hold several routes).
		k += "/" + r.dev
	}
	return k
}

func (r kroute) dstText() string {
	if r.dst.Bits() == 0 {
		return "default"
	}
	if r.dst.Bits() == r.dst.Addr().BitLen() {
		return r.dst.Addr().String()
	}
	return r.dst.String()
}

// v6 reports whether the route is IPv6's.
func (r kroute) v6() bool { return r.dst.Addr().Is6() }

// linkdown: the route's device has no carrier, or all its next hops'
// (RTNH_F_LINKDOWN on the route, include/uapi/linux/rtnetlink.h).
func (r kroute) linkdown(down func(string) bool) bool {
	if r.dev != "" {
		return down(r.dev)
	}
	for _, h := range r.hops {
		if !down(h.dev) {
			return false
		}
	}
	return len(r.hops) > 0
}

// usesDev reports whether the route sends through dev.
func (r kroute) usesDev(dev string) bool {
	if r.dev == dev {
		return true
	}
	for _, h := range r.hops {
		if h.dev == dev {
			return true
		}
	}
	return false
}

// text renders one `ip route` line as iproute2 prints it (ip/iproute.c
// print_route): type (unless unicast), destination, nhid, via, dev, proto,
// scope, src, metric, then the next-hop flags, every attribute followed by
// a space — so a line ends with one, as test/kernel's captures show
// (iproute2 6.1). Multipath next hops follow on lines of their own,
// "\tnexthop via A dev D weight W [flags] ". Vyatta's iproute2 3.x (no
// capture available: its layout is the one the old driver tests use)
// separates the attributes after dev with two spaces.
func (r kroute) text(oldIproute bool, down func(string) bool) string {
	if r.v6() {
		return r.text6(oldIproute, down)
	}
	var b strings.Builder
	if r.typ != "" {
		b.WriteString(r.typ + " ")
	}
	b.WriteString(r.dstText())
	if oldIproute {
		if r.gw != "" {
			b.WriteString(" via " + r.gw)
		}
		b.WriteString(" dev " + r.dev)
		if r.proto != "boot" {
			b.WriteString("  proto " + r.proto)
		}
		if r.scope != "" {
			b.WriteString("  scope " + r.scope)
		}
		if r.src != "" {
			b.WriteString("  src " + r.src)
		}
		if r.metric != 0 {
			b.WriteString(" metric " + strconv.Itoa(r.metric))
		}
		if r.onlink {
			b.WriteString(" onlink")
		}
		return b.String() + " "
	}
	b.WriteString(" ")
	if r.nhid != 0 {
		b.WriteString("nhid " + strconv.Itoa(r.nhid) + " ")
	}
	if r.gw != "" {
		b.WriteString("via " + r.gw + " ")
	}
	if r.dev != "" {
		b.WriteString("dev " + r.dev + " ")
	}
	if r.proto != "boot" {
		b.WriteString("proto " + r.proto + " ")
	}
	if r.scope != "" {
		b.WriteString("scope " + r.scope + " ")
	}
	if r.src != "" {
		b.WriteString("src " + r.src + " ")
	}
	if r.metric != 0 {
		b.WriteString("metric " + strconv.Itoa(r.metric) + " ")
	}
	if r.onlink {
		b.WriteString("onlink ")
	}
	if r.linkdown(down) {
		b.WriteString("linkdown ")
	}
	for _, h := range r.hops {
		b.WriteString("\n\tnexthop via " + h.gw + " dev " + h.dev + " weight " + strconv.Itoa(h.weight) + " ")
		if h.onlink {
			b.WriteString("onlink ")
		}
		if down(h.dev) {
			b.WriteString("linkdown ")
		}
	}
	return b.String()
}

// jsonRoute follows `ip -j route` key order and omissions (test/kernel's
// captures): type only when not unicast, no protocol for boot, no scope for
// universe, no dev for routes without one, flags always present.
type jsonRoute struct {
	Type     string   `json:"type,omitempty"`
	Dst      string   `json:"dst"`
	NHID     int      `json:"nhid,omitempty"`
	Gateway  string   `json:"gateway,omitempty"`
	Dev      string   `json:"dev,omitempty"`
	Protocol string   `json:"protocol,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	Prefsrc  string   `json:"prefsrc,omitempty"`
	Metric   int      `json:"metric,omitempty"`
	Flags    []string `json:"flags"`
	// Pref is IPv6's router preference, "medium" unless set (RFC 4191);
	// IPv4 routes have none.
	Pref     string    `json:"pref,omitempty"`
	Nexthops []jsonHop `json:"nexthops,omitempty"`
}

type jsonHop struct {
	Gateway string   `json:"gateway"`
	Dev     string   `json:"dev"`
	Weight  int      `json:"weight"`
	Flags   []string `json:"flags"`
}

func (r kroute) json(down func(string) bool) jsonRoute {
	j := jsonRoute{Type: r.typ, Dst: r.dstText(), NHID: r.nhid, Gateway: r.gw, Dev: r.dev, Scope: r.scope, Prefsrc: r.src, Metric: r.metric, Flags: []string{}}
	if r.proto != "boot" {
		j.Protocol = r.proto
	}
	if r.onlink {
		j.Flags = append(j.Flags, "onlink")
	}
	if r.linkdown(down) {
		j.Flags = append(j.Flags, "linkdown")
	}
	if r.v6() {
		j.Pref = "medium"
	}
	for _, h := range r.hops {
		jh := jsonHop{Gateway: h.gw, Dev: h.dev, Weight: h.weight, Flags: []string{}}
		if h.onlink {
			jh.Flags = append(jh.Flags, "onlink")
		}
		if down(h.dev) {
			jh.Flags = append(jh.Flags, "linkdown")
		}
		j.Nexthops = append(j.Nexthops, jh)
	}
	return j
}

type neighbour struct {
	ip    string
	dev   string
	mac   string
	state string
	// router: an IPv6 neighbour that said it routes (the R flag of its
	// neighbour advertisement; iproute2 prints "router").
	router bool
}

func (n neighbour) v6() bool { return strings.Contains(n.ip, ":") }

// family selects IPv4, IPv6 or both, as iproute2's -4 / -6 (none: both
// for neighbours, IPv4 for routes).
type family int

const (
	famAll family = 0
	fam4   family = 4
	fam6   family = 6
)

func (f family) has6(v6 bool) bool {
	switch f {
	case fam4:
		return !v6
	case fam6:
		return v6
	}
	return true
}

// sortRoutes orders the table like a kernel dump: IPv4 by address, then
// prefix length, then metric — which puts the default route first; IPv6 the
// same but its default route last (test/kernel testdata/ipv6: the fib6
// tree's walk), same prefixes by device.
func sortRoutes(rs []kroute) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.v6() != b.v6() {
			return !a.v6()
		}
		if a.v6() && (a.dst.Bits() == 0) != (b.dst.Bits() == 0) {
			return b.dst.Bits() == 0
		}
		if c := a.dst.Addr().Compare(b.dst.Addr()); c != 0 {
			return c < 0
		}
		if a.dst.Bits() != b.dst.Bits() {
			return a.dst.Bits() < b.dst.Bits()
		}
		if a.metric != b.metric {
			return a.metric < b.metric
		}
		return a.dev < b.dev
	})
}

// deriveRoutes computes what the kernel holds for the active configuration:
// connected routes, and what the routing daemon installs — including
// Quagga 0.99.20's default route without a gateway when its next hop is only
// reachable through an interface route (Vyatta 6.5, the seed's bug).
func (r *Router) deriveRoutes() (kernel, daemon []kroute) {
	cfg := r.active
	type conn struct {
		pfx netip.Prefix
		dev string
	}
	var connected []conn
	ifaces := map[string]bool{}
	for _, st := range cfg.statements() {
		w := st.words
		if len(w) >= 3 && w[0] == "interfaces" && w[1] == "ethernet" {
			if r.hasNIC(w[2]) {
				ifaces[w[2]] = true
			}
		}
	}
	for _, st := range cfg.statements() {
		w := st.words
		if len(w) == 5 && w[0] == "interfaces" && w[1] == "ethernet" && w[3] == "address" && ifaces[w[2]] {
			p, err := netip.ParsePrefix(w[4])
			if err != nil || p.Bits() == p.Addr().BitLen() {
				continue // a /32 has no connected route: the gateway is off-link
			}
			if p.Addr().Is6() {
				// IPv6 connected routes: no scope, no source, metric
				// 256 (test/kernel testdata/ipv6).
				kernel = append(kernel, kroute{dst: p.Masked(), dev: w[2], proto: "kernel", metric: 256, origin: fromKernel})
				continue
			}
			kernel = append(kernel, kroute{dst: p.Masked(), dev: w[2], proto: "kernel", scope: "link", src: p.Addr().String(), origin: fromKernel})
			connected = append(connected, conn{p.Masked(), w[2]})
		}
	}
	// Every interface up has its IPv6 link-local route (the kernel's
	// addrconf, test/kernel testdata/ipv6).
	for dev := range ifaces {
		kernel = append(kernel, kroute{dst: netip.MustParsePrefix("fe80::/64"), dev: dev, proto: "kernel", metric: 256, origin: fromKernel})
	}
	daemon = append(daemon, r.deriveRoutes6(cfg, ifaces, kernel)...)
	quagga := r.profile == Vyatta65
	proto, metric := "static", 20
	if quagga {
		proto, metric = "zebra", 0
	}
	type ifRoute struct {
		pfx netip.Prefix
		dev string
	}
	var ifRoutes []ifRoute
	type nhRoute struct {
		pfx netip.Prefix
		gw  netip.Addr
	}
	var nhRoutes []nhRoute
	for _, st := range cfg.statements() {
		w := st.words
		switch {
		case len(w) == 6 && w[0] == "protocols" && w[1] == "static" && w[2] == "interface-route" && w[4] == "next-hop-interface",
			len(w) == 6 && w[0] == "protocols" && w[1] == "static" && w[2] == "route" && w[4] == "interface":
			if p, err := netip.ParsePrefix(w[3]); err == nil && ifaces[w[5]] {
				ifRoutes = append(ifRoutes, ifRoute{p, w[5]})
			}
		case len(w) >= 6 && w[0] == "protocols" && w[1] == "static" && w[2] == "route" && w[4] == "next-hop" && (len(w) == 6 || w[6] != "disable"):
			p, err1 := netip.ParsePrefix(w[3])
			a, err2 := netip.ParseAddr(w[5])
			if err1 == nil && err2 == nil {
				nhRoutes = append(nhRoutes, nhRoute{p, a})
			}
		case len(w) == 3 && w[0] == "system" && w[1] == "gateway-address":
			if a, err := netip.ParseAddr(w[2]); err == nil {
				nhRoutes = append(nhRoutes, nhRoute{netip.MustParsePrefix("0.0.0.0/0"), a})
			}
		}
	}
	for _, ir := range ifRoutes {
		kr := kroute{dst: ir.pfx, dev: ir.dev, proto: proto, metric: metric, origin: fromDaemon}
		if !quagga {
			// FRR installs routes through kernel nexthop objects
			// (zebra/rt_netlink.c, RTA_NH_ID) in universe scope: the
			// kernel prints "GW nhid N dev eth2 proto static metric 20",
			// no scope (test/kernel testdata/frr).
			kr.nhid = r.nexthopID("dev " + ir.dev)
		}
		daemon = append(daemon, kr)
	}
	seen := map[string]bool{}
	for _, nh := range nhRoutes {
		if seen[nh.pfx.String()] {
			continue
		}
		var dev string
		viaInterfaceRoute := false
		best := -1
		for _, c := range connected {
			if c.pfx.Contains(nh.gw) && c.pfx.Bits() > best {
				dev, best = c.dev, c.pfx.Bits()
			}
		}
		if dev == "" {
			for _, ir := range ifRoutes {
				if ir.pfx.Contains(nh.gw) && ir.pfx.Bits() > best {
					dev, best, viaInterfaceRoute = ir.dev, ir.pfx.Bits(), true
				}
			}
		}
		if dev == "" {
			continue // next hop unresolvable: the daemon installs nothing
		}
		seen[nh.pfx.String()] = true
		kr := kroute{dst: nh.pfx, gw: nh.gw.String(), dev: dev, proto: proto, metric: metric, origin: fromDaemon}
		switch {
		case quagga && viaInterfaceRoute:
			// The bug: the next hop is dropped and the route becomes
			// on-link, so the kernel ARPs for every destination.
			kr.gw = ""
		case viaInterfaceRoute:
			kr.onlink = true
		}
		if !quagga {
			kr.nhid = r.nexthopID(fmt.Sprintf("via %s dev %s onlink=%t", kr.gw, kr.dev, kr.onlink))
		}
		daemon = append(daemon, kr)
	}
	return kernel, daemon
}

// nexthopID is the id of the kernel nexthop object FRR uses for one next
// hop: stable for the life of the router, numbered from 12 (FRR's own
// numbering is its business; test/kernel compares formats, not numbers).
func (r *Router) nexthopID(key string) int {
	if r.nhids == nil {
		r.nhids = map[string]int{}
	}
	id, ok := r.nhids[key]
	if !ok {
		id = 12 + len(r.nhids)
		r.nhids[key] = id
	}
	return id
}

func sameRoute(a, b kroute) bool { return reflect.DeepEqual(a, b) }

// syncRoutes brings the kernel table in line with the active configuration:
// routes the daemon no longer wants are withdrawn, new ones installed with
// replace semantics (overwriting a manual route with the same key, as zebra
// does), manual routes otherwise untouched.
func (r *Router) syncRoutes() {
	if r.nk != nil {
		_, daemon := r.deriveRoutes()
		r.kernelErr = r.nk.sync(r, daemon)
		return
	}
	r.syncProxies()
	kernel, daemon := r.deriveRoutes()
	want := slices.Concat(kernel, daemon)
	wanted := map[string]kroute{}
	for _, w := range want {
		wanted[w.key()] = w
	}
	var next []kroute
	for _, cur := range r.routes {
		if cur.origin != fromManual {
			if w, ok := wanted[cur.key()]; ok && sameRoute(w, cur) {
				next = append(next, cur)
				delete(wanted, cur.key())
			}
			continue
		}
		if _, clash := wanted[cur.key()]; clash {
			continue
		}
		next = append(next, cur)
	}
	for _, w := range want {
		if _, ok := wanted[w.key()]; ok {
			next = append(next, w)
		}
	}
	sortRoutes(next)
	r.routes = next
}

// lookup is the kernel's longest-prefix match.
func (r *Router) lookup(dst netip.Addr) (kroute, bool) {
	best, found := kroute{}, false
	for _, rt := range r.routes {
		if !rt.dst.Contains(dst) || rt.v6() != dst.Is6() {
			continue
		}
		if !found || rt.dst.Bits() > best.dst.Bits() || rt.dst.Bits() == best.dst.Bits() && rt.metric < best.metric {
			best, found = rt, true
		}
	}
	return best, found
}

// resolveMAC answers the ARP request the kernel sends for ip on dev, or ""
// when nothing answers (Options.Silent). On an interface whose only
// address is a /32 (a bridged failover IP) the one thing on the wire is
// OVH's router, which answers for every address by proxy-ARP with its own
// MAC (the seed's ARP log and neighbour table).
func (r *Router) resolveMAC(ip, dev string) string {
	if contains(r.opts.Silent, ip) {
		return ""
	}
	if mac, ok := r.opts.Hosts[ip]; ok {
		return mac
	}
	if ip == r.opts.Gateway || r.onlyHostAddress(dev) {
		return r.opts.GatewayMAC
	}
	a := netip.MustParseAddr(ip).As4()
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", a[1], a[2], a[3])
}

func (r *Router) onlyHostAddress(dev string) bool {
	vals, _ := r.active.values([]string{"interfaces", "ethernet", dev, "address"})
	if len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		if !strings.HasSuffix(v, "/32") {
			return false
		}
	}
	return true
}

// Neighbour states as the kernel names them (include/net/neighbour.h,
// printed by iproute2's ip/ipneigh.c).
const (
	nudIncomplete = "INCOMPLETE"
	nudReachable  = "REACHABLE"
	nudStale      = "STALE"
	nudDelay      = "DELAY"
	nudFailed     = "FAILED"
	nudPermanent  = "PERMANENT"
)

// inject models the kernel sending one packet to dst: the neighbour looked
// up is the route's gateway, or dst itself when the route has none
// (net/core/neighbour.c __neigh_event_send): a new entry is resolved by ARP
// — REACHABLE if answered, INCOMPLETE while unanswered (FailUnanswered
// ends the probes); a STALE entry used again becomes DELAY; a FAILED one
// is probed again. Blackhole, unreachable and prohibit routes send nothing.
func (r *Router) inject(dst netip.Addr) {
	rt, ok := r.lookup(dst)
	if !ok || rt.typ != "" {
		return
	}
	resolve := r.resolveMAC
	if dst.Is6() {
		resolve = r.resolveMAC6
	}
	hop, dev := dst.String(), rt.dev
	switch {
	case len(rt.hops) > 0:
		// multipath: the kernel hashes the flow to one next hop; the
		// first one stands for it.
		hop, dev = rt.hops[0].gw, rt.hops[0].dev
	case rt.gw != "":
		hop = rt.gw
	}
	for i := range r.neigh {
		n := &r.neigh[i]
		if n.ip != hop || n.dev != dev {
			continue
		}
		switch n.state {
		case nudStale:
			n.state = nudDelay
		case nudFailed:
			n.state = nudIncomplete
			if n.mac = resolve(hop, dev); n.mac != "" {
				n.state = nudReachable
			}
		}
		return
	}
	n := neighbour{ip: hop, dev: dev, mac: resolve(hop, dev), state: nudReachable}
	n.router = dst.Is6() && hop == r.gateway6()
	if n.mac == "" {
		n.state = nudIncomplete
	}
	r.neigh = append(r.neigh, n)
}

// learn models an ARP request received from src on dev: the kernel creates
// (or refreshes) a STALE entry with the sender's MAC (net/ipv4/arp.c
// arp_process, neigh_event_ns).
func (r *Router) learn(src netip.Addr, dev string) {
	for i := range r.neigh {
		if r.neigh[i].ip == src.String() && r.neigh[i].dev == dev {
			return
		}
	}
	r.neigh = append(r.neigh, neighbour{ip: src.String(), dev: dev, mac: r.resolveMAC(src.String(), dev), state: nudStale})
}

// flushNeigh is `ip [-4|-6] neigh flush dev D`: without a family iproute2
// dumps and flushes both tables (ip/ipneigh.c, family AF_UNSPEC).
func (r *Router) flushNeigh(dev string, f family) {
	if r.nk != nil {
		if dev == "" {
			dev = "all"
		} else {
			dev = "dev " + dev
		}
		args := append([]string{"neigh", "flush"}, strings.Fields(dev)...)
		if f != famAll {
			args = append([]string{"-" + strconv.Itoa(int(f))}, args...)
		}
		_, _, _ = r.nk.ip(args...)
		return
	}
	var keep []neighbour
	for _, n := range r.neigh {
		// `ip neigh flush` leaves PERMANENT entries (and NOARP) alone.
		if (dev != "" && n.dev != dev) || n.state == nudPermanent || !f.has6(n.v6()) {
			keep = append(keep, n)
		}
	}
	r.neigh = keep
}

// down reports whether dev has no carrier (SetCarrier).
func (r *Router) down(dev string) bool { return r.noCarrier[dev] }

func (r *Router) routesText(old bool) string { return r.routesTextFamily(old, fam4) }

// routesTextFamily is `ip -4|-6 route show table main` (IPv4 or IPv6, never
// both: iproute2 lists IPv4 when no family is given).
func (r *Router) routesTextFamily(old bool, f family) string {
	if f == famAll {
		f = fam4
	}
	if r.nk != nil {
		return r.nk.text("-"+strconv.Itoa(int(f)), "route", "show", "table", "main")
	}
	var b strings.Builder
	for _, rt := range r.routes {
		if f.has6(rt.v6()) {
			b.WriteString(rt.text(old, r.down) + "\n")
		}
	}
	return b.String()
}

// routesJSONFamily is `ip -j -4|-6 route show table main`.
func (r *Router) routesJSONFamily(f family) string {
	if f == famAll {
		f = fam4
	}
	if r.nk != nil {
		return r.nk.text("-j", "-"+strconv.Itoa(int(f)), "route", "show", "table", "main")
	}
	js := make([]jsonRoute, 0, len(r.routes))
	for _, rt := range r.routes {
		if f.has6(rt.v6()) {
			js = append(js, rt.json(r.down))
		}
	}
	b, _ := json.Marshal(js)
	return string(b) + "\n"
}

// neighTextFamily renders `ip [-4|-6] neigh show [dev D]` (ip/ipneigh.c
// print_neigh, as test/kernel captured it): "dev" only when not filtered by
// device, no lladdr for unresolved entries, "router" before the state of an
// IPv6 router's entry, and a space after every field. Without a family,
// both tables.
func (r *Router) neighTextFamily(dev string, f family) string {
	if r.nk != nil {
		return r.nk.text(append(familyArgs(f), append([]string{"neigh", "show"}, devArgs(dev)...)...)...)
	}
	var b strings.Builder
	for _, n := range r.neighOrdered() {
		if dev != "" && n.dev != dev || !f.has6(n.v6()) {
			continue
		}
		b.WriteString(n.ip + " ")
		if dev == "" {
			b.WriteString("dev " + n.dev + " ")
		}
		if n.mac != "" {
			b.WriteString("lladdr " + n.mac + " ")
		}
		if n.router {
			b.WriteString("router ")
		}
		b.WriteString(n.state + " \n")
	}
	return b.String()
}

// neighOrdered lists IPv4's table before IPv6's, as a dump of both does
// (the kernel's neigh_tables order: ARP, then ND).
func (r *Router) neighOrdered() []neighbour {
	out := make([]neighbour, 0, len(r.neigh))
	for _, v6 := range []bool{false, true} {
		for _, n := range r.neigh {
			if n.v6() == v6 {
				out = append(out, n)
			}
		}
	}
	return out
}

func familyArgs(f family) []string {
	if f == famAll {
		return nil
	}
	return []string{"-" + strconv.Itoa(int(f))}
}

// neighJSONFamily is `ip -j [-4|-6] neigh show [dev D]`.
func (r *Router) neighJSONFamily(dev string, f family) string {
	if r.nk != nil {
		return r.nk.text(append(append([]string{"-j"}, familyArgs(f)...), append([]string{"neigh", "show"}, devArgs(dev)...)...)...)
	}
	type jn struct {
		Dst    string `json:"dst"`
		Dev    string `json:"dev,omitempty"`
		Lladdr string `json:"lladdr,omitempty"`
		// "router":null, iproute2's way of printing a flag
		Router json.RawMessage `json:"router,omitempty"`
		State  []string        `json:"state"`
	}
	out := []jn{}
	for _, n := range r.neighOrdered() {
		if dev != "" && n.dev != dev || !f.has6(n.v6()) {
			continue
		}
		e := jn{Dst: n.ip, Lladdr: n.mac, State: []string{n.state}}
		if n.router {
			e.Router = json.RawMessage("null")
		}
		if dev == "" {
			// iproute2 omits dev when the listing is filtered by device.
			e.Dev = n.dev
		}
		out = append(out, e)
	}
	b, _ := json.Marshal(out)
	return string(b) + "\n"
}

// procNetARP renders /proc/net/arp (net/ipv4/arp.c arp_seq_show): flags
// 0x2 (ATF_COM) for resolved entries, plus 0x4 (ATF_PERM) for permanent
// ones, 0x0 and a zero MAC for INCOMPLETE and FAILED.
func (r *Router) procNetARP() string {
	if r.nk != nil {
		// /proc/net is the thread group leader's namespace's: the
		// thread moved into the router's reads its own.
		text, _ := netns.ReadFile(r.nk.router, "/proc/thread-self/net/arp")
		return text
	}
	var b strings.Builder
	b.WriteString("IP address       HW type     Flags       HW address            Mask     Device\n")
	for _, n := range r.neigh {
		if n.v6() {
			continue
		}
		flags, mac := "0x2", n.mac
		switch n.state {
		case nudPermanent:
			flags = "0x6"
		case nudIncomplete, nudFailed:
			flags, mac = "0x0", "00:00:00:00:00:00"
		}
		fmt.Fprintf(&b, "%-16s 0x1         %-11s %-21s *        %s\n", n.ip, flags, mac, n.dev)
	}
	return b.String()
}

// arpEN renders net-tools' `arp -e -n` [-i dev] (what VyOS 1.3's `show arp`
// runs, vyos-1x op-mode-definitions/show-arp.xml.in, equuleus): flags C,
// CM for permanent entries, "(incomplete)" for unresolved ones; the layout
// is test/kernel's capture.
func (r *Router) arpEN(dev string) string {
	if r.nk != nil {
		argv := []string{"arp", "-e", "-n"}
		if dev != "" {
			argv = append(argv, "-i", dev)
		}
		out, errOut, _, _ := netns.Exec(r.nk.router, argv...)
		return out + errOut
	}
	var b strings.Builder
	b.WriteString("Address                  HWtype  HWaddress           Flags Mask            Iface\n")
	for _, n := range r.neigh {
		if dev != "" && n.dev != dev || n.v6() {
			continue
		}
		if n.mac == "" {
			fmt.Fprintf(&b, "%-24s         (incomplete)                              %s\n", n.ip, n.dev)
			continue
		}
		flags := "C"
		if n.state == nudPermanent {
			flags = "CM"
		}
		fmt.Fprintf(&b, "%-24s ether   %-19s %-5s                 %s\n", n.ip, n.mac, flags, n.dev)
	}
	return b.String()
}

// showARP renders `show arp`: net-tools `arp -e -n` on 1.3, the tabulate
// table of neighbor.py on 1.4+.
func (r *Router) showARP() string {
	if r.nk != nil && r.profile != VyOS13 {
		r.nk.refresh(r)
	}
	if r.profile == VyOS13 {
		return r.arpEN("")
	}
	return r.neighborTable(false)
}

// neighborTable is neighbor.py's `show` (vyos-1x src/op_mode/neighbor.py,
// sagitta): the family's entries through tabulate with the headers
// Address, Interface, Link layer address, State; states joined with ", ".
func (r *Router) neighborTable(v6 bool) string {
	var b strings.Builder
	rows := [][]string{{"Address", "Interface", "Link layer address", "State"}}
	for _, n := range r.neigh {
		if n.v6() == v6 {
			rows = append(rows, []string{n.ip, n.dev, n.mac, strings.ReplaceAll(n.state, ",", ", ")})
		}
	}
	widths := make([]int, 4)
	for _, row := range rows {
		for i, c := range row {
			if len(c) > widths[i] {
				widths[i] = len(c)
			}
		}
	}
	line := func(cells []string) {
		var parts []string
		for i, c := range cells {
			parts = append(parts, fmt.Sprintf("%-*s", widths[i], c))
		}
		b.WriteString(strings.TrimRight(strings.Join(parts, "  "), " ") + "\n")
	}
	line(rows[0])
	dashes := make([]string, 4)
	for i, w := range widths {
		dashes[i] = strings.Repeat("-", w)
	}
	line(dashes)
	for _, row := range rows[1:] {
		line(row)
	}
	return strings.TrimRight(b.String(), "\n")
}

// ipRouteModify implements `ip route add|replace` (iproute2 ip/iproute.c
// iproute_modify). Messages are what iproute2 6.1 on Linux 6.x prints
// (test/kernel's lab); Vyatta's older kernel says "RTNETLINK answers:
// Network is unreachable" for an off-link gateway.
func (r *Router) ipRouteModify(args []string, replace bool) (string, int) {
	return r.ipRouteModifyFamily(args, replace, famAll)
}

// ipRouteModifyFamily is ipRouteModify under `ip -4|-6`. IPv6's refusals
// are the kernel's own (test/kernel's lab, Linux 6.x): an off-link gateway
// is "No route to host", a link-local one without a device "Egress device
// not specified".
func (r *Router) ipRouteModifyFamily(args []string, replace bool, f family) (string, int) {
	if r.nk != nil {
		verb := "add"
		if replace {
			verb = "replace"
		}
		_, errOut, code := r.nk.ip(append(familyArgs(f), append([]string{"route", verb}, args...)...)...)
		return errOut, code
	}
	rt, msg, code := r.parseRouteSpec(args, f)
	if code != 0 {
		return msg, code
	}
	if rt.v6() && rt.typ == "" && len(rt.hops) == 0 {
		if msg, code := r.checkGateway6(&rt); code != 0 {
			return msg, code
		}
	} else if rt.typ == "" && len(rt.hops) == 0 {
		if rt.gw != "" && !rt.onlink {
			// The kernel accepts a gateway only if it is on-link through
			// a route without a gateway on the same device.
			nh, ok := r.lookup(netip.MustParseAddr(rt.gw))
			if !ok || nh.gw != "" || nh.typ != "" || (rt.dev != "" && nh.dev != rt.dev) {
				if r.profile == Vyatta65 {
					return "RTNETLINK answers: Network is unreachable\n", 2
				}
				return "Error: Nexthop has invalid gateway.\n", 2
			}
			if rt.dev == "" {
				rt.dev = nh.dev
			}
		}
		if rt.dev == "" {
			return "RTNETLINK answers: No such device\n", 2
		}
	}
	var next []kroute
	for _, cur := range r.routes {
		if cur.key() == rt.key() {
			if !replace {
				return "RTNETLINK answers: File exists\n", 2
			}
			continue
		}
		next = append(next, cur)
	}
	next = append(next, rt)
	sortRoutes(next)
	r.routes = next
	return "", 0
}

// checkGateway6 is the kernel's check of an IPv6 route's next hop
// (net/ipv6/route.c ip6_validate_gw): a link-local gateway needs a device;
// another needs a route without a gateway to it on the same device, or the
// onlink flag.
func (r *Router) checkGateway6(rt *kroute) (string, int) {
	if rt.gw == "" {
		if rt.dev == "" {
			return "RTNETLINK answers: No such device\n", 2
		}
		return "", 0
	}
	gw := netip.MustParseAddr(rt.gw)
	switch {
	case gw.IsLinkLocalUnicast():
		if rt.dev == "" {
			return "Error: Egress device not specified.\n", 2
		}
	case rt.onlink:
		if rt.dev == "" {
			return "Error: Egress device not specified.\n", 2
		}
	default:
		nh, ok := r.lookup(gw)
		if !ok || nh.gw != "" || nh.typ != "" || (rt.dev != "" && nh.dev != rt.dev) {
			return "RTNETLINK answers: No route to host\n", 2
		}
		if rt.dev == "" {
			rt.dev = nh.dev
		}
	}
	return "", 0
}

// parseRouteSpec reads the arguments of `ip route add|replace|del`; the
// family is -4/-6's or, without one, the addresses'.
func (r *Router) parseRouteSpec(args []string, f family) (kroute, string, int) {
	rt := kroute{proto: "boot", origin: fromManual}
	if len(args) > 0 && (args[0] == "blackhole" || args[0] == "unreachable" || args[0] == "prohibit" || args[0] == "unicast") {
		if args[0] != "unicast" {
			rt.typ = args[0]
		}
		args = args[1:]
	}
	if len(args) == 0 {
		return rt, "Command line is not complete. Try option \"help\"\n", 255
	}
	dst := args[0]
	isDefault := dst == "default" || dst == "0/0" || dst == "::/0"
	if isDefault {
		rt.dst = netip.MustParsePrefix("0.0.0.0/0")
	} else {
		p, err := parsePrefixOrAddr(dst)
		if err != nil {
			return rt, fmt.Sprintf("Error: any valid prefix is expected rather than \"%s\".\n", dst), 1
		}
		rt.dst = p.Masked()
	}
	scopeGiven := false
	for i := 1; i < len(args); i++ {
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch args[i] {
		case "via":
			rt.gw = val()
			if _, err := netip.ParseAddr(rt.gw); err != nil {
				return rt, fmt.Sprintf("Error: inet address is expected rather than \"%s\".\n", rt.gw), 1
			}
		case "dev":
			rt.dev = val()
		case "scope":
			scopeGiven = true
			rt.scope = val()
			if rt.scope == "global" || rt.scope == "universe" {
				rt.scope = ""
			}
		case "proto", "protocol":
			rt.proto = val()
		case "metric", "preference", "priority":
			rt.metric, _ = strconv.Atoi(val())
		case "onlink":
			rt.onlink = true
		case "nexthop":
			h := nexthop{weight: 1}
			for i+1 < len(args) && args[i+1] != "nexthop" {
				i++
				switch args[i] {
				case "via":
					h.gw = val()
				case "dev":
					h.dev = val()
				case "weight":
					h.weight, _ = strconv.Atoi(val())
				case "onlink":
					h.onlink = true
				default:
					return rt, fmt.Sprintf("Error: either \"to\" is duplicate, or \"%s\" is a garbage.\n", args[i]), 1
				}
			}
			if h.dev != "" && !r.hasNIC(h.dev) {
				return rt, fmt.Sprintf("Cannot find device \"%s\"\n", h.dev), 1
			}
			rt.hops = append(rt.hops, h)
		default:
			return rt, fmt.Sprintf("Error: either \"to\" is duplicate, or \"%s\" is a garbage.\n", args[i]), 1
		}
	}
	if rt.dev != "" && !r.hasNIC(rt.dev) {
		return rt, fmt.Sprintf("Cannot find device \"%s\"\n", rt.dev), 1
	}
	if isDefault && (f == fam6 || dst == "::/0" || strings.Contains(rt.gw, ":")) {
		rt.dst = netip.MustParsePrefix("::/0")
	}
	if rt.v6() {
		// IPv6 routes have no scope, and a metric of 1024 unless given
		// (ip6_route_info_create, IP6_RT_PRIO_USER).
		rt.scope = ""
		if rt.metric == 0 {
			rt.metric = 1024
		}
		return rt, "", 0
	}
	if !scopeGiven && rt.typ == "" && rt.gw == "" && len(rt.hops) == 0 {
		// iproute2 gives a unicast route without a gateway link scope
		// unless told otherwise (ip/iproute.c iproute_modify): `ip route
		// add default dev eth2` prints "scope link"; zebra, which talks
		// netlink itself, leaves such routes in universe scope.
		rt.scope = "link"
	}
	return rt, "", 0
}

// ipNeighModify implements `ip neigh add|replace|change|del ADDR [lladdr
// MAC] dev D [nud permanent|reachable|stale|noarp]` (ip/ipneigh.c ipneigh_modify).
func (r *Router) ipNeighModify(verb string, args []string) (string, int) {
	if r.nk != nil {
		_, errOut, code := r.nk.ip(append([]string{"neigh", verb}, args...)...)
		return errOut, code
	}
	if len(args) == 0 {
		return "Device and destination are required arguments.\n", 255
	}
	ip, dev, mac, state := args[0], "", "", nudPermanent
	for i := 1; i+1 < len(args); i += 2 {
		switch args[i] {
		case "dev":
			dev = args[i+1]
		case "lladdr":
			mac = strings.ToLower(args[i+1])
		case "nud":
			state = strings.ToUpper(args[i+1])
		default:
			return fmt.Sprintf("Error: either \"to\" is duplicate, or \"%s\" is a garbage.\n", args[i]), 255
		}
	}
	if _, err := netip.ParseAddr(ip); err != nil || dev == "" {
		return "Device and destination are required arguments.\n", 255
	}
	if !r.hasNIC(dev) {
		return fmt.Sprintf("Cannot find device \"%s\"\n", dev), 1
	}
	for i, n := range r.neigh {
		if n.ip == ip && n.dev == dev {
			switch verb {
			case "add":
				return "RTNETLINK answers: File exists\n", 2
			case "del", "delete":
				r.neigh = append(r.neigh[:i:i], r.neigh[i+1:]...)
				return "", 0
			}
			r.neigh[i].mac, r.neigh[i].state = mac, state
			return "", 0
		}
	}
	switch verb {
	case "del", "delete", "change":
		return "RTNETLINK answers: No such file or directory\n", 2
	}
	r.neigh = append(r.neigh, neighbour{ip: ip, dev: dev, mac: mac, state: state})
	return "", 0
}

// ipRouteDel implements `ip route del`: the first route of the
// destination (lowest metric) matching what was given.
func (r *Router) ipRouteDel(args []string) (string, int) { return r.ipRouteDelFamily(args, famAll) }

func (r *Router) ipRouteDelFamily(args []string, f family) (string, int) {
	if r.nk != nil {
		_, errOut, code := r.nk.ip(append(familyArgs(f), append([]string{"route", "del"}, args...)...)...)
		return errOut, code
	}
	want, msg, code := r.parseRouteSpec(args, f)
	if code != 0 {
		return msg, code
	}
	metricGiven := false
	for _, a := range args {
		if a == "metric" || a == "preference" || a == "priority" {
			metricGiven = true
		}
	}
	for i, cur := range r.routes {
		if cur.dst != want.dst || (want.typ != "" && cur.typ != want.typ) || (want.dev != "" && cur.dev != want.dev) ||
			(want.gw != "" && cur.gw != want.gw) || (metricGiven && cur.metric != want.metric) {
			continue
		}
		r.routes = append(r.routes[:i:i], r.routes[i+1:]...)
		return "", 0
	}
	if want.v6() {
		return "RTNETLINK answers: No such file or directory\n", 2
	}
	return "RTNETLINK answers: No such process\n", 2
}

// ipRouteFlush implements `ip route flush dev D | table main | PREFIX`.
func (r *Router) ipRouteFlush(args []string) (string, int) {
	if r.nk != nil {
		_, errOut, code := r.nk.ip(append([]string{"route", "flush"}, args...)...)
		return errOut, code
	}
	if len(args) == 0 {
		return "\"ip route flush\" requires arguments.\n", 255
	}
	match := func(kroute) bool { return true }
	switch {
	case args[0] == "dev" && len(args) == 2:
		if !r.hasNIC(args[1]) {
			return fmt.Sprintf("Cannot find device \"%s\"\n", args[1]), 1
		}
		match = func(k kroute) bool { return k.usesDev(args[1]) }
	case args[0] == "table" && len(args) == 2 && args[1] == "main":
	default:
		p, err := parsePrefixOrAddr(args[0])
		if err != nil {
			return fmt.Sprintf("Error: any valid prefix is expected rather than \"%s\".\n", args[0]), 1
		}
		match = func(k kroute) bool { return p.Masked().Contains(k.dst.Addr()) && k.dst.Bits() >= p.Bits() }
	}
	var keep []kroute
	for _, k := range r.routes {
		if !match(k) {
			keep = append(keep, k)
		}
	}
	r.routes = keep
	return "", 0
}

func parsePrefixOrAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func devArgs(dev string) []string {
	if dev == "" {
		return nil
	}
	return []string{"dev", dev}
}
