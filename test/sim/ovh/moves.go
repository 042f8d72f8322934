package ovhsim

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// OVH's three rules for moving a block that carries virtual MACs (github
// ovh/docs, branch develop, pages/bare_metal_cloud/dedicated_servers/
// move-failover-ip/guide.en-gb.md, "Instructions"; the same in every
// language of the guide):
//
//   - "blocks containing duplicate virtual MAC addresses cannot be moved.
//     You must first delete the duplicate virtual MAC address on the block
//     to be moved": a virtual MAC that also carries addresses outside the
//     block would have to be on both servers. Refused when the move is
//     asked for; OVH's status and text for the API are not published: a
//     guess, configurable (Options.DuplicateVirtualMACError).
//   - a move that would take the destination over its virtual MAC quota
//     (vmac.quota of GET .../specifications/network, ovhcloud-cli's
//     baremetal.json) is refused: the rule is the project's reading of the
//     guide (issue 13), its status and text a guess, configurable
//     (Options.VirtualMACQuotaError).
//   - "When an IP block containing unique virtual MAC addresses is moved
//     between two servers, those addresses are temporarily suspended. They
//     will appear on the new server once the move is complete": the
//     block's addresses leave their virtual MACs when the move starts (a
//     MAC left without address is no longer listed) and are bound to the
//     same MACs on the destination when the task is done, after
//     Options.VirtualMACReappearDelay (how long that takes is not
//     published: a guess, zero by default).

// appearing is a move's virtual MACs on their way to a server.
type appearing struct {
	at     time.Time
	server string
	macs   []*vmac
}

// blockMACs are the virtual MACs of the server a block is routed to that
// carry (or are being bound to) an address of the block.
func (s *Server) blockMACs(b *ipBlock) []*vmac {
	src := s.st.servers[b.routedTo]
	if src == nil {
		return nil
	}
	var out []*vmac
	for _, m := range sortedKeys(src.macs) {
		v := src.macs[m]
		for _, set := range []map[string]string{v.addrs, v.binding} {
			if inBlock(b, set) != nil {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// inBlock returns the addresses of set inside b.
func inBlock(b *ipBlock, set map[string]string) []string {
	var out []string
	for ip := range set {
		if b.prefix.Contains(netip.MustParseAddr(ip)) {
			out = append(out, ip)
		}
	}
	sort.Strings(out)
	return out
}

// checkMoveRules applies the duplicate and quota rules to a move of b to
// dest, before any task is created.
func (s *Server) checkMoveRules(b *ipBlock, dest *dedicated) *reply {
	macs := s.blockMACs(b)
	for _, v := range macs {
		var outside []string
		for ip := range v.addrs {
			if !b.prefix.Contains(netip.MustParseAddr(ip)) {
				outside = append(outside, ip)
			}
		}
		if len(outside) == 0 {
			continue
		}
		sort.Strings(outside)
		e := s.opts.DuplicateVirtualMACError
		msg := e.Message
		if msg == "" {
			msg = fmt.Sprintf("The virtual MAC %s of block %s is also used by %s: delete the duplicate virtual MAC on the block before moving it",
				v.mac, b.prefix, strings.Join(outside, ", "))
		}
		r := apiError(e.Status, msg)
		return &r
	}
	if len(macs) > 0 && len(dest.macs)+len(macs) > dest.vmacQuota {
		e := s.opts.VirtualMACQuotaError
		msg := e.Message
		if msg == "" {
			msg = fmt.Sprintf("Server %s would exceed its virtual MAC quota (%d in use, %d more with block %s, quota %d)",
				dest.name, len(dest.macs), len(macs), b.prefix, dest.vmacQuota)
		}
		r := apiError(e.Status, msg)
		return &r
	}
	return nil
}

// suspendBlockMACs takes the block's addresses off the virtual MACs of the
// server it is routed to and returns them, as MACs carrying only those
// addresses; a MAC left with no address is no longer listed. Bindings in
// flight for the block's addresses are dropped: their tasks then fail.
func (s *Server) suspendBlockMACs(b *ipBlock) []*vmac {
	src := s.st.servers[b.routedTo]
	if src == nil {
		return nil
	}
	var out []*vmac
	for _, v := range s.blockMACs(b) {
		moved := &vmac{mac: v.mac, typ: v.typ, addrs: map[string]string{}, binding: map[string]string{}}
		for _, ip := range inBlock(b, v.addrs) {
			moved.addrs[ip] = v.addrs[ip]
			delete(v.addrs, ip)
		}
		for _, ip := range inBlock(b, v.binding) {
			delete(v.binding, ip)
		}
		if len(moved.addrs) > 0 {
			out = append(out, moved)
		}
		if len(v.addrs) == 0 && len(v.binding) == 0 && !v.creating {
			delete(src.macs, v.mac)
		}
	}
	return out
}

// landMACs binds suspended addresses to their MACs on a server, creating
// the MACs there when needed.
func (s *Server) landMACs(server string, macs []*vmac) {
	d := s.st.servers[server]
	if d == nil {
		return
	}
	for _, m := range macs {
		v := d.macs[m.mac]
		if v == nil {
			v = &vmac{mac: m.mac, typ: m.typ, addrs: map[string]string{}, binding: map[string]string{}}
			d.macs[m.mac] = v
		}
		for ip, vm := range m.addrs {
			v.addrs[ip] = vm
		}
	}
}

// landDue lands the MACs whose delay has passed. Called by tick.
func (s *Server) landDue(now time.Time) {
	kept := s.st.appearing[:0]
	for _, a := range s.st.appearing {
		if now.Before(a.at) {
			kept = append(kept, a)
			continue
		}
		s.landMACs(a.server, a.macs)
	}
	s.st.appearing = kept
}

// moving reports whether addr lies in a block whose move is under way:
// OVH does not bind a virtual MAC to it meanwhile (status and text a
// guess, the same as a second move's).
func (s *Server) moving(addr netip.Addr) *reply {
	if b := s.st.blockOf(addr); b != nil && b.moveTask != 0 {
		r := apiError(http.StatusConflict, "A move task is already in progress on this IP")
		return &r
	}
	return nil
}
