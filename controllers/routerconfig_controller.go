package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/decide"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/router"
)

const routerSecretKeys = `"username" with "password" or "privateKey", and "hostKey" (ssh); "apiKey" and "ca.crt" (vyos-api)`

// RouterConfigReconciler keeps the owned part of a router's configuration
// applied and saved, and watches the kernel's routes and ARP table for the
// OVH failure modes (the Quagga gateway-less default route and its ARP flood).
type RouterConfigReconciler struct {
	Client client.Client
	// Reader reads Secrets: in the operator, the shared secretReader
	// (secrets.go), which goes to the API server only when a Secret changed.
	Reader client.Reader
	// Connect builds a driver; router.New by default.
	Connect func(ep router.Endpoint, secret map[string][]byte) (router.Driver, error)
	// CallTimeout bounds each call to a router (router.Endpoint.CallTimeout;
	// zero: the driver's default).
	CallTimeout time.Duration

	recorder events.EventRecorder
}

// SetupWithManager registers the controller.
func (r *RouterConfigReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if r.Connect == nil {
		r.Connect = router.New
	}
	fi := mgr.GetFieldIndexer()
	if err := indexBySecret(ctx, fi, &v1.RouterConfig{}, func(rc *v1.RouterConfig) string {
		return rc.Spec.Router.CredentialsSecretRef.Name
	}); err != nil {
		return err
	}
	if err := indexByFailoverIP(ctx, fi, &v1.RouterConfig{}, routerFailoverIPRefs); err != nil {
		return err
	}
	r.recorder = mgr.GetEventRecorder("ovhbridge-routerconfig")
	lc := &lifecycle[*v1.RouterConfig]{
		timeout: opts.withDefaults().ReconcileTimeout,
		client:  mgr.GetClient(), recorder: r.recorder, kind: "RouterConfig", quietSaves: true,
		newObj: func() *v1.RouterConfig { return &v1.RouterConfig{} }, logic: r,
		claims: routerConfigClaims(),
	}
	b := newBuilder(mgr, "routerconfig", &v1.RouterConfig{}, opts).
		// Status changes of a FailoverIP matter (its gateway is observed there).
		Watches(&v1.FailoverIP{}, enqueueUsers(mgr.GetClient(), &v1.RouterConfigList{}, indexFailoverIP))
	b, err := lc.claims.setup(ctx, mgr, &v1.RouterConfig{}, b)
	if err != nil {
		return err
	}
	return watchSecrets(b, mgr.GetClient(), &v1.RouterConfigList{}).Complete(lc)
}

func routerFailoverIPRefs(rc *v1.RouterConfig) []string {
	var names []string
	for _, i := range rc.Spec.Interfaces {
		if i.AddressFrom != nil {
			names = append(names, i.AddressFrom.FailoverIPRef.Name)
		}
		if i.IPv6 != nil && i.IPv6.AddressFrom != nil {
			names = append(names, i.IPv6.AddressFrom.FailoverIPRef.Name)
		}
	}
	if g := rc.Spec.WAN.GatewayFrom; g != nil {
		names = append(names, g.FailoverIPRef.Name)
	}
	if w6 := rc.Spec.WAN.IPv6; w6 != nil && w6.GatewayFrom != nil {
		names = append(names, w6.GatewayFrom.FailoverIPRef.Name)
	}
	return uniq(names...)
}

func healthInterval(rc *v1.RouterConfig) time.Duration {
	if d := rc.Spec.Health.Interval; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return 30 * time.Second
}

// rtcSession is one pass over one RouterConfig.
type rtcSession struct {
	r        *RouterConfigReconciler
	rc       *v1.RouterConfig
	drv      router.Driver
	platform router.Platform
	mode     router.GatewayRouteMode
	wan      drift.RouterWAN
	// wan6 is the IPv6 side of the uplink (Interface empty: IPv6 routes
	// are not owned).
	wan6 drift.RouterWAN6
	// ndpProxy are the addresses the router answers for on the WAN.
	ndpProxy []string
	rendered router.Rendered
	manage   bool
	// repairs are what this pass changed on the router, told in one Event.
	repairs []repairDone
}

// repairDone is one correction made on the router.
type repairDone struct{ reason, action, detail string }

// Sync reads the router, reports what differs, and under Manage repairs it:
// the owned configuration in one commit (read back, then saved), the boot
// script and the gateway routes on Vyatta, and the ARP table the Quagga bug
// flooded. Drift is written to the status before the repair starts, so that
// watchers (kubectl get -w, Argo CD, alerts) see it even when the repair
// takes a fraction of a second.
func (r *RouterConfigReconciler) Sync(ctx context.Context, rc *v1.RouterConfig, save func() error) (time.Duration, error) {
	desired, err := r.desired(ctx, rc)
	if err != nil {
		return r.reportReference(rc, err)
	}
	s, err := r.connect(ctx, rc, desired)
	if err != nil {
		return 0, err
	}
	defer s.drv.Close()

	obs, err := s.observe(ctx)
	if err != nil {
		return 0, err
	}
	drifted := s.report(obs)
	if !s.manage || !drifted {
		return healthInterval(rc), nil
	}
	setCondition(rc, v1.TypeReconciling, metav1.ConditionTrue, v1.ReasonRepairing, "correcting: "+rc.Status.Drift[0].Reason)
	if err := save(); err != nil {
		return 0, err
	}
	commitErr, err := s.repair(ctx, obs)
	removeCondition(rc, v1.TypeReconciling)
	if err != nil {
		return 0, err
	}
	if obs, err = s.observe(ctx); err != nil {
		return 0, err
	}
	obs.commitErr, obs.attempted = commitErr, len(obs.tx)
	s.report(obs)
	return healthInterval(rc), nil
}

