package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// maxAPIBody is the request size the VyOS API's nginx accepts (1 MB); a
// transaction above it is refused here rather than split, since splitting
// would break the one-commit rule.
const maxAPIBody = 1 << 20

type apiDriver struct {
	ep    Endpoint
	base  *url.URL
	creds APICredentials
	hc    *http.Client

	mu   sync.Mutex
	info PlatformInfo
}

// NewAPI returns a driver for the VyOS HTTP API (VyOS 1.3+). TLS is verified
// against the system roots, against the CA certificates of ca.crt, or — when
// ca.crt holds the router's own self-signed certificate — by exact match of
// that certificate; never skipped unless the Secret says so explicitly.
func NewAPI(ep Endpoint, creds APICredentials) (Driver, error) {
	raw := ep.Address
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, invalid("Connect", fmt.Sprintf("bad router address %q", ep.Address), nil)
	}
	if u.Scheme != "https" {
		return nil, invalid("Connect", "the VyOS API is only spoken over https", nil)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tr := &http.Transport{
		TLSClientConfig:     tlsConfig(creds),
		DialContext:         (&net.Dialer{Timeout: ep.timeout()}).DialContext,
		TLSHandshakeTimeout: ep.timeout(),
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	d := &apiDriver{ep: ep, base: u, creds: creds, hc: &http.Client{Transport: tr}}
	if ep.Platform != "" {
		d.info = PlatformInfo{Platform: ep.Platform}
	}
	return d, nil
}

func certFingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

// pinMismatch is returned when the router's certificate is not the pinned one.
type pinMismatch struct{ presented string }

func (e *pinMismatch) Error() string {
	return "the router presented certificate " + e.presented + ", which is not the certificate pinned in ca.crt"
}

func tlsConfig(c APICredentials) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.InsecureSkipTLSVerify {
		cfg.InsecureSkipVerify = true // explicit opt-out in the Secret
		return cfg
	}
	if len(c.CACerts) == 0 {
		return cfg
	}
	var cas, pins []*x509.Certificate
	for _, cert := range c.CACerts {
		if cert.IsCA {
			cas = append(cas, cert)
		} else {
			pins = append(pins, cert)
		}
	}
	if len(cas) > 0 {
		pool := x509.NewCertPool()
		for _, ca := range cas {
			pool.AddCert(ca)
		}
		cfg.RootCAs = pool
		return cfg
	}
	// VyOS's system-generated certificate is a self-signed leaf whose name
	// rarely matches the address used to reach the router: trust exactly
	// that certificate, whatever its name.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return &pinMismatch{presented: "(none)"}
		}
		leaf := cs.PeerCertificates[0]
		for _, p := range pins {
			if bytes.Equal(p.Raw, leaf.Raw) {
				return nil
			}
		}
		return &pinMismatch{presented: certFingerprint(leaf)}
	}
	return cfg
}

// apiReply is the envelope of every VyOS API answer.
type apiReply struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *string         `json:"error"`
}

func (r apiReply) errorText() string {
	if r.Error == nil {
		return ""
	}
	return *r.Error
}

// call POSTs one request with the key and data form fields (the form every
// VyOS release accepts) and classifies everything but a 400, which the caller
// interprets.
func (d *apiDriver) call(ctx context.Context, op, endpoint string, data any) (int, apiReply, error) {
	payload, err := json.Marshal(data)
	if err != nil {
		return 0, apiReply{}, invalid(op, "cannot encode request", err)
	}
	form := url.Values{"data": {string(payload)}, "key": {d.creds.Key}}.Encode()
	if len(form) > maxAPIBody {
		return 0, apiReply{}, invalid(op, fmt.Sprintf("request of %d bytes exceeds the API's 1 MB limit", len(form)), nil)
	}
	ctx, cancel := d.ep.callContext(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base.String()+endpoint, strings.NewReader(form))
	if err != nil {
		return 0, apiReply{}, invalid(op, "cannot build request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return d.do(ctx, op, req)
}

func (d *apiDriver) do(ctx context.Context, op string, req *http.Request) (int, apiReply, error) {
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, apiReply{}, d.transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, apiReply{}, networkError(ctx, op, err)
	}
	var rep apiReply
	// Replies are labelled text/html; parse them as JSON regardless.
	jsonErr := json.Unmarshal(body, &rep)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return resp.StatusCode, rep, cause.New(cause.CredentialsInvalid, system, op, "the router refused the API key", nil)
	case resp.StatusCode == http.StatusTooManyRequests:
		return resp.StatusCode, rep, cause.New(cause.RateLimited, system, op, "the router asked to slow down", nil)
	case resp.StatusCode == http.StatusNotFound:
		return resp.StatusCode, rep, cause.New(cause.CapabilityMissing, system, op,
			fmt.Sprintf("%s is not served (on VyOS 1.5 the API needs `service https api rest`)", req.URL.Path), nil)
	case resp.StatusCode >= 500:
		msg := rep.errorText()
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return resp.StatusCode, rep, cause.New(cause.Unreachable, system, op, sanitize(msg), nil)
	case jsonErr != nil:
		return resp.StatusCode, rep, unexpected(op, fmt.Sprintf("HTTP %d with a reply that is not the API's JSON (a proxy's page?)", resp.StatusCode), string(body), nil)
	case resp.StatusCode == http.StatusOK && rep.Success:
		return resp.StatusCode, rep, nil
	case resp.StatusCode == http.StatusBadRequest:
		return resp.StatusCode, rep, nil
	}
	return resp.StatusCode, rep, invalid(op, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, sanitize(rep.errorText())), nil)
}

