package routersim

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
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
	dst    netip.Prefix
	gw     string
	dev    string
	proto  string // kernel, zebra, static, boot
	scope  string // "" universe, link, host
	src    string
	metric int
	onlink bool
	origin origin
}

func (r kroute) key() string { return r.dst.String() + "/" + strconv.Itoa(r.metric) }

func (r kroute) dstText() string {
	if r.dst.Bits() == 0 {
		return "default"
	}
	if r.dst.Bits() == 32 {
		return r.dst.Addr().String()
	}
	return r.dst.String()
}

// text renders one `ip route` line; Vyatta's iproute2 3.x separates the
// attributes after dev with two spaces and ends lines with a space.
func (r kroute) text(oldIproute bool) string {
	sep := " "
	if oldIproute {
		sep = "  "
	}
	var b strings.Builder
	b.WriteString(r.dstText())
	if r.gw != "" {
		b.WriteString(" via " + r.gw)
	}
	b.WriteString(" dev " + r.dev)
	if r.proto != "boot" {
		b.WriteString(sep + "proto " + r.proto)
	}
	if r.scope != "" {
		b.WriteString(sep + "scope " + r.scope)
	}
	if r.src != "" {
		b.WriteString(sep + "src " + r.src)
	}
	if r.metric != 0 {
		b.WriteString(" metric " + strconv.Itoa(r.metric))
	}
	if r.onlink {
		b.WriteString(" onlink")
	}
	if oldIproute {
		b.WriteString(" ")
	}
	return b.String()
}

