package router

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// NDP proxy entries: the kernel's IPv6 proxy neighbour table, which makes
// the router answer neighbour solicitations on the WAN for addresses
// behind it. VyOS 1.4+ fills it from `protocols static neighbor-proxy nd`
// (render.go renderNDPProxy) but only when that node changes, so an entry
// lost by hand stays lost: read it, and put it back with `ip -6 neigh
// replace proxy`, which succeeds whether or not the entry exists.
//
// Only SSH can read it: no op-mode command of VyOS 1.3–1.5 lists proxy
// entries (`show ipv6 neighbors` is `ip neigh list`, which never shows
// them), so over the HTTP API the configuration is all there is to check.

// cmdNDPProxies lists dev's proxy entries; the output, as captured from
// Linux 6.x with iproute2 6.1 in a network namespace, is one "ADDR proxy "
// line per entry (with "dev D " after ADDR when no device is named).
func cmdNDPProxies(dev string) string { return "ip -6 neigh show proxy dev " + dev }

// ParseNDPProxies reads `ip -6 neigh show proxy [dev D]` output into the
// proxied addresses, canonical.
func ParseNDPProxies(out string) ([]string, error) {
	var addrs []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[len(f)-1] != "proxy" || len(f) != 2 && !(len(f) == 4 && f[1] == "dev") {
			return nil, fmt.Errorf("not a proxy entry: %q", line)
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			return nil, fmt.Errorf("not an address: %q", f[0])
		}
		addrs = append(addrs, a.String())
	}
	return addrs, nil
}

func (d *sshDriver) NDPProxies(ctx context.Context, dev string) (_ []string, err error) {
	defer observe("NDPProxies", time.Now(), &err)
	if !devName.MatchString(dev) {
		return nil, invalid("NDPProxies", fmt.Sprintf("bad interface name %q", dev), nil)
	}
	out, err := d.readLines(ctx, "NDPProxies", cmdNDPProxies(dev))
	if err != nil {
		return nil, err
	}
	addrs, err := ParseNDPProxies(out)
	if err != nil {
		return nil, unexpected("NDPProxies", "unparsable "+cmdNDPProxies(dev)+" output", out, err)
	}
	return addrs, nil
}

func (d *sshDriver) AddNDPProxies(ctx context.Context, dev string, addrs []string) (err error) {
	if len(addrs) == 0 {
		return nil
	}
	defer observe("AddNDPProxies", time.Now(), &err)
	if !devName.MatchString(dev) {
		return invalid("AddNDPProxies", fmt.Sprintf("bad interface name %q", dev), nil)
	}
	var steps []string
	for _, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Is4In6() {
			return invalid("AddNDPProxies", fmt.Sprintf("%q is not an IPv6 address", s), nil)
		}
		steps = append(steps, "sudo "+shellLine("ip", "-6", "neigh", "replace", "proxy", a.String(), "dev", dev))
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.addr), "AddNDPProxies")
	if err != nil {
		return err
	}
	defer unlock()
	script := strings.Join(steps, " && \\\n") + "\n" + `echo "` + markStatus + `$?"` + "\n"
	res, err := d.run(ctx, "AddNDPProxies", plainShell, script)
	if err != nil {
		return err
	}
	text, status, saw, _ := stripMarkers(res.stdout+"\n"+res.stderr, markStatus)
	if !saw || status != 0 {
		return invalid("AddNDPProxies", "ip -6 neigh replace proxy failed: "+sanitize(text), nil)
	}
	return nil
}

func (d *apiDriver) NDPProxies(context.Context, string) ([]string, error) {
	return nil, cause.New(cause.CapabilityMissing, system, "NDPProxies",
		"the VyOS HTTP API has no command listing NDP proxy entries (use the ssh driver to check them)", nil)
}

func (d *apiDriver) AddNDPProxies(context.Context, string, []string) error {
	return d.noShell("AddNDPProxies")
}
