package router

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Secret keys read from the credentials Secret.
const (
	SecretUsername             = "username"
	SecretPassword             = "password"
	SecretPrivateKey           = "privateKey"
	SecretHostKey              = "hostKey"
	SecretInsecureSkipHostKey  = "insecureSkipHostKeyVerification"
	SecretAPIKey               = "apiKey"
	SecretCACert               = "ca.crt"
	SecretInsecureSkipTLSCheck = "insecureSkipTLSVerify"
)

// SSHCredentials are the parsed SSH part of the Secret. The String method
// never prints secrets.
type SSHCredentials struct {
	Username string
	Password string
	Signer   ssh.Signer
	// HostKeys are the pinned router host keys (any of them may match).
	HostKeys []ssh.PublicKey
	// InsecureSkipHostKey disables host key verification; only set when the
	// Secret says so explicitly.
	InsecureSkipHostKey bool
}

func (c SSHCredentials) String() string {
	return fmt.Sprintf("ssh user %q (password: %t, key: %t, pinned host keys: %d)", c.Username, c.Password != "", c.Signer != nil, len(c.HostKeys))
}

// SSHCredentialsFromSecret reads username, password and/or privateKey, and
// hostKey (authorized_keys or known_hosts lines) — required unless
// insecureSkipHostKeyVerification is "true". Errors name the key, never its
// value.
func SSHCredentialsFromSecret(data map[string][]byte) (SSHCredentials, error) {
	c := SSHCredentials{
		Username: strings.TrimSpace(string(data[SecretUsername])),
		Password: string(data[SecretPassword]),
	}
	if c.Username == "" {
		return c, invalid("Credentials", "secret key "+SecretUsername+" is missing or empty", nil)
	}
	if pk := data[SecretPrivateKey]; len(bytes.TrimSpace(pk)) > 0 {
		s, err := ssh.ParsePrivateKey(pk)
		if err != nil {
			// The parse error can quote key material; do not wrap it.
			return c, invalid("Credentials", "secret key "+SecretPrivateKey+" is not an unencrypted OpenSSH/PEM private key", nil)
		}
		c.Signer = s
	}
	if c.Password == "" && c.Signer == nil {
		return c, invalid("Credentials", "secret needs "+SecretPassword+" or "+SecretPrivateKey, nil)
	}
	switch v := strings.TrimSpace(string(data[SecretInsecureSkipHostKey])); v {
	case "true":
		c.InsecureSkipHostKey = true
	case "", "false":
	default:
		return c, invalid("Credentials", fmt.Sprintf("secret key %s must be \"true\" or \"false\", not %q", SecretInsecureSkipHostKey, v), nil)
	}
	keys, err := parseHostKeys(data[SecretHostKey])
	if err != nil {
		return c, err
	}
	c.HostKeys = keys
	if len(keys) == 0 && !c.InsecureSkipHostKey {
		return c, invalid("Credentials", "secret key "+SecretHostKey+" is required (the router's public host key, e.g. from `ssh-keyscan`), or set "+SecretInsecureSkipHostKey+": \"true\" explicitly", nil)
	}
	return c, nil
}

// parseHostKeys accepts authorized_keys lines ("ssh-ed25519 AAAA... comment")
// and known_hosts lines ("host ssh-ed25519 AAAA..."), one or more.
func parseHostKeys(b []byte) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
			keys = append(keys, k)
			continue
		}
		if _, _, k, _, _, err := ssh.ParseKnownHosts([]byte(line)); err == nil {
			keys = append(keys, k)
			continue
		}
		return nil, invalid("Credentials", fmt.Sprintf("secret key %s line %d is neither an authorized_keys nor a known_hosts entry", SecretHostKey, n+1), nil)
	}
	return keys, nil
}

// APICredentials are the parsed HTTP API part of the Secret.
type APICredentials struct {
	Key string
	// CACerts are the PEM certificates from ca.crt: CA certificates are
	// used as roots with normal verification; a non-CA (self-signed leaf)
	// certificate is pinned exactly.
	CACerts               []*x509.Certificate
	InsecureSkipTLSVerify bool
}

func (c APICredentials) String() string {
	return fmt.Sprintf("vyos api key (set: %t, pinned certificates: %d, insecure: %t)", c.Key != "", len(c.CACerts), c.InsecureSkipTLSVerify)
}

// APICredentialsFromSecret reads apiKey, ca.crt and insecureSkipTLSVerify.
func APICredentialsFromSecret(data map[string][]byte) (APICredentials, error) {
	c := APICredentials{Key: strings.TrimSpace(string(data[SecretAPIKey]))}
	if c.Key == "" {
		return c, invalid("Credentials", "secret key "+SecretAPIKey+" is missing or empty", nil)
	}
	switch v := strings.TrimSpace(string(data[SecretInsecureSkipTLSCheck])); v {
	case "true":
		c.InsecureSkipTLSVerify = true
	case "", "false":
	default:
		return c, invalid("Credentials", fmt.Sprintf("secret key %s must be \"true\" or \"false\", not %q", SecretInsecureSkipTLSCheck, v), nil)
	}
	rest := data[SecretCACert]
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return c, invalid("Credentials", "secret key "+SecretCACert+" holds an unparsable certificate", nil)
		}
		c.CACerts = append(c.CACerts, cert)
	}
	if len(bytes.TrimSpace(data[SecretCACert])) > 0 && len(c.CACerts) == 0 {
		return c, invalid("Credentials", "secret key "+SecretCACert+" holds no PEM certificate", nil)
	}
	return c, nil
}
