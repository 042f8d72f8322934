package controllers

import (
	"context"
	"errors"
	"fmt"
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
	}
	if g := rc.Spec.WAN.GatewayFrom; g != nil {
		names = append(names, g.FailoverIPRef.Name)
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
	commitErr           error // the router refused the last commit
	attempted           int   // statements the refused commit held
}

func (s *rtcSession) observe(ctx context.Context) (routerObservation, error) {
	var o routerObservation
	// One look: over SSH one session (a script printing every section),
	// over the HTTP API the fewest calls it allows.
	ob, err := router.Observe(ctx, s.drv, router.ObserveRequest{
		Owned: s.rendered.Owned, BootScript: s.rendered.BootScriptBlock != "", Dev: s.wan.Interface,
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
	return o, nil
}

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
		s.rc.Status.SavedConfigHash = running.Hash()
		s.repaired(ctx, v1.ReasonUnsavedConfig, "Save", "saved the owned configuration to config.boot")
	}
	if decide.RouterBootScript(o.bootFindings) {
		if err := s.drv.WriteBootScript(ctx, router.MergeBootScript(o.boot.Content, s.rendered.BootScriptBlock)); err != nil {
			return nil, err
		}
		s.repaired(ctx, v1.ReasonBootScriptMissing, "WriteBootScript", "%s; rewrote its managed block", o.bootFindings[0].Message)
	}
	routeFindings := drift.RouterRoutes(o.routes, s.wan)
	after := routeFindings
	if decide.RouterReplaceRoutes(routeFindings, s.mode == router.BootScriptMode) {
		if err := s.drv.ReplaceRoutes(ctx, s.rendered.BootRoutes); err != nil {
			return nil, err
		}
		s.repaired(ctx, routeFindings[0].Reason, "ReplaceRoutes", "%s; installed the gateway routes with ip route replace",
			joinFindings(messages(routeFindings)))
		routes, err := s.drv.Routes(ctx)
		if err != nil {
			return nil, err
		}
		after = drift.RouterRoutes(routes, s.wan)
	}
	_, neighFindings := drift.RouterNeighbours(o.neigh, s.wan, int(s.rc.Spec.Health.ARPFloodThreshold))
	if decide.RouterFlushNeighbours(routeFindings, after, neighFindings) {
		if err := s.drv.FlushNeighbours(ctx, s.wan.Interface); err != nil {
			return nil, err
		}
		s.repaired(ctx, v1.ReasonARPFlood, "FlushNeighbours", "flushed %d neighbour entries on %s left by the gateway-less default route",
			len(o.neigh), s.wan.Interface)
	}
	return commitErr, nil
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
		d.Interfaces = append(d.Interfaces, router.Interface{Name: in.Name, Addresses: addrs, Description: in.Description})
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
	return d, nil
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
		wan:    drift.RouterWAN{Interface: d.WAN.Interface, Gateway: d.WAN.Gateway},
		manage: rc.GetPolicies().ManagementPolicy == v1.Manage,
	}, nil
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
	routeFindings := drift.RouterRoutes(o.routes, s.wan)
	all = append(all, routeFindings...)
	if len(routeFindings) > 0 {
		setCondition(rc, v1.TypeGatewayRoutePresent, metav1.ConditionFalse, routeFindings[0].Reason, joinFindings(messages(routeFindings))+notFixed)
	} else {
		setCondition(rc, v1.TypeGatewayRoutePresent, metav1.ConditionTrue, v1.ReasonPresent,
			fmt.Sprintf("default via %s dev %s, gateway reachable on-link", s.wan.Gateway, s.wan.Interface))
	}

	// Neighbours.
	sum, neighFindings := drift.RouterNeighbours(o.neigh, s.wan, int(rc.Spec.Health.ARPFloodThreshold))
	all = append(all, neighFindings...)
	rc.Status.WANNeighbours = &v1.NeighbourSummary{
		Interface: sum.Interface, Entries: int32(sum.Entries), OffLinkEntries: int32(sum.OffLink),
		GatewayState: sum.GatewayState, GatewayMAC: sum.GatewayMAC, DominantMAC: sum.DominantMAC,
		DominantMACEntries: int32(sum.DominantMACEntries),
	}
	if len(neighFindings) > 0 {
		setCondition(rc, v1.TypeARPTableHealthy, metav1.ConditionFalse, neighFindings[0].Reason, joinFindings(messages(neighFindings)))
	} else {
		setCondition(rc, v1.TypeARPTableHealthy, metav1.ConditionTrue, v1.ReasonHealthy,
			fmt.Sprintf("%d entries on %s, %d off-link", sum.Entries, sum.Interface, sum.OffLink))
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
		fmt.Sprintf("%s (%s): configuration applied and saved, default via %s on %s, ARP table healthy",
			rc.Spec.Router.Address, rc.Status.Version, s.wan.Gateway, s.wan.Interface))
	return len(all) > 0
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
