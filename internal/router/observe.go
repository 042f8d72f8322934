package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// ObserveRequest says what one health check reads.
type ObserveRequest struct {
	// Owned are the configuration prefixes the spec owns.
	Owned []Path
	// BootScript asks for the post-config boot script (BootScript mode).
	BootScript bool
	// Dev is the interface whose neighbour cache is read ("" for all).
	Dev string
	// IPv6 asks for the IPv6 routes and Dev's IPv6 neighbours too.
	IPv6 bool
	// Proxy6 asks for Dev's IPv6 proxy neighbour entries (NDP proxy).
	Proxy6 bool
}

// Observation is one look at a router: everything a RouterConfig's health
// check compares with its spec.
type Observation struct {
	// Info is the platform the router reported during this look (the SSH
	// driver reads its version file in the same session), or the one the
	// driver was given when it did not look.
	Info PlatformInfo
	// Running is the active configuration below the owned prefixes.
	Running Config
	// Saved is config.boot below the owned prefixes; SavedKnown is false
	// where it cannot be read (the HTTP API).
	Saved      Config
	SavedKnown bool
	// Boot is the boot script, when asked for.
	Boot       BootScript
	Routes     []Route
	Neighbours []Neighbour
	// Routes6 and Neighbours6 are IPv6's, when asked for.
	Routes6     []Route
	Neighbours6 []Neighbour
	// Proxies6 are Dev's NDP proxy entries, when asked for and readable
	// (Proxies6Known: not over the HTTP API).
	Proxies6      []string
	Proxies6Known bool
}

// PlatformMismatch: the router runs another platform than the one the
// driver was given (spec.router.platform, or the one found last time).
type PlatformMismatch struct {
	Expected Platform
	Found    PlatformInfo
}

func (e *PlatformMismatch) Error() string {
	return fmt.Sprintf("the router runs %s (%s), not %s", e.Found.Platform, e.Found.Version, e.Expected)
}

// Observer is a Driver that reads a whole health check at once: the SSH
// driver in one exec session (one script printing every section between
// markers), the HTTP API in the fewest calls it allows (configuration,
// routes, neighbours). A router under hundreds of RouterConfigs' health
// checks then answers one session per check instead of six.
type Observer interface {
	Observe(ctx context.Context, req ObserveRequest) (Observation, error)
}

// Observe reads everything through d, in one round when d can.
func Observe(ctx context.Context, d Driver, req ObserveRequest) (Observation, error) {
	if o, ok := d.(Observer); ok {
		return o.Observe(ctx, req)
	}
	return observeEach(ctx, d, req)
}

// observeEach is the call-per-item fallback.
func observeEach(ctx context.Context, d Driver, req ObserveRequest) (o Observation, err error) {
	if o.Info, err = d.Probe(ctx); err != nil {
		return o, err
	}
	if o.Running, err = d.ReadConfig(ctx, req.Owned); err != nil {
		return o, err
	}
	switch saved, err := d.ReadSavedConfig(ctx, req.Owned); {
	case cause.Is(err, cause.CapabilityMissing):
	case err != nil:
		return o, err
	default:
		o.Saved, o.SavedKnown = saved, true
	}
	if req.BootScript {
		if o.Boot, err = d.BootScript(ctx); err != nil {
			return o, err
		}
	}
	if o.Routes, err = d.Routes(ctx); err != nil {
		return o, err
	}
	if o.Neighbours, err = d.Neighbours(ctx, req.Dev); err != nil || !req.IPv6 {
		return o, err
	}
	if o.Routes6, err = d.Routes6(ctx); err != nil {
		return o, err
	}
	if o.Neighbours6, err = d.Neighbours6(ctx, req.Dev); err != nil || !req.Proxy6 {
		return o, err
	}
	switch o.Proxies6, err = d.NDPProxies(ctx, req.Dev); {
	case cause.Is(err, cause.CapabilityMissing):
		return o, nil
	case err != nil:
		return o, err
	}
	o.Proxies6Known = true
	return o, nil
}

// Observe over the HTTP API: the platform is the one given (or probed
// once), then three calls — there is no batch endpoint for op-mode
// commands, and config.boot cannot be read at all.
func (d *apiDriver) Observe(ctx context.Context, req ObserveRequest) (o Observation, err error) {
	if req.BootScript {
		return o, d.noShell("Observe")
	}
	return observeEach(ctx, d, req)
}

// The sections of the SSH health-check script, in order.
const (
	secVersion = "version"
	secRunning = "running"
	secSaved   = "saved"
	secBoot    = "boot"
	secRoutes  = "routes"
	secNeigh   = "neighbours"
	secRoutes6 = "routes6"
	secNeigh6  = "neighbours6"
	secProxy6  = "proxies6"
)

