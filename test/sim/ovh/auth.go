package ovhsim

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// AccessRule is one permission of a consumer key: an HTTP method and a path
// pattern. "*" matches any run of characters, "/" included, so "/ip/*"
// grants GET /ip/203.0.113.123%2F32/task/42 but not GET /ip: the root call
// needs its own rule, which is why OVH's SDKs grant "path" and "path/*"
// together (github ovh/python-ovh, branch master, ovh/consumer_key.py
// add_recursive_rules; github ovh/go-ovh v1.9.0, ovh/consumer_key.go
// AddRecursiveRules). Patterns with a star inside ("/domain/zone/*/record")
// are what real key requests use (github acmesh-official/acme.sh,
// dnsapi/dns_ovh.sh).
type AccessRule struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// Grants reports whether the rule allows method on path (the API path after
// the /1.0 or /v1 base, without the query string).
func (r AccessRule) Grants(method, path string) bool {
	return strings.EqualFold(r.Method, method) && globMatch(r.Path, path)
}

// globMatch matches a pattern where * stands for any (possibly empty) run of
// characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// allAccess is what a consumer key declared without rules gets: every
// method on "/*", what OVH's createToken page and SDK examples request by
// default (e.g. github ovh/node-ovh#22).
var allAccess = []AccessRule{{"GET", "/*"}, {"POST", "/*"}, {"PUT", "/*"}, {"DELETE", "/*"}}

// Consumer key states (auth.CredentialStateEnum).
const (
	CredentialPendingValidation = "pendingValidation"
	CredentialValidated         = "validated"
	CredentialExpired           = "expired"
	CredentialRefused           = "refused"
)

// consumerKey is one credential: the application it belongs to, its rules
// and its state.
type consumerKey struct {
	app   string
	rules []AccessRule
	state string
	// token is the credentialToken of its validation URL.
	token string
}

// authRegistry holds the credentials the simulator accepts. Guarded by
// Server.mu.
type authRegistry struct {
	apps      map[string]string       // application key -> application secret
	consumers map[string]*consumerKey // consumer key -> credential
	tokens    map[string]bool         // bearer access tokens
}

func newAuthRegistry() *authRegistry {
	return &authRegistry{apps: map[string]string{}, consumers: map[string]*consumerKey{}, tokens: map[string]bool{}}
}

func (a *authRegistry) addApplication(app Application) error {
	a.apps[app.Key] = app.Secret
	for _, ck := range app.ConsumerKeys {
		a.consumers[ck] = &consumerKey{app: app.Key, rules: allAccess, state: CredentialValidated}
	}
	for _, c := range app.Credentials {
		if c.ConsumerKey == "" {
			return fmt.Errorf("application %s: credential without a consumer key", app.Key)
		}
		state := c.State
		if state == "" {
			state = CredentialValidated
		}
		rules := c.Rules
		if rules == nil {
			rules = allAccess
		}
		a.consumers[c.ConsumerKey] = &consumerKey{app: app.Key, rules: rules, state: state}
	}
	return nil
}

func (a *authRegistry) export() ([]Application, []string) {
	byApp := map[string][]Credential{}
	plain := map[string][]string{}
	for _, ck := range sortedKeys(a.consumers) {
		c := a.consumers[ck]
		if c.state == CredentialValidated && sameRules(c.rules, allAccess) {
			plain[c.app] = append(plain[c.app], ck)
			continue
		}
		byApp[c.app] = append(byApp[c.app], Credential{ConsumerKey: ck, Rules: c.rules, State: c.state})
	}
	var apps []Application
	for _, ak := range sortedKeys(a.apps) {
		cks := plain[ak]
		sort.Strings(cks)
		apps = append(apps, Application{Key: ak, Secret: a.apps[ak], ConsumerKeys: cks, Credentials: byApp[ak]})
	}
	return apps, sortedKeys(a.tokens)
}

