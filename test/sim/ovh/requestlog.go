package ovhsim

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// RequestLog records every request that reaches a handler (typically a
// Server) with its arrival time and the credential OVH would count it
// against: the consumer key (X-Ovh-Consumer), or for a request signed by no
// consumer key (GET /auth/time) the application key, so that a benchmark
// can check a client's request rate per consumer key over any window, as
// OVH's fair use is stated ("60 requests a minute per consumer key").
//
// It wraps the handler instead of living in Server so that counting time
// stamps costs nothing to the suites that do not ask for it.
type RequestLog struct {
	next http.Handler

	mu      sync.Mutex
	entries []LoggedRequest
	// appOf maps an application key to the consumer key last seen with
	// it, to charge unsigned requests to that key.
	appOf map[string]string
}

// LoggedRequest is one request as the log saw it.
type LoggedRequest struct {
	At time.Time
	// Key is the consumer key; a request that carried none is charged to
	// the consumer key seen with its application (before or after it), or
	// else to "app:"+application key.
	Key   string
	Route string // as Calls names it: "GET /ip", "GET /auth/time", ...
	Path  string // the request's path and query, as sent
}

// NewRequestLog logs the requests passed to next (the simulator).
func NewRequestLog(next http.Handler) *RequestLog {
	return &RequestLog{next: next, appOf: map[string]string{}}
}

// ServeHTTP records the request and hands it on.
func (l *RequestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " (unknown route)"
	if rest, ok := cutBase(r.URL.EscapedPath()); ok {
		if rt, _ := match(r.Method, rest); rt != nil {
			route = rt.key
		}
	}
	app, consumer := r.Header.Get("X-Ovh-Application"), r.Header.Get("X-Ovh-Consumer")
	l.mu.Lock()
	key := consumer
	switch {
	case consumer != "" && app != "" && l.appOf[app] != consumer:
		// Requests of the application seen before its consumer key (go-ovh
		// asks /auth/time first) were the key's.
		l.appOf[app] = consumer
		for i := range l.entries {
			if l.entries[i].Key == "app:"+app {
				l.entries[i].Key = consumer
			}
		}
	case consumer == "" && l.appOf[app] != "":
		key = l.appOf[app]
	case consumer == "":
		key = "app:" + app
	}
	l.entries = append(l.entries, LoggedRequest{At: time.Now(), Key: key, Route: route, Path: r.URL.RequestURI()})
	l.mu.Unlock()
	l.next.ServeHTTP(w, r)
}

// Requests returns the requests logged between from and to (zero: no
// bound), oldest first.
func (l *RequestLog) Requests(from, to time.Time) []LoggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []LoggedRequest
	for _, e := range l.entries {
		if (from.IsZero() || !e.At.Before(from)) && (to.IsZero() || e.At.Before(to)) {
			out = append(out, e)
		}
	}
	return out
}

// MaxInWindow returns, per key, the largest number of requests that fell
// in any window of the given length (a sliding window: each request starts
// one), over the requests given.
func MaxInWindow(reqs []LoggedRequest, window time.Duration) map[string]int {
	byKey := map[string][]time.Time{}
	for _, e := range reqs {
		byKey[e.Key] = append(byKey[e.Key], e.At)
	}
	out := map[string]int{}
	for k, ts := range byKey {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		best, j := 0, 0
		for i := range ts {
			for ts[i].Sub(ts[j]) >= window {
				j++
			}
			best = max(best, i-j+1)
		}
		out[k] = best
	}
	return out
}