// Observe over SSH: one exec session runs a script that prints each section
// between a start marker and an end marker carrying the section's exit
// status. The markers hold a random nonce, so no configuration value or
// command output can fake one; an end marker glued to the last line shows
// output cut inside a line, which is refused as readLines does.
func (d *sshDriver) Observe(ctx context.Context, req ObserveRequest) (o Observation, err error) {
	defer observe("Observe", time.Now(), &err)
	if req.Dev != "" && !devName.MatchString(req.Dev) {
		return o, invalid("Observe", fmt.Sprintf("bad interface name %q", req.Dev), nil)
	}
	// The platform decides the commands (JSON iproute, the boot script's
	// path): the one given or found before, else one probe session first.
	hint, err := d.Probe(ctx)
	if err != nil {
		return o, err
	}
	nonce, err := newNonce()
	if err != nil {
		return o, err
	}
	script, order := healthScript(hint.Platform, req, nonce)
	res, err := d.run(ctx, "Observe", script, "")
	if err != nil {
		return o, err
	}
	secs, err := splitSections(res.stdout, nonce, order)
	if err != nil {
		return o, err
	}
	return parseObservation(hint, req, secs)
}

func newNonce() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random nonce: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// healthScript builds the script and the sections it prints, in order.
func healthScript(p Platform, req ObserveRequest, nonce string) (string, []string) {
	var b strings.Builder
	var order []string
	section := func(name, cmd string) {
		order = append(order, name)
		fmt.Fprintf(&b, "echo @@%s:%s\n%s\necho \"@@%s:end $?\"\n", nonce, name, cmd, nonce)
	}
	section(secVersion, cmdProbe)
	section(secRunning, cmdActiveCommands)
	section(secSaved, cmdSavedConfig)
	if req.BootScript {
		path := p.BootScriptPath()
		section(secBoot, "test -e "+path+" && echo "+markPresent+"\n"+
			"test -x "+path+" && echo "+markExecutable+"\n"+
			"echo "+markContent+"\n"+
			"cat "+path+" 2>/dev/null; true")
	}
	if p.HasJSONIproute() {
		section(secRoutes, cmdRoutesJSON)
		neigh := "ip -j -4 neigh show"
		if req.Dev != "" {
			neigh += " dev " + req.Dev
		}
		section(secNeigh, neigh)
	} else {
		section(secRoutes, cmdRoutesText)
		section(secNeigh, cmdProcARP)
	}
	if req.IPv6 {
		if p.HasJSONIproute() {
			section(secRoutes6, cmdRoutes6JSON)
		} else {
			section(secRoutes6, cmdRoutes6Text)
		}
		section(secNeigh6, cmdNeigh6(p.HasJSONIproute(), req.Dev))
		if req.Proxy6 && req.Dev != "" {
			section(secProxy6, cmdNDPProxies(req.Dev))
		}
	}
	return b.String(), order
}

// section is one command's output and exit status.
type section struct {
	out  string
	exit int
	// cut: the output did not end with a newline (the end marker was
	// glued to its last line).
	cut bool
}

// splitSections reads the script's output back into its sections, in the
// order they were asked for; a missing or disordered one means the script
// did not run as written (a login banner is tolerated before the first).
func splitSections(out, nonce string, order []string) (map[string]section, error) {
	secs := map[string]section{}
	rest := out
	for _, name := range order {
		start := "@@" + nonce + ":" + name + "\n"
		i := strings.Index(rest, start)
		if i < 0 {
			return nil, unexpected("Observe", fmt.Sprintf("the health-check script's %s section is missing", name), out, nil)
		}
		rest = rest[i+len(start):]
		end := "@@" + nonce + ":end "
		j := strings.Index(rest, end)
		if j < 0 {
			return nil, unexpected("Observe", fmt.Sprintf("the health-check script's %s section does not end", name), out, nil)
		}
		body := rest[:j]
		rest = rest[j+len(end):]
		line, after, _ := strings.Cut(rest, "\n")
		exit, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			return nil, unexpected("Observe", fmt.Sprintf("the health-check script's %s section has no exit status", name), out, nil)
		}
		rest = after
		secs[name] = section{out: body, exit: exit, cut: body != "" && !strings.HasSuffix(body, "\n")}
	}
	return secs, nil
}