// jsonRoute follows `ip -j route` key order and omissions: no protocol for
// boot, no scope for universe, flags always present.
type jsonRoute struct {
	Dst      string   `json:"dst"`
	Gateway  string   `json:"gateway,omitempty"`
	Dev      string   `json:"dev"`
	Protocol string   `json:"protocol,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	Prefsrc  string   `json:"prefsrc,omitempty"`
	Metric   int      `json:"metric,omitempty"`
	Flags    []string `json:"flags"`
}

func (r kroute) json() jsonRoute {
	j := jsonRoute{Dst: r.dstText(), Gateway: r.gw, Dev: r.dev, Scope: r.scope, Prefsrc: r.src, Metric: r.metric, Flags: []string{}}
	if r.proto != "boot" {
		j.Protocol = r.proto
	}
	if r.onlink {
		j.Flags = append(j.Flags, "onlink")
	}
	return j
}

type neighbour struct {
	ip    string
	dev   string
	mac   string
	state string
}

// sortRoutes orders the table like a kernel dump: by address, then prefix
// length, then metric — which puts the default route first.
func sortRoutes(rs []kroute) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if c := a.dst.Addr().Compare(b.dst.Addr()); c != 0 {
			return c < 0
		}
		if a.dst.Bits() != b.dst.Bits() {
			return a.dst.Bits() < b.dst.Bits()
		}
		return a.metric < b.metric
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
			if err != nil || p.Bits() == 32 {
				continue // a /32 has no connected route: the gateway is off-link
			}
			kernel = append(kernel, kroute{dst: p.Masked(), dev: w[2], proto: "kernel", scope: "link", src: p.Addr().String(), origin: fromKernel})
			connected = append(connected, conn{p.Masked(), w[2]})
		}
	}
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
			kr.scope = "link"
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
		daemon = append(daemon, kr)
	}
	return kernel, daemon
}

// syncRoutes brings the kernel table in line with the active configuration:
// routes the daemon no longer wants are withdrawn, new ones installed with
// replace semantics (overwriting a manual route with the same key, as zebra
// does), manual routes otherwise untouched.
func (r *Router) syncRoutes() {
	kernel, daemon := r.deriveRoutes()
	want := append(kernel, daemon...)
	wanted := map[string]kroute{}
	for _, w := range want {
		wanted[w.key()] = w
	}
	var next []kroute
	for _, cur := range r.routes {
		if cur.origin != fromManual {
			if w, ok := wanted[cur.key()]; ok && w == cur {
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
		if !rt.dst.Contains(dst) {
			continue
		}
		if !found || rt.dst.Bits() > best.dst.Bits() || rt.dst.Bits() == best.dst.Bits() && rt.metric < best.metric {
			best, found = rt, true
		}
	}
	return best, found
}

// resolveMAC answers the ARP request the kernel sends for ip on dev. On an
// interface whose only address is a /32 (a bridged failover IP) the one
// thing on the wire is OVH's router, which answers for every address by
// proxy-ARP with its own MAC.
func (r *Router) resolveMAC(ip, dev string) string {
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

// inject models the kernel sending one packet to dst: the neighbour looked up
// is the route's gateway, or dst itself when the route has none.
func (r *Router) inject(dst netip.Addr) {
	rt, ok := r.lookup(dst)
	if !ok {
		return
	}
	hop := dst.String()
	if rt.gw != "" {
		hop = rt.gw
	}
	for i := range r.neigh {
		if r.neigh[i].ip == hop && r.neigh[i].dev == rt.dev {
			if r.neigh[i].state != "PERMANENT" {
				r.neigh[i].state = "REACHABLE"
			}
			return
		}
	}
	r.neigh = append(r.neigh, neighbour{ip: hop, dev: rt.dev, mac: r.resolveMAC(hop, rt.dev), state: "REACHABLE"})
}

func (r *Router) flushNeigh(dev string) {
	var keep []neighbour
	for _, n := range r.neigh {
		if (dev != "" && n.dev != dev) || n.state == "PERMANENT" {
			keep = append(keep, n)
		}
	}
	r.neigh = keep
}

func (r *Router) routesText(old bool) string {
	var b strings.Builder
	for _, rt := range r.routes {
		b.WriteString(rt.text(old) + "\n")
	}
	return b.String()
}

func (r *Router) routesJSON() string {
	js := make([]jsonRoute, 0, len(r.routes))
	for _, rt := range r.routes {
		js = append(js, rt.json())
	}
	b, _ := json.Marshal(js)
	return string(b) + "\n"
}

func (r *Router) neighJSON(dev string) string {
	type jn struct {
		Dst    string   `json:"dst"`
		Dev    string   `json:"dev,omitempty"`
		Lladdr string   `json:"lladdr,omitempty"`
		State  []string `json:"state"`
	}
	out := []jn{}
	for _, n := range r.neigh {
		if dev != "" && n.dev != dev {
			continue
		}
		e := jn{Dst: n.ip, Lladdr: n.mac, State: []string{n.state}}
		if dev == "" {
			// iproute2 omits dev when the listing is filtered by device.
			e.Dev = n.dev
		}
		out = append(out, e)
	}
	b, _ := json.Marshal(out)
	return string(b) + "\n"
}

func (r *Router) procNetARP() string {
	var b strings.Builder
	b.WriteString("IP address       HW type     Flags       HW address            Mask     Device\n")
	for _, n := range r.neigh {
		flags, mac := "0x2", n.mac
		switch n.state {
		case "PERMANENT":
			flags = "0x6"
		case "INCOMPLETE", "FAILED":
			flags, mac = "0x0", "00:00:00:00:00:00"
		}
		fmt.Fprintf(&b, "%-16s 0x1         %-11s %-21s *        %s\n", n.ip, flags, mac, n.dev)
	}
	return b.String()
}

// showARP renders `show arp`: net-tools `arp -e -n` on 1.3, the tabulate
// table of neighbor.py on 1.4+.
func (r *Router) showARP() string {
	var b strings.Builder
	if r.profile == VyOS13 {
		b.WriteString("Address                  HWtype  HWaddress           Flags Mask            Iface\n")
		for _, n := range r.neigh {
			if n.mac == "" || n.state == "FAILED" || n.state == "INCOMPLETE" {
				fmt.Fprintf(&b, "%-24s         (incomplete)                              %s\n", n.ip, n.dev)
				continue
			}
			flags := "C"
			if n.state == "PERMANENT" {
				flags = "CM"
			}
			fmt.Fprintf(&b, "%-24s ether   %-19s %-5s                 %s\n", n.ip, n.mac, flags, n.dev)
		}
		return b.String()
	}
	rows := [][]string{{"Address", "Interface", "Link layer address", "State"}}
	for _, n := range r.neigh {
		rows = append(rows, []string{n.ip, n.dev, n.mac, n.state})
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

// ipRouteReplace implements `ip route replace|add`.
func (r *Router) ipRouteReplace(args []string, replace bool) (string, int) {
	if len(args) == 0 {
		return "Command line is not complete. Try option \"help\"\n", 255
	}
	var rt kroute
	rt.proto, rt.origin = "boot", fromManual
	dst := args[0]
	if dst == "default" {
		rt.dst = netip.MustParsePrefix("0.0.0.0/0")
	} else {
		p, err := parsePrefixOrAddr(dst)
		if err != nil {
			return fmt.Sprintf("Error: any valid prefix is expected rather than \"%s\".\n", dst), 1
		}
		rt.dst = p.Masked()
	}
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
		case "dev":
			rt.dev = val()
		case "scope":
			rt.scope = val()
			if rt.scope == "global" || rt.scope == "universe" {
				rt.scope = ""
			}
		case "proto":
			rt.proto = val()
		case "metric":
			rt.metric, _ = strconv.Atoi(val())
		case "onlink":
			rt.onlink = true
		default:
			return fmt.Sprintf("Error: either \"to\" is duplicate, or \"%s\" is a garbage.\n", args[i]), 1
		}
	}
	if rt.dev != "" && !r.hasNIC(rt.dev) {
		return fmt.Sprintf("Cannot find device \"%s\"\n", rt.dev), 1
	}
	if rt.gw != "" {
		gw, err := netip.ParseAddr(rt.gw)
		if err != nil {
			return fmt.Sprintf("Error: inet address is expected rather than \"%s\".\n", rt.gw), 1
		}
		if !rt.onlink {
			// The kernel accepts a gateway only if it is on-link through
			// a route without a gateway on the same device.
			nh, ok := r.lookup(gw)
			if !ok || nh.gw != "" || (rt.dev != "" && nh.dev != rt.dev) {
				if r.profile == Vyatta65 {
					return "RTNETLINK answers: Network is unreachable\n", 2
				}
				return "Error: Nexthop has invalid gateway.\n", 2
			}
			if rt.dev == "" {
				rt.dev = nh.dev
			}
		}
	}
	if rt.dev == "" {
		return "Error: Device for nexthop is not up.\n", 2
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

func parsePrefixOrAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, 32), nil
}
