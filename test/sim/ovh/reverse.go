package ovhsim

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Reverse DNS (PTR) of the addresses of an IP block: GET and POST
// /ip/{ip}/reverse, GET and DELETE /ip/{ip}/reverse/{ipReverse}, shaped as
// ip.ReverseIp {ipReverse, reverse} (github ovh/ovhcloud-cli, branch main,
// internal/assets/api-schemas/ip.json). {ip} is the block, {ipReverse} one
// address of it (github ovh/terraform-provider-ovh, branch master,
// ovh/resource_ip_reverse.go: "ip" is the block the address belongs to).

// fqdn writes a name as OVH serves a reverse: fully qualified, with its
// trailing dot, whether or not it was sent with one. Sources: OVH's control
// panel mocks a reverse read as "reverse.ovh.fr." (github ovh/manager,
// packages/manager/apps/ips/src/__mocks__/ip/ip.handler.ts); OVH's own
// refusal texts quote the name with a dot the user did not type
// (github ovh/terraform-provider-ovh#54: "example.com. does not resolve to
// 192.0.2.42" for reverse "example.com"). Whether OVH also lower-cases it
// is not known: the case is kept.
func fqdn(name string) string {
	name = strings.TrimSpace(name)
	if name == "" || strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// dnsKey is how forward DNS looks a name up: case-insensitive, with or
// without its trailing dot.
func dnsKey(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}

func (st *state) setDNS(name string, addrs ...string) error {
	key := dnsKey(name)
	if key == "" {
		return fmt.Errorf("DNS record without a name")
	}
	if len(addrs) == 0 {
		delete(st.dns, key)
		return nil
	}
	var out []string
	for _, a := range addrs {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("DNS record %s: %q is not an IP address", name, a)
		}
		out = append(out, addr.String())
	}
	slices.Sort(out)
	st.dns[key] = slices.Compact(out)
	return nil
}

// reverseAddress parses {ipReverse} (or the body's ipReverse) and checks it
// is an address of block b.
func reverseAddress(b *ipBlock, raw, field string) (netip.Addr, *reply) {
	addr, err := netip.ParseAddr(raw)
	if err != nil {
		r := badRequest(fmt.Sprintf("[%s] Given data (%s) is not valid for type ip", field, raw))
		return netip.Addr{}, &r
	}
	if !b.prefix.Contains(addr) {
		// Guess: OVH's status and text for an address outside the block
		// of the path are not known.
		r := badRequest(fmt.Sprintf("The IP %s is not in the block %s", addr, b.prefix))
		return netip.Addr{}, &r
	}
	return addr, nil
}

func (s *Server) listReverses(c *call) reply {
	b, errRep := s.lookupIP(c)
	if errRep != nil {
		return *errRep
	}
	out := []string{}
	for _, ip := range sortedKeys(s.st.reverses) {
		if b.prefix.Contains(netip.MustParseAddr(ip)) {
			out = append(out, ip)
		}
	}
	return ok(out)
}

// createReverse is POST /ip/{ip}/reverse. It sets or replaces the reverse
// of an address: OVH's control panel changes a reverse with this same POST,
// without deleting the old one first (github ovh/manager, packages/manager/
// modules/bm-server-components/src/server/server.service.js updateReverse;
// github synthesio/infra-ovh-ansible-module, plugins/modules/ip_reverse.py). OVH refuses a name that does not resolve
// to the address, with a 400 in one of two wordings, both quoted from real
// answers: "Cannot check if www.mydomain.ovh. resolves to 1.2.3.4" for a
// name it cannot resolve (github ovh/terraform-provider-ovh#1020, 2025),
// and "example.com. does not resolve to 192.0.2.42" for a name resolving
// elsewhere (github ovh/terraform-provider-ovh#54, 2018; that provider now
// retries every 400 of this call for a minute, ovh/resource_ip_reverse.go,
// to wait for the A record's propagation). Which wording OVH uses in which
// case today is a guess; the simulator answers the first for a name its
// DNS table lacks and the second for one resolving to other addresses.
func (s *Server) createReverse(c *call) reply {
	b, errRep := s.lookupIP(c)
	if errRep != nil {
		return *errRep
	}
	var req struct {
		IPReverse string `json:"ipReverse"`
		Reverse   string `json:"reverse"`
	}
	if r := c.decode(&req); r != nil {
		return *r
	}
	switch {
	case req.IPReverse == "":
		return badRequest("Missing parameter(s): ipReverse")
	case strings.TrimSpace(req.Reverse) == "":
		return badRequest("Missing parameter(s): reverse")
	}
	addr, errRep := reverseAddress(b, req.IPReverse, "ipReverse")
	if errRep != nil {
		return *errRep
	}
	name := fqdn(req.Reverse)
	resolved, known := s.st.dns[dnsKey(name)]
	switch {
	case !known:
		return apiError(http.StatusBadRequest, fmt.Sprintf("Cannot check if %s resolves to %s", name, addr))
	case !slices.Contains(resolved, addr.String()):
		return apiError(http.StatusBadRequest, fmt.Sprintf("%s does not resolve to %s", name, addr))
	}
	s.st.reverses[addr.String()] = name
	return ok(map[string]any{"ipReverse": addr.String(), "reverse": name})
}

func (s *Server) getReverse(c *call) reply {
	b, errRep := s.lookupIP(c)
	if errRep != nil {
		return *errRep
	}
	addr, errRep := reverseAddress(b, c.params["ipReverse"], "ipReverse")
	if errRep != nil {
		return *errRep
	}
	name, found := s.st.reverses[addr.String()]
	if !found {
		return objectNotFound("ipReverse", addr.String())
	}
	return ok(map[string]any{"ipReverse": addr.String(), "reverse": name})
}

func (s *Server) deleteReverse(c *call) reply {
	b, errRep := s.lookupIP(c)
	if errRep != nil {
		return *errRep
	}
	addr, errRep := reverseAddress(b, c.params["ipReverse"], "ipReverse")
	if errRep != nil {
		return *errRep
	}
	if _, found := s.st.reverses[addr.String()]; !found {
		return objectNotFound("ipReverse", addr.String())
	}
	delete(s.st.reverses, addr.String())
	return ok(nil)
}

// SetDNS makes name resolve to addrs (none: the name no longer resolves),
// as the owner of the domain would with A records.
func (s *Server) SetDNS(name string, addrs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.setDNS(name, addrs...)
}

// SetReverse changes an address's reverse at once, without OVH's check, as
// if someone had changed it in the OVH manager; "" removes it.
func (s *Server) SetReverse(ip, name string) error {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return fmt.Errorf("%q is not an IP address", ip)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.blockOf(addr) == nil {
		return fmt.Errorf("no IP block holds %s", addr)
	}
	if name == "" {
		delete(s.st.reverses, addr.String())
		return nil
	}
	s.st.reverses[addr.String()] = fqdn(name)
	return nil
}

// ReverseOf returns an address's reverse as OVH serves it, "" for none.
func (s *Server) ReverseOf(ip string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.reverses[ip]
}
