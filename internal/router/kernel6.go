package router

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// IPv6 reads. The route listings are the same formats as IPv4's and go
// through ParseRoutesJSON and ParseRoutesText (test/kernel captures both
// families from a real kernel); neighbour discovery adds a text listing,
// because Vyatta 6.5 has neither `ip -j` nor an IPv6 /proc/net/arp, and
// VyOS 1.3's `show ipv6 neighbors` prints iproute2's text.
//
// Where each comes from:
//   - SSH on VyOS: `ip -j -6 route show table main`, `ip -j -6 neigh show dev D`.
//   - SSH on Vyatta 6.5: `ip -6 route show table main`, `ip -6 neigh show dev D`.
//   - HTTP API: `show ipv6 route forward` is `ip -f inet6 route list` on 1.3,
//     1.4 and 1.5 (vyos-1x op-mode-definitions/show-ipv6-route.xml.in, branches
//     equuleus, sagitta, circinus). `show ipv6 neighbors` is `ip -f inet6 neigh
//     list` on 1.3 (equuleus op-mode-definitions/ipv6-route.xml.in) and, from
//     1.4 on, src/op_mode/neighbor.py `show --family inet6`: `ip --family inet6
//     --json neighbor list` printed through tabulate with the headers Address,
//     Interface, Link layer address, State — the table `show arp` prints there.
//     (`show ipv6 route` without `forward` is FRR's RIB through vtysh, not the
//     kernel's table, which is where the gateway-less default shows.)

const (
	cmdRoutes6JSON = "ip -j -6 route show table main"
	cmdRoutes6Text = "ip -6 route show table main"
)

// cmdNeigh6 lists the IPv6 neighbours of dev: JSON where iproute2 has -j.
func cmdNeigh6(json bool, dev string) string {
	cmd := "ip -6 neigh show"
	if json {
		cmd = "ip -j -6 neigh show"
	}
	if dev != "" {
		cmd += " dev " + dev
	}
	return cmd
}

// parseRoutes6 reads cmdRoutes6JSON or cmdRoutes6Text output.
func parseRoutes6(json bool, out string) ([]Route, error) {
	if json {
		return ParseRoutesJSON([]byte(out))
	}
	return ParseRoutesText(out)
}

// parseNeigh6 reads cmdNeigh6 output.
func parseNeigh6(json bool, out, dev string) ([]Neighbour, error) {
	if json {
		return ParseNeighboursJSON([]byte(out), dev)
	}
	return ParseNeighboursText(out, dev)
}

func (d *sshDriver) Routes6(ctx context.Context) (_ []Route, err error) {
	defer observe("Routes6", time.Now(), &err)
	p, err := d.platform(ctx)
	if err != nil {
		return nil, err
	}
	cmd := cmdRoutes6Text
	if p.HasJSONIproute() {
		cmd = cmdRoutes6JSON
	}
	out, err := d.readLines(ctx, "Routes6", cmd)
	if err != nil {
		return nil, err
	}
	rs, err := parseRoutes6(p.HasJSONIproute(), out)
	if err != nil {
		return nil, unexpected("Routes6", "unparsable "+cmd+" output", out, err)
	}
	return rs, nil
}

func (d *sshDriver) Neighbours6(ctx context.Context, dev string) (_ []Neighbour, err error) {
	defer observe("Neighbours6", time.Now(), &err)
	if dev != "" && !devName.MatchString(dev) {
		return nil, invalid("Neighbours6", fmt.Sprintf("bad interface name %q", dev), nil)
	}
	p, err := d.platform(ctx)
	if err != nil {
		return nil, err
	}
	cmd := cmdNeigh6(p.HasJSONIproute(), dev)
	out, err := d.readLines(ctx, "Neighbours6", cmd)
	if err != nil {
		return nil, err
	}
	ns, err := parseNeigh6(p.HasJSONIproute(), out, dev)
	if err != nil {
		return nil, unexpected("Neighbours6", "unparsable "+cmd+" output", out, err)
	}
	return ns, nil
}

func (d *sshDriver) FlushNeighbours6(ctx context.Context, dev string) (err error) {
	defer observe("FlushNeighbours6", time.Now(), &err)
	if !devName.MatchString(dev) {
		return invalid("FlushNeighbours6", fmt.Sprintf("bad interface name %q", dev), nil)
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.addr), "FlushNeighbours6")
	if err != nil {
		return err
	}
	defer unlock()
	res, err := d.run(ctx, "FlushNeighbours6", "sudo ip -6 neigh flush dev "+dev, "")
	if err != nil {
		return err
	}
	if res.exit != 0 {
		return invalid("FlushNeighbours6", "ip -6 neigh flush failed: "+sanitize(res.output()), nil)
	}
	return nil
}