// parseObservation turns the sections into an Observation with the same
// checks and parsers the one-call methods use.
func parseObservation(hint PlatformInfo, req ObserveRequest, secs map[string]section) (o Observation, err error) {
	must := func(name, what string, lines bool) (string, error) {
		s := secs[name]
		if s.exit != 0 {
			return "", invalid("Observe", fmt.Sprintf("%s: exit status %d: %s", what, s.exit, sanitize(s.out)), nil)
		}
		if lines && s.cut {
			return "", unexpected("Observe", "the output of `"+what+"` ends inside a line (cut short)", lastLine(s.out), nil)
		}
		return s.out, nil
	}
	out, err := must(secVersion, "cat version", false)
	if err != nil {
		return o, err
	}
	if o.Info, err = PlatformFromVersionFile(out); err != nil {
		return o, unexpected("Observe", "no release in the version file", out, err)
	}
	if hint.Platform != "" && o.Info.Platform != hint.Platform {
		// The commands were chosen for another platform (the router was
		// upgraded or replaced, or the spec names the wrong one).
		return o, &PlatformMismatch{Expected: hint.Platform, Found: o.Info}
	}
	if out, err = must(secRunning, cmdActiveCommands, true); err != nil {
		return o, err
	}
	cfg, err := ParseCommands(out)
	if err != nil {
		return o, unexpected("Observe", "unparsable configuration commands", out, err)
	}
	if len(cfg) == 0 {
		return o, unexpected("Observe", "no set command in the configuration listing", out, nil)
	}
	o.Running = cfg.Owned(req.Owned)
	if out, err = must(secSaved, cmdSavedConfig, false); err != nil {
		return o, err
	}
	saved, err := ParseConfigBootFor(o.Info.Platform, out)
	if err != nil {
		return o, unexpected("Observe", "unparsable /config/config.boot", out, err)
	}
	o.Saved, o.SavedKnown = saved.Owned(req.Owned), true
	if req.BootScript {
		if o.Boot, err = parseBootScriptOutput(o.Info.Platform.BootScriptPath(), secs[secBoot].out); err != nil {
			return o, err
		}
	}
	if o.Info.Platform.HasJSONIproute() {
		if out, err = must(secRoutes, cmdRoutesJSON, true); err != nil {
			return o, err
		}
		if o.Routes, err = ParseRoutesJSON([]byte(out)); err != nil {
			return o, unexpected("Observe", "unparsable ip -j route output", out, err)
		}
		if out, err = must(secNeigh, "ip -j -4 neigh show", true); err != nil {
			return o, err
		}
		if o.Neighbours, err = ParseNeighboursJSON([]byte(out), req.Dev); err != nil {
			return o, unexpected("Observe", "unparsable ip -j neigh output", out, err)
		}
		return parseObservation6(o, req, must)
	}
	if out, err = must(secRoutes, cmdRoutesText, true); err != nil {
		return o, err
	}
	if o.Routes, err = ParseRoutesText(out); err != nil {
		return o, unexpected("Observe", "unparsable ip route output", out, err)
	}
	if out, err = must(secNeigh, cmdProcARP, true); err != nil {
		return o, err
	}
	if o.Neighbours, err = ParseProcNetARP(out, req.Dev); err != nil {
		return o, unexpected("Observe", "unparsable /proc/net/arp", out, err)
	}
	return parseObservation6(o, req, must)
}

// parseObservation6 reads the IPv6 sections, when asked for.
func parseObservation6(o Observation, req ObserveRequest, must func(name, what string, lines bool) (string, error)) (Observation, error) {
	if !req.IPv6 {
		return o, nil
	}
	json := o.Info.Platform.HasJSONIproute()
	cmd := cmdRoutes6Text
	if json {
		cmd = cmdRoutes6JSON
	}
	out, err := must(secRoutes6, cmd, true)
	if err != nil {
		return o, err
	}
	if o.Routes6, err = parseRoutes6(json, out); err != nil {
		return o, unexpected("Observe", "unparsable "+cmd+" output", out, err)
	}
	cmd = cmdNeigh6(json, req.Dev)
	if out, err = must(secNeigh6, cmd, true); err != nil {
		return o, err
	}
	if o.Neighbours6, err = parseNeigh6(json, out, req.Dev); err != nil {
		return o, unexpected("Observe", "unparsable "+cmd+" output", out, err)
	}
	if !req.Proxy6 || req.Dev == "" {
		return o, nil
	}
	cmd = cmdNDPProxies(req.Dev)
	if out, err = must(secProxy6, cmd, true); err != nil {
		return o, err
	}
	if o.Proxies6, err = ParseNDPProxies(out); err != nil {
		return o, unexpected("Observe", "unparsable "+cmd+" output", out, err)
	}
	o.Proxies6Known = true
	return o, nil
}
