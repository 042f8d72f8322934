package routersim

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Operational mode: the commands a person (or an expect-style client) types
// at the router's prompt, and what the non-interactive forms run
// (/opt/vyatta/bin/vyatta-op-cmd-wrapper, `vbash -ic`, `run` in configure
// mode). Texts follow the op-mode templates: vyatta-op (branch pacifica)
// templates/*/node.def for Vyatta 6.5, vyos-1x op-mode-definitions/*.xml.in
// (equuleus, sagitta, current) for VyOS.

// opCommand runs one op-mode command and reports whether it was one (show,
// set terminal, ...). Output goes to the shell's current output.
func (sh *shell) opCommand(words []string) (bool, int) {
	if len(words) == 0 {
		return false, 0
	}
	switch words[0] {
	case "show":
		return true, sh.opShow(words[1:])
	case "set":
		if len(words) >= 2 && words[1] == "terminal" {
			return true, sh.opSetTerminal(words[2:])
		}
	case "reset":
		if len(words) == 5 && words[1] == "ipv6" && words[2] == "neighbors" && words[3] == "interface" && sh.r.profile != Vyatta65 {
			// vyos-1x op-mode-definitions/ipv6-route.xml.in: `ip -f inet6
			// neigh flush dev` (equuleus), neighbor.py reset --family
			// inet6 --interface (sagitta on).
			if !sh.r.hasNIC(words[4]) {
				sh.errf("Interface '%s' does not exist in the system\n", words[4])
				return true, 1
			}
			sh.r.mu.Lock()
			sh.r.count("ip -6 neigh flush")
			sh.r.flushNeigh(words[4], fam6)
			sh.r.mu.Unlock()
			return true, 0
		}
		if len(words) == 5 && words[1] == "ip" && words[2] == "arp" && words[3] == "interface" {
			if !sh.r.hasNIC(words[4]) {
				sh.errf("Interface '%s' does not exist in the system\n", words[4])
				return true, 1
			}
			sh.r.mu.Lock()
			sh.r.count("ip neigh flush")
			sh.r.flushNeigh(words[4], fam4)
			sh.r.mu.Unlock()
			return true, 0
		}
	}
	return false, 0
}

// invalid prints vyatta-op's error for a word the templates do not know
// (vyatta-op functions/interpreter/vyatta-op-run _vyatta_op_run, pacifica).
func (sh *shell) invalid(done []string, word string) int {
	sh.errf("\n  Invalid command: %s [%s]\n\n", strings.Join(done, " "), word)
	return 1
}

func (sh *shell) incomplete(done []string) int {
	sh.errf("\n  Incomplete command: %s\n\n", strings.Join(done, " "))
	return 1
}