// routerObservation is everything one look at the router found.
type routerObservation struct {
	running             router.Config
	tx                  router.Transaction // what would make running equal the spec
	saved               router.Config
	savedKnown, unsaved bool
	boot                router.BootScript
	bootState           string
	bootFindings        []drift.Finding
	routes              []router.Route
	neigh               []router.Neighbour
	routes6             []router.Route
	neigh6              []router.Neighbour
	proxies6            []string
	proxies6Known       bool  // not over the HTTP API
	commitErr           error // the router refused the last commit
	attempted           int   // statements the refused commit held
}

func (s *rtcSession) observe(ctx context.Context) (routerObservation, error) {
	var o routerObservation
	// One look: over SSH one session (a script printing every section),
	// over the HTTP API the fewest calls it allows.
	ob, err := router.Observe(ctx, s.drv, router.ObserveRequest{
		Owned: s.rendered.Owned, BootScript: s.rendered.BootScriptBlock != "", Dev: s.wan.Interface,
		IPv6: s.ipv6(), Proxy6: len(s.ndpProxy) > 0,
	})
	var mismatch *router.PlatformMismatch
	if errors.As(err, &mismatch) {
		return o, s.platformChanged(mismatch)
	}
	if err != nil {
		return o, err
	}
	if ob.Info.Version != "" {
		s.rc.Status.Version = ob.Info.Version
	}
	o.running = ob.Running
	o.tx = router.Diff(o.running, s.rendered.Config, s.rendered.Owned)
	if ob.SavedKnown {
		o.saved, o.savedKnown = ob.Saved, true
		o.unsaved = !o.running.Equal(o.saved)
	} else {
		// The HTTP API cannot read config.boot: the saved state is what
		// the operator last saved.
		o.unsaved = s.rc.Status.SavedConfigHash != o.running.Hash()
	}
	if want := s.rendered.BootScriptBlock; want != "" {
		o.boot = ob.Boot
		o.bootState, o.bootFindings = drift.RouterBootScript(o.boot, want)
	} else {
		o.bootState = drift.BootScriptNotRequired
	}
	o.routes, o.neigh = ob.Routes, ob.Neighbours
	o.routes6, o.neigh6 = ob.Routes6, ob.Neighbours6
	o.proxies6, o.proxies6Known = ob.Proxies6, ob.Proxies6Known
	return o, nil
}

// ipv6 says whether the spec owns the IPv6 uplink.
func (s *rtcSession) ipv6() bool { return s.wan6.Interface != "" }

// platformChanged handles a router that reports another platform than the
// one the pass rendered for. Named in the spec, it is the spec's mistake; found
// by an earlier pass, the router changed (upgrade, restore): the status
// records the new one and the next pass renders for it.
func (s *rtcSession) platformChanged(m *router.PlatformMismatch) error {
	if p := s.rc.Spec.Router.Platform; p != "" && p != v1.PlatformAuto {
		return &specError{reason: v1.ReasonInvalidSpec, stalled: true, msg: fmt.Sprintf(
			"spec.router.platform is %s but the router reports %s (%s): correct spec.router.platform, or set it to auto",
			p, m.Found.Platform, m.Found.Version)}
	}
	s.rc.Status.Platform, s.rc.Status.Version = v1.RouterPlatform(m.Found.Platform), m.Found.Version
	return cause.New(cause.Unreachable, "router", "Observe", fmt.Sprintf(
		"the router now runs %s (%s), not %s as last seen: reading it again as such", m.Found.Platform, m.Found.Version, m.Expected), m)
}