func (d *apiDriver) transportError(ctx context.Context, op string, err error) error {
	var mismatch *pinMismatch
	var verr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &mismatch):
		return cause.New(cause.TrustFailure, system, op, mismatch.Error(), nil)
	case errors.As(err, &verr):
		msg := "TLS verification failed: " + verr.Err.Error()
		if len(verr.UnverifiedCertificates) > 0 {
			msg += "; the router presented certificate " + certFingerprint(verr.UnverifiedCertificates[0])
		}
		return cause.New(cause.TrustFailure, system, op, msg, nil)
	case errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &inv):
		return cause.New(cause.TrustFailure, system, op, "TLS verification failed: "+err.Error(), nil)
	}
	return networkError(ctx, op, err)
}

// ok requires a successful reply: a 400 becomes Invalid with the router's text.
func (d *apiDriver) ok(ctx context.Context, op, endpoint string, data any) (json.RawMessage, error) {
	status, rep, err := d.call(ctx, op, endpoint, data)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, invalid(op, sanitize(rep.errorText()), nil)
	}
	return rep.Data, nil
}

func (d *apiDriver) show(ctx context.Context, op string, path ...string) (string, error) {
	data, err := d.ok(ctx, op, "/show", map[string]any{"op": "show", "path": path})
	if err != nil {
		return "", err
	}
	var text string
	if err := json.Unmarshal(data, &text); err != nil {
		return "", unexpected(op, "show returned no text", string(data), err)
	}
	return text, nil
}

func (d *apiDriver) Probe(ctx context.Context) (info PlatformInfo, err error) {
	d.mu.Lock()
	known := d.info
	d.mu.Unlock()
	if known.Platform != "" {
		return known, nil
	}
	defer observe("Probe", time.Now(), &err)
	info, err = d.probeInfo(ctx)
	if cause.KindOf(err) == cause.CapabilityMissing {
		// Before 1.5 there is no /info: ask `show version`.
		var text string
		if text, err = d.show(ctx, "Probe", "version"); err == nil {
			if info, err = PlatformFromShowVersion(text); cause.KindOf(err) == cause.Invalid {
				err = unexpected("Probe", "no release in show version", text, err)
			}
		}
	}
	if err != nil {
		return PlatformInfo{}, err
	}
	d.mu.Lock()
	d.info = info
	d.mu.Unlock()
	return info, nil
}

// probeInfo asks the unauthenticated GET /info of VyOS 1.5+.
func (d *apiDriver) probeInfo(ctx context.Context) (PlatformInfo, error) {
	ctx, cancel := d.ep.callContext(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base.String()+"/info", nil)
	if err != nil {
		return PlatformInfo{}, invalid("Probe", "cannot build request", err)
	}
	status, rep, err := d.do(ctx, "Probe", req)
	if err != nil {
		return PlatformInfo{}, err
	}
	var info struct {
		Version string `json:"version"`
	}
	if status != http.StatusOK || json.Unmarshal(rep.Data, &info) != nil || info.Version == "" {
		return PlatformInfo{}, cause.New(cause.CapabilityMissing, system, "Probe", "GET /info gave no version", nil)
	}
	return PlatformFromVyOSVersion(info.Version)
}

func (d *apiDriver) ReadConfig(ctx context.Context, owned []Path) (_ Config, err error) {
	defer observe("ReadConfig", time.Now(), &err)
	data, err := d.ok(ctx, "ReadConfig", "/retrieve", map[string]any{"op": "showConfig", "path": []string{}})
	if err != nil {
		return nil, err
	}
	cfg, err := ParseRetrieveJSON(data, nil)
	if err != nil {
		return nil, unexpected("ReadConfig", "unparsable /retrieve reply", string(data), err)
	}
	if len(cfg) == 0 {
		// As over SSH: no router has an empty configuration.
		return nil, unexpected("ReadConfig", "the /retrieve reply holds no configuration", string(data), nil)
	}
	return cfg.Owned(owned), nil
}

