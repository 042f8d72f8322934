package esxi

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// tlsConfig builds the client TLS configuration for creds. Verification is
// done in VerifyConnection rather than by crypto/tls so that every refusal
// can name the thumbprint the server presented (a TrustError), whatever the
// trust mode.
func tlsConfig(creds Credentials, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		// Checked below, in VerifyConnection; never skipped unless asked.
		InsecureSkipVerify: true, //nolint:gosec // verification is done in VerifyConnection
	}
	switch {
	case creds.Thumbprint != "":
		want, err := normalizeThumbprint(creds.Thumbprint)
		if err != nil {
			return nil, invalidSecret("secret key \"thumbprint\": " + err.Error())
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			got := presented(cs)
			if got != want {
				return &TrustError{Presented: got, Reason: "thumbprint does not match the pinned one"}
			}
			return nil
		}
	case len(creds.CAPEM) > 0:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(creds.CAPEM) {
			return nil, invalidSecret("secret key \"ca.crt\" holds no PEM certificate")
		}
		cfg.VerifyConnection = verifyChain(pool, serverName)
	case creds.Insecure:
		cfg.VerifyConnection = nil
	default:
		cfg.VerifyConnection = verifyChain(nil, serverName) // the system's roots
	}
	return cfg, nil
}

func verifyChain(roots *x509.CertPool, serverName string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return &TrustError{Reason: "no certificate presented"}
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			DNSName:       serverName,
		})
		if err != nil {
			reason := err.Error()
			var unknown x509.UnknownAuthorityError
			if errors.As(err, &unknown) {
				reason = "signed by an unknown authority; pin its thumbprint or give its CA"
			}
			return &TrustError{Presented: presented(cs), Reason: reason}
		}
		return nil
	}
}

func presented(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return "(none)"
	}
	sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
	return colonHex(sum[:])
}