func sameRules(a, b []AccessRule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// requestCredential registers a consumer key pending validation for an
// application (POST /auth/credential).
func (a *authRegistry) requestCredential(app string, rules []AccessRule) (ck, token string) {
	ck, token = randomHex(16), randomHex(16)
	a.consumers[ck] = &consumerKey{app: app, rules: rules, state: CredentialPendingValidation, token: token}
	return ck, token
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// OVH's authentication failures come with an errorCode and an httpCode in
// the body, unlike the Client::/Server:: classed errors of the API itself;
// a body may carry a class as well.
type authFailure struct {
	status    int
	errorCode string
	class     string
	message   string
}

// The authentication failures, with the bodies people quoted from real
// calls:
//   - NOT_CREDENTIAL "This credential does not exist": a consumer key OVH
//     does not know for this application (deleted, or made for another
//     application): github toorop/ovh-cli#10, baarde/cert-manager-webhook-ovh#5;
//     errorCode as matched by github ovh/python-ovh, ovh/client.py.
//   - INVALID_CREDENTIAL "This credential is not valid": a key not validated
//     (yet), expired or refused: github ovh/php-ovh#56, hashicorp/terraform#12669.
//   - INVALID_SIGNATURE "Invalid signature": a wrong application secret; 2024
//     answers carry class Client::BadRequest (github mlabouardy/komiser#1490),
//     2017 ones errorCode INVALID_SIGNATURE (github ovh/php-ovh#62): the
//     simulator sends both fields.
//   - NOT_GRANTED_CALL "This call has not been granted": a call no access
//     rule of the key allows: github ovh/python-ovh#86, ovh/node-ovh#22;
//     errorCode as matched by ovh/python-ovh's client.py.
//   - INVALID_KEY: an unknown application key; errorCode from python-ovh's
//     client.py, the text "Invalid application key" is a guess.
//   - NOT_AUTHENTICATED "You must login first": no credentials at all (the
//     text is matched by github UrielCh/api-ovh-node, packages/core/src/
//     index.ts; status and errorCode are guesses).
//
// Which failure wins when several apply (say an unknown consumer key with a
// bad signature) is a guess: application, then consumer key, then signature.
var (
	errNotAuthenticated  = &authFailure{status: http.StatusUnauthorized, errorCode: "NOT_AUTHENTICATED", message: "You must login first"}
	errInvalidKey        = &authFailure{status: http.StatusForbidden, errorCode: "INVALID_KEY", message: "Invalid application key"}
	errNotCredential     = &authFailure{status: http.StatusForbidden, errorCode: "NOT_CREDENTIAL", message: "This credential does not exist"}
	errInvalidCredential = &authFailure{status: http.StatusForbidden, errorCode: "INVALID_CREDENTIAL", message: "This credential is not valid"}
	errInvalidSignature  = &authFailure{status: http.StatusBadRequest, errorCode: "INVALID_SIGNATURE", class: "Client::BadRequest", message: "Invalid signature"}
	errInvalidToken      = &authFailure{status: http.StatusUnauthorized, errorCode: "INVALID_CREDENTIAL", message: "This credential is not valid"}
	errNotGranted        = &authFailure{status: http.StatusForbidden, errorCode: "NOT_GRANTED_CALL", message: "This call has not been granted"}
)

// authenticate checks a request the way OVH does: a bearer token, or the
// application key, consumer key, timestamp and "$1$" SHA-1 signature that
// go-ovh computes over secret+consumer+METHOD+full URL+body+timestamp; then
// the consumer key's access rules for the call (apiPath: the path after
// the base, escaped, without the query). Bearer tokens' scopes are not
// modelled. Called under Server.mu.
func (a *authRegistry) authenticate(r *http.Request, body []byte, apiPath string) *authFailure {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || !a.tokens[tok] {
			return errInvalidToken
		}
		return nil
	}
	appKey := r.Header.Get("X-Ovh-Application")
	if appKey == "" {
		return errNotAuthenticated
	}
	secret, ok := a.apps[appKey]
	if !ok {
		return errInvalidKey
	}
	consumer := r.Header.Get("X-Ovh-Consumer")
	ck := a.consumers[consumer]
	if ck == nil || ck.app != appKey {
		return errNotCredential
	}
	if ck.state != CredentialValidated {
		return errInvalidCredential
	}
	timestamp := r.Header.Get("X-Ovh-Timestamp")
	got := r.Header.Get("X-Ovh-Signature")
	if timestamp == "" || got == "" {
		return errInvalidSignature
	}
	want := Signature(secret, consumer, r.Method, requestURL(r), string(body), timestamp)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errInvalidSignature
	}
	for _, rule := range ck.rules {
		if rule.Grants(r.Method, apiPath) {
			return nil
		}
	}
	return errNotGranted
}

// Signature is OVH's request signature. Exported so tests can forge requests
// (for instance with a stale or tampered field) without go-ovh.
func Signature(secret, consumerKey, method, fullURL, body, timestamp string) string {
	sum := sha1.Sum([]byte(secret + "+" + consumerKey + "+" + method + "+" + fullURL + "+" + body + "+" + timestamp))
	return "$1$" + hex.EncodeToString(sum[:])
}

// requestURL rebuilds the URL the client signed: scheme, host and the request
// URI exactly as sent (escaped IP blocks and query string included).
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.RequestURI
}
