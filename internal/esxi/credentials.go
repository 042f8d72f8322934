package esxi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/vim25/soap"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// Keys of the Secret named by a BridgedVM's spec.esxi.credentialsSecretRef.
const (
	SecretKeyURL        = "url"                   // https://host[:port][/sdk]; required
	SecretKeyUsername   = "username"              // required
	SecretKeyPassword   = "password"              // required
	SecretKeyThumbprint = "thumbprint"            // SHA-256 of the host certificate, as ESXi shows it
	SecretKeyCA         = "ca.crt"                // PEM CA bundle that signed the host certificate
	SecretKeyInsecure   = "insecureSkipTLSVerify" // "true" skips certificate checks; nothing else does
	SecretKeyDatacenter = "datacenter"            // optional; vCenter datacenter to confine lookups to
)

// Credentials say how to reach and trust one ESXi host or vCenter.
//
// Trust, strongest first: a pinned Thumbprint (ESXi ships a self-signed
// certificate, so pinning is the usual choice), else a CA bundle, else —
// only when Insecure is set — nothing, else the system's roots.
type Credentials struct {
	URL        string
	Username   string
	Password   string
	Thumbprint string // SHA-256; any case, with or without colons
	CAPEM      []byte
	Insecure   bool
	Datacenter string
}

// CredentialsFromSecret reads Credentials from a Secret's data. A missing or
// malformed key is a CredentialsInvalid error naming the key: retrying cannot
// help until the Secret changes.
func CredentialsFromSecret(data map[string][]byte) (Credentials, error) {
	str := func(k string) string { return strings.TrimSpace(string(data[k])) }
	c := Credentials{
		URL:        str(SecretKeyURL),
		Username:   str(SecretKeyUsername),
		Password:   string(data[SecretKeyPassword]), // a password may legitimately end in a space
		Thumbprint: str(SecretKeyThumbprint),
		CAPEM:      data[SecretKeyCA],
		Datacenter: str(SecretKeyDatacenter),
	}
	for _, k := range []struct{ key, val string }{
		{SecretKeyURL, c.URL}, {SecretKeyUsername, c.Username}, {SecretKeyPassword, c.Password},
	} {
		if k.val == "" {
			return Credentials{}, invalidSecret(fmt.Sprintf("secret has no %q key", k.key))
		}
	}
	switch v := str(SecretKeyInsecure); v {
	case "true":
		c.Insecure = true
	case "", "false":
	default:
		return Credentials{}, invalidSecret(fmt.Sprintf("secret key %q must be \"true\" or \"false\", not %q", SecretKeyInsecure, v))
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// Validate checks what can be checked without the network.
func (c Credentials) Validate() error {
	u, err := soap.ParseURL(c.URL)
	if err != nil || u.Host == "" {
		return invalidSecret(fmt.Sprintf("secret key %q is not a URL", SecretKeyURL))
	}
	if u.Scheme != "https" {
		return invalidSecret(fmt.Sprintf("secret key %q must be an https URL, not %s", SecretKeyURL, u.Scheme))
	}
	if c.Thumbprint != "" {
		if _, err := normalizeThumbprint(c.Thumbprint); err != nil {
			return invalidSecret(fmt.Sprintf("secret key %q: %v", SecretKeyThumbprint, err))
		}
	}
	if len(c.CAPEM) > 0 && !x509.NewCertPool().AppendCertsFromPEM(c.CAPEM) {
		return invalidSecret(fmt.Sprintf("secret key %q holds no PEM certificate", SecretKeyCA))
	}
	return nil
}

func invalidSecret(msg string) error {
	return cause.New(cause.CredentialsInvalid, system, "Credentials", msg, nil)
}

// normalizeThumbprint accepts "AB:CD:..", "ab:cd:..", "abcd.." or space
// separated forms and returns ESXi's colon-separated upper-case form.
func normalizeThumbprint(tp string) (string, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ':', ' ', '-', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(tp)))
	raw, err := hex.DecodeString(clean)
	if err != nil {
		return "", fmt.Errorf("not hexadecimal")
	}
	switch len(raw) {
	case sha256.Size:
	case 20:
		return "", fmt.Errorf("is a SHA-1 thumbprint; give the SHA-256 one (ESXi: \"SHA-256 Thumbprint\" on the certificate page)")
	default:
		return "", fmt.Errorf("has %d bytes, a SHA-256 thumbprint has 32", len(raw))
	}
	return colonHex(raw), nil
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

// Key identifies one session: the endpoint, the user, a keyed hash of the
// password and the trust settings. Rotating any of them in the Secret gives a
// new Key, hence a new session, with no restart. Keys are comparable, and
// printing one never shows the password or its hash.
type Key struct {
	url, username, datacenter string
	secret                    string // HMAC of the password under a per-process key
	trust                     string
}

// String names the endpoint for logs and messages: user@url[ datacenter].
func (k Key) String() string {
	s := k.username + "@" + k.url
	if k.datacenter != "" {
		s += " datacenter " + k.datacenter
	}
	return s
}

// GoString keeps %#v from printing the password hash.
func (k Key) GoString() string { return "esxi.Key(" + k.String() + ")" }

// processKey keys the password hash so that a Key, if it ever leaked, could
// not be used to test password guesses offline or in another process.
var processKey = func() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("esxi: no randomness: " + err.Error())
	}
	return b
}()

// Key returns the session cache key for these credentials.
func (c Credentials) Key() Key {
	u := c.URL
	if parsed, err := soap.ParseURL(c.URL); err == nil {
		parsed.User = nil
		u = parsed.String()
	}
	mac := hmac.New(sha256.New, processKey)
	mac.Write([]byte(c.Password))
	trust := "system"
	switch {
	case c.Thumbprint != "":
		tp, _ := normalizeThumbprint(c.Thumbprint)
		trust = "pin:" + tp
	case len(c.CAPEM) > 0:
		sum := sha256.Sum256(c.CAPEM)
		trust = "ca:" + hex.EncodeToString(sum[:])
	case c.Insecure:
		trust = "insecure"
	}
	return Key{url: u, username: c.Username, datacenter: c.Datacenter, secret: hex.EncodeToString(mac.Sum(nil)), trust: trust}
}
