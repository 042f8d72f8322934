package ovh

import (
	"context"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// ServerSnapshot is what OVH says about one server at ObservedAt: enough for
// every FailoverIP routed to it, gathered once for all of them. The Observer
// hands the same snapshot to every caller and never changes it: read it,
// never modify its slices.
type ServerSnapshot struct {
	Server  string
	Network ServerNetwork
	// IPs are the blocks routed to the server, sorted ("203.0.113.123/32").
	IPs []string
	// VirtualMACs are sorted by MAC. Empty when the server has none or
	// does not support them (Network.VMACSupported).
	VirtualMACs []VirtualMAC
	ObservedAt  time.Time
}

// BlockFor returns the routed block containing ip (an address or block), if
// the server has one.
func (s ServerSnapshot) BlockFor(ip string) (string, bool) {
	want, err := netip.ParsePrefix(mustBlock(ip))
	if err != nil {
		return "", false
	}
	for _, b := range s.IPs {
		p, err := netip.ParsePrefix(b)
		if err == nil && p.Bits() <= want.Bits() && p.Contains(want.Addr()) {
			return b, true
		}
	}
	return "", false
}

// VirtualMACFor returns the virtual MAC an IP address ("203.0.113.123" or
// ".../32") is bound to, if any.
func (s ServerSnapshot) VirtualMACFor(ip string) (VirtualMAC, bool) {
	addr, _ := strings.CutSuffix(strings.TrimSpace(ip), "/32")
	for _, v := range s.VirtualMACs {
		if slices.Contains(v.IPs, addr) {
			return v, true
		}
	}
	return VirtualMAC{}, false
}

func mustBlock(ip string) string {
	b, err := Block(ip)
	if err != nil {
		return ip
	}
	return b
}

// ObserverOptions tune an Observer. Zero fields take defaults.
type ObserverOptions struct {
	// NetworkMaxAge is how long a server's network specification is reused;
	// gateways and vMAC support change rarely. Default 1h.
	NetworkMaxAge time.Duration
	// VerifyPerRefresh is how many already known virtual MACs have their
	// details (type, IPs) read again at each refresh, round robin, to catch
	// changes made outside the operator. Default 1; negative: never.
	VerifyPerRefresh int
	// RefreshTimeout bounds each request of a refresh (which outlives the
	// caller that started it, because others may be waiting on it). Waiting
	// for the consumer key's budget, or for the turn of a first
	// observation, is not bounded: at start-up, reads spread over time
	// instead of being refused. Default 2 minutes.
	RefreshTimeout time.Duration
	// IdleTTL forgets servers nobody asked about for that long. Default 1h.
	IdleTTL time.Duration
	// FirstRetry is how long TrySnapshot answers with the error of a failed
	// first observation before the next caller starts another. Default 5s.
	FirstRetry time.Duration
	// Now is the clock used for ages; default time.Now.
	Now func() time.Time
	// KeepObserved refreshes every server FailoverIPs ask about (Snapshot
	// with a maxAge) on its own, once per effective interval, and announces
	// what changed through Source. A FailoverIP with nothing to fix then
	// needs no pass of its own every syncInterval for its server to be
	// looked at (KeepsObserved): 5000 FailoverIPs on 50 servers cost 50
	// refreshes per interval either way, but not 5000 reconciles. Off by
	// default: callers drive every refresh.
	KeepObserved bool
	// KeptFor is how long a server stays observed after its FailoverIPs
	// last asked about it (at least three of its intervals); default 30
	// minutes. Once they are gone, OVH is no longer asked.
	KeptFor time.Duration
	// AfterFunc schedules KeepObserved's refreshes; default time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// Observer shares OVH observation between all the FailoverIPs of a server
// and credential, so that OVH calls grow with servers, not FailoverIPs.
//
// A refresh of one server costs, in calls:
//   - 1: GET /ip?routedTo.serviceName=<server>
//   - 1: GET .../virtualMac (skipped when the server has no vMAC support)
//   - 2 per virtual MAC never seen before (or named in Invalidate, or known
//     with no IP): its type, then its IPs
//   - 2 × VerifyPerRefresh: known virtual MACs read again, round robin
//     (not in a refresh a write forced through Invalidate)
//   - 1 every NetworkMaxAge: the network specification
//
// so the steady state is 2 + 2×VerifyPerRefresh calls per server per
// refresh (4 with the defaults), plus the network specification amortised.
// Concurrent callers asking for the same server share one refresh.
//
// Reverse DNS is read per address, not per server (OVH has no list of a
// server's reverses): Reverse costs one call per address asked for, at most
// once per interval, and those calls count in the server's share of the
// budget like its refreshes.
//
// The servers of one consumer key share its budget (Options.Burst,
// RequestsPerSecond; OVH's fair use by default). When their steady state at
// the intervals their FailoverIPs ask for (Snapshot's maxAge) would take
// more than ObservationShare of what the budget sustains (its rate less its
// burst), every interval of the key is stretched by the same factor: a
// server asked every minute is then observed every 100 s, say.
// ObservationInterval and the metric ovhbridge_ovh_observation_interval_seconds
// tell the interval in effect. Refreshes after a server's first observation
// are Urgent (those KeepObserved schedules, and those a write forces, which
// take the same turn per key): writes, task reads and first observations
// wait behind them and share the rest, so that a repair under way does not
// delay what the interval promises.
//
// First observations, which read every virtual MAC, run one at a time per
// credential: they share its rate limit, so in parallel every server would
// be known only when all are (500 virtual MACs on 5 servers: 50 s at 20
// requests/s), while in turn the first server's FailoverIPs, and the VMs and
// routers that wait on them, can proceed after a fifth of that. Source
// announces each completed first observation, and every refresh that found
// the server changed, so that FailoverIPs need not wait for their own next
// pass to see it.
type Observer struct {
	clients *Clients
	opts    ObserverOptions
	flights singleflight.Group

	mu      sync.Mutex
	servers map[string]*serverState
	// turns serializes first observations per credential (Credentials.Key).
	turns map[string]chan struct{}
	subs  []chan<- event.TypedGenericEvent[ServerObserved]

	closed bool // Close was called: no more scheduled refreshes

	refreshes atomic.Int64
	hits      atomic.Int64
	waiting   atomic.Int64
	queued    atomic.Int64
}

// ServerObserved announces that what OVH shows of a server may have changed
// for its FailoverIPs: its first observation ended (successfully or not),
// or a refresh found its IPs, virtual MACs or network specification
// different from the previous observation.
type ServerObserved struct {
	Server string
}

// serverState is the cache of one (credential, server).
type serverState struct {
	snap ServerSnapshot
	// gen counts invalidations; a snapshot is valid only if taken at the
	// current generation, so a refresh racing with a write cannot pass for
	// fresh afterwards.
	gen, snapGen uint64
	network      ServerNetwork
	networkAt    time.Time
	details      map[string]VirtualMAC
	invalidated  map[string]uint64 // MAC -> generation at which it was invalidated
	cursor       int
	lastUsed     time.Time
	// server and label (Credentials.BudgetLabel) name the state in metrics.
	server, label string
	// requested is the interval FailoverIPs last asked for (a positive
	// maxAge); effective is requested stretched to fit the budget.
	requested, effective time.Duration
	// lastErr is the failure of a first observation, answered to
	// TrySnapshot callers until FirstRetry has passed since lastErrAt.
	lastErr   error
	lastErrAt time.Time
	// plannedCalls and perMinute are what the last plan counted for this
	// server: a plan is made again only when they (or requested) change.
	plannedCalls, perMinute float64
	// For KeepObserved: the client and credential of the last caller that
	// asked (at askedAt), and the scheduled refresh, if any.
	client  Client
	credKey string
	askedAt time.Time
	timer   func() bool
	// reverses caches the reverse DNS names read for addresses whose
	// FailoverIP asks for one (Reverse), by address.
	reverses map[string]*reverseEntry
}

// reverseEntry is one address's reverse as last read.
type reverseEntry struct {
	name     string
	at       time.Time // zero: never read, or invalidated
	lastUsed time.Time
}

// NewObserver observes through the clients of pool.
func NewObserver(pool *Clients, opts ObserverOptions) *Observer {
	if opts.NetworkMaxAge == 0 {
		opts.NetworkMaxAge = time.Hour
	}
	if opts.VerifyPerRefresh == 0 {
		opts.VerifyPerRefresh = 1
	}
	if opts.RefreshTimeout == 0 {
		opts.RefreshTimeout = 2 * time.Minute
	}
	if opts.IdleTTL == 0 {
		opts.IdleTTL = time.Hour
	}
	if opts.FirstRetry == 0 {
		opts.FirstRetry = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.KeptFor == 0 {
		opts.KeptFor = 30 * time.Minute
	}
	if opts.AfterFunc == nil {
		opts.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	return &Observer{clients: pool, opts: opts, servers: map[string]*serverState{}, turns: map[string]chan struct{}{}}
}

// Snapshot returns what OVH says about a server, at most maxAge old. A
// refresh already in flight satisfies any maxAge: callers arriving during it
// share its result instead of starting another.
func (o *Observer) Snapshot(ctx context.Context, creds Credentials, server string, maxAge time.Duration) (ServerSnapshot, error) {
	client, err := o.clients.Get(creds)
	if err != nil {
		return ServerSnapshot{}, err
	}
	if err := required("Snapshot", "server", server); err != nil {
		return ServerSnapshot{}, err
	}
	credKey := creds.Key()
	key := credKey + "/" + server
	if maxAge > 0 {
		o.ask(creds, credKey, client, key, server, maxAge)
	}
	snap, flight, ok := o.cached(key, maxAge)
	if ok {
		o.hits.Add(1)
		return snap, nil
	}

	o.waiting.Add(1)
	defer o.waiting.Add(-1)
	select {
	case r := <-o.start(ctx, client, credKey, key, server, flight):
		if r.Err != nil {
			return ServerSnapshot{}, r.Err
		}
		return r.Val.(ServerSnapshot), nil
	case <-ctx.Done():
		return ServerSnapshot{}, cause.New(cause.Unreachable, "ovh", "Snapshot", "gave up waiting for the observation of "+server, ctx.Err())
	}
}

// TrySnapshot is Snapshot for callers that must not wait for a server's
// first observation: a controller worker blocked on it would hold up every
// other object meanwhile. For a server never observed it starts the
// observation (or leaves the one in flight) and returns ok=false at once;
// Source announces when it is over. Within FirstRetry of a failed first
// observation it returns that failure instead. For a server observed
// before, it is Snapshot.
func (o *Observer) TrySnapshot(ctx context.Context, creds Credentials, server string, maxAge time.Duration) (snap ServerSnapshot, ok bool, err error) {
	client, err := o.clients.Get(creds)
	if err != nil {
		return ServerSnapshot{}, false, err
	}
	if err := required("Snapshot", "server", server); err != nil {
		return ServerSnapshot{}, false, err
	}
	key := creds.Key() + "/" + server
	o.mu.Lock()
	st := o.state(key, o.opts.Now())
	observed := !st.snap.ObservedAt.IsZero()
	var failed error
	if st.lastErr != nil && o.opts.Now().Sub(st.lastErrAt) < o.opts.FirstRetry {
		failed = st.lastErr
	}
	flight := key + "#" + strconv.FormatUint(st.gen, 10)
	o.mu.Unlock()
	switch {
	case observed:
		snap, err = o.Snapshot(ctx, creds, server, maxAge)
		return snap, err == nil, err
	case failed != nil:
		return ServerSnapshot{}, false, failed
	}
	o.start(ctx, client, creds.Key(), key, server, flight)
	return ServerSnapshot{}, false, nil
}

// Source turns announcements (ServerObserved) into reconcile requests
// through mapFn, typically the FailoverIPs routed to the server, for
// builder.WatchesRawSource.
func (o *Observer) Source(mapFn handler.TypedMapFunc[ServerObserved, reconcile.Request]) source.Source {
	ch := make(chan event.TypedGenericEvent[ServerObserved], 1024)
	o.mu.Lock()
	o.subs = append(o.subs, ch)
	o.mu.Unlock()
	return source.Channel(ch, handler.TypedEnqueueRequestsFromMapFunc(mapFn))
}

// cached returns the server's snapshot if it is at most maxAge old and
// current, or else the key of the refresh to share.
func (o *Observer) cached(key string, maxAge time.Duration) (snap ServerSnapshot, flight string, ok bool) {
	now := o.opts.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.state(key, now)
	if maxAge > 0 && st.effective > maxAge {
		maxAge = st.effective
	}
	if !st.snap.ObservedAt.IsZero() && st.snapGen == st.gen && now.Sub(st.snap.ObservedAt) < maxAge {
		return st.snap, "", true
	}
	return ServerSnapshot{}, key + "#" + strconv.FormatUint(st.gen, 10), false
}

// state returns the server's state, creating it, and forgets idle servers.
// o.mu must be held.
func (o *Observer) state(key string, now time.Time) *serverState {
	for k, st := range o.servers {
		if now.Sub(st.lastUsed) > o.opts.IdleTTL {
			if st.timer != nil {
				st.timer()
			}
			delete(o.servers, k)
		}
	}
	st := o.servers[key]
	if st == nil {
		st = &serverState{details: map[string]VirtualMAC{}, invalidated: map[string]uint64{}}
		o.servers[key] = st
	}
	st.lastUsed = now
	for a, r := range st.reverses {
		if now.Sub(r.lastUsed) > o.opts.IdleTTL {
			delete(st.reverses, a) // no FailoverIP asks for it any more
		}
	}
	return st
}

// start joins the refresh named flight, starting it if none runs.
func (o *Observer) start(ctx context.Context, c Client, credKey, key, server, flight string) <-chan singleflight.Result {
	return o.flights.DoChan(flight, func() (any, error) {
		o.refreshes.Add(1)
		// The refresh serves every caller that joins it: it must not die
		// with the one that happened to start it. Its requests are bounded
		// one by one, not its waits for the budget or a turn.
		rctx := withRequestTimeout(context.WithoutCancel(ctx), o.opts.RefreshTimeout)
		snap, changed, err := o.refresh(rctx, c, credKey, key, server)
		if err != nil {
			changed = o.firstFailed(key, err)
		}
		if changed {
			o.announce(rctx, ServerObserved{Server: server})
		}
		return snap, err
	})
}

// firstFailed records the failure of a first observation for TrySnapshot
// and reports whether it was one.
func (o *Observer) firstFailed(key string, err error) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.servers[key]
	if st == nil || !st.snap.ObservedAt.IsZero() {
		return false
	}
	st.lastErr, st.lastErrAt = err, o.opts.Now()
	return true
}

// announce tells every Source. It waits for room rather than drop: a lost
// announcement would leave FailoverIPs waiting for their next pass.
func (o *Observer) announce(ctx context.Context, e ServerObserved) {
	o.mu.Lock()
	subs := slices.Clone(o.subs)
	o.mu.Unlock()
	for _, ch := range subs {
		select {
		case ch <- event.TypedGenericEvent[ServerObserved]{Object: e}:
		case <-ctx.Done():
			return
		}
	}
}

// firstTurn waits for the credential's turn to run a first observation.
func (o *Observer) firstTurn(ctx context.Context, credKey string) (release func(), err error) {
	return o.takeTurn(ctx, credKey, "other servers' first observations")
}

// refreshTurn waits for the credential's turn to refresh a server, when the
// credential has a budget. Refreshes sharing a budget in parallel interleave
// their calls: each waits behind all the others' and every server is known
// late (the bench's 10× budget phase: 25 servers whose refreshes fell due
// together took 60 s more than their interval to see a move). In turn, each
// refresh's few calls go out together and the schedules stay spread.
// Unlimited, refreshes run in parallel: nothing is shared but the network.
func (o *Observer) refreshTurn(ctx context.Context, c Client, credKey string) (release func(), err error) {
	if ac, ok := c.(*apiClient); !ok || ac.budget == nil || math.IsInf(ac.budget.perMinute(), 1) {
		return func() {}, nil
	}
	return o.takeTurn(ctx, credKey+"#refresh", "other servers' refreshes")
}

// takeTurn waits for the turn named.
func (o *Observer) takeTurn(ctx context.Context, name, others string) (release func(), err error) {
	o.mu.Lock()
	turn := o.turns[name]
	if turn == nil {
		turn = make(chan struct{}, 1)
		o.turns[name] = turn
	}
	o.mu.Unlock()
	o.queued.Add(1)
	defer o.queued.Add(-1)
	select {
	case turn <- struct{}{}:
		return func() { <-turn }, nil
	case <-ctx.Done():
		return nil, cause.New(cause.Unreachable, "ovh", "Snapshot", "gave up waiting for "+others, ctx.Err())
	}
}

// Invalidate makes the next Snapshot of the server refresh, whatever its
// maxAge, and read again the details of the named virtual MACs. Call it
// after every write: with the MAC after BindIP and UnbindIP, for both
// servers after MoveIP, and with no MAC after CreateVirtualMAC (a new MAC is
// read anyway).
func (o *Observer) Invalidate(creds Credentials, server string, macs ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.servers[creds.Key()+"/"+server]
	if st == nil {
		return
	}
	st.gen++
	for _, m := range macs {
		st.invalidated[strings.ToLower(m)] = st.gen
	}
}

// ask records the interval FailoverIPs of a server ask for and plans the
// intervals of every server of the credential anew when what the plan
// counts changed (every Snapshot asks: planning each time would cost more
// than the snapshot). Under KeepObserved it keeps the server observed.
func (o *Observer) ask(creds Credentials, credKey string, c Client, key, server string, maxAge time.Duration) {
	perMinute := math.Inf(1)
	if ac, ok := c.(*apiClient); ok && ac.budget != nil {
		perMinute = ac.budget.sustainedPerMinute()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.opts.Now()
	st := o.state(key, now)
	st.client, st.credKey, st.askedAt = c, credKey, now
	if calls := o.refreshCalls(st); st.label == "" || st.requested != maxAge || st.plannedCalls != calls || st.perMinute != perMinute {
		st.server, st.label, st.requested, st.plannedCalls, st.perMinute = server, creds.BudgetLabel(), maxAge, calls, perMinute
		o.plan(credKey, perMinute)
	}
	o.keep(key, st, now)
}

// keep schedules the server's next refresh under KeepObserved, when its
// snapshot is due (ObservedAt + effective interval), unless one is
// scheduled or the server was never observed. o.mu must be held.
func (o *Observer) keep(key string, st *serverState, now time.Time) {
	if !o.opts.KeepObserved || o.closed || st.timer != nil || st.snap.ObservedAt.IsZero() || st.requested <= 0 {
		return
	}
	o.after(key, st, max(0, o.due(st).Sub(now)))
}

// due is when a kept server's next refresh is asked for: an interval after
// the last one was (see refresh), less earlyBound, so that the IP list
// (the read that sees a move, last in a refresh) is read within the
// effective interval of the last read even when the key turns busy between
// the two. o.mu must be held.
func (o *Observer) due(st *serverState) time.Time {
	return st.snap.ObservedAt.Add(st.effective - o.earlyBound(st, st.perMinute, st.effective))
}

// earlyBound is what a kept server's refreshes come early by, for an
// effective interval e on a key that sustains perMinute. A refresh's IP
// list is read some time after it is asked for (its lead), and a key
// turning busy between two refreshes (repairs starting) makes the second
// lead longer: each of its calls waits a token, and it waits for the
// refresh before it (a key's refreshes take turns). The bench's budget
// phase: leads from 0 to 8 s when ten repairs started, and reads 7.6 s past
// the interval. Twice a refresh's calls and one request more (the read of
// where a vanished IP went, before its FailoverIP reports it), at the key's
// pace; never more than an eighth of the interval, which plan pays for out
// of the observation's share. A key far from its budget (1000 a second)
// comes early by milliseconds: one refresh per interval.
func (o *Observer) earlyBound(st *serverState, perMinute float64, e time.Duration) time.Duration {
	if !o.opts.KeepObserved {
		return 0 // refreshed when callers ask, not on a schedule
	}
	return min(time.Duration((2*o.listCalls(st)+1)*float64(pace(perMinute))), e/8)
}

// pace is the time between two requests of a key that sustains perMinute;
// 0 when unlimited.
func pace(perMinute float64) time.Duration {
	if perMinute <= 0 || math.IsInf(perMinute, 1) {
		return 0
	}
	return time.Duration(float64(time.Minute) / perMinute)
}

// after schedules a tick of the server in d. o.mu must be held.
func (o *Observer) after(key string, st *serverState, d time.Duration) {
	st.timer = o.opts.AfterFunc(d, func() { o.tick(key) })
}

// tick refreshes a kept server when its snapshot is due. The refresh, like
// any, announces what changed and schedules the next (refresh calls keep);
// a failed one is tried again after an interval. A server nobody asked
// about for KeptFor is let go.
func (o *Observer) tick(key string) {
	o.mu.Lock()
	st := o.servers[key]
	if st == nil || o.closed {
		o.mu.Unlock()
		return
	}
	st.timer = nil
	now := o.opts.Now()
	if now.Sub(st.askedAt) > max(o.opts.KeptFor, 3*st.requested) {
		o.mu.Unlock()
		return
	}
	if st.snapGen == st.gen && now.Before(o.due(st)) {
		o.keep(key, st, now) // refreshed meanwhile for a caller
		o.mu.Unlock()
		return
	}
	c, credKey, server := st.client, st.credKey, st.server
	flight := key + "#" + strconv.FormatUint(st.gen, 10)
	o.mu.Unlock()
	// The scheduled refresh is the observation the interval promises: its
	// calls go before writes and task reads waiting for the budget.
	done := o.start(Urgent(context.Background()), c, credKey, key, server, flight)
	go func() {
		if r := <-done; r.Err == nil {
			return
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if st := o.servers[key]; st != nil && st.timer == nil && !o.closed {
			o.after(key, st, max(st.effective, o.opts.FirstRetry))
		}
	}()
}

// KeepsObserved reports whether the Observer refreshes the servers asked
// about on its own (ObserverOptions.KeepObserved).
func (o *Observer) KeepsObserved() bool { return o.opts.KeepObserved }

// Close stops the refreshes KeepObserved scheduled.
func (o *Observer) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for _, st := range o.servers {
		if st.timer != nil {
			st.timer()
			st.timer = nil
		}
	}
}

// plan sets the effective interval of every server of a credential: the
// requested one, stretched by the factor that brings the steady-state cost
// of them all within ObservationShare of the budget, refreshes coming
// early (see due) included. o.mu must be held.
func (o *Observer) plan(credKey string, perMinute float64) {
	var states []*serverState
	var network float64 // calls per minute
	for key, st := range o.servers {
		if st.requested <= 0 || !strings.HasPrefix(key, credKey+"/") {
			continue
		}
		states = append(states, st)
		network += 1 / o.opts.NetworkMaxAge.Minutes()
	}
	// Calls per minute at a factor f: each server refreshed once per its
	// stretched interval, less what its refreshes come early by.
	cost := func(f float64) float64 {
		var calls float64
		for _, st := range states {
			e := time.Duration(float64(st.requested) * f)
			calls += o.refreshCalls(st) / (e - o.earlyBound(st, perMinute, e)).Minutes()
		}
		return calls
	}
	factor := 1.0
	share := max(perMinute*ObservationShare-network, perMinute*ObservationShare/10)
	switch {
	case math.IsInf(perMinute, 1) || cost(1) <= share:
	case !o.opts.KeepObserved:
		factor = cost(1) / share // refreshed when asked: no early ones
	default:
		lo, hi := 1.0, 2.0
		for cost(hi) > share {
			lo, hi = hi, hi*2
		}
		for range 64 { // to the float64 precision: as exact as the closed form without early refreshes
			if mid := (lo + hi) / 2; cost(mid) > share {
				lo = mid
			} else {
				hi = mid
			}
		}
		factor = hi
	}
	for _, st := range states {
		st.effective = time.Duration(float64(st.requested) * factor)
		observationInterval.WithLabelValues(st.label, st.server).Set(st.effective.Seconds())
	}
}

// refreshCalls is what one steady-state refresh of a server costs, as known
// from its last observation (see Observer), with the reverse DNS reads of
// its addresses, made at the same interval.
func (o *Observer) refreshCalls(st *serverState) float64 {
	return o.listCalls(st) + float64(len(st.reverses))
}

// listCalls is what a refresh itself costs: the lists and the MACs it
// verifies.
func (o *Observer) listCalls(st *serverState) float64 {
	calls := 1.0 // the IP list
	if st.snap.ObservedAt.IsZero() || st.snap.Network.VMACSupported {
		calls += 1 + 2*float64(max(0, min(o.opts.VerifyPerRefresh, len(st.snap.VirtualMACs))))
	}
	return calls
}

// Reverse returns the reverse DNS name OVH serves for addr, an address of
// block routed (or to be routed) to server, at most maxAge old (stretched
// like the server's observation interval when the budget needs it); "" when
// there is none. One call when the cached name is too old: a FailoverIP
// asking at every pass costs one read per address per interval.
func (o *Observer) Reverse(ctx context.Context, creds Credentials, server, block, addr string, maxAge time.Duration) (string, error) {
	client, err := o.clients.Get(creds)
	if err != nil {
		return "", err
	}
	key := creds.Key() + "/" + server
	now := o.opts.Now()
	o.mu.Lock()
	st := o.state(key, now)
	if st.reverses == nil {
		st.reverses = map[string]*reverseEntry{}
	}
	e := st.reverses[addr]
	if e == nil {
		// Counted in the server's cost from the next Snapshot's planning.
		e = &reverseEntry{}
		st.reverses[addr] = e
	}
	e.lastUsed = now
	if maxAge > 0 && st.effective > maxAge {
		maxAge = st.effective
	}
	if !e.at.IsZero() && now.Sub(e.at) < maxAge {
		name := e.name
		o.mu.Unlock()
		o.hits.Add(1)
		return name, nil
	}
	o.mu.Unlock()

	r := <-o.flights.DoChan(key+"#reverse/"+addr, func() (any, error) {
		rctx := withRequestTimeout(context.WithoutCancel(ctx), o.opts.RefreshTimeout)
		name, err := client.Reverse(rctx, block, addr)
		if err != nil {
			return "", err
		}
		o.mu.Lock()
		if st := o.servers[key]; st != nil && st.reverses[addr] != nil {
			st.reverses[addr].name, st.reverses[addr].at = name, now
		}
		o.mu.Unlock()
		return name, nil
	})
	if r.Err != nil {
		return "", r.Err
	}
	return r.Val.(string), nil
}

// SetReverse records a reverse the caller just set at OVH (the name OVH
// answered with), so that the next Reverse needs no call; "" forgets what
// is known, so that the next Reverse reads it again.
func (o *Observer) SetReverse(creds Credentials, server, addr, name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.servers[creds.Key()+"/"+server]
	if st == nil || st.reverses[addr] == nil {
		return
	}
	e := st.reverses[addr]
	if name == "" {
		e.at = time.Time{}
		return
	}
	e.name, e.at = name, o.opts.Now()
}

// ObservationInterval is how often the server is observed for these
// credentials: the interval its FailoverIPs ask for, stretched when the
// servers of the consumer key would otherwise exceed its budget; zero for
// a server nobody asked about with an interval.
func (o *Observer) ObservationInterval(creds Credentials, server string) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if st := o.servers[creds.Key()+"/"+server]; st != nil {
		return st.effective
	}
	return 0
}

// ObserverStats are counters for metrics and tests.
type ObserverStats struct {
	Refreshes int64 // refreshes run (each a round of OVH calls)
	CacheHits int64 // Snapshot calls answered from the cache
	Waiting   int64 // callers currently waiting for a refresh
	// Queued counts first observations waiting for their credential's turn.
	Queued int64
}

// Stats returns the current counters.
func (o *Observer) Stats() ObserverStats {
	return ObserverStats{Refreshes: o.refreshes.Load(), CacheHits: o.hits.Load(), Waiting: o.waiting.Load(), Queued: o.queued.Load()}
}

func (o *Observer) refresh(ctx context.Context, c Client, credKey, key, server string) (snap ServerSnapshot, changed bool, err error) {
	o.mu.Lock()
	first := o.servers[key] == nil || o.servers[key].snap.ObservedAt.IsZero()
	o.mu.Unlock()
	turn := o.refreshTurn
	if first {
		turn = func(ctx context.Context, _ Client, credKey string) (func(), error) { return o.firstTurn(ctx, credKey) }
	}
	asked := o.opts.Now()
	release, err := turn(ctx, c, credKey)
	if err != nil {
		return ServerSnapshot{}, false, err
	}
	defer release()
	if !first {
		// Every refresh holding the key's refresh turn is Urgent, the
		// ones a write forces too (two calls): waiting behind writes and
		// task reads with the turn held, a forced one would keep the
		// scheduled ones from their turn (the full bench saw a move 14 s
		// after its server's interval).
		ctx = Urgent(ctx)
	}
	started := o.opts.Now()
	o.mu.Lock()
	st := o.servers[key]
	if st == nil { // forgotten as idle while we were queued
		st = &serverState{details: map[string]VirtualMAC{}, invalidated: map[string]uint64{}, lastUsed: started}
		o.servers[key] = st
	}
	if !first && started.Sub(asked) < st.effective/4 {
		// The next refresh is due an interval after this one was asked
		// for, not after it got its turn: waits for the turn would push
		// every read of the server one wait further apart (the dump of the
		// bench's budget phase: IP lists read up to 7.4 s more than the
		// interval apart). A long wait counts from the turn, or the
		// snapshot would be stale when made.
		started = asked
	}
	gen := st.gen
	// A refresh forced by a write (Invalidate) reads the lists and the
	// MACs the write named, not the round robin of known ones: that is the
	// scheduled refreshes' work, planned in the budget, and a repair would
	// otherwise cost two more calls per refresh it forces.
	verify := st.snapGen == st.gen || st.snap.ObservedAt.IsZero()
	network, networkAt := st.network, st.networkAt
	known := make(map[string]VirtualMAC, len(st.details))
	for m, v := range st.details {
		if _, stale := st.invalidated[m]; !stale && len(v.IPs) > 0 {
			// A MAC always has an IP on OVH; one cached without any was
			// read while its creation was still under way.
			known[m] = v
		}
	}
	cursor := st.cursor
	o.mu.Unlock()

	if networkAt.IsZero() || started.Sub(networkAt) >= o.opts.NetworkMaxAge {
		n, err := c.ServerNetwork(ctx, server)
		if err != nil {
			return ServerSnapshot{}, false, err
		}
		network, networkAt = n, started
	}
	var macs []string
	if network.VMACSupported {
		macs, err = c.VirtualMACs(ctx, server)
		if cause.Is(err, cause.CapabilityMissing) {
			network.VMACSupported, macs, err = false, nil, nil
		}
		if err != nil {
			return ServerSnapshot{}, false, err
		}
	}
	slices.Sort(macs)

	// Which MACs to read: new or invalidated ones, then a few known ones.
	var fetch, verifiable []string
	for _, m := range macs {
		if _, ok := known[m]; ok {
			verifiable = append(verifiable, m)
		} else {
			fetch = append(fetch, m)
		}
	}
	if n := min(o.opts.VerifyPerRefresh, len(verifiable)); n > 0 && verify {
		for i := 0; i < n; i++ {
			fetch = append(fetch, verifiable[(cursor+i)%len(verifiable)])
		}
		cursor = (cursor + n) % len(verifiable)
	}
	details := make(map[string]VirtualMAC, len(macs))
	for _, m := range macs {
		if v, ok := known[m]; ok {
			details[m] = v
		}
	}
	for _, m := range fetch {
		v, err := c.VirtualMAC(ctx, server, m)
		if cause.Is(err, cause.NotFound) {
			delete(details, m) // deleted between the list and now
			continue
		}
		if err != nil {
			return ServerSnapshot{}, false, err
		}
		details[m] = v
	}
	// The IP list last: it is what sees a move, and with it read last the
	// snapshot is complete (and announced) as soon as it has the move.
	ips, err := c.ServerIPs(ctx, server)
	if err != nil {
		return ServerSnapshot{}, false, err
	}

	snap = ServerSnapshot{Server: server, Network: network, IPs: ips, ObservedAt: started}
	slices.Sort(snap.IPs)
	for _, m := range macs {
		if v, ok := details[m]; ok {
			snap.VirtualMACs = append(snap.VirtualMACs, v)
		}
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if gen < st.snapGen {
		// A refresh started after an Invalidate finished first: its view is
		// newer than ours, keep it.
		return snap, false, nil
	}
	changed = st.snap.ObservedAt.IsZero() || !sameObservation(st.snap, snap)
	st.lastErr = nil
	st.network, st.networkAt = network, networkAt
	st.details = details
	for m, g := range st.invalidated {
		if g <= gen { // read (or gone) in this refresh; later invalidations stay
			delete(st.invalidated, m)
		}
	}
	st.cursor = cursor
	st.snap, st.snapGen = snap, gen
	if st.requested > 0 {
		if calls := o.refreshCalls(st); calls != st.plannedCalls {
			st.plannedCalls = calls
			o.plan(credKey, st.perMinute)
		}
	}
	o.keep(key, st, o.opts.Now())
	return snap, changed, nil
}

// sameObservation reports whether two snapshots of a server say the same.
func sameObservation(a, b ServerSnapshot) bool {
	return a.Network == b.Network && slices.Equal(a.IPs, b.IPs) &&
		slices.EqualFunc(a.VirtualMACs, b.VirtualMACs, func(x, y VirtualMAC) bool {
			return x.MAC == y.MAC && x.Type == y.Type && slices.Equal(x.IPs, y.IPs)
		})
}
