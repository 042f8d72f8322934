package ovh

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"

	govh "github.com/ovh/go-ovh/ovh"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// Keys of the credentials Secret.
const (
	SecretEndpoint          = "endpoint"
	SecretApplicationKey    = "applicationKey"
	SecretApplicationSecret = "applicationSecret"
	SecretConsumerKey       = "consumerKey"
	SecretAccessToken       = "accessToken"
	SecretClientID          = "clientID"
	SecretClientSecret      = "clientSecret"
)

// DefaultEndpoint is used when the Secret names none, as go-ovh does.
const DefaultEndpoint = "ovh-eu"

// AuthMode is how requests are authenticated.
type AuthMode string

const (
	// AuthSigned signs every request with an application key and secret and
	// a consumer key.
	AuthSigned AuthMode = "applicationKey"
	// AuthAccessToken sends a bearer access token.
	AuthAccessToken AuthMode = "accessToken"
	// AuthOAuth2 obtains tokens with an OAuth2 client ID and secret; OVH
	// only offers it on its own EU, CA and US endpoints.
	AuthOAuth2 AuthMode = "oauth2"
)

// Credentials are what a credentials Secret holds. Exactly one
// authentication mode must be complete.
type Credentials struct {
	// Endpoint is an endpoint name known to go-ovh (ovh-eu, ovh-ca, ovh-us,
	// soyoustart-eu, kimsufi-eu, ...) or a literal base URL such as
	// https://eu.api.ovh.com/1.0.
	Endpoint          string
	ApplicationKey    string
	ApplicationSecret string
	ConsumerKey       string
	AccessToken       string
	ClientID          string
	ClientSecret      string
}

// CredentialsFromSecret reads a Secret's data. Values are trimmed, because a
// secret created with `echo` carries a newline that would otherwise end up in
// a signature. Errors name the missing or conflicting keys, never values.
func CredentialsFromSecret(data map[string][]byte) (Credentials, error) {
	get := func(k string) string { return strings.TrimSpace(string(data[k])) }
	c := Credentials{
		Endpoint:          get(SecretEndpoint),
		ApplicationKey:    get(SecretApplicationKey),
		ApplicationSecret: get(SecretApplicationSecret),
		ConsumerKey:       get(SecretConsumerKey),
		AccessToken:       get(SecretAccessToken),
		ClientID:          get(SecretClientID),
		ClientSecret:      get(SecretClientSecret),
	}
	if _, err := c.Mode(); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// Mode returns the authentication mode, or a cause.Invalid error saying which
// Secret keys are missing or conflicting.
func (c Credentials) Mode() (AuthMode, error) {
	groups := []struct {
		mode AuthMode
		keys map[string]string
	}{
		{AuthSigned, map[string]string{SecretApplicationKey: c.ApplicationKey, SecretApplicationSecret: c.ApplicationSecret, SecretConsumerKey: c.ConsumerKey}},
		{AuthAccessToken, map[string]string{SecretAccessToken: c.AccessToken}},
		{AuthOAuth2, map[string]string{SecretClientID: c.ClientID, SecretClientSecret: c.ClientSecret}},
	}
	var present []AuthMode
	var set, missing []string
	for _, g := range groups {
		var gSet, gMissing []string
		for k, v := range g.keys {
			if v == "" {
				gMissing = append(gMissing, k)
			} else {
				gSet = append(gSet, k)
			}
		}
		if len(gSet) > 0 {
			present = append(present, g.mode)
			set = append(set, gSet...)
			missing = gMissing
		}
	}
	sort.Strings(set)
	sort.Strings(missing)
	switch {
	case len(present) == 0:
		return "", invalidCredentials(fmt.Sprintf("no credentials: set %s, %s and %s; or %s; or %s and %s",
			SecretApplicationKey, SecretApplicationSecret, SecretConsumerKey, SecretAccessToken, SecretClientID, SecretClientSecret))
	case len(present) > 1:
		return "", invalidCredentials(fmt.Sprintf("keys of more than one authentication mode are set (%s): keep one mode",
			strings.Join(set, ", ")))
	case len(missing) > 0:
		return "", invalidCredentials(fmt.Sprintf("%s authentication is incomplete: missing %s",
			present[0], strings.Join(missing, ", ")))
	}
	base, err := c.baseURL()
	if err != nil {
		return "", err
	}
	if present[0] == AuthOAuth2 && base != govh.OvhEU && base != govh.OvhCA && base != govh.OvhUS {
		return "", invalidCredentials("OAuth2 client credentials only work with the ovh-eu, ovh-ca and ovh-us endpoints; use an application key or an access token")
	}
	return present[0], nil
}

// baseURL resolves the endpoint name to go-ovh's base URL.
func (c Credentials) baseURL() (string, error) {
	e := c.Endpoint
	if e == "" {
		e = DefaultEndpoint
	}
	if !strings.Contains(e, "/") {
		if u, known := govh.Endpoints[e]; known {
			return u, nil
		}
		names := make([]string, 0, len(govh.Endpoints))
		for n := range govh.Endpoints {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", invalidCredentials(fmt.Sprintf("unknown %s %q: use one of %s or a URL", SecretEndpoint, e, strings.Join(names, ", ")))
	}
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", invalidCredentials(fmt.Sprintf("%s %q is neither a known endpoint name nor an http(s) URL", SecretEndpoint, e))
	}
	return strings.TrimRight(e, "/"), nil
}

func invalidCredentials(msg string) error {
	return cause.New(cause.Invalid, "ovh", "ReadCredentials", msg, nil)
}

// keySalt makes Key a keyed hash: even a weak secret cannot be recovered
// from a key that leaked into a log. Keys are therefore only comparable
// within one process, which is all a cache needs.
var keySalt = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}()

// Key identifies the credentials for caches: it changes when any field
// changes (so a rotated Secret gets a new client) and reveals none.
func (c Credentials) Key() string {
	m := hmac.New(sha256.New, keySalt)
	for _, f := range []string{c.Endpoint, c.ApplicationKey, c.ApplicationSecret, c.ConsumerKey, c.AccessToken, c.ClientID, c.ClientSecret} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// String shows the endpoint and mode only, so that credentials printed by
// mistake (%v, %+v) leak nothing.
func (c Credentials) String() string {
	mode, err := c.Mode()
	if err != nil {
		mode = "incomplete"
	}
	e := c.Endpoint
	if e == "" {
		e = DefaultEndpoint
	}
	return fmt.Sprintf("ovh.Credentials{endpoint: %s, mode: %s}", e, mode)
}

// GoString covers %#v.
func (c Credentials) GoString() string { return c.String() }

// EndpointURL resolves an endpoint name (ovh-eu, soyoustart-eu, ...) or a
// literal URL to the base URL requests go to, as the Secret's endpoint is.
func EndpointURL(endpoint string) (string, error) {
	return Credentials{Endpoint: endpoint}.baseURL()
}
