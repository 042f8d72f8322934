package ovh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	govh "github.com/ovh/go-ovh/ovh"
	"golang.org/x/oauth2"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// remoteError is an answer from OVH with a non-2xx status. It wraps go-ovh's
// *APIError (callers may errors.As it) and keeps what go-ovh drops: the
// errorCode of authentication failures, whether the body was an HTML page,
// and Retry-After.
type remoteError struct {
	api        *govh.APIError
	request    string // "GET /ip/203.0.113.123%2F32"
	errorCode  string
	html       bool
	retryAfter time.Duration
}

func (e *remoteError) Error() string { return e.api.Error() }
func (e *remoteError) Unwrap() error { return e.api }

var htmlTitle = regexp.MustCompile(`(?is)<title>\s*(.*?)\s*</title>`)

func newRemoteError(api *govh.APIError, resp *http.Response, raw []byte) *remoteError {
	e := &remoteError{api: api, request: resp.Request.Method + " " + resp.Request.URL.EscapedPath()}
	var body struct {
		ErrorCode string `json:"errorCode"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.errorCode = body.ErrorCode
	} else {
		// go-ovh puts a body it cannot parse, a whole HTML page, in Message.
		// Keep a short, readable message instead.
		trimmed := strings.TrimSpace(string(raw))
		short := *api
		if strings.HasPrefix(trimmed, "<") {
			e.html = true
			short.Message = "non-JSON error page"
			if m := htmlTitle.FindStringSubmatch(trimmed); m != nil {
				short.Message += " (" + m[1] + ")"
			}
		} else if len(trimmed) > 300 {
			short.Message = trimmed[:300] + "..."
		}
		e.api = &short
	}
	e.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// maxRetryAfter bounds what a Retry-After header can ask for. A seconds value
// is whatever digits the server sent: 9227000000 s overflows time.Duration
// and would wrap to a negative wait. Anything above the bound is clamped to
// it, and the caller's retry policy (MaxDelay) then gives up instead of
// sleeping.
const maxRetryAfter = time.Hour

// parseRetryAfter reads RFC 9110 §10.2.3's two forms, delay-seconds and an
// HTTP-date; anything else, zero or in the past is no hint (0).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil {
		if s > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(s) * time.Second
	} else if errors.Is(err, strconv.ErrRange) {
		return maxRetryAfter // all digits, beyond uint64
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// describe keeps OVH's own words and query id, which OVH support asks for.
func (e *remoteError) describe() string {
	var b strings.Builder
	if e.request != "" {
		b.WriteString(e.request + ": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.api.Code)
	if e.api.Class != "" {
		b.WriteString(" " + e.api.Class)
	}
	if e.errorCode != "" {
		b.WriteString(" " + e.errorCode)
	}
	b.WriteString(": " + e.api.Message)
	if e.api.QueryID != "" {
		b.WriteString(" (query id " + e.api.QueryID + ")")
	}
	return b.String()
}

// decodeError is a 2xx answer that did not have the expected shape.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "unexpected answer from the OVH API: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// clientRateLimitError is our own limiter refusing to wait past the
// caller's deadline.
type clientRateLimitError struct{ err error }

func (e *clientRateLimitError) Error() string { return e.err.Error() }
func (e *clientRateLimitError) Unwrap() error { return e.err }

// Authentication failures carry an errorCode; API errors carry a class.
var authErrorCodes = map[string]bool{
	"INVALID_CREDENTIAL": true,
	"INVALID_KEY":        true,
	"INVALID_SIGNATURE":  true,
	"NOT_GRANTED_CALL":   true,
	"NOT_AUTHENTICATED":  true,
}

// The same failures by text, for answers that lost their errorCode.
var authMessages = map[string]bool{
	"Invalid signature":              true,
	"This credential is not valid":   true,
	"Invalid application key":        true,
	"This call has not been granted": true,
	"You must login first":           true,
}

// unknownRouteMessage is what OVH answers (404) for a route it does not
// serve; the operator only calls routes OVHcloud has, so it means the
// product line (Kimsufi, So you Start) lacks the feature.
const unknownRouteMessage = "Got an invalid (or empty) URL"

// classify turns whatever a call returned into a *cause.Error.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var (
		classified *cause.Error
		limited    *clientRateLimitError
		remote     *remoteError
		api        *govh.APIError
		decode     *decodeError
		token      *oauth2.RetrieveError
	)
	switch {
	case errors.As(err, &classified):
		return err
	case errors.As(err, &limited):
		return cause.New(cause.RateLimited, "ovh", op, "client-side rate limit for these credentials: "+limited.Error(), err)
	case errors.As(err, &remote):
		msg := remote.describe()
		if remote.api.Code == http.StatusNotFound && remote.api.Message == unknownRouteMessage {
			msg += "; the OVH product line behind this endpoint does not offer this call (Kimsufi has neither virtual MACs nor IP moves)"
		}
		return cause.New(remoteKind(remote), "ovh", op, msg, err)
	case errors.As(err, &api):
		// go-ovh's own GET /auth/time, made while signing.
		r := &remoteError{api: api, request: "GET /auth/time", html: strings.HasPrefix(strings.TrimSpace(api.Message), "<")}
		if r.html {
			short := *api
			short.Message = "non-JSON error page"
			r.api = &short
		}
		return cause.New(remoteKind(r), "ovh", op, r.describe(), err)
	case errors.As(err, &token):
		kind := cause.Unreachable
		if token.Response != nil && token.Response.StatusCode >= 400 && token.Response.StatusCode < 500 {
			kind = cause.CredentialsInvalid
		}
		return cause.New(kind, "ovh", op, "OAuth2 token request failed: "+token.ErrorCode, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return cause.New(cause.Unreachable, "ovh", op, "request cancelled or timed out", err)
	case errors.As(err, &decode):
		return cause.New(cause.Unreachable, "ovh", op, decode.Error(), err)
	default:
		return cause.New(cause.Unreachable, "ovh", op, "cannot reach the OVH API: "+err.Error(), err)
	}
}

func remoteKind(e *remoteError) cause.Kind {
	code, msg := e.api.Code, e.api.Message
	lower := strings.ToLower(msg)
	switch {
	case code == http.StatusUnauthorized, authErrorCodes[e.errorCode], authMessages[msg],
		code == http.StatusForbidden && (e.api.Details["unauthorizedActionsByIAM"] != "" || e.api.Details["unauthorizedActionsByAuthentication"] != ""):
		return cause.CredentialsInvalid
	case code == http.StatusTooManyRequests:
		return cause.RateLimited
	case code >= 500, e.html:
		return cause.Unreachable
	case code == http.StatusNotFound && msg == unknownRouteMessage,
		// "Virtual MAC is not supported on this server", "There is some VMAC
		// used and the destination server do not support VMAC".
		strings.Contains(lower, "not support"):
		return cause.CapabilityMissing
	case code == http.StatusNotFound:
		return cause.NotFound
	case code == http.StatusConflict, strings.Contains(lower, "already exists"):
		return cause.Conflict
	case code == http.StatusForbidden:
		// A 403 without an errorCode is the API refusing the change in the
		// current state (IP not routed here, quota reached), not a login
		// problem.
		return cause.Conflict
	default:
		return cause.Invalid
	}
}

// transient reports whether calling again soon may succeed.
func transient(err error) bool {
	var limited *clientRateLimitError
	if errors.As(err, &limited) {
		return false // waiting longer is exactly what the caller refused
	}
	k := cause.KindOf(err)
	return k == cause.Unreachable || k == cause.RateLimited
}

func retryAfter(err error) time.Duration {
	var remote *remoteError
	if errors.As(err, &remote) {
		return remote.retryAfter
	}
	return 0
}

// TaskVisibilityGrace is how long after a task started a failed read of it
// is blamed on OVH: right after creation a task read can answer 404 or 500
// for a while (Terraform's OVH provider waits five minutes too).
const TaskVisibilityGrace = 5 * time.Minute

// TaskNotVisibleYet tells a caller reading a task it started at startedAt
// (e.g. status.pendingTask.startedAt) that the error is OVH's propagation
// delay: keep the task id, requeue, and above all do not issue the write
// again. Once the grace is over, a NotFound task has been purged (OVH
// forgets old tasks): decide from the resource itself (the IP's routedTo,
// the virtual MAC list) instead of from the task.
func TaskNotVisibleYet(err error, startedAt time.Time) bool {
	if err == nil || startedAt.IsZero() || time.Since(startedAt) >= TaskVisibilityGrace {
		return false
	}
	k := cause.KindOf(err)
	return k == cause.NotFound || k == cause.Unreachable
}
