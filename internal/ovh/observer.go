package ovh

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// ServerSnapshot is what OVH says about one server at ObservedAt: enough for
// every FailoverIP routed to it, gathered once for all of them.
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

func (s ServerSnapshot) clone() ServerSnapshot {
	s.IPs = slices.Clone(s.IPs)
	macs := make([]VirtualMAC, len(s.VirtualMACs))
	for i, v := range s.VirtualMACs {
		v.IPs = slices.Clone(v.IPs)
		macs[i] = v
	}
	s.VirtualMACs = macs
	return s
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
	// RefreshTimeout bounds one refresh, which outlives the caller that
	// started it because others may be waiting on it. Default 2 minutes
	// (a first look at a server reads every virtual MAC).
	RefreshTimeout time.Duration
	// IdleTTL forgets servers nobody asked about for that long. Default 1h.
	IdleTTL time.Duration
	// Now is the clock used for ages; default time.Now.
	Now func() time.Time
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
//   - 1 every NetworkMaxAge: the network specification
//
// so the steady state is 2 + 2×VerifyPerRefresh calls per server per
// refresh (4 with the defaults), plus the network specification amortised.
// Concurrent callers asking for the same server share one refresh.
type Observer struct {
	clients *Clients
	opts    ObserverOptions
	flights singleflight.Group

	mu      sync.Mutex
	servers map[string]*serverState

	refreshes atomic.Int64
	hits      atomic.Int64
	waiting   atomic.Int64
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
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Observer{clients: pool, opts: opts, servers: map[string]*serverState{}}
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
	key := creds.Key() + "/" + server
	now := o.opts.Now()

	o.mu.Lock()
	for k, st := range o.servers {
		if now.Sub(st.lastUsed) > o.opts.IdleTTL {
			delete(o.servers, k)
		}
	}
	st := o.servers[key]
	if st == nil {
		st = &serverState{details: map[string]VirtualMAC{}, invalidated: map[string]uint64{}}
		o.servers[key] = st
	}
	st.lastUsed = now
	if !st.snap.ObservedAt.IsZero() && st.snapGen == st.gen && now.Sub(st.snap.ObservedAt) < maxAge {
		snap := st.snap.clone()
		o.mu.Unlock()
		o.hits.Add(1)
		return snap, nil
	}
	flight := key + "#" + strconv.FormatUint(st.gen, 10)
	o.mu.Unlock()

	o.waiting.Add(1)
	defer o.waiting.Add(-1)
	ch := o.flights.DoChan(flight, func() (any, error) {
		o.refreshes.Add(1)
		// The refresh serves every caller that joins it: it must not die
		// with the one that happened to start it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.opts.RefreshTimeout)
		defer cancel()
		return o.refresh(rctx, client, key, server)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return ServerSnapshot{}, r.Err
		}
		return r.Val.(ServerSnapshot).clone(), nil
	case <-ctx.Done():
		return ServerSnapshot{}, cause.New(cause.Unreachable, "ovh", "Snapshot", "gave up waiting for the observation of "+server, ctx.Err())
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

// ObserverStats are counters for metrics and tests.
type ObserverStats struct {
	Refreshes int64 // refreshes run (each a round of OVH calls)
	CacheHits int64 // Snapshot calls answered from the cache
	Waiting   int64 // callers currently waiting for a refresh
}

// Stats returns the current counters.
func (o *Observer) Stats() ObserverStats {
	return ObserverStats{Refreshes: o.refreshes.Load(), CacheHits: o.hits.Load(), Waiting: o.waiting.Load()}
}

func (o *Observer) refresh(ctx context.Context, c Client, key, server string) (ServerSnapshot, error) {
	started := o.opts.Now()
	o.mu.Lock()
	st := o.servers[key]
	if st == nil { // forgotten as idle while we were queued
		st = &serverState{details: map[string]VirtualMAC{}, invalidated: map[string]uint64{}, lastUsed: started}
		o.servers[key] = st
	}
	gen := st.gen
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
			return ServerSnapshot{}, err
		}
		network, networkAt = n, started
	}
	ips, err := c.ServerIPs(ctx, server)
	if err != nil {
		return ServerSnapshot{}, err
	}
	var macs []string
	if network.VMACSupported {
		macs, err = c.VirtualMACs(ctx, server)
		if cause.Is(err, cause.CapabilityMissing) {
			network.VMACSupported, macs, err = false, nil, nil
		}
		if err != nil {
			return ServerSnapshot{}, err
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
	if n := min(o.opts.VerifyPerRefresh, len(verifiable)); n > 0 {
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
			return ServerSnapshot{}, err
		}
		details[m] = v
	}

	snap := ServerSnapshot{Server: server, Network: network, IPs: ips, ObservedAt: started}
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
		return snap.clone(), nil
	}
	st.network, st.networkAt = network, networkAt
	st.details = details
	for m, g := range st.invalidated {
		if g <= gen { // read (or gone) in this refresh; later invalidations stay
			delete(st.invalidated, m)
		}
	}
	st.cursor = cursor
	st.snap, st.snapGen = snap, gen
	return snap.clone(), nil
}
