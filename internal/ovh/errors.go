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
	method     string
	apiPath    string // the path after the endpoint's base, for access rules
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

// Authentication failures carry an errorCode (and an httpCode); API errors
// carry a class. Each credential failure says what to fix. Codes as OVH's
// own SDK matches them (github ovh/python-ovh, branch master, ovh/client.py);
// what each means from issue threads quoting real answers (see
// test/sim/ovh/auth.go for the sources of every body).
var credentialFixes = map[string]string{
	"NOT_CREDENTIAL": "OVH does not know this consumer key for this application key (deleted or revoked, or made for another application or endpoint): " +
		"request a new one with `manager ovh-credentials` and put it in the Secret's consumerKey",
	"INVALID_CREDENTIAL": "the consumer key is not valid: not validated yet (open the validation URL `manager ovh-credentials` printed and accept), " +
		"or expired or refused (request a new one with `manager ovh-credentials`); for an accessToken, it has expired",
	"INVALID_KEY": "OVH does not know this application key on this endpoint (keys only work on the endpoint they were created on): " +
		"check the Secret's applicationKey and endpoint",
	"INVALID_SIGNATURE": "OVH rejected the request signature: the Secret's applicationSecret does not belong to its applicationKey " +
		"(or the consumer key to the application)",
	"NOT_AUTHENTICATED": "the request carried no credentials OVH accepts: check the Secret",
	"NOT_GRANTED_CALL":  "the consumer key's access rules do not allow this call",
}

// credentialMessages are the same failures by their text, for bodies
// without an errorCode: every text is quoted from real answers ("Invalid
// signature" with class Client::BadRequest: github mlabouardy/komiser#1490;
// "This call has not been granted": github ovh/python-ovh#141; "This
// credential does not exist": github toorop/ovh-cli#10; "This credential is
// not valid": github ovh/php-ovh#56; "You must login first": github
// UrielCh/api-ovh-node, packages/core/src/index.ts).
var credentialMessages = map[string]string{
	"Invalid signature":              "INVALID_SIGNATURE",
	"This call has not been granted": "NOT_GRANTED_CALL",
	"This credential does not exist": "NOT_CREDENTIAL",
	"This credential is not valid":   "INVALID_CREDENTIAL",
	"You must login first":           "NOT_AUTHENTICATED",
}

// queryTimeOut is OVH's own time-out of a query, answered with HTTP 400
// (github UrielCh/api-ovh-node, packages/core/src/index.ts retries it as a
// 408): worth retrying, not an invalid request.
const queryTimeOut = "QUERY_TIME_OUT"

// authCode is the remote error's authentication errorCode, from its body or
// recognised by its text; "" for API errors.
func (e *remoteError) authCode() string {
	if _, known := credentialFixes[e.errorCode]; known {
		return e.errorCode
	}
	return credentialMessages[e.api.Message]
}

// unknownRouteMessage is what OVH answers (404 Client::NotFound) for a route
// an endpoint does not serve: products Kimsufi or So you Start lack (github
// ovh/terraform-provider-ovh, website/docs/index.html.markdown). The
// operator only calls routes OVHcloud has, so it means the product line
// lacks the feature.
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
		switch code := remote.authCode(); {
		case code == "NOT_GRANTED_CALL":
			msg += "; " + notGrantedFix(remote)
		case code != "":
			msg += "; " + credentialFixes[code]
		case remote.api.Code == http.StatusNotFound && remote.api.Message == unknownRouteMessage:
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

// notGrantedFix names the access rule a refused call needs.
func notGrantedFix(e *remoteError) string {
	if rule, ok := ruleFor(e.method, e.apiPath); ok {
		return fmt.Sprintf("the consumer key lacks the access rule %s: request a key with every rule the operator needs with `manager ovh-credentials`", rule)
	}
	return credentialFixes["NOT_GRANTED_CALL"] + ": request a key with `manager ovh-credentials`"
}

// remoteKind classifies an answer by what OVH says in it: authentication
// errorCodes (or their real texts), the HTTP status and the class; the only
// text matched beyond the credential ones is the unknown-route answer,
// quoted from OVH's own documentation.
func remoteKind(e *remoteError) cause.Kind {
	code := e.api.Code
	switch {
	case e.authCode() != "", code == http.StatusUnauthorized,
		code == http.StatusForbidden && (e.api.Details["unauthorizedActionsByIAM"] != "" || e.api.Details["unauthorizedActionsByAuthentication"] != ""):
		return cause.CredentialsInvalid
	case e.errorCode == queryTimeOut:
		return cause.Unreachable
	case code == http.StatusTooManyRequests:
		return cause.RateLimited
	case code >= 500, e.html:
		return cause.Unreachable
	case code == http.StatusNotFound && e.api.Message == unknownRouteMessage:
		return cause.CapabilityMissing
	case code == http.StatusNotFound:
		return cause.NotFound
	case code == http.StatusConflict, code == http.StatusForbidden:
		// A 403 that is no authentication failure is the API refusing the
		// change in the current state (an IP not routed here, a vMAC already
		// on the IP, a quota reached, a server without virtual MACs): the
		// texts of those refusals are not published, so none is matched.
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

// RemoteMessage is OVH's own message in an error a call returned ("Cannot
// check if mail.example.com. resolves to 203.0.113.123"), "" when the error
// is not an answer from OVH.
func RemoteMessage(err error) string {
	var remote *remoteError
	if errors.As(err, &remote) {
		return remote.api.Message
	}
	return ""
}