// repair fixes what observe found, in the order decide's router functions
// set out: configuration (one commit, read back, saved only if it matches the
// spec), boot script, kernel routes, then the neighbour entries the flood
// left. It returns the router's refusal of the commit separately from errors
// that stop the pass.
func (s *rtcSession) repair(ctx context.Context, o routerObservation) (commitErr, err error) {
	defer s.tellRepairs() // what was done, even if a later step failed
	running := o.running
	if decide.RouterCommit(len(o.tx)) {
		if running, commitErr = s.apply(ctx, running, o.tx); commitErr != nil && !cause.Is(commitErr, cause.Invalid) {
			return nil, commitErr // lost connection or lock: re-read next time, never assume
		}
	}
	pending := 0
	if commitErr == nil {
		pending = len(router.Diff(running, s.rendered.Config, s.rendered.Owned))
	}
	if decide.RouterSave(len(o.tx) > 0, commitErr != nil, pending, o.unsaved) {
		if err := s.drv.Save(ctx); err != nil {
			return nil, err
		}
		log.FromContext(ctx).V(1).Info("saved the configuration", "hash", running.Hash(), "recordedHash", s.rc.Status.SavedConfigHash, "resourceVersion", s.rc.ResourceVersion)
		s.rc.Status.SavedConfigHash = running.Hash()
		s.repaired(ctx, v1.ReasonUnsavedConfig, "Save", "saved the owned configuration to config.boot")
	}
	if decide.RouterBootScript(o.bootFindings) {
		if err := s.drv.WriteBootScript(ctx, router.MergeBootScript(o.boot.Content, s.rendered.BootScriptBlock)); err != nil {
			return nil, err
		}
		s.repaired(ctx, v1.ReasonBootScriptMissing, "WriteBootScript", "%s; rewrote its managed block", o.bootFindings[0].Message)
	}
	routeFindings, route6Findings := drift.RouterRoutes(o.routes, s.wan), s.routes6(o.routes6)
	after, after6 := routeFindings, route6Findings
	// The boot script's routes are both families': one replace installs
	// whichever is missing (each line is idempotent).
	fs := slices.Concat(routeFindings, route6Findings)
	if decide.RouterReplaceRoutes(fs, s.mode == router.BootScriptMode) {
		if err := s.drv.ReplaceRoutes(ctx, s.rendered.BootRoutes); err != nil {
			return nil, err
		}
		// What was wrong is in the conditions; the Event says what was
		// done, short enough for every step of the pass to fit its note.
		s.repaired(ctx, fs[0].Reason, "ReplaceRoutes", "installed %s with ip route replace (%s)",
			routeList(s.rendered.BootRoutes), strings.Join(reasons(fs), ", "))
		routes, err := s.drv.Routes(ctx)
		if err != nil {
			return nil, err
		}
		after = drift.RouterRoutes(routes, s.wan)
		if s.ipv6() {
			routes6, err := s.drv.Routes6(ctx)
			if err != nil {
				return nil, err
			}
			after6 = s.routes6(routes6)
		}
	}
	_, neighFindings := drift.RouterNeighbours(o.neigh, s.wan, int(s.rc.Spec.Health.ARPFloodThreshold))
	if decide.RouterFlushNeighbours(routeFindings, after, neighFindings) {
		if err := s.drv.FlushNeighbours(ctx, s.wan.Interface); err != nil {
			return nil, err
		}
		s.repaired(ctx, v1.ReasonARPFlood, "FlushNeighbours", "flushed %d neighbour entries on %s left by the gateway-less default route",
			len(o.neigh), s.wan.Interface)
	}
	if !s.ipv6() {
		return commitErr, nil
	}
	if err := s.repairNDPProxies(ctx, o); err != nil {
		return nil, err
	}
	_, neigh6Findings := s.neighbours6(o.neigh6)
	if decide.RouterFlushNeighbours6(route6Findings, after6, neigh6Findings) {
		if err := s.drv.FlushNeighbours6(ctx, s.wan6.Interface); err != nil {
			return nil, err
		}
		s.repaired(ctx, v1.ReasonNDPFlood, "FlushNeighbours6", "flushed %d IPv6 neighbour entries on %s left by the gateway-less IPv6 default route",
			len(o.neigh6), s.wan6.Interface)
	}
	return commitErr, nil
}

// repairNDPProxies puts back the NDP proxy entries the observation missed
// and this pass's commit did not create.
func (s *rtcSession) repairNDPProxies(ctx context.Context, o routerObservation) error {
	if !o.proxies6Known || len(s.proxyFindings(o)) == 0 {
		return nil
	}
	now, err := s.drv.NDPProxies(ctx, s.wan6.Interface)
	if err != nil {
		return err
	}
	missing := drift.MissingNDPProxies(drift.RouterNDPProxy(now, s.ndpProxy, s.wan6.Interface))
	if !decide.RouterAddNDPProxies(missing, s.rc.Spec.Router.Driver != v1.DriverVyOSAPI) {
		return nil
	}
	if err := s.drv.AddNDPProxies(ctx, s.wan6.Interface, missing); err != nil {
		return err
	}
	s.repaired(ctx, v1.ReasonNDPProxyMissing, "AddNDPProxies", "added NDP proxy entries on %s for %s with ip -6 neigh replace proxy",
		s.wan6.Interface, strings.Join(missing, ", "))
	return nil
}

// proxyFindings checks the NDP proxy entries, when they could be read.
func (s *rtcSession) proxyFindings(o routerObservation) []drift.Finding {
	if !o.proxies6Known {
		return nil
	}
	return drift.RouterNDPProxy(o.proxies6, s.ndpProxy, s.wan6.Interface)
}

// routes6 checks the IPv6 routes, when the spec owns them.
func (s *rtcSession) routes6(routes []router.Route) []drift.Finding {
	if !s.ipv6() {
		return nil
	}
	return drift.RouterRoutes6(routes, s.wan6)
}

// neighbours6 checks the WAN's IPv6 neighbour table with the ARP flood's
// threshold (one knob for both families: the tables flood alike).
func (s *rtcSession) neighbours6(ns []router.Neighbour) (drift.NeighbourSummary, []drift.Finding) {
	return drift.RouterNeighbours6(ns, s.wan6, int(s.rc.Spec.Health.ARPFloodThreshold))
}

