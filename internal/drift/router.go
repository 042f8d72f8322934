package drift

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"

	"github.com/ovhbridge/ovhbridge-operator/internal/router"
)

// DefaultARPFloodThreshold is the number of off-link WAN neighbour entries
// above which a table is called flooded when the spec sets no threshold. A
// healthy /32 WAN has one entry (the gateway) plus the odd WAN-side VM.
const DefaultARPFloodThreshold = 10

// RouterWAN is the uplink the checks are about.
type RouterWAN struct {
	Interface string // eth2
	Gateway   string // 198.51.100.254
}

func (w RouterWAN) wantDefault() string {
	return fmt.Sprintf("default via %s dev %s", w.Gateway, w.Interface)
}

// RouterObservedRoutes picks, from the main table, the default route the
// kernel uses (lowest metric) and the on-link route to the gateway on the
// WAN; either may be nil.
func RouterObservedRoutes(routes []router.Route, wan RouterWAN) (def, gw *router.Route) {
	for i := range routes {
		r := routes[i]
		if r.IsDefault() && (def == nil || r.Metric < def.Metric) {
			def = &routes[i]
		}
		if strings.TrimSuffix(r.Dst, "/32") == wan.Gateway && r.Dev == wan.Interface && r.Gateway == "" &&
			(gw == nil || r.Metric < gw.Metric) {
			gw = &routes[i]
		}
	}
	return def, gw
}

// RouterRoutes checks the default route and the route to the gateway:
// the default must go via the gateway on the WAN; a default without a
// gateway is the Quagga bug (every destination becomes on-link); and the
// gateway, off-link for a /32 WAN address, needs an on-link route on the WAN
// — or, as FRR installs it, the onlink flag on the default route itself.
func RouterRoutes(routes []router.Route, wan RouterWAN) []Finding {
	def, gw := RouterObservedRoutes(routes, wan)
	var out []Finding
	switch {
	case def == nil:
		out = append(out, Finding{
			Reason: v1.ReasonGatewayRouteMissing, Field: "routes.default", Expected: wan.wantDefault(), Observed: "none",
			Message: "there is no default route: nothing beyond the OVH gateway is reachable",
		})
	case def.Gateway == "":
		out = append(out, Finding{
			Reason: v1.ReasonDefaultRouteWithoutGateway, Field: "routes.default", Expected: wan.wantDefault(), Observed: def.String(),
			Message: fmt.Sprintf("the default route has no gateway (%s): the kernel treats every destination as on-link and ARPs for each one, "+
				"which OVH sees as an ARP flood; this is Quagga's handling of interface-route + gateway-address on Vyatta 6 "+
				"(use gatewayRouteMode BootScript)", def.String()),
		})
	case def.Gateway != wan.Gateway || def.Dev != wan.Interface:
		out = append(out, Finding{
			Reason: v1.ReasonGatewayRouteMissing, Field: "routes.default", Expected: wan.wantDefault(), Observed: def.String(),
			Message: fmt.Sprintf("the default route is %s, not via the OVH gateway %s on %s", def.String(), wan.Gateway, wan.Interface),
		})
	}
	onlinkDefault := def != nil && def.Gateway == wan.Gateway && def.Dev == wan.Interface && def.HasFlag("onlink")
	if gw == nil && !onlinkDefault {
		out = append(out, Finding{
			Reason: v1.ReasonGatewayRouteMissing, Field: "routes.gateway", Expected: fmt.Sprintf("%s dev %s scope link", wan.Gateway, wan.Interface), Observed: "none",
			Message: fmt.Sprintf("no on-link route to the gateway %s on %s: a /32 WAN address has no subnet, so the kernel cannot reach the gateway without one", wan.Gateway, wan.Interface),
		})
	}
	return out
}

// NeighbourSummary describes the WAN neighbour table for status.
type NeighbourSummary struct {
	Interface string
	Entries   int
	// OffLink counts entries other than the gateway: a /32 WAN address has
	// no on-link peers, so each is a destination the kernel ARPed for.
	OffLink int
	// GatewayState is the gateway entry's state, or "Missing".
	GatewayState string
	GatewayMAC   string
	// DominantMAC is the MAC most off-link entries share (under the bug:
	// the gateway's, answering by proxy-ARP) and DominantMACEntries how many.
	DominantMAC        string
	DominantMACEntries int
}

// GatewayMissing is the GatewayState of a table without a gateway entry.
const GatewayMissing = "Missing"

// SummariseNeighbours counts the WAN neighbour table.
func SummariseNeighbours(ns []router.Neighbour, wan RouterWAN) NeighbourSummary {
	s := NeighbourSummary{Interface: wan.Interface, GatewayState: GatewayMissing}
	macs := map[string]int{}
	for _, n := range ns {
		if n.Dev != wan.Interface {
			continue
		}
		s.Entries++
		if n.IP == wan.Gateway {
			s.GatewayState, s.GatewayMAC = n.State, n.MAC
			continue
		}
		s.OffLink++
		if n.MAC != "" {
			macs[n.MAC]++
		}
	}
	keys := make([]string, 0, len(macs))
	for m := range macs {
		keys = append(keys, m)
	}
	sort.Strings(keys)
	for _, m := range keys {
		if macs[m] > s.DominantMACEntries {
			s.DominantMAC, s.DominantMACEntries = m, macs[m]
		}
	}
	return s
}