func (sh *shell) opShow(w []string) int {
	r := sh.r
	if len(w) == 0 {
		return sh.incomplete([]string{"show"})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch w[0] {
	case "configuration":
		switch {
		case len(w) == 1:
			// cli-shell-api showCfg --show-active-only --show-hide-secrets
			// (show-configuration.xml.in; vyatta-op templates/show/
			// configuration/node.def).
			sh.outf("%s", r.active.curlyHidden(r.showDialect()))
			return 0
		case len(w) == 2 && w[1] == "commands":
			text, err := r.showConfigCommands()
			if err != "" {
				sh.errf("%s", err)
				return 1
			}
			sh.outf("%s", text)
			return 0
		}
		return sh.invalid(w[:1], w[1])
	case "ip":
		if len(w) >= 2 && w[1] == "route" {
			r.count("ip route")
			if len(w) == 3 && w[2] == "forward" && r.profile != Vyatta65 {
				// `ip route list` (show-ip-route.xml.in)
				sh.outf("%s", r.routesText(false))
				return 0
			}
			if len(w) == 2 {
				sh.outf("%s", r.showIPRoute())
				return 0
			}
			return sh.invalid(w[:2], w[2])
		}
		if len(w) == 1 {
			return sh.incomplete([]string{"show", "ip"})
		}
		return sh.invalid([]string{"show", "ip"}, w[1])
	case "ipv6":
		// vyos-1x op-mode-definitions: show-ipv6-route.xml.in (`show ipv6
		// route forward` = `ip -f inet6 route list`, equuleus to current)
		// and ipv6-route.xml.in (`show ipv6 neighbors` = `ip -f inet6
		// neigh list` on equuleus, neighbor.py's table from sagitta on).
		// Vyatta 6.5's IPv6 op mode is not modelled.
		if r.profile == Vyatta65 {
			return sh.invalid([]string{"show"}, w[0])
		}
		switch {
		case len(w) == 3 && w[1] == "route" && w[2] == "forward":
			r.count("ip -6 route")
			sh.outf("%s", r.routesTextFamily(false, fam6))
			return 0
		case len(w) == 2 && w[1] == "neighbors":
			r.count("ip -6 neigh")
			if r.profile == VyOS13 {
				sh.outf("%s", r.neighTextFamily("", fam6))
				return 0
			}
			sh.outf("%s\n", r.neighborTable(true))
			return 0
		case len(w) == 1:
			return sh.incomplete([]string{"show", "ipv6"})
		}
		return sh.invalid([]string{"show", "ipv6"}, w[1])
	case "arp":
		if len(w) == 1 {
			r.count("ip neigh")
			sh.outf("%s", r.showARP())
			if r.profile == VyOS14 || r.profile == VyOS15 {
				sh.outf("\n")
			}
			return 0
		}
		return sh.invalid([]string{"show", "arp"}, w[1])
	case "version":
		if len(w) == 1 {
			sh.outf("%s", r.opShowVersion())
			return 0
		}
		return sh.invalid([]string{"show", "version"}, w[1])
	case "interfaces":
		if len(w) == 1 {
			sh.outf("%s", r.showInterfaces())
			return 0
		}
		return sh.invalid([]string{"show", "interfaces"}, w[1])
	}
	return sh.invalid([]string{"show"}, w[0])
}

// opSetTerminal is vyatta-op templates/set/terminal/*: `length 0` turns
// the pager off (VYATTA_PAGER=cat), another length sets the rows, width
// the columns; `pager` restores the default pager.
func (sh *shell) opSetTerminal(w []string) int {
	if len(w) == 0 {
		return sh.incomplete([]string{"set", "terminal"})
	}
	num := func() (int, bool) {
		if len(w) != 2 {
			return 0, false
		}
		var n int
		if _, err := fmt.Sscanf(w[1], "%d", &n); err != nil || n < 0 {
			return 0, false
		}
		return n, true
	}
	switch w[0] {
	case "length":
		n, ok := num()
		if !ok {
			if len(w) == 1 {
				return sh.incomplete([]string{"set", "terminal", "length"})
			}
			return sh.invalid([]string{"set", "terminal", "length"}, w[1])
		}
		if n == 0 {
			sh.tty.pager = false
		} else {
			sh.tty.rows = n
		}
		return 0
	case "width":
		n, ok := num()
		if !ok {
			if len(w) == 1 {
				return sh.incomplete([]string{"set", "terminal", "width"})
			}
			return sh.invalid([]string{"set", "terminal", "width"}, w[1])
		}
		sh.tty.cols = n
		return 0
	case "pager":
		sh.tty.pager = true
		return 0
	}
	return sh.invalid([]string{"set", "terminal"}, w[0])
}

// ttyState is the terminal of an interactive session: its size and
// whether `show` output goes through the pager.
type ttyState struct {
	rows, cols int
	pager      bool
}

// showConfigCommands is `show configuration commands`. On VyOS it is
// `cli-shell-api showCfg --show-active-only | vyos-config-to-commands`
// (show-configuration.xml.in): vyatta-cfg prints values unescaped, quoted
// only when needed, and vyos1x-config's lexer reads that text back with
// escapes — so a value holding `"` or `'` can break the pipeline, which
// then prints "Could not parse the config file" (vyos-1x
// src/utils/vyos-config-to-commands). On Vyatta 6.5 it is
// vyatta-config-gen-sets.pl (vyatta-cfg scripts/, pacifica), which
// shell-quotes the last word of each statement ('\” for a quote) and drops
// quotes from the others (Vyatta::ConfigLoad applySingleQuote).
func (r *Router) showConfigCommands() (string, string) {
	if r.profile == Vyatta65 {
		var b strings.Builder
		for _, st := range r.active.statements() {
			w := st.words
			head := strings.ReplaceAll(strings.Join(w[:len(w)-1], " "), "'", "")
			b.WriteString("set " + head + " '" + strings.ReplaceAll(w[len(w)-1], "'", `'\''`) + "'\n")
		}
		return b.String(), ""
	}
	paths, err := parseCurly(r.active.curly(r.showDialect()))
	if err != nil {
		return "", fmt.Sprintf("Could not parse the config file: %v\n", err)
	}
	t := r.emptyTree()
	for _, p := range paths {
		if err := t.set(p); err != nil {
			return "", fmt.Sprintf("Could not parse the config file: %s\n", strings.TrimSpace(err.Error()))
		}
	}
	return t.commands(), ""
}

// curlyHidden is curly with vyatta-cfg's --show-hide-secrets: the value of
// a node whose name ends in passphrase, password, pre-shared-secret or key
// printed as sixteen stars (_print_value_str, cnode-algorithm.cpp).
func (t *tree) curlyHidden(d bootDialect) string {
	c := t.clone()
	var hide func(n *cnode, s *snode)
	hide = func(n *cnode, s *snode) {
		for name, k := range n.kids {
			ks := s.kids[name]
			if ks == nil {
				continue
			}
			if (ks.kind == sLeaf || ks.kind == sMulti) && secretName(name) {
				for i := range k.vals {
					k.vals[i] = hiddenSecret
				}
			}
			if ks.kind == sTag {
				for _, v := range k.kids {
					hide(v, ks)
				}
			} else {
				hide(k, ks)
			}
		}
	}
	hide(c.root, c.schema)
	return c.curly(d)
}

// hiddenSecret marks a value printed as sixteen stars, unquoted: the
// printer returns before its quoting test.
const hiddenSecret = "\x00hidden"

func secretName(name string) bool {
	for _, s := range []string{"passphrase", "password", "pre-shared-secret", "key"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// showIPRoute renders `show ip route` from the kernel table, in the layout
// of Quagga's (Vyatta) and FRR's (VyOS) zebra `show ip route`: a codes
// header, then one line per route — type code, selected/FIB markers,
// prefix, [distance/metric], next hop. A guess at the details (route
// uptime is left out, distances are the defaults); no client of the
// operator parses it.
func (r *Router) showIPRoute() string {
	if r.nk != nil {
		r.nk.refresh(r)
	}
	var b strings.Builder
	if r.profile == Vyatta65 {
		b.WriteString("Codes: K - kernel route, C - connected, S - static, R - RIP, O - OSPF,\n" +
			"       I - ISIS, B - BGP, > - selected route, * - FIB route\n\n")
	} else {
		b.WriteString("Codes: K - kernel route, C - connected, S - static, R - RIP,\n" +
			"       O - OSPF, I - IS-IS, B - BGP, E - EIGRP, N - NHRP,\n" +
			"       T - Table, v - VNC, V - VNC-Direct, A - Babel, F - PBR,\n" +
			"       f - OpenFabric,\n" +
			"       > - selected route, * - FIB route, q - queued, r - rejected, b - backup\n" +
			"       t - trapped, o - offload failure\n\n")
	}
	for _, rt := range r.routes {
		if rt.typ != "" || rt.v6() {
			continue
		}
		code, dist := "K", "[0/0]"
		switch rt.proto {
		case "kernel":
			code = "C"
		case "zebra", "static":
			code, dist = "S", "[1/0]"
		}
		hop := "is directly connected, " + rt.dev
		switch {
		case len(rt.hops) > 0:
			hop = "via " + rt.hops[0].gw + ", " + rt.hops[0].dev
		case rt.gw != "":
			hop = "via " + rt.gw + ", " + rt.dev
		}
		if code == "C" {
			fmt.Fprintf(&b, "C>* %s %s\n", rt.dst, hop)
			continue
		}
		fmt.Fprintf(&b, "%s>* %s %s %s\n", code, rt.dst, dist, hop)
	}
	return b.String()
}

// opShowVersion is `show version`: vyos-1x src/op_mode/show_version.py on
// VyOS; on Vyatta 6.5 vyatta-show-version (vyatta-op templates/show/version,
// pacifica), whose layout here is a guess built from the version file.
func (r *Router) opShowVersion() string {
	if r.profile != Vyatta65 {
		return r.showVersion()
	}
	return "Version:      VC6.5R1\nDescription:  Vyatta Core 6.5 R1\nCopyright:    2006-2012 Vyatta, Inc.\n" +
		"Built by:     autobuild@vyatta.com\nBuilt on:     201210220136 -- Mon Oct 22 01:36:00 UTC 2012\n" +
		"Build ID:     1210220136-ea05c09\nSystem type:  Intel 64bit\nBoot via:     image\nHypervisor:   VMware\n"
}

// showInterfaces is `show interfaces`: vyos-1x src/op_mode/interfaces.py
// _format_show_summary (sagitta): '%-16s %-33s %-4s %s' rows of name,
// address ('-' without one), admin/oper state and description, lo first.
// Vyatta 6.5's vyatta-show-interfaces.pl prints the same table (a guess:
// not read).
func (r *Router) showInterfaces() string {
	var b strings.Builder
	row := func(a, b2, c, d string) string { return fmt.Sprintf("%-16s %-33s %-4s %s\n", a, b2, c, d) }
	b.WriteString("Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down\n")
	b.WriteString(row("Interface", "IP Address", "S/L", "Description"))
	b.WriteString(row("---------", "----------", "---", "-----------"))
	b.WriteString(row("lo", "127.0.0.1/8", "u/u", ""))
	b.WriteString(row("", "::1/128", "", ""))
	nics := append([]string{}, r.opts.NICs...)
	sort.Strings(nics)
	for _, dev := range nics {
		addrs, _ := r.active.values([]string{"interfaces", "ethernet", dev, "address"})
		if len(addrs) == 0 {
			addrs = []string{"-"}
		}
		desc, _ := r.active.values([]string{"interfaces", "ethernet", dev, "description"})
		admin, oper := "u", "u"
		if r.active.exists([]string{"interfaces", "ethernet", dev, "disable"}) {
			admin = "A"
		}
		if r.down(dev) {
			oper = "D"
		}
		d := ""
		if len(desc) > 0 {
			d = desc[0]
		}
		for i, a := range addrs {
			if i == 0 {
				b.WriteString(row(dev, a, admin+"/"+oper, d))
			} else {
				b.WriteString(row("", a, "", ""))
			}
		}
	}
	return b.String()
}

// compare is configure mode's `compare`: the session against the active
// configuration as vyatta-cfg's context diff prints it (cnode-algorithm.cpp
// _diff_print_context: "[edit path]" then "+" / "-" statements), or
// config-mgmt's "No changes between working and active configurations."
// (vyos-1x python/vyos/config_mgmt.py compare, sagitta). The grouping of
// changed statements under their parent is a simplification.
func compareTrees(active, work *tree) string {
	type change struct {
		parent, stmt string
		sign         byte
	}
	index := func(t *tree) map[string]stmt {
		m := map[string]stmt{}
		for _, st := range t.statements() {
			m[strings.Join(st.words, "\x00")] = st
		}
		return m
	}
	a, w := index(active), index(work)
	var out []change
	add := func(st stmt, sign byte) {
		n := len(st.words) - 1
		if st.value >= 0 {
			n = st.value - 1
		}
		if n < 0 {
			n = 0
		}
		last := strings.Join(st.words[n:], " ")
		if st.value >= 0 {
			last = st.words[n] + " " + leafValueText(st.words[st.value], dialectVyattaCfg)
		}
		out = append(out, change{strings.Join(st.words[:n], " "), last, sign})
	}
	for k, st := range a {
		if _, ok := w[k]; !ok {
			add(st, '-')
		}
	}
	for k, st := range w {
		if _, ok := a[k]; !ok {
			add(st, '+')
		}
	}
	if len(out) == 0 {
		return "No changes between working and active configurations.\n"
	}
	// A single-value leaf whose value changed is one ">" line with the new
	// value (PFX_DIFF_UPD in _diff_check_and_show_leaf).
	byName := map[string][]int{}
	for i, c := range out {
		name, _, _ := strings.Cut(c.stmt, " ")
		byName[c.parent+"\x00"+name] = append(byName[c.parent+"\x00"+name], i)
	}
	drop := map[int]bool{}
	for key, idx := range byName {
		parent, name, _ := strings.Cut(key, "\x00")
		if len(idx) != 2 || out[idx[0]].sign == out[idx[1]].sign {
			continue
		}
		path := append(strings.Fields(parent), name)
		if work.kindAt(path) != sLeaf {
			continue
		}
		for _, i := range idx {
			if out[i].sign == '+' {
				out[i].sign = '>'
			} else {
				drop[i] = true
			}
		}
	}
	kept := out[:0]
	for i, c := range out {
		if !drop[i] {
			kept = append(kept, c)
		}
	}
	out = kept
	sort.Slice(out, func(i, j int) bool {
		if out[i].parent != out[j].parent {
			return out[i].parent < out[j].parent
		}
		if out[i].sign != out[j].sign {
			return out[i].sign == '-'
		}
		return out[i].stmt < out[j].stmt
	})
	var b strings.Builder
	last := "\x00"
	for _, c := range out {
		if c.parent != last {
			b.WriteString("[edit")
			if c.parent != "" {
				b.WriteString(" " + c.parent)
			}
			b.WriteString("]\n")
			last = c.parent
		}
		b.WriteString(string(c.sign) + c.stmt + "\n")
	}
	return b.String()
}

// routeCommand is net-tools' `route add|del` as the seed's write-up used it
// as root ("route add GW dev eth2", "route add default gw GW"): a host
// route without a gateway gets link scope, as the kernel gives ioctl
// routes (net/ipv4/fib_frontend.c rtentry_to_fib_config).
func (r *Router) routeCommand(args []string) (string, int) {
	if len(args) < 2 || (args[0] != "add" && args[0] != "del") {
		return "Usage: route [-nNvee] [-FC] [<AF>]           List kernel routing tables\n", 4
	}
	spec := []string{}
	target := args[1]
	rest := args[2:]
	if target == "-net" || target == "-host" {
		if len(rest) == 0 {
			return "Usage: route [-nNvee] [-FC] [<AF>]           List kernel routing tables\n", 4
		}
		target, rest = rest[0], rest[1:]
	}
	if target == "default" {
		spec = append(spec, "default")
	} else {
		if _, err := netip.ParseAddr(target); err != nil {
			if _, err := netip.ParsePrefix(target); err != nil {
				return fmt.Sprintf("%s: Unknown host\n", target), 1
			}
		}
		spec = append(spec, target)
	}
	gw := false
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case "gw":
			if i+1 < len(rest) {
				spec = append(spec, "via", rest[i+1])
				gw = true
				i++
			}
		case "dev":
			if i+1 < len(rest) {
				spec = append(spec, "dev", rest[i+1])
				i++
			}
		case "metric":
			if i+1 < len(rest) {
				spec = append(spec, "metric", rest[i+1])
				i++
			}
		default:
			if i == len(rest)-1 && !strings.HasPrefix(rest[i], "-") {
				spec = append(spec, "dev", rest[i])
			}
		}
	}
	if !gw {
		spec = append(spec, "scope", "link")
	}
	if args[0] == "del" {
		if msg, code := r.ipRouteDel(spec); code != 0 {
			_ = msg
			return "SIOCDELRT: No such process\n", 7
		}
		return "", 0
	}
	msg, code := r.ipRouteModify(spec, false)
	switch {
	case code == 0:
		return "", 0
	case strings.Contains(msg, "File exists"):
		return "SIOCADDRT: File exists\n", 7
	case strings.Contains(msg, "Cannot find device"):
		return "SIOCADDRT: No such device\n", 7
	}
	return "SIOCADDRT: Network is unreachable\n", 7
}