// desired resolves references: the WAN address and the gateway may come from
// a FailoverIP (its IP as a /32, its observed gateway).
func (r *RouterConfigReconciler) desired(ctx context.Context, rc *v1.RouterConfig) (router.Desired, error) {
	var d router.Desired
	for _, in := range rc.Spec.Interfaces {
		addrs := in.Addresses
		if in.AddressFrom != nil {
			ip, _, err := failoverIPValue(ctx, r.Client, rc.Namespace, in.AddressFrom.FailoverIPRef.Name, "IP",
				func(f *v1.FailoverIP) string { return f.Spec.IP })
			if err != nil {
				return d, err
			}
			if !strings.Contains(ip, "/") {
				ip += "/32"
			}
			addrs = []string{ip}
		}
		addrs6, err := r.addresses6(ctx, rc, in)
		if err != nil {
			return d, err
		}
		d.Interfaces = append(d.Interfaces, router.Interface{Name: in.Name, Addresses: append(slices.Clone(addrs), addrs6...),
			Description: in.Description, RouterAdvert: in.IPv6 != nil && in.IPv6.RouterAdvert})
	}
	gw := rc.Spec.WAN.Gateway
	if g := rc.Spec.WAN.GatewayFrom; g != nil {
		v, _, err := failoverIPValue(ctx, r.Client, rc.Namespace, g.FailoverIPRef.Name, "gateway (status.gateway)",
			func(f *v1.FailoverIP) string { return f.Status.Gateway })
		if err != nil {
			return d, err
		}
		gw = v
	}
	d.WAN = router.WAN{Interface: rc.Spec.WAN.Interface, Gateway: gw}
	if err := r.gateway6(ctx, rc, &d); err != nil {
		return d, err
	}
	for _, n := range rc.Spec.NAT.Source {
		d.SourceNAT = append(d.SourceNAT, router.SourceNATRule{Rule: int(n.Rule), Description: n.Description,
			OutboundInterface: n.OutboundInterface, SourceAddress: n.SourceAddress, Translation: n.Translation})
	}
	for _, n := range rc.Spec.NAT.Destination {
		tp := ""
		if n.TranslationPort != nil {
			tp = strconv.Itoa(int(*n.TranslationPort))
		}
		d.DestinationNAT = append(d.DestinationNAT, router.DestinationNATRule{Rule: int(n.Rule), Description: n.Description,
			InboundInterface: n.InboundInterface, Protocol: string(n.Protocol), Port: strconv.Itoa(int(n.Port)),
			TranslationAddress: n.TranslationAddress, TranslationPort: tp})
	}
	rc.Status.Gateway = gw
	for _, in := range d.Interfaces {
		if in.Name == rc.Spec.WAN.Interface && len(in.Addresses) > 0 {
			rc.Status.WANAddress = in.Addresses[0]
		}
	}
	// What the router showed stays until the next look replaces it (a pass
	// that cannot reach the router keeps IPv4's observations too).
	switch {
	case d.WAN.Gateway6 == "":
		rc.Status.IPv6 = nil
	case rc.Status.IPv6 == nil:
		rc.Status.IPv6 = &v1.RouterIPv6Status{}
	}
	if s6 := rc.Status.IPv6; s6 != nil {
		s6.Gateway, s6.WANAddresses = d.WAN.Gateway6, nil
		for _, p := range wanPrefixes6(d) {
			s6.WANAddresses = append(s6.WANAddresses, p.String())
		}
	}
	return d, nil
}

// addresses6 resolves an interface's IPv6 addresses: the static ones, and
// one from the server's block that a FailoverIP reports.
func (r *RouterConfigReconciler) addresses6(ctx context.Context, rc *v1.RouterConfig, in v1.RouterInterface) ([]string, error) {
	if in.IPv6 == nil {
		return nil, nil
	}
	addrs := slices.Clone(in.IPv6.Addresses)
	src := in.IPv6.AddressFrom
	if src == nil {
		return addrs, nil
	}
	block, _, err := failoverIPValue(ctx, r.Client, rc.Namespace, src.FailoverIPRef.Name, "IPv6 block (status.ipv6.block)",
		func(f *v1.FailoverIP) string {
			if f.Status.IPv6 == nil {
				return ""
			}
			return f.Status.IPv6.Block
		})
	if err != nil {
		return nil, err
	}
	plen := 0
	if src.PrefixLength != nil {
		plen = int(*src.PrefixLength)
	}
	a, err := decide.AddressInBlock(block, src.Host, plen)
	if err != nil {
		return nil, &specError{reason: v1.ReasonInvalidSpec, stalled: true, msg: fmt.Sprintf(
			"spec.interfaces[%s].ipv6.addressFrom: %v (FailoverIP %s/%s reports the block %s)", in.Name, err, rc.Namespace, src.FailoverIPRef.Name, block)}
	}
	return append(addrs, a.String()), nil
}

