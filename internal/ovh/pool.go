package ovh

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	govh "github.com/ovh/go-ovh/ovh"
)

// Options tune the clients of a Clients pool. Zero fields take defaults.
type Options struct {
	// RequestsPerSecond and Burst size the request budget of each consumer
	// key (access token, OAuth2 client), shared by every client and caller
	// using it. Default: OVH's fair use, DefaultRequestsPerMinute (one a
	// second) with a burst of 5. Callers wait for the budget rather than
	// being refused, unless their deadline would pass first; the Observer
	// stretches observation intervals to stay within it. math.Inf(1)
	// disables it (tests against the simulator).
	RequestsPerSecond float64
	Burst             int
	// Timeout bounds each HTTP request. Default 30s.
	Timeout time.Duration
	// Retry applies to reads only.
	Retry RetryPolicy
	// Transport sends the requests; default a clone of
	// http.DefaultTransport (TLS verified).
	Transport http.RoundTripper
	// IdleTTL forgets a credential's client (and budget) when unused that
	// long, so rotated Secrets do not pile up. Default 1h.
	IdleTTL time.Duration
}

// RetryPolicy is how reads are retried on 5xx, 429 and network errors:
// exponential backoff from BaseDelay, honouring Retry-After, never waiting
// longer than MaxDelay at once. Default 3 attempts, 250ms, 5s.
type RetryPolicy struct {
	Attempts  int
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

func (o Options) withDefaults() Options {
	if o.RequestsPerSecond == 0 {
		o.RequestsPerSecond = DefaultRequestsPerMinute / 60.0
	}
	if o.Burst == 0 {
		o.Burst = 5
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Retry.Attempts == 0 {
		o.Retry.Attempts = 3
	}
	if o.Retry.BaseDelay == 0 {
		o.Retry.BaseDelay = 250 * time.Millisecond
	}
	if o.Retry.MaxDelay == 0 {
		o.Retry.MaxDelay = 5 * time.Second
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.IdleTTL == 0 {
		o.IdleTTL = time.Hour
	}
	return o
}

// Clients hands out one Client per credential set. The cache is keyed by
// Credentials.Key, so a rotated Secret gets a new client on the next
// reconcile, without a restart; clients of the same consumer key (say two
// Secrets holding it) share one budget.
type Clients struct {
	opts    Options
	mu      sync.Mutex
	entries map[string]*poolEntry
	budgets map[string]*budget
}

type poolEntry struct {
	client   *apiClient
	lastUsed time.Time
}

// NewClients returns an empty pool.
func NewClients(opts Options) *Clients {
	return &Clients{opts: opts.withDefaults(), entries: map[string]*poolEntry{}, budgets: map[string]*budget{}}
}

// Get returns the client for creds, building it on first use. It fails with
// a cause.Invalid error when the credentials are incomplete.
func (p *Clients) Get(creds Credentials) (Client, error) {
	mode, err := creds.Mode()
	if err != nil {
		return nil, err
	}
	key := creds.Key()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.entries {
		if now.Sub(e.lastUsed) > p.opts.IdleTTL {
			delete(p.entries, k)
		}
	}
	for k, b := range p.budgets {
		if now.Sub(time.Unix(0, b.lastUsed.Load())) > p.opts.IdleTTL {
			delete(p.budgets, k)
		}
	}
	if e, ok := p.entries[key]; ok {
		e.lastUsed = now
		return e.client, nil
	}
	c, err := p.build(creds, mode)
	if err != nil {
		return nil, err
	}
	p.entries[key] = &poolEntry{client: c, lastUsed: now}
	return c, nil
}

// build makes a client; p.mu is held.
func (p *Clients) build(creds Credentials, mode AuthMode) (*apiClient, error) {
	base, err := creds.baseURL()
	if err != nil {
		return nil, err
	}
	bk := creds.budgetKey(base)
	b := p.budgets[bk]
	if b == nil {
		b = newBudget(p.opts.RequestsPerSecond, p.opts.Burst, creds.BudgetLabel())
		p.budgets[bk] = b
	}

	// The go-ovh client is built field by field rather than with
	// NewClient, whose configuration loading would merge OVH_* environment
	// variables and ovh.conf files into credentials that must come from the
	// Secret alone. OAuth2 has no other way in than NewOAuth2Client (its
	// token source is private).
	var api *govh.Client
	switch mode {
	case AuthOAuth2:
		if api, err = govh.NewOAuth2Client(base, creds.ClientID, creds.ClientSecret); err != nil {
			return nil, invalidCredentials("OAuth2 client: " + err.Error())
		}
	case AuthAccessToken:
		api = &govh.Client{AccessToken: creds.AccessToken}
	default:
		api = &govh.Client{AppKey: creds.ApplicationKey, AppSecret: creds.ApplicationSecret, ConsumerKey: creds.ConsumerKey}
	}
	if err := api.SetEndpoint(base); err != nil {
		return nil, invalidCredentials(err.Error())
	}
	// go-ovh sends GET /auth/time through api.Client (under signMu), which
	// takes the budget in its transport; the calls themselves take it in
	// apiClient.do, before signing (a signature's timestamp must not age in
	// a queue) and outside http.Client's Timeout (which bounds the request,
	// not the wait).
	api.Client = &http.Client{Transport: &budgetTransport{base: p.opts.Transport, budget: b}}
	api.Timeout = p.opts.Timeout
	api.UserAgent = "ovhbridge-operator"
	return &apiClient{
		api:    api,
		http:   &http.Client{Transport: p.opts.Transport, Timeout: p.opts.Timeout},
		retry:  p.opts.Retry,
		budget: b,
	}, nil
}

type turnKey struct{}

// turn is a rate-limiter token taken ahead for one request.
type turn struct{ used atomic.Bool }

// TakeTurn waits for c's budget now, on behalf of the first request made
// with the returned context, which then goes out without waiting.
//
// A write's intent is recorded in status before the write is sent, and a
// crash between the two leaves an intent nobody knows was sent: the next
// pass must wait for OVH's task list to settle before writing again
// (minutes). Taken before the intent is recorded, the turn keeps that
// window to one status patch instead of a status patch plus a queue behind
// every other caller of the credential when many writes start together.
func TakeTurn(ctx context.Context, c Client) (context.Context, error) {
	ac, ok := c.(*apiClient)
	if !ok || ac.budget == nil {
		return ctx, nil
	}
	if err := ac.budget.take(ctx); err != nil {
		return ctx, classify("TakeTurn", err)
	}
	return context.WithValue(ctx, turnKey{}, &turn{}), nil
}

// TryTurn is TakeTurn without the wait: free is false, and ctx returned
// as it came, when c's budget has no token now or others wait for one. A
// caller with something to say before a wait (a FailoverIP's drift, before
// the repair's turn) says it, then takes the turn.
func TryTurn(ctx context.Context, c Client) (_ context.Context, free bool) {
	ac, ok := c.(*apiClient)
	if !ok || ac.budget == nil {
		return ctx, true
	}
	if !ac.budget.tryTake() {
		return ctx, false
	}
	return context.WithValue(ctx, turnKey{}, &turn{}), true
}

// requestTimeoutKey carries a bound for each request made with a context,
// applied once the request's budget is taken (see Observer).
type requestTimeoutKey struct{}

// withRequestTimeout bounds every request made with ctx to d, not counting
// the wait for the budget.
func withRequestTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, requestTimeoutKey{}, d)
}
