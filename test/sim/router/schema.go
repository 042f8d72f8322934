package routersim

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Per release, from vyos-1x interface-definitions and the migration scripts
// that moved the nodes (branch named):
//   - `firewall name` became `firewall ipv4 name` in 1.4 (firewall/10-to-11,
//     sagitta), and a rule's `state established enable` a multi-value
//     `state established` (include/firewall/state.xml.i, sagitta).
//   - NAT `outbound-interface X` became `outbound-interface name X` in 1.4
//     (nat/5-to-6 then nat/6-to-7, sagitta); the same for inbound.
//   - `protocols static interface-route` became `protocols static route X
//     interface` in 1.4 (quagga/8-to-9, sagitta); the same for
//     interface-route6 and route6 (vyatta-cfg-quagga templates/protocols/
//     static/interface-route6, pacifica and equuleus; vyos-1x
//     include/static/static-route6.xml.i, sagitta).
//   - `system gateway-address` went in 1.2 (a static default route), and
//     `system login user X level` in 1.3 (system/16-to-17, equuleus).
//   - `service https api rest` exists from 1.5 only (the REST API must be
//     enabled; vyos-1x current).
//   - Router advertisements: `service router-advert interface X prefix P`
//     from 1.3 (service_router-advert.xml.in, equuleus to circinus);
//     Vyatta's `interfaces ethernet X ipv6 router-advert prefix P`
//     (vyos-legacy/vyatta-ipv6-rtradv interface-templates/ipv6/
//     router-advert, the Vyatta-era package).
//   - `protocols static neighbor-proxy arp|nd A interface X` and `system
//     sysctl parameter K value V` from 1.4 (protocols_static_neighbor-
//     proxy.xml.in and system_sysctl.xml.in, sagitta and circinus; absent
//     from equuleus).
//
// The configuration templates the simulator knows: enough of the real ones
// to hold the seed's configuration, what the operator renders, and some
// unmanaged configuration to prove it is left alone. One line per node:
//
//	name [kind] [type] [@profiles]
//
// kind: none = plain node, * = tag node (its value has the children),
// = = single-value leaf, + = multi-value leaf, ! = valueless leaf.
const schemaText = `
interfaces
  ethernet * iface
    address + ifaddr
    description = text
    duplex = text
    speed = text
    hw-id = mac
    mtu = num
    disable !
    ipv6 @vyatta-6.5
      router-advert
        prefix * prefix6
          autonomous-flag = text
          on-link-flag = text
        send-advert = text
  loopback * text
    address + ifaddr
protocols
  static
    route * prefix
      next-hop * ipv4
        distance = num
        disable !
      interface * iface @vyos-1.4,vyos-1.5
        distance = num
      blackhole
        distance = num
    interface-route * prefix @vyatta-6.5,vyos-1.3
      next-hop-interface * iface
        distance = num
    route6 * prefix6
      next-hop * ipv6
        interface = iface
        distance = num
        disable !
      interface * iface @vyos-1.4,vyos-1.5
        distance = num
      blackhole
        distance = num
    interface-route6 * prefix6 @vyatta-6.5,vyos-1.3
      next-hop-interface * iface
        distance = num
    neighbor-proxy @vyos-1.4,vyos-1.5
      arp * ipv4
        interface + iface
      nd * ipv6
        interface + iface
nat
  source
    rule * rule
      description = text
      outbound-interface = iface @vyatta-6.5,vyos-1.3
      outbound-interface @vyos-1.4,vyos-1.5
        name = iface
      protocol = text
      source
        address = natnet
        port = text
      destination
        address = natnet
        port = text
      translation
        address = xlat
      exclude !
  destination
    rule * rule
      description = text
      inbound-interface = iface @vyatta-6.5,vyos-1.3
      inbound-interface @vyos-1.4,vyos-1.5
        name = iface
      protocol = text
      source
        address = natnet
      destination
        address = natnet
        port = text
      translation
        address = ipv4
        port = text
      exclude !
system
  host-name = text
  domain-name = text
  gateway-address = ipv4 @vyatta-6.5
  name-server + text
  time-zone = text
  login
    user * text
      authentication
        encrypted-password = text
        plaintext-password = text
        public-keys * text
          key = text
          type = text
      full-name = text
      level = text @vyatta-6.5
  ntp
    server * text
  syslog
    global
      facility * text
        level = text
  config-management
    commit-revisions = num
  console
    device * text
      speed = num
  sysctl @vyos-1.4,vyos-1.5
    parameter * text
      value = text
service
  ssh
    port = num
    listen-address + text
    disable-password-authentication !
  router-advert @vyos-1.3,vyos-1.4,vyos-1.5
    interface * iface
      prefix * prefix6
        no-autonomous-flag !
        no-on-link-flag !
  https @vyos-1.3,vyos-1.4,vyos-1.5
    api
      keys
        id * text
          key = text
      rest ! @vyos-1.5
      strict !
      debug !
    listen-address + text
    certificates
      system-generated-certificate !
firewall
  name * text @vyatta-6.5,vyos-1.3
    default-action = text
    description = text
    rule * rule
      action = text
      description = text
      protocol = text
      state
        established = enable
        related = enable
        invalid = enable
        new = enable
      destination
        address = natnet
        port = text
      source
        address = natnet
  ipv4 @vyos-1.4,vyos-1.5
    name * text
      default-action = text
      description = text
      rule * rule
        action = text
        description = text
        protocol = text
        state + fwstate
        destination
          address = natnet
          port = text
        source
          address = natnet
`