// gateway6 resolves the WAN's IPv6 gateway into d, refusing one inside the
// WAN's own block: OVH's is always outside it.
func (r *RouterConfigReconciler) gateway6(ctx context.Context, rc *v1.RouterConfig, d *router.Desired) error {
	w6 := rc.Spec.WAN.IPv6
	if w6 == nil {
		return nil
	}
	gw := w6.Gateway
	if g := w6.GatewayFrom; g != nil {
		v, _, err := failoverIPValue(ctx, r.Client, rc.Namespace, g.FailoverIPRef.Name, "IPv6 gateway (status.ipv6.gateway)",
			func(f *v1.FailoverIP) string {
				if f.Status.IPv6 == nil {
					return ""
				}
				return f.Status.IPv6.Gateway
			})
		if err != nil {
			return err
		}
		gw = v
	}
	if a, err := netip.ParseAddr(gw); err == nil {
		gw = a.String() // iproute2's spelling, as the router prints it
	}
	if p, in := decide.Gateway6InPrefixes(gw, wanPrefixes6(*d)); in {
		return &specError{reason: v1.ReasonInvalidSpec, stalled: true, msg: fmt.Sprintf(
			"the WAN's IPv6 gateway %s is inside its own prefix %s: OVH's IPv6 gateway is outside the server's block "+
				"(on older ranges the last addresses of the enclosing /56): correct spec.wan.ipv6 or the WAN's IPv6 address", gw, p)}
	}
	d.WAN.Gateway6 = gw
	for _, a := range w6.NDPProxy {
		if p, err := netip.ParseAddr(a); err == nil {
			d.WAN.NDPProxy = append(d.WAN.NDPProxy, p.String())
		}
	}
	return nil
}

// wanPrefixes6 are the WAN interface's IPv6 addresses as prefixes.
func wanPrefixes6(d router.Desired) []netip.Prefix {
	var out []netip.Prefix
	for _, in := range d.Interfaces {
		if in.Name != d.WAN.Interface {
			continue
		}
		for _, a := range in.Addresses {
			if p, err := netip.ParsePrefix(a); err == nil && p.Addr().Is6() {
				out = append(out, p)
			}
		}
	}
	return out
}

// reportReference turns an unresolvable FailoverIP reference into conditions:
// nothing can be rendered, and nothing is written, until it resolves.
func (r *RouterConfigReconciler) reportReference(rc *v1.RouterConfig, err error) (time.Duration, error) {
	re, ok := err.(*refError)
	if !ok {
		return 0, err
	}
	// Applied together with its FailoverIP, which is a moment from Ready:
	// its watch brings this object back; no status write meanwhile.
	if d := deferFirstSight(rc, time.Now(), quietFirstSight); d != nil {
		return 0, d
	}
	setCondition(rc, v1.TypeConfigApplied, metav1.ConditionFalse, v1.ReasonReferenceNotReady, re.msg)
	summarizeReady(rc, []string{v1.TypeConfigApplied}, "")
	return healthInterval(rc), nil
}

// dial reads the router's Secret, connects and probes the platform: shared
// by every pass and by Finalize. The caller closes the driver.
func (r *RouterConfigReconciler) dial(ctx context.Context, rc *v1.RouterConfig) (router.Driver, router.PlatformInfo, error) {
	ref := rc.Spec.Router.CredentialsSecretRef.Name
	secret, err := readSecret(ctx, r.Reader, rc.Namespace, ref, routerSecretKeys)
	if err != nil {
		return nil, router.PlatformInfo{}, err
	}
	ep := router.Endpoint{Kind: router.Kind(rc.Spec.Router.Driver), Address: rc.Spec.Router.Address, CallTimeout: r.CallTimeout}
	if ep.Kind == "" {
		ep.Kind = router.SSH
	}
	switch p := rc.Spec.Router.Platform; {
	case p != "" && p != v1.PlatformAuto:
		ep.Platform = router.Platform(p)
	case rc.Status.Platform != "":
		// Found by an earlier pass: no probe round trip; the health check
		// reads the version file in its own session and says if it changed.
		ep.Platform = router.Platform(rc.Status.Platform)
	}
	drv, err := r.Connect(ep, secret)
	if err != nil {
		if cause.Is(err, cause.Invalid) {
			return nil, router.PlatformInfo{}, credentialsError(rc.Namespace, ref, err)
		}
		return nil, router.PlatformInfo{}, err
	}
	info, err := drv.Probe(ctx)
	if err != nil {
		drv.Close()
		return nil, router.PlatformInfo{}, err
	}
	rc.Status.Platform = v1.RouterPlatform(info.Platform)
	if info.Version != "" {
		rc.Status.Version = info.Version
	}
	return drv, info, nil
}

