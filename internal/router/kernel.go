package router

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Route is one route of the kernel's main table, IPv4 or IPv6, normalised
// across `ip -j route`, `ip route` text and the HTTP API's `show ip route
// forward` / `show ipv6 route forward`.
type Route struct {
	// Dst is "default" or a prefix; host routes are written without /32
	// (/128), as iproute2 prints them.
	Dst string `json:"dst"`
	// Gateway is the next hop, empty for on-link routes — and for the
	// default route Quagga installs under the Vyatta bug.
	Gateway  string `json:"gateway,omitempty"`
	Dev      string `json:"dev,omitempty"`
	Protocol string `json:"protocol,omitempty"` // "boot" when iproute2 omits it
	Scope    string `json:"scope,omitempty"`    // empty means universe
	Metric   int    `json:"metric,omitempty"`
	// Flags are iproute2's next-hop flags, e.g. "onlink".
	Flags []string `json:"flags,omitempty"`
}

// IsDefault reports whether r is a default route.
func (r Route) IsDefault() bool { return r.Dst == "default" || r.Dst == "0.0.0.0/0" || r.Dst == "::/0" }

// IsIPv6 reports whether r is an IPv6 route (by its destination or, for a
// default route, its gateway).
func (r Route) IsIPv6() bool {
	return strings.Contains(r.Dst, ":") || strings.Contains(r.Gateway, ":")
}

