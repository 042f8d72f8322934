package ovhsim

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
)

// authRegistry holds the credentials the simulator accepts. Guarded by
// Server.mu.
type authRegistry struct {
	apps      map[string]string // application key -> application secret
	consumers map[string]string // consumer key -> application key
	tokens    map[string]bool   // bearer access tokens
}

func newAuthRegistry() *authRegistry {
	return &authRegistry{apps: map[string]string{}, consumers: map[string]string{}, tokens: map[string]bool{}}
}

func (a *authRegistry) addApplication(app Application) {
	a.apps[app.Key] = app.Secret
	for _, ck := range app.ConsumerKeys {
		a.consumers[ck] = app.Key
	}
}

func (a *authRegistry) export() ([]Application, []string) {
	byApp := map[string][]string{}
	for ck, ak := range a.consumers {
		byApp[ak] = append(byApp[ak], ck)
	}
	var apps []Application
	for _, ak := range sortedKeys(a.apps) {
		cks := byApp[ak]
		sort.Strings(cks)
		apps = append(apps, Application{Key: ak, Secret: a.apps[ak], ConsumerKeys: cks})
	}
	return apps, sortedKeys(a.tokens)
}

// OVH's authentication failures come with an errorCode and an httpCode in
// the body, unlike the Client::/Server:: classed errors of the API itself.
type authFailure struct {
	status    int
	errorCode string
	message   string
}

var (
	errNotAuthenticated  = &authFailure{http.StatusUnauthorized, "NOT_AUTHENTICATED", "You must login first"}
	errInvalidKey        = &authFailure{http.StatusForbidden, "INVALID_KEY", "Invalid application key"}
	errInvalidCredential = &authFailure{http.StatusForbidden, "INVALID_CREDENTIAL", "This credential is not valid"}
	errInvalidSignature  = &authFailure{http.StatusBadRequest, "INVALID_SIGNATURE", "Invalid signature"}
	errInvalidToken      = &authFailure{http.StatusUnauthorized, "INVALID_CREDENTIAL", "This credential is not valid"}
)

// authenticate checks a request the way OVH does: a bearer token, or the
// application key, consumer key, timestamp and "$1$" SHA-1 signature that
// go-ovh computes over secret+consumer+METHOD+full URL+body+timestamp.
// Called under Server.mu.
func (a *authRegistry) authenticate(r *http.Request, body []byte) *authFailure {
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
	if a.consumers[consumer] != appKey {
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
	return nil
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