func (r *RouterConfigReconciler) connect(ctx context.Context, rc *v1.RouterConfig, d router.Desired) (*rtcSession, error) {
	drv, info, err := r.dial(ctx, rc)
	if err != nil {
		return nil, err
	}
	mode := router.GatewayRouteMode(rc.Spec.WAN.GatewayRouteMode)
	if mode == "" || mode == router.GatewayRouteMode(v1.GatewayRouteAuto) {
		mode = info.Platform.DefaultGatewayRouteMode()
	}
	if mode == router.InterfaceRouteMode && info.Platform == router.Vyatta6 {
		drv.Close()
		return nil, &specError{reason: v1.ReasonInvalidSpec, stalled: true, msg: fmt.Sprintf(
			"the router is %s: gatewayRouteMode InterfaceRoute would make Quagga install a default route without a gateway (the OVH ARP flood); use Auto or BootScript", orUnknown(rc.Status.Version, string(info.Platform)))}
	}
	if mode == router.BootScriptMode && rc.Spec.Router.Driver == v1.DriverVyOSAPI {
		drv.Close()
		return nil, &specError{reason: v1.ReasonInvalidSpec, stalled: true,
			msg: "gatewayRouteMode BootScript needs the ssh driver: the VyOS HTTP API cannot write files"}
	}
	rc.Status.GatewayRouteMode = v1.GatewayRouteMode(mode)
	d.WAN.Mode = mode
	rendered, err := router.Render(info.Platform, d)
	if err != nil {
		drv.Close()
		return nil, &specError{reason: v1.ReasonInvalidSpec, stalled: true, msg: err.Error()}
	}
	return &rtcSession{
		r: r, rc: rc, drv: drv, platform: info.Platform, mode: mode, rendered: rendered,
		wan:  drift.RouterWAN{Interface: d.WAN.Interface, Gateway: d.WAN.Gateway},
		wan6: uplink6(d), ndpProxy: d.WAN.NDPProxy,
		manage: rc.GetPolicies().ManagementPolicy == v1.Manage,
	}, nil
}

// uplink6 is what the IPv6 checks need of the uplink: its on-link prefixes are
// the WAN's own (a /64 from the server's block has the host and WAN-side
// VMs as peers; a /128 none).
func uplink6(d router.Desired) drift.RouterWAN6 {
	if d.WAN.Gateway6 == "" {
		return drift.RouterWAN6{}
	}
	w := drift.RouterWAN6{Interface: d.WAN.Interface, Gateway: d.WAN.Gateway6}
	for _, p := range wanPrefixes6(d) {
		w.OnLink = append(w.OnLink, p.Masked())
	}
	return w
}

// apply commits tx as one transaction and reads the owned configuration back.
// A commit the router refused comes back as a cause.Invalid error carrying
// the router's text, with the configuration as it is after the refusal
// (VyOS can leave a partial commit: the read-back shows it).
func (s *rtcSession) apply(ctx context.Context, before router.Config, tx router.Transaction) (router.Config, error) {
	applyErr := s.drv.Apply(ctx, tx)
	if applyErr != nil && !cause.Is(applyErr, cause.Invalid) {
		return nil, applyErr
	}
	if applyErr == nil {
		reason := v1.ReasonConfigDrift
		if fs := drift.RouterNATRules(before, s.rendered.Config); len(fs) > 0 {
			reason = v1.ReasonNATRuleMissing
		}
		s.repaired(ctx, reason, "Commit", "committed %d change(s) in one transaction: %s", len(tx), txSummary(tx))
	}
	running, err := s.drv.ReadConfig(ctx, s.rendered.Owned)
	if err != nil {
		return nil, err
	}
	return running, applyErr
}

// repaired records a correction; tellRepairs reports the pass's corrections.
func (s *rtcSession) repaired(ctx context.Context, reason, action, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.FromContext(ctx).V(1).Info("repair applied", "action", action, "reason", reason, "detail", msg)
	s.repairs = append(s.repairs, repairDone{reason: reason, action: action, detail: msg})
}

// tellRepairs records the pass's corrections as one Warning Event named
// after the root cause (Ready's reason before the repair, else the first
// drift fixed), so that `kubectl describe` tells what the operator changed
// and why: one Event per repair, not one per step (a Vyatta adopted with the
// gateway-less default route takes five steps).
func (s *rtcSession) tellRepairs() {
	if len(s.repairs) == 0 || s.r.recorder == nil {
		return
	}
	reason := s.repairs[0].reason
	if c := meta.FindStatusCondition(s.rc.Status.Conditions, v1.TypeReady); c != nil && c.Status == metav1.ConditionFalse {
		reason = c.Reason
	}
	action := s.repairs[0].action
	if len(s.repairs) > 1 {
		action = "Repair"
	}
	parts := make([]string, len(s.repairs))
	for i, d := range s.repairs {
		parts[i] = d.action + ": " + d.detail
	}
	s.r.recorder.Eventf(s.rc, nil, corev1.EventTypeWarning, reason, action, "%s", eventNote(strings.Join(parts, "; ")))
	s.repairs = nil
}