// HasFlag reports whether r carries the given flag.
func (r Route) HasFlag(f string) bool {
	for _, x := range r.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// String renders r like `ip route` does.
func (r Route) String() string {
	var b strings.Builder
	b.WriteString(r.Dst)
	if r.Gateway != "" {
		b.WriteString(" via " + r.Gateway)
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Protocol != "" && r.Protocol != "boot" {
		b.WriteString(" proto " + r.Protocol)
	}
	if r.Scope != "" {
		b.WriteString(" scope " + r.Scope)
	}
	if r.Metric != 0 {
		b.WriteString(" metric " + strconv.Itoa(r.Metric))
	}
	for _, f := range r.Flags {
		b.WriteString(" " + f)
	}
	return b.String()
}

// Neighbour is one entry of the kernel's neighbour cache: ARP for IPv4,
// neighbour discovery (NDP) for IPv6.
type Neighbour struct {
	IP  string `json:"ip"`
	Dev string `json:"dev"`
	// MAC is empty for entries that never resolved (INCOMPLETE, FAILED).
	MAC string `json:"mac,omitempty"`
	// Router: the neighbour said it is a router (the R flag of an IPv6
	// neighbour advertisement, RFC 4861 4.4; iproute2 prints "router").
	// Always false for IPv4.
	Router bool `json:"router,omitempty"`
	// State is iproute2's NUD state (REACHABLE, STALE, DELAY, PROBE,
	// INCOMPLETE, FAILED, NOARP, PERMANENT, several joined by ","), or
	// COMPLETE where the source (/proc/net/arp, arp -e) cannot tell
	// reachable from stale.
	State string `json:"state,omitempty"`
}

// Neighbour states the drift checks care about.
const (
	StateComplete   = "COMPLETE"
	StateIncomplete = "INCOMPLETE"
	StateFailed     = "FAILED"
	StatePermanent  = "PERMANENT"
)

// Resolved reports whether the entry holds a usable MAC address.
func (n Neighbour) Resolved() bool {
	if n.MAC == "" {
		return false
	}
	for _, s := range strings.Split(n.State, ",") {
		if s == StateFailed || s == StateIncomplete {
			return false
		}
	}
	return true
}

// BootScript is the observed post-config boot script.
type BootScript struct {
	Path       string
	Present    bool
	Executable bool
	Content    string
}

// ParseRoutesJSON parses `ip -j -4 route show`.
func ParseRoutesJSON(data []byte) ([]Route, error) {
	var raw []struct {
		Type     string   `json:"type"`
		Dst      string   `json:"dst"`
		Gateway  string   `json:"gateway"`
		Dev      string   `json:"dev"`
		Protocol string   `json:"protocol"`
		Scope    string   `json:"scope"`
		Metric   *int     `json:"metric"`
		Flags    []string `json:"flags"`
		Nexthops []struct {
			Gateway string   `json:"gateway"`
			Dev     string   `json:"dev"`
			Flags   []string `json:"flags"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("ip -j route: %w", err)
	}
	out := make([]Route, 0, len(raw))
	for _, r := range raw {
		if r.Type != "" && r.Type != "unicast" {
			// blackhole/unreachable/prohibit routes carry no next hop the
			// drift checks could use.
			continue
		}
		rt := Route{Dst: r.Dst, Gateway: r.Gateway, Dev: r.Dev, Protocol: r.Protocol, Scope: r.Scope, Flags: r.Flags}
		if r.Metric != nil {
			rt.Metric = *r.Metric
		}
		if rt.Gateway == "" && rt.Dev == "" && len(r.Nexthops) > 0 {
			// ECMP: report the first next hop; the checks only need to know
			// whether a gateway is used at all.
			rt.Gateway, rt.Dev = r.Nexthops[0].Gateway, r.Nexthops[0].Dev
			rt.Flags = append(rt.Flags, r.Nexthops[0].Flags...)
		}
		out = append(out, normaliseRoute(rt))
	}
	return out, nil
}

// ParseRoutesText parses `ip route show` text from any iproute2 version,
// including the double-spaced output of the 3.x releases Vyatta ships and
// multipath routes continued on indented "nexthop" lines.
func ParseRoutesText(text string) ([]Route, error) {
	var out []Route
	skip := false
	for n, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if line[0] == ' ' || line[0] == '\t' {
			// continuation of a multipath route
			if skip || len(out) == 0 || f[0] != "nexthop" {
				continue
			}
			last := &out[len(out)-1]
			if last.Gateway == "" && last.Dev == "" {
				r := Route{}
				if err := routeAttrs(f[1:], &r); err != nil {
					return nil, fmt.Errorf("line %d: %w", n+1, err)
				}
				last.Gateway, last.Dev = r.Gateway, r.Dev
				last.Flags = append(last.Flags, r.Flags...)
			}
			continue
		}
		skip = false
		switch f[0] {
		case "unicast":
			f = f[1:]
		case "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast", "multicast", "anycast", "nat":
			skip = true
			continue
		}
		if len(f) == 0 {
			return nil, fmt.Errorf("line %d: no destination", n+1)
		}
		r := Route{Dst: f[0]}
		if err := routeAttrs(f[1:], &r); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		out = append(out, normaliseRoute(r))
	}
	return out, nil
}

func routeAttrs(f []string, r *Route) error {
	for i := 0; i < len(f); i++ {
		key := f[i]
		val := func() (string, error) {
			if i+1 >= len(f) {
				return "", fmt.Errorf("%q without value", key)
			}
			i++
			return f[i], nil
		}
		var err error
		switch key {
		case "via":
			r.Gateway, err = val()
			if err == nil && (r.Gateway == "inet" || r.Gateway == "inet6") {
				r.Gateway, err = val()
			}
		case "dev":
			r.Dev, err = val()
		case "proto":
			r.Protocol, err = val()
		case "scope":
			r.Scope, err = val()
		case "metric":
			var v string
			if v, err = val(); err == nil {
				r.Metric, err = strconv.Atoi(v)
			}
		case "src", "table", "mtu", "advmss", "weight", "nhid", "realm", "expires", "pref", "rtt", "rttvar", "window", "cwnd", "initcwnd", "initrwnd", "hoplimit", "congctl", "tos", "error", "features", "quickack", "fastopen_no_cookie", "ttl-propagate", "ssthresh", "reordering", "mtu_expires", "lock":
			if key == "lock" {
				continue
			}
			var v string
			if v, err = val(); err == nil && v == "lock" {
				// "mtu lock 1400": the value follows the lock keyword
				_, err = val()
			}
		case "onlink", "pervasive", "offload", "trap", "notify", "linkdown", "dead", "unresolved", "rt_offload", "rt_trap":
			r.Flags = append(r.Flags, key)
		case "cache":
		default:
			return fmt.Errorf("unknown route attribute %q", key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func normaliseRoute(r Route) Route {
	if r.Dst == "0.0.0.0/0" || r.Dst == "::/0" {
		r.Dst = "default"
	}
	if strings.Contains(r.Dst, ":") {
		r.Dst = strings.TrimSuffix(r.Dst, "/128")
	} else {
		r.Dst = strings.TrimSuffix(r.Dst, "/32")
	}
	if r.Protocol == "" {
		r.Protocol = "boot"
	}
	if r.Scope == "global" || r.Scope == "universe" {
		r.Scope = ""
	}
	if len(r.Flags) == 0 {
		r.Flags = nil
	}
	return r
}

// ParseNeighboursJSON parses `ip -j -4 neigh show [dev D]`. iproute2 leaves
// "dev" out when the listing was filtered by device, so dev fills it in.
func ParseNeighboursJSON(data []byte, dev string) ([]Neighbour, error) {
	var raw []struct {
		Dst    string   `json:"dst"`
		Dev    string   `json:"dev"`
		Lladdr string   `json:"lladdr"`
		State  []string `json:"state"`
		// iproute2 prints flags as keys with a null value ("router":null,
		// ip/ipneigh.c print_neigh with print_null): a RawMessage holds
		// "null" when the key is there, nothing when it is not.
		Router json.RawMessage `json:"router"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("ip -j neigh: %w", err)
	}
	out := make([]Neighbour, 0, len(raw))
	for _, r := range raw {
		if _, err := netip.ParseAddr(r.Dst); err != nil {
			return nil, fmt.Errorf("ip -j neigh: bad address %q", r.Dst)
		}
		n := Neighbour{IP: r.Dst, Dev: r.Dev, MAC: strings.ToLower(r.Lladdr), State: strings.Join(r.State, ","), Router: len(r.Router) > 0}
		if n.Dev == "" {
			n.Dev = dev
		}
		out = append(out, n)
	}
	return filterDev(out, dev), nil
}

// ParseProcNetARP parses /proc/net/arp, the only neighbour listing that old
// systems without `ip -j` offer in a stable format. Flags 0x2 mean complete,
// 0x6 complete and permanent, 0x0 not (yet) resolved.
func ParseProcNetARP(text, dev string) ([]Neighbour, error) {
	var out []Neighbour
	for n, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || n == 0 && f[0] == "IP" {
			continue
		}
		if len(f) != 6 {
			return nil, fmt.Errorf("/proc/net/arp line %d: want 6 fields, got %d", n+1, len(f))
		}
		if _, err := netip.ParseAddr(f[0]); err != nil {
			return nil, fmt.Errorf("/proc/net/arp line %d: bad address %q", n+1, f[0])
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/arp line %d: bad flags %q", n+1, f[2])
		}
		nb := Neighbour{IP: f[0], Dev: f[5]}
		const atfCom, atfPerm = 0x2, 0x4
		switch {
		case flags&atfCom == 0:
			nb.State = StateIncomplete
		case flags&atfPerm != 0:
			nb.State = StatePermanent
			nb.MAC = strings.ToLower(f[3])
		default:
			nb.State = StateComplete
			nb.MAC = strings.ToLower(f[3])
		}
		out = append(out, nb)
	}
	return filterDev(out, dev), nil
}

// ParseShowARP parses the HTTP API's `show arp` text in either format: the
// net-tools `arp -e -n` table of VyOS 1.3, or the Address / Interface / Link
// layer address / State table that VyOS 1.4+ prints with tabulate.
func ParseShowARP(text, dev string) ([]Neighbour, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "Address") {
			if strings.Contains(l, "HWtype") {
				return parseArpE(lines[i+1:], dev)
			}
			if strings.Contains(l, "Link layer address") {
				return parseNeighTable(lines[i+1:], dev)
			}
			return nil, fmt.Errorf("show arp: unknown header %q", firstLine(l))
		}
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	return nil, fmt.Errorf("show arp: no header in %q", firstLine(text))
}

func parseArpE(lines []string, dev string) ([]Neighbour, error) {
	var out []Neighbour
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if _, err := netip.ParseAddr(f[0]); err != nil {
			return nil, fmt.Errorf("arp -e: bad address %q", f[0])
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("arp -e: short line %q", l)
		}
		n := Neighbour{IP: f[0], Dev: f[len(f)-1]}
		if f[1] == "(incomplete)" {
			n.State = StateIncomplete
		} else {
			if len(f) < 5 {
				return nil, fmt.Errorf("arp -e: short line %q", l)
			}
			n.MAC = strings.ToLower(f[2])
			n.State = StateComplete
			if strings.Contains(f[3], "M") {
				n.State = StatePermanent
			}
		}
		out = append(out, n)
	}
	return filterDev(out, dev), nil
}

