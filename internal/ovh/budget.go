package ovh

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// DefaultRequestsPerMinute is the request budget of a consumer key by
// default: OVH documents no limit but asks for fair use, which an OVH
// maintainer put as "if you are not over 60 req/min by consumer key, you
// should be ok" (github ovh/python-ovh#81).
const DefaultRequestsPerMinute = 60

// ObservationShare is the part of a consumer key's budget the Observer plans
// its steady-state observation in, leaving the rest for writes, task reads
// and first observations.
const ObservationShare = 0.8

var (
	budgetRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ovhbridge_ovh_budget_requests_total",
		Help: "Requests sent to the OVH API under a consumer key's budget (GET /auth/time included), by credential " +
			"(the application key's first characters and a hash of the consumer key, never a secret).",
	}, []string{"credential"})
	budgetLimit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ovhbridge_ovh_budget_requests_per_minute",
		Help: "The request budget of a consumer key, per minute (OVH's fair use: about 60); " +
			"rate(ovhbridge_ovh_budget_requests_total[1m])*60 over it is the share used.",
	}, []string{"credential"})
	budgetWaiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ovhbridge_ovh_budget_waiting",
		Help: "Requests currently waiting for their consumer key's budget.",
	}, []string{"credential"})
	observationInterval = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ovhbridge_ovh_observation_interval_seconds",
		Help: "How often a server is observed at OVH, at most (a move is reported within it): the interval its " +
			"FailoverIPs ask for, stretched when the servers sharing a consumer key would otherwise exceed its " +
			"budget; kept servers are refreshed somewhat sooner, so that a busy key does not push reads past it.",
	}, []string{"credential", "server"})
)

func init() {
	crmetrics.Registry.MustRegister(budgetRequests, budgetLimit, budgetWaiting, observationInterval)
}

// budget is the request budget of one consumer key (or access token, or
// OAuth2 client): every client and caller using the key shares it. Callers
// wait for it rather than being refused, unless their own deadline would
// pass first.
type budget struct {
	limiter  *rate.Limiter
	nominal  float64 // requests per second asked for; +Inf when unlimited
	label    string
	lastUsed atomic.Int64  // unix nanoseconds
	urgent   atomic.Int64  // Urgent requests waiting
	others   atomic.Int64  // other requests waiting
	line     chan struct{} // held by the other request next in line
}

func newBudget(perSecond float64, burst int, label string) *budget {
	b := &budget{limiter: rate.NewLimiter(refillRate(perSecond, burst), burst), nominal: perSecond, label: label,
		line: make(chan struct{}, 1)}
	if !math.IsInf(perSecond, 1) {
		budgetLimit.WithLabelValues(label).Set(perSecond * 60)
	}
	b.lastUsed.Store(time.Now().UnixNano())
	return b
}

// refillRate is the limiter's rate for a budget of perSecond with burst:
// the burst is taken out of the minute, so that a full burst and a minute of
// refill never exceed perSecond×60 in any 60 s (OVH's fair use counts
// requests per minute; at 1/s and a burst of 5, a plain token bucket lets
// 65 through in a minute, which the bench's budget phase measured). Never
// under half the rate: a burst as large as the minute's budget is the
// caller's choice, not a reason to stop.
func refillRate(perSecond float64, burst int) rate.Limit {
	if math.IsInf(perSecond, 1) {
		return rate.Inf
	}
	return rate.Limit(max(perSecond-float64(burst)/60, perSecond/2))
}

// perMinute is the budget's rate, as asked for; +Inf when unlimited.
func (b *budget) perMinute() float64 {
	return b.nominal * 60
}

// sustainedPerMinute is what the budget lets through minute after minute:
// its rate less the burst (refillRate); +Inf when unlimited. Plans of
// steady traffic take their share of this, not of the rate asked for, or
// the limiter runs nearly full and every request queues.
func (b *budget) sustainedPerMinute() float64 {
	if b.limiter.Limit() == rate.Inf {
		return math.Inf(1)
	}
	return float64(b.limiter.Limit()) * 60
}

// wait takes one request's share of the budget, or uses the turn taken
// ahead for this context (TakeTurn).
func (b *budget) wait(ctx context.Context) error {
	if tn, ok := ctx.Value(turnKey{}).(*turn); ok && tn.used.CompareAndSwap(false, true) {
		return nil
	}
	return b.take(ctx)
}

// take waits for the budget; it fails at once when ctx's deadline would
// pass first. Requests of an Urgent context go before the others waiting.
func (b *budget) take(ctx context.Context) error {
	b.lastUsed.Store(time.Now().UnixNano())
	g := budgetWaiting.WithLabelValues(b.label)
	g.Inc()
	var err error
	if isUrgent(ctx) {
		b.urgent.Add(1)
		err = b.limiter.Wait(ctx)
		b.urgent.Add(-1)
	} else {
		err = b.waitBehindUrgent(ctx)
	}
	g.Dec()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &clientRateLimitError{err}
	}
	budgetRequests.WithLabelValues(b.label).Inc()
	return nil
}

