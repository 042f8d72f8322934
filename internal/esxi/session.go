package esxi

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	vsession "github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/metrics"
)

// session is one logged-in connection to an endpoint. It is the Client
// handed to controllers, and the soap.RoundTripper under its own vim25
// client, so that every call — the watcher's included — goes through the
// deadline, metrics and re-login logic below.
type session struct {
	key   Key
	creds Credentials
	opts  *Options
	log   logr.Logger
	soap  *soap.Client
	vc    *vim25.Client

	mu             sync.Mutex
	loginGen       uint64
	relogged       chan struct{} // closed, and replaced, at each re-login
	scopeMemo      *scope        // datacenters to search; refs outlive sessions
	netSystemsMemo []types.ManagedObjectReference
	tasksDone      map[string]struct{} // tasks whose duration was recorded

	pgMu    sync.Mutex // held over a port group read (PortGroups)
	pgNames []string
	pgAt    time.Time

	lastCall atomic.Int64 // unix nanos of the last successful call, for keep-alive
	lastUsed atomic.Int64 // unix nanos of the last Sessions.Get, for eviction

	stop    context.CancelFunc
	stopped chan struct{}
	closing bool     // guarded by mu
	watch   *watcher // guarded by mu
}

// dial connects and logs in.
func dial(ctx context.Context, creds Credentials, opts *Options) (*session, error) {
	if err := creds.Validate(); err != nil {
		return nil, err
	}
	u, err := soap.ParseURL(creds.URL)
	if err != nil {
		return nil, invalidSecret("secret key \"url\" is not a URL")
	}
	u.User = nil
	sc := soap.NewClient(u, false)
	tc, err := tlsConfig(creds, u.Hostname())
	if err != nil {
		return nil, err
	}
	// soap.NewClient's dialer falls back to its own thumbprint list on
	// untrusted certificates; that list stays empty, so our
	// VerifyConnection is the only judge.
	sc.DefaultTransport().TLSClientConfig = tc
	// A backstop above the longest call we make (a WaitForUpdatesEx); each
	// call also carries its own context deadline.
	sc.Timeout = opts.WatchMaxWait + opts.CallTimeout
	sc.UserAgent = "ovhbridge-operator"

	s := &session{
		key:      creds.Key(),
		creds:    creds,
		opts:     opts,
		soap:     sc,
		relogged: make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	s.log = opts.Logger.WithValues("esxi", s.key.String())

	ctx, cancel := context.WithTimeout(ctx, opts.CallTimeout)
	defer cancel()
	if err := s.connect(ctx); err != nil {
		sc.CloseIdleConnections()
		return nil, err
	}
	s.touch()
	runCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.keepAlive(runCtx)
	return s, nil
}

func (s *session) connect(ctx context.Context) error {
	if err := s.negotiateVersion(ctx); err != nil {
		return err
	}
	start := time.Now()
	vc, err := vim25.NewClient(ctx, s.soap)
	metrics.ObserveCall(system, "RetrieveServiceContent", start, classify("Connect", err))
	if err != nil {
		return classify("Connect", err)
	}
	vc.RoundTripper = s
	s.vc = vc
	return s.login(ctx)
}

// negotiateVersion asks the endpoint which API version it speaks: older
// hosts reject requests tagged with a newer version than theirs. When the
// document is missing, govmomi's default version stays.
func (s *session) negotiateVersion(ctx context.Context) error {
	u := s.soap.URL()
	u.Path = "/sdk/vimServiceVersions.xml"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return classify("Connect", err)
	}
	start := time.Now()
	err = s.soap.Do(ctx, req, func(res *http.Response) error {
		if res.StatusCode != http.StatusOK {
			return nil
		}
		var doc struct {
			Namespace string `xml:"namespace>name"`
			Version   string `xml:"namespace>version"`
		}
		if xml.NewDecoder(res.Body).Decode(&doc) == nil && doc.Namespace != "" && doc.Version != "" {
			s.soap.Namespace, s.soap.Version = doc.Namespace, doc.Version
		}
		return nil
	})
	err = classify("Connect", err)
	metrics.ObserveCall(system, "ServiceVersions", start, err)
	return err
}

// login opens a new session on the endpoint. It bypasses RoundTrip so that a
// refused login is never answered with another login.
func (s *session) login(ctx context.Context) error {
	req := types.Login{
		This:     *s.vc.ServiceContent.SessionManager,
		UserName: s.creds.Username,
		Password: s.creds.Password,
		Locale:   vsession.Locale,
	}
	_, err := methods.Login(ctx, roundTripFunc(s.call), &req)
	if err != nil {
		err = classify("Login", err)
		if cause.Is(err, cause.CredentialsInvalid) {
			// The host's own text ("incorrect user name or password") is
			// enough; the user name helps find the wrong Secret.
			return cause.New(cause.CredentialsInvalid, system, "Login",
				fmt.Sprintf("login refused for user %q", s.creds.Username), err)
		}
		return err
	}
	return nil
}

type roundTripFunc func(ctx context.Context, req, res soap.HasFault) error

func (f roundTripFunc) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	return f(ctx, req, res)
}

// RoundTrip is every SOAP call of the session: on NotAuthenticated (the
// session expired or was terminated) it logs in again, once for all
// concurrent callers, and retries the call once.
func (s *session) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	gen := s.generation()
	err := s.call(ctx, req, res)
	if !needsLogin(req, res, err) {
		return err
	}
	if lerr := s.relogin(ctx, gen); lerr != nil {
		return lerr
	}
	// Decoding into a used response leaves its fault in place: the retry
	// would report the stale NotAuthenticated.
	zero(res)
	return s.call(ctx, req, res)
}