func parseNeighTable(lines []string, dev string) ([]Neighbour, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	// tabulate's "simple" format underlines each column with dashes: the
	// column spans come from that line, because an unresolved entry leaves
	// the link layer address column blank.
	var spans [][2]int
	rule := lines[0]
	for i := 0; i < len(rule); {
		if rule[i] != '-' {
			i++
			continue
		}
		j := i
		for j < len(rule) && rule[j] == '-' {
			j++
		}
		spans = append(spans, [2]int{i, j})
		i = j
	}
	if len(spans) != 4 {
		return nil, fmt.Errorf("show arp: want 4 columns, found %d", len(spans))
	}
	col := func(l string, k int) string {
		start := spans[k][0]
		end := len(l)
		if k+1 < len(spans) && spans[k+1][0] < end {
			end = spans[k+1][0]
		}
		if start >= len(l) || start >= end {
			return ""
		}
		return strings.TrimSpace(l[start:end])
	}
	var out []Neighbour
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := Neighbour{IP: col(l, 0), Dev: col(l, 1), MAC: strings.ToLower(col(l, 2)),
			State: strings.ReplaceAll(col(l, 3), " ", "")}
		if _, err := netip.ParseAddr(n.IP); err != nil {
			return nil, fmt.Errorf("show arp: bad address %q", n.IP)
		}
		out = append(out, n)
	}
	return filterDev(out, dev), nil
}

func filterDev(ns []Neighbour, dev string) []Neighbour {
	if dev == "" {
		return ns
	}
	out := ns[:0]
	for _, n := range ns {
		if n.Dev == dev {
			out = append(out, n)
		}
	}
	return out
}

func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