type skind int

const (
	sNode skind = iota
	sTag
	sLeaf
	sMulti
	sFlag
)

// snode is one node of the configuration templates.
type snode struct {
	name string
	kind skind
	typ  string
	kids map[string]*snode
}

// buildSchema keeps the template lines that apply to profile.
func buildSchema(p Profile) *snode {
	root := &snode{kind: sNode, kids: map[string]*snode{}}
	type level struct {
		indent int
		n      *snode
	}
	stack := []level{{-1, root}}
	skipBelow := -1
	for _, line := range strings.Split(schemaText, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if skipBelow >= 0 {
			if indent > skipBelow {
				continue
			}
			skipBelow = -1
		}
		f := strings.Fields(line)
		n := &snode{name: f[0], kind: sNode, kids: map[string]*snode{}}
		keep := true
		for _, w := range f[1:] {
			switch {
			case w == "*":
				n.kind = sTag
			case w == "=":
				n.kind = sLeaf
			case w == "+":
				n.kind = sMulti
			case w == "!":
				n.kind = sFlag
			case strings.HasPrefix(w, "@"):
				keep = false
				for _, q := range strings.Split(w[1:], ",") {
					if Profile(q) == p {
						keep = true
					}
				}
			default:
				n.typ = w
			}
		}
		if !keep {
			skipBelow = indent
			continue
		}
		for stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		stack[len(stack)-1].n.kids[n.name] = n
		stack = append(stack, level{indent, n})
	}
	return root
}

var (
	ifaceRe = regexp.MustCompile(`^(eth|lo|bond|br|dum)[0-9]{0,4}$`)
	macRe   = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
)

// validValue checks a value against its template type, as the real
// templates' val_help/syntax checks do.
func validValue(typ, v string) bool {
	if v == "" || strings.ContainsAny(v, "\n\x00") {
		return false
	}
	switch typ {
	case "iface":
		return ifaceRe.MatchString(v)
	case "ipv4":
		a, err := netip.ParseAddr(v)
		return err == nil && a.Is4()
	case "prefix":
		p, err := netip.ParsePrefix(v)
		return err == nil && p.Addr().Is4() && p.Masked() == p
	case "ifaddr":
		// ipv4net or ipv6net (vyos-1x include/interface/
		// address-ipv4-ipv6-dhcp.xml.i; Vyatta's address node.def).
		if v == "dhcp" || v == "dhcpv6" {
			return true
		}
		p, err := netip.ParsePrefix(v)
		return err == nil && !p.Addr().Is4In6()
	case "ipv6":
		a, err := netip.ParseAddr(v)
		return err == nil && a.Is6() && !a.Is4In6()
	case "prefix6":
		// check_prefix_boundary (Vyatta), ipv6-prefix (VyOS): the network
		// address, no host bits.
		p, err := netip.ParsePrefix(v)
		return err == nil && p.Addr().Is6() && !p.Addr().Is4In6() && p.Masked() == p
	case "natnet":
		v = strings.TrimPrefix(v, "!")
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			return err == nil && p.Addr().Is4()
		}
		a, err := netip.ParseAddr(v)
		return err == nil && a.Is4()
	case "xlat":
		return v == "masquerade" || validValue("natnet", v)
	case "rule":
		n, err := strconv.Atoi(v)
		return err == nil && n >= 1 && n <= 9999
	case "num":
		_, err := strconv.Atoi(v)
		return err == nil
	case "enable":
		return v == "enable" || v == "disable"
	case "fwstate":
		return v == "established" || v == "invalid" || v == "new" || v == "related"
	case "mac":
		return macRe.MatchString(v)
	}
	return true
}

// pathError is vyatta-cfg-run vyatta_cfg_validate_cmd's message: the valid
// part of the path, then the first word the templates refuse in brackets.
func pathError(words []string) string {
	if len(words) > 1 {
		return fmt.Sprintf("\n  Configuration path: %s [%s] is not valid\n", strings.Join(words[:len(words)-1], " "), words[len(words)-1])
	}
	return fmt.Sprintf("\n  Configuration path: [%s] is not valid\n", strings.Join(words, " "))
}