// call is one SOAP round trip with a deadline, metrics and retries of
// read-only calls on transient network errors. Writes are never retried: a
// reconfigure or power task might have been started by the lost attempt.
func (s *session) call(ctx context.Context, req, res soap.HasFault) error {
	method := methodName(req)
	timeout := s.opts.CallTimeout
	if method == "WaitForUpdatesEx" {
		timeout += s.opts.WatchMaxWait
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var err error
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err = s.soap.RoundTrip(ctx, req, res)
		metrics.ObserveCall(system, method, start, classify(method, err))
		if err == nil || attempt >= 2 || !readOnly[method] || !vim25.IsTemporaryNetworkError(err) || ctx.Err() != nil {
			break
		}
		zero(res)
	}
	if err == nil {
		s.lastCall.Store(time.Now().UnixNano())
	}
	return err
}

// readOnly lists the calls that are safe to send twice.
var readOnly = map[string]bool{
	"RetrieveServiceContent":       true,
	"RetrievePropertiesEx":         true,
	"ContinueRetrievePropertiesEx": true,
	"RetrieveProperties":           true,
	"FindChild":                    true,
	"CurrentTime":                  true,
}

func methodName(req soap.HasFault) string {
	t := reflect.TypeOf(req)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.TrimSuffix(t.Name(), "Body")
}

func zero(res soap.HasFault) {
	v := reflect.ValueOf(res)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v.Elem().Set(reflect.Zero(v.Elem().Type()))
	}
}

// needsLogin reports whether the call failed because the session is gone.
// Besides the NotAuthenticated fault, a property retrieval may come back
// "successful" with every property missing for NotAuthenticated (vcsim does
// this; the vSphere API allows it).
func needsLogin(req, res soap.HasFault, err error) bool {
	switch req.(type) {
	case *methods.LoginBody, *methods.LogoutBody:
		return false
	}
	if err != nil {
		_, ok := faultOf(err).(*types.NotAuthenticated)
		return ok
	}
	var objects []types.ObjectContent
	switch r := res.(type) {
	case *methods.RetrievePropertiesExBody:
		if r.Res != nil && r.Res.Returnval != nil {
			objects = r.Res.Returnval.Objects
		}
	case *methods.RetrievePropertiesBody:
		if r.Res != nil {
			objects = r.Res.Returnval
		}
	}
	for _, o := range objects {
		for _, m := range o.MissingSet {
			if _, ok := m.Fault.Fault.(*types.NotAuthenticated); ok {
				return true
			}
		}
	}
	return false
}

func (s *session) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loginGen
}

// reloggedIn returns a channel closed at the next re-login: the watcher's
// view and collector died with the old session.
func (s *session) reloggedIn() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relogged
}

// relogin logs in again unless another caller already did since gen.
func (s *session) relogin(ctx context.Context, gen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errClosed // logged out on purpose: do not come back
	}
	if s.loginGen != gen {
		return nil
	}
	// Forget the old session cookie: a host refuses Login on a session it
	// still considers valid (a NotAuthenticated may come from a single
	// call, such as one lacking a privilege).
	s.soap.Jar.SetCookies(s.soap.URL(), []*http.Cookie{{Name: soap.SessionCookieName, MaxAge: -1}})
	if err := s.login(ctx); err != nil {
		s.log.Info("session expired and re-login failed", "reason", err.Error())
		return err
	}
	s.loginGen++
	close(s.relogged)
	s.relogged = make(chan struct{})
	s.log.Info("session expired; logged in again")
	return nil
}

func (s *session) touch() { s.lastUsed.Store(time.Now().UnixNano()) }

// keepAlive keeps an idle session from timing out on the host (ESXi's
// default is 30 minutes) and notices a dead one before a controller does.
// A running watcher's long polls count as activity, so at steady state
// nothing is sent.
func (s *session) keepAlive(ctx context.Context) {
	defer close(s.stopped)
	t := time.NewTicker(s.opts.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, s.lastCall.Load())) < s.opts.KeepAlive {
			continue
		}
		gen := s.generation()
		us, err := vsession.NewManager(s.vc).UserSession(ctx)
		switch {
		case err != nil:
			s.log.V(1).Info("keep-alive failed", "reason", classify("KeepAlive", err).Error())
		case us == nil:
			// Hosts answer currentSession with nothing once the session
			// is gone, rather than with a fault.
			_ = s.relogin(ctx, gen)
		}
	}
}

// ensureWatch starts the session's watcher unless it runs already.
func (s *session) ensureWatch(emit func(context.Context, VMChange)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errClosed
	}
	if s.watch == nil {
		s.watch = startWatcher(s, emit)
	}
	return nil
}

// close stops the watcher and the keep-alive and logs out.
func (s *session) close(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	w := s.watch
	s.mu.Unlock()
	if w != nil {
		w.stop()
	}
	s.stop()
	<-s.stopped
	req := types.Logout{This: *s.vc.ServiceContent.SessionManager}
	if _, err := methods.Logout(ctx, roundTripFunc(s.call), &req); err != nil {
		s.log.V(1).Info("logout failed", "reason", classify("Logout", err).Error())
	}
	s.soap.CloseIdleConnections()
}