// report sets the conditions and status from an observation and tells
// whether anything differs from the spec.
func (s *rtcSession) report(o routerObservation) bool {
	rc := s.rc
	var all []drift.Finding
	notFixed := ""
	if !s.manage {
		notFixed = " (not corrected: managementPolicy is Observe)"
	}

	// Configuration.
	natFindings := drift.RouterNATRules(o.running, s.rendered.Config)
	all = append(all, natFindings...)
	if len(o.tx) == 0 && o.commitErr == nil {
		rc.Status.AppliedConfigHash = o.running.Hash()
	}
	switch {
	case o.commitErr != nil:
		all = append(all, drift.Finding{Reason: v1.ReasonCommitFailed, Field: "config", Observed: o.commitErr.Error()})
		setCondition(rc, v1.TypeConfigApplied, metav1.ConditionFalse, v1.ReasonCommitFailed,
			fmt.Sprintf("the router refused the commit of %d change(s); nothing was saved: %s", o.attempted, o.commitErr.Error()))
	case len(natFindings) > 0:
		setCondition(rc, v1.TypeConfigApplied, metav1.ConditionFalse, v1.ReasonNATRuleMissing, joinFindings(messages(natFindings))+notFixed)
	case len(o.tx) > 0:
		all = append(all, drift.Finding{Reason: v1.ReasonConfigDrift, Field: "config", Expected: "owned configuration as rendered",
			Observed: fmt.Sprintf("%d change(s) pending", len(o.tx)), Message: txSummary(o.tx)})
		setCondition(rc, v1.TypeConfigApplied, metav1.ConditionFalse, v1.ReasonConfigDrift,
			fmt.Sprintf("the owned configuration differs from the spec: %s%s", txSummary(o.tx), notFixed))
	default:
		setCondition(rc, v1.TypeConfigApplied, metav1.ConditionTrue, v1.ReasonApplied,
			fmt.Sprintf("%d owned statement(s) match the spec", len(s.rendered.Config)))
	}
	switch {
	case o.unsaved && o.savedKnown:
		f := drift.RouterSavedConfig(o.running.Owned(s.rendered.Owned), o.saved)
		all = append(all, f...)
		setCondition(rc, v1.TypeConfigSaved, metav1.ConditionFalse, v1.ReasonUnsavedConfig, joinFindings(messages(f))+notFixed)
	case o.unsaved:
		all = append(all, drift.Finding{Reason: v1.ReasonUnsavedConfig, Field: "config.saved", Expected: "saved by the operator",
			Observed: "running configuration hash " + o.running.Hash()})
		setCondition(rc, v1.TypeConfigSaved, metav1.ConditionFalse, v1.ReasonUnsavedConfig,
			"the running configuration was not saved by the operator (the HTTP API cannot read config.boot to compare)"+notFixed)
	default:
		if o.savedKnown {
			rc.Status.SavedConfigHash = o.running.Hash()
		}
		setCondition(rc, v1.TypeConfigSaved, metav1.ConditionTrue, v1.ReasonSaved, "the owned configuration is saved in config.boot")
	}

	// Kernel routes.
	def, gw := drift.RouterObservedRoutes(o.routes, s.wan)
	rc.Status.DefaultRoute, rc.Status.GatewayRoute = observedRoute(def), observedRoute(gw)
	// IPv6 shares IPv4's conditions (the architecture's fixed vocabulary):
	// GatewayRoutePresent is both families' gateway routes, ARPTableHealthy
	// both neighbour tables; the reasons (GatewayRoute6Missing, NDPFlood,
	// ...) say which family. IPv4's findings come first.
	routeFindings := append(drift.RouterRoutes(o.routes, s.wan), s.routes6(o.routes6)...)
	all = append(all, routeFindings...)
	if len(routeFindings) > 0 {
		setCondition(rc, v1.TypeGatewayRoutePresent, metav1.ConditionFalse, routeFindings[0].Reason, joinFindings(messages(routeFindings))+notFixed)
	} else {
		msg := fmt.Sprintf("default via %s dev %s, gateway reachable on-link", s.wan.Gateway, s.wan.Interface)
		if s.ipv6() {
			msg += fmt.Sprintf("; IPv6 default via %s dev %s", s.wan6.Gateway, s.wan6.Interface)
		}
		setCondition(rc, v1.TypeGatewayRoutePresent, metav1.ConditionTrue, v1.ReasonPresent, msg)
	}

	// Neighbours.
	sum, neighFindings := drift.RouterNeighbours(o.neigh, s.wan, int(rc.Spec.Health.ARPFloodThreshold))
	rc.Status.WANNeighbours = neighbourSummary(sum)
	healthy := fmt.Sprintf("%d entries on %s, %d off-link", sum.Entries, sum.Interface, sum.OffLink)
	if s.ipv6() {
		def6, gw6 := drift.RouterObservedRoutes6(o.routes6, s.wan6)
		sum6, f6 := s.neighbours6(o.neigh6)
		neighFindings = append(neighFindings, f6...)
		if rc.Status.IPv6 == nil {
			rc.Status.IPv6 = &v1.RouterIPv6Status{Gateway: s.wan6.Gateway}
		}
		rc.Status.IPv6.DefaultRoute, rc.Status.IPv6.GatewayRoute = observedRoute(def6), observedRoute(gw6)
		rc.Status.IPv6.WANNeighbours = neighbourSummary(sum6)
		rc.Status.IPv6.NDPProxies = nil
		if o.proxies6Known {
			rc.Status.IPv6.NDPProxies = o.proxies6
		}
		neighFindings = append(neighFindings, s.proxyFindings(o)...)
		healthy += fmt.Sprintf("; IPv6: %d entries, %d off-link", sum6.Entries, sum6.OffLink)
		if len(s.ndpProxy) > 0 && o.proxies6Known {
			healthy += fmt.Sprintf(", %d address(es) proxied", len(s.ndpProxy))
		}
	}
	all = append(all, neighFindings...)
	if len(neighFindings) > 0 {
		setCondition(rc, v1.TypeARPTableHealthy, metav1.ConditionFalse, neighFindings[0].Reason, joinFindings(messages(neighFindings)))
	} else {
		setCondition(rc, v1.TypeARPTableHealthy, metav1.ConditionTrue, v1.ReasonHealthy, healthy)
	}

	// Boot script.
	rc.Status.BootScript = &v1.BootScriptStatus{Path: s.rendered.BootScriptPath, State: v1.BootScriptState(o.bootState)}
	all = append(all, o.bootFindings...)
	switch {
	case o.bootState == drift.BootScriptNotRequired:
		rc.Status.BootScript.Path = ""
		setCondition(rc, v1.TypeBootScriptPersisted, metav1.ConditionTrue, v1.ReasonNotRequired,
			fmt.Sprintf("gatewayRouteMode %s keeps the routes in the configuration", s.mode))
	case len(o.bootFindings) > 0:
		setCondition(rc, v1.TypeBootScriptPersisted, metav1.ConditionFalse, v1.ReasonBootScriptMissing, joinFindings(messages(o.bootFindings))+notFixed)
	default:
		setCondition(rc, v1.TypeBootScriptPersisted, metav1.ConditionTrue, v1.ReasonPersisted,
			fmt.Sprintf("%s installs the gateway routes at boot", s.rendered.BootScriptPath))
	}

	rc.Status.Drift = driftItems(all)
	summarizeReady(rc, []string{v1.TypeGatewayRoutePresent, v1.TypeARPTableHealthy, v1.TypeBootScriptPersisted,
		v1.TypeConfigApplied, v1.TypeConfigSaved},
		s.readyMessage())
	return len(all) > 0
}