// ReadSavedConfig cannot work over the API: no endpoint returns
// /config/config.boot (`show file` exists only on 1.5 and pages through
// less). The controller should save after every successful apply and track
// what it saved instead, or use the SSH driver for this check.
func (d *apiDriver) ReadSavedConfig(context.Context, []Path) (Config, error) {
	return nil, cause.New(cause.CapabilityMissing, system, "ReadSavedConfig",
		"the VyOS HTTP API cannot read the saved configuration (config.boot)", nil)
}

func (d *apiDriver) Apply(ctx context.Context, tx Transaction) (err error) {
	if len(tx) == 0 {
		return nil
	}
	if err := tx.Validate(); err != nil {
		return err
	}
	defer observe("Apply", time.Now(), &err)
	cmds := make([]map[string]any, len(tx))
	for i, op := range tx {
		cmds[i] = map[string]any{"op": string(op.Kind), "path": []string(op.Path)}
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.base.Host), "Apply")
	if err != nil {
		return err
	}
	defer unlock()
	start := time.Now()
	status, rep, err := d.call(ctx, "Apply", "/configure", cmds)
	result := "ok"
	defer func() { observeTask("commit", result, start) }()
	if err != nil {
		result = "error"
		if cause.KindOf(err) == cause.Unreachable {
			return cause.New(cause.Unreachable, system, "Apply",
				"no answer to the commit: it may or may not have been applied; re-read before retrying", err)
		}
		return err
	}
	if status != http.StatusOK {
		result = "error"
		// On error the API discards its session, but commits run per
		// subtree: earlier subtrees may be committed. The caller re-reads.
		return commitError("Apply", sanitize(rep.errorText()))
	}
	return nil
}

func (d *apiDriver) Save(ctx context.Context) (err error) {
	defer observe("Save", time.Now(), &err)
	unlock, err := routerLocks.lock(ctx, lockKey(d.base.Host), "Save")
	if err != nil {
		return err
	}
	defer unlock()
	_, err = d.ok(ctx, "Save", "/config-file", map[string]any{"op": "save"})
	return err
}

func (d *apiDriver) Routes(ctx context.Context) (_ []Route, err error) {
	defer observe("Routes", time.Now(), &err)
	// `show ip route forward` is `ip route list`: the kernel's main table.
	text, err := d.show(ctx, "Routes", "ip", "route", "forward")
	if err != nil {
		return nil, err
	}
	rs, err := ParseRoutesText(text)
	if err != nil {
		return nil, unexpected("Routes", "unparsable ip route output", text, err)
	}
	return rs, nil
}

func (d *apiDriver) Neighbours(ctx context.Context, dev string) (_ []Neighbour, err error) {
	defer observe("Neighbours", time.Now(), &err)
	text, err := d.show(ctx, "Neighbours", "arp")
	if err != nil {
		return nil, err
	}
	ns, err := ParseShowARP(text, dev)
	if err != nil {
		return nil, unexpected("Neighbours", "unparsable show arp output", text, err)
	}
	return ns, nil
}

func (d *apiDriver) noShell(op string) error {
	return cause.New(cause.CapabilityMissing, system, op,
		"the VyOS HTTP API has no shell access to the boot script or kernel routes; use the ssh driver for gatewayRouteMode BootScript", nil)
}

func (d *apiDriver) BootScript(context.Context) (BootScript, error) {
	return BootScript{}, d.noShell("BootScript")
}

func (d *apiDriver) WriteBootScript(context.Context, string) error {
	return d.noShell("WriteBootScript")
}

func (d *apiDriver) ReplaceRoutes(context.Context, []Route) error {
	return d.noShell("ReplaceRoutes")
}

func (d *apiDriver) FlushNeighbours(ctx context.Context, dev string) (err error) {
	defer observe("FlushNeighbours", time.Now(), &err)
	if !devName.MatchString(dev) {
		return invalid("FlushNeighbours", fmt.Sprintf("bad interface name %q", dev), nil)
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.base.Host), "FlushNeighbours")
	if err != nil {
		return err
	}
	defer unlock()
	// `reset ip arp interface D` is `ip neigh flush dev D` on 1.3 to 1.5.
	_, err = d.ok(ctx, "FlushNeighbours", "/reset", map[string]any{"op": "reset", "path": []string{"ip", "arp", "interface", dev}})
	return err
}

func (d *apiDriver) Close() error {
	d.hc.CloseIdleConnections()
	return nil
}