func (d *apiDriver) Routes6(ctx context.Context) (_ []Route, err error) {
	defer observe("Routes6", time.Now(), &err)
	text, err := d.show(ctx, "Routes6", "ipv6", "route", "forward")
	if err != nil {
		return nil, err
	}
	rs, err := ParseRoutesText(text)
	if err != nil {
		return nil, unexpected("Routes6", "unparsable show ipv6 route forward output", text, err)
	}
	return rs, nil
}

func (d *apiDriver) Neighbours6(ctx context.Context, dev string) (_ []Neighbour, err error) {
	defer observe("Neighbours6", time.Now(), &err)
	text, err := d.show(ctx, "Neighbours6", "ipv6", "neighbors")
	if err != nil {
		return nil, err
	}
	ns, err := ParseShowIPv6Neighbors(text, dev)
	if err != nil {
		return nil, unexpected("Neighbours6", "unparsable show ipv6 neighbors output", text, err)
	}
	return ns, nil
}

func (d *apiDriver) FlushNeighbours6(ctx context.Context, dev string) (err error) {
	defer observe("FlushNeighbours6", time.Now(), &err)
	if !devName.MatchString(dev) {
		return invalid("FlushNeighbours6", fmt.Sprintf("bad interface name %q", dev), nil)
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.base.Host), "FlushNeighbours6")
	if err != nil {
		return err
	}
	defer unlock()
	// `reset ipv6 neighbors interface D`: `ip -f inet6 neigh flush dev D`
	// on 1.3 (equuleus op-mode-definitions/ipv6-route.xml.in), neighbor.py
	// reset --family inet6 --interface D from 1.4 (sagitta).
	_, err = d.ok(ctx, "FlushNeighbours6", "/reset", map[string]any{"op": "reset", "path": []string{"ipv6", "neighbors", "interface", dev}})
	return err
}

// ParseNeighboursText parses `ip neigh show [dev D]` text of any family and
// iproute2 version: "ADDR [dev D] [lladdr MAC] [router] [proxy] STATE...",
// where dev is left out when the listing was filtered by device (dev fills
// it in) and lladdr for entries that never resolved (ip/ipneigh.c
// print_neigh; test/kernel captures iproute2 6.1's layout, the trailing
// space included).
func ParseNeighboursText(text, dev string) ([]Neighbour, error) {
	var out []Neighbour
	for n, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if _, err := netip.ParseAddr(f[0]); err != nil {
			return nil, fmt.Errorf("ip neigh line %d: bad address %q", n+1, f[0])
		}
		nb := Neighbour{IP: f[0], Dev: dev}
		var states []string
		for i := 1; i < len(f); i++ {
			val := func() (string, error) {
				if i+1 >= len(f) {
					return "", fmt.Errorf("ip neigh line %d: %q without value", n+1, f[i])
				}
				i++
				return f[i], nil
			}
			var err error
			switch w := f[i]; w {
			case "dev":
				nb.Dev, err = val()
			case "lladdr":
				nb.MAC, err = val()
				nb.MAC = strings.ToLower(nb.MAC)
			case "router":
				nb.Router = true
			case "used", "probes", "vrf", "protocol":
				_, err = val()
			case "proxy", "extern_learn", "offload", "managed", "extern_valid":
			case "INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "NOARP", "PERMANENT", "NONE":
				states = append(states, w)
			default:
				return nil, fmt.Errorf("ip neigh line %d: unknown word %q", n+1, w)
			}
			if err != nil {
				return nil, err
			}
		}
		if nb.Dev == "" {
			return nil, fmt.Errorf("ip neigh line %d: no device", n+1)
		}
		nb.State = strings.Join(states, ",")
		out = append(out, nb)
	}
	return filterDev(out, dev), nil
}

// ParseShowIPv6Neighbors parses the HTTP API's `show ipv6 neighbors` in
// either form: iproute2's text on VyOS 1.3, neighbor.py's tabulate table
// (Address / Interface / Link layer address / State) from 1.4 on. The table
// has no column for the router flag.
func ParseShowIPv6Neighbors(text, dev string) ([]Neighbour, error) {
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "Address") {
			if !strings.Contains(t, "Link layer address") {
				return nil, fmt.Errorf("show ipv6 neighbors: unknown header %q", firstLine(t))
			}
			lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
			for i, x := range lines {
				if strings.HasPrefix(strings.TrimSpace(x), "Address") {
					ns, err := parseNeighTable(lines[i+1:], dev)
					if err != nil {
						return nil, fmt.Errorf("show ipv6 neighbors: %w", err)
					}
					return ns, nil
				}
			}
		}
		break
	}
	return ParseNeighboursText(text, dev)
}