// readyMessage is Ready's message when everything matches.
func (s *rtcSession) readyMessage() string {
	rc := s.rc
	if s.ipv6() {
		return fmt.Sprintf("%s (%s): configuration applied and saved, default via %s and %s on %s, neighbour tables healthy",
			rc.Spec.Router.Address, rc.Status.Version, s.wan.Gateway, s.wan6.Gateway, s.wan.Interface)
	}
	return fmt.Sprintf("%s (%s): configuration applied and saved, default via %s on %s, ARP table healthy",
		rc.Spec.Router.Address, rc.Status.Version, s.wan.Gateway, s.wan.Interface)
}

// routeList spells routes for a message.
func routeList(rs []router.Route) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return strings.Join(out, ", ")
}

// reasons are the findings' distinct reasons, in order.
func reasons(fs []drift.Finding) []string {
	var out []string
	for _, f := range fs {
		if !slices.Contains(out, f.Reason) {
			out = append(out, f.Reason)
		}
	}
	return out
}

func neighbourSummary(sum drift.NeighbourSummary) *v1.NeighbourSummary {
	return &v1.NeighbourSummary{
		Interface: sum.Interface, Entries: int32(sum.Entries), OffLinkEntries: int32(sum.OffLink),
		GatewayState: sum.GatewayState, GatewayMAC: sum.GatewayMAC, DominantMAC: sum.DominantMAC,
		DominantMACEntries: int32(sum.DominantMACEntries),
	}
}

func observedRoute(r *router.Route) *v1.ObservedRoute {
	if r == nil {
		return nil
	}
	return &v1.ObservedRoute{Destination: r.Dst, Gateway: r.Gateway, Device: r.Dev, Protocol: r.Protocol, Scope: r.Scope, Flags: r.Flags}
}

func messages(fs []drift.Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Message)
	}
	return out
}

func txSummary(tx router.Transaction) string {
	const max = 6
	var parts []string
	for i, op := range tx {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(tx)-max))
			break
		}
		parts = append(parts, op.String())
	}
	return strings.Join(parts, "; ")
}

// Finalize removes the NAT rules this object owns (deletionPolicy Delete).
// Interface addresses and gateway routes stay: removing them would cut the
// router — and the operator's own path to it — off the network.
func (r *RouterConfigReconciler) Finalize(ctx context.Context, rc *v1.RouterConfig, _ func() error) (bool, time.Duration, error) {
	if len(rc.Spec.NAT.Source) == 0 && len(rc.Spec.NAT.Destination) == 0 {
		return true, 0, nil
	}
	d := router.Desired{}
	for _, n := range rc.Spec.NAT.Source {
		d.SourceNAT = append(d.SourceNAT, router.SourceNATRule{Rule: int(n.Rule), OutboundInterface: n.OutboundInterface})
	}
	for _, n := range rc.Spec.NAT.Destination {
		d.DestinationNAT = append(d.DestinationNAT, router.DestinationNATRule{Rule: int(n.Rule), InboundInterface: n.InboundInterface,
			TranslationAddress: n.TranslationAddress})
	}
	drv, info, err := r.dial(ctx, rc)
	if err != nil {
		return false, 0, err
	}
	defer drv.Close()
	rendered, err := router.Render(info.Platform, d)
	if err != nil {
		return false, 0, err
	}
	running, err := drv.ReadConfig(ctx, rendered.Owned)
	if err != nil {
		return false, 0, err
	}
	tx := router.Diff(running, nil, rendered.Owned)
	if len(tx) == 0 {
		return true, 0, nil
	}
	if err := drv.Apply(ctx, tx); err != nil {
		return false, 0, err
	}
	return false, time.Second, drv.Save(ctx) // the next pass checks they are gone
}

// orUnknown is v, or fallback when v is empty.
func orUnknown(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}