// RouterNeighbours checks the WAN neighbour table: ARPFlood when the
// off-link entries exceed threshold (DefaultARPFloodThreshold if <= 0) and
// most of them share one MAC; GatewayARPMissing when off-link entries exist
// but the gateway has no usable entry — traffic is not going through it. A
// missing gateway entry on its own may just have aged out and is not drift.
func RouterNeighbours(ns []router.Neighbour, wan RouterWAN, threshold int) (NeighbourSummary, []Finding) {
	if threshold <= 0 {
		threshold = DefaultARPFloodThreshold
	}
	s := SummariseNeighbours(ns, wan)
	var out []Finding
	if s.OffLink > threshold && 2*s.DominantMACEntries > s.OffLink {
		who := "one MAC"
		if s.DominantMAC == s.GatewayMAC && s.GatewayMAC != "" {
			who = "the gateway's MAC"
		}
		out = append(out, Finding{
			Reason: v1.ReasonARPFlood, Field: fmt.Sprintf("neighbours[%s]", wan.Interface),
			Expected: fmt.Sprintf("at most %d off-link entries", threshold),
			Observed: fmt.Sprintf("%d off-link entries, %d with MAC %s", s.OffLink, s.DominantMACEntries, s.DominantMAC),
			Message: fmt.Sprintf("%d neighbour entries on %s are for off-link addresses and %d of them share %s %s: "+
				"the router ARPs for every destination instead of sending to the gateway", s.OffLink, wan.Interface, s.DominantMACEntries, who, s.DominantMAC),
		})
	}
	if s.OffLink > 0 && !gatewayResolved(ns, wan) {
		out = append(out, Finding{
			Reason: v1.ReasonGatewayARPMissing, Field: fmt.Sprintf("neighbours[%s].gateway", wan.Interface),
			Expected: wan.Gateway + " resolved", Observed: s.GatewayState,
			Message: fmt.Sprintf("the gateway %s has no resolved neighbour entry on %s while %d off-link addresses do: traffic is not being sent through the gateway",
				wan.Gateway, wan.Interface, s.OffLink),
		})
	}
	return s, out
}

func gatewayResolved(ns []router.Neighbour, wan RouterWAN) bool {
	for _, n := range ns {
		if n.Dev == wan.Interface && n.IP == wan.Gateway && n.Resolved() {
			return true
		}
	}
	return false
}

// Boot script states, as status.bootScript.state reports them.
const (
	BootScriptNotRequired   = "NotRequired"
	BootScriptPresent       = "Present"
	BootScriptMissing       = "Missing"
	BootScriptNotExecutable = "NotExecutable"
	BootScriptOutdated      = "Outdated"
)

// RouterBootScript checks the boot script against the managed block the spec
// renders (empty when the gateway route mode needs no boot script): it must
// exist, be executable (the platform skips it otherwise) and hold exactly
// that block. Without it the gateway routes vanish at the next reboot.
func RouterBootScript(bs router.BootScript, wantBlock string) (string, []Finding) {
	if wantBlock == "" {
		return BootScriptNotRequired, nil
	}
	find := func(state, observed, why string) (string, []Finding) {
		return state, []Finding{{
			Reason: v1.ReasonBootScriptMissing, Field: "bootScript", Expected: "present, executable, with the managed gateway routes",
			Observed: observed, Message: fmt.Sprintf("the boot script %s %s: the gateway routes will not come back after a reboot", bs.Path, why),
		}}
	}
	if !bs.Present {
		return find(BootScriptMissing, "absent", "is missing")
	}
	if !bs.Executable {
		return find(BootScriptNotExecutable, "not executable", "is not executable, so the router skips it at boot")
	}
	got, ok := router.ExtractBootScriptBlock(bs.Content)
	if !ok {
		return find(BootScriptOutdated, "no managed block", "lacks the operator's managed block")
	}
	if got != wantBlock {
		return find(BootScriptOutdated, "managed block differs", "holds a managed block that differs from the spec")
	}
	return BootScriptPresent, nil
}

// RouterSavedConfig compares the running and saved owned configuration
// (both already limited to the owned paths): any difference is lost on
// reboot.
func RouterSavedConfig(running, saved router.Config) []Finding {
	if running.Equal(saved) {
		return nil
	}
	added, lost := running.Minus(saved), saved.Minus(running)
	var obs []string
	for _, p := range added {
		obs = append(obs, "unsaved: "+p.String())
	}
	for _, p := range lost {
		obs = append(obs, "saved only: "+p.String())
	}
	return []Finding{{
		Reason: v1.ReasonUnsavedConfig, Field: "config.saved", Expected: "saved configuration equals running (hash " + running.Hash() + ")",
		Observed: summarise(obs, 5),
		Message: fmt.Sprintf("%d owned statement(s) differ between the running configuration and config.boot: a reboot would undo them",
			len(added)+len(lost)),
	}}
}

// RouterNATRules reports every NAT rule of desired whose statements are not
// all in running.
func RouterNATRules(running, desired router.Config) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, p := range desired {
		if len(p) < 4 || p[0] != "nat" || p[2] != "rule" {
			continue
		}
		prefix := p[:4]
		key := strings.Join(prefix, " ")
		if seen[key] {
			continue
		}
		seen[key] = true
		missing := desired.Under(prefix).Minus(running)
		if len(missing) == 0 {
			continue
		}
		observed := "absent"
		if have := running.Under(prefix); len(have) > 0 {
			observed = summarise(have.Lines(), 5)
		}
		out = append(out, Finding{
			Reason: v1.ReasonNATRuleMissing, Field: fmt.Sprintf("nat.%s[%s]", p[1], p[3]),
			Expected: summarise(desired.Under(prefix).Lines(), 8), Observed: observed,
			Message: fmt.Sprintf("%s NAT rule %s is missing %d statement(s): %s", p[1], p[3], len(missing), summarise(missing.Lines(), 3)),
		})
	}
	return out
}

func summarise(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:max], "; ") + fmt.Sprintf("; and %d more", len(items)-max)
}