// tryTake takes a token only if one is free now and nobody waits for one
// (urgent or not): it never goes before a request already waiting.
func (b *budget) tryTake() bool {
	now := time.Now()
	if b.limiter.Limit() != rate.Inf {
		if b.urgent.Load() > 0 || b.others.Load() > 0 {
			return false
		}
		r := b.limiter.ReserveN(now, 1)
		if !r.OK() || r.DelayFrom(now) > 0 {
			r.CancelAt(now)
			return false
		}
	}
	b.lastUsed.Store(now.UnixNano())
	budgetRequests.WithLabelValues(b.label).Inc()
	return true
}

// waitBehindUrgent takes a token once one is free and no urgent request is
// waiting. It never reserves a token ahead (as the limiter's Wait does, in
// arrival order): a request reserved ahead would go before an urgent one
// that comes after it, and writes following their tasks would delay the
// refreshes that see drift (the bench's 10× budget phase: ten repairs under
// way made moves known 63 s later than the servers' interval).
func (b *budget) waitBehindUrgent(ctx context.Context) error {
	if b.limiter.Limit() == rate.Inf { // rate.Inf is MaxFloat64, not +Inf
		return nil
	}
	ahead := b.others.Add(1) - 1
	defer b.others.Add(-1)
	// Those waiting go one at a time, in arrival order (a channel serves
	// its blocked senders first come, first served): taking a token at
	// random among them could keep one waiting for minutes.
	if d, ok := ctx.Deadline(); ok {
		need := float64(ahead) + 1 - b.limiter.Tokens()
		if time.Now().Add(time.Duration(need * float64(time.Second) / float64(b.limiter.Limit()))).After(d) {
			return errWouldPassDeadline
		}
	}
	select {
	case b.line <- struct{}{}:
		defer func() { <-b.line }()
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		if b.urgent.Load() == 0 {
			now := time.Now()
			r := b.limiter.ReserveN(now, 1)
			if r.OK() && r.DelayFrom(now) == 0 {
				return nil
			}
			r.CancelAt(now)
		}
		// The time until the next token, at least a few milliseconds: an
		// urgent request may take it first, then this one looks again.
		wait := time.Duration(float64(time.Second) * max(1-b.limiter.Tokens(), 0) / float64(b.limiter.Limit()))
		wait = max(wait, 5*time.Millisecond)
		if d, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(d) {
			return errWouldPassDeadline
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// errWouldPassDeadline is the budget refusing to wait past the caller's
// deadline (the limiter's own words for it).
var errWouldPassDeadline = errors.New("rate: Wait(n=1) would exceed context deadline")

// urgentKey marks a context whose OVH requests go before the others waiting
// for the same budget (Urgent).
type urgentKey struct{}

// Urgent marks ctx's requests as observation the operator promised: the
// scheduled refresh of a server (planned within ObservationShare of the
// budget) and the read that tells where a vanished IP went. They are served
// before writes, task reads and first observations waiting for the same
// consumer key, which share the rest of the budget and whatever the
// observation leaves unused.
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

func isUrgent(ctx context.Context) bool { v, _ := ctx.Value(urgentKey{}).(bool); return v }

// charge counts a request against the budget without waiting for it: the
// requests after it wait the longer.
func (b *budget) charge() {
	b.lastUsed.Store(time.Now().UnixNano())
	b.limiter.Reserve()
	budgetRequests.WithLabelValues(b.label).Inc()
}

// budgetTransport charges the budget for the request go-ovh makes by itself
// (GET /auth/time, once per client, while signing its first request under
// apiClient.signMu and without a context): waiting there would hold every
// other caller of the client, with nothing able to cancel the wait.
type budgetTransport struct {
	base   http.RoundTripper
	budget *budget
}

func (t *budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.budget.charge()
	return t.base.RoundTrip(req)
}

// budgetKey identifies what OVH counts requests by: the consumer key of an
// application on an endpoint (or the access token, or the OAuth2 client).
// A keyed hash, like Key: comparable within the process only.
func (c Credentials) budgetKey(base string) string {
	m := hmac.New(sha256.New, keySalt)
	for _, f := range []string{base, c.ApplicationKey, c.ConsumerKey, c.AccessToken, c.ClientID} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// BudgetLabel names the credential in metrics without revealing a secret:
// the application key's first characters and a short hash of the consumer
// key (of the token, or the OAuth2 client ID's first characters).
func (c Credentials) BudgetLabel() string {
	short := func(s string) string {
		if len(s) > 6 {
			return s[:6]
		}
		return s
	}
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:4])
	}
	switch mode, _ := c.Mode(); mode {
	case AuthAccessToken:
		return "token:" + hash(c.AccessToken)
	case AuthOAuth2:
		return "oauth2:" + short(c.ClientID)
	default:
		return short(c.ApplicationKey) + ":" + hash(c.ConsumerKey)
	}
}
