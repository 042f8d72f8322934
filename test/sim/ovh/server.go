package ovhsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Profile is an OVH product line. They share one API design but not the same
// routes.
type Profile string

const (
	// ProfileOVH is OVHcloud / So you Start: virtual MACs and IP moves.
	ProfileOVH Profile = "ovh"
	// ProfileKimsufi has neither virtual MAC nor move routes: they answer
	// like any unknown route, 404 "Got an invalid (or empty) URL".
	ProfileKimsufi Profile = "kimsufi"
)

// ParkedStyle is how GET /ip/{ip} shows an IP routed nowhere. OVH sends
// {"serviceName": null} (github ovh/manager, packages/manager/apps/ips/
// mocks/ip/get-ip-details.json), the default; null is what its schema also
// allows (routedTo is nullable in ovhcloud-cli's ip.json). "" is no shape
// OVH documents: it is kept to test a client's robustness, and fails the
// conformance check.
type ParkedStyle string

const (
	ParkedNull            ParkedStyle = "null"            // "routedTo": null
	ParkedServiceNameNull ParkedStyle = "serviceNameNull" // "routedTo": {"serviceName": null}
	ParkedEmpty           ParkedStyle = "empty"           // "routedTo": ""
)

// AddressInBlock is how GET /ip/{ip} answers for a single address ("/32")
// inside a wider additional block. OVH's objects are the blocks it sells:
// its API describes {ip} as an ipBlock and finds the block of an address
// with the list's "ip" filter ("contains or equals", github
// ovh/ovhcloud-cli, internal/assets/api-schemas/ip.json, GET /ip), and a
// block named without its mask is "This service does not exist" (github
// ovh/terraform-provider-ovh#1099, a /30 named as a single IP). So 404 is
// the default; that GET /ip/{ip} never answers with the containing block
// is inferred, not quoted, hence the option.
type AddressInBlock string

const (
	// AddressInBlockNotFound: 404 "This service does not exist".
	AddressInBlockNotFound AddressInBlock = "notFound"
	// AddressInBlockBlock: the containing block's record (its "ip" is the
	// block, not the address asked for).
	AddressInBlockBlock AddressInBlock = "block"
)

// ErrorReply is an API error the real texts of which are not known: its
// status and message are configurable.
type ErrorReply struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// Options configure a Server. The zero value is a working OVH-profile
// simulator on the real clock whose tasks finish at the first look.
type Options struct {
	Profile Profile
	World   World
	// Clock defaults to the wall clock.
	Clock Clock
	// Addr is where Start listens; default 127.0.0.1:0.
	Addr string

	// MoveDuration is how long an IP move task takes (OVH: about a minute).
	// During it, GET /ip/{ip} still shows the old route.
	MoveDuration time.Duration
	// VirtualMACDuration is how long virtual MAC creation, binding and
	// unbinding tasks take.
	VirtualMACDuration time.Duration
	// ListVirtualMACBeforeDone lists a virtual MAC (and its IP) as soon as
	// its creation is requested instead of when the task is done. Which one
	// OVH does is unknown.
	ListVirtualMACBeforeDone bool
	// MACPrefixes are the first three bytes of generated MACs per type.
	// Defaults: ovh 02:00:00, vmware 00:50:56 (the latter unconfirmed).
	MACPrefixes map[string]string
	// ParkedRoutedTo defaults to ParkedServiceNameNull, OVH's shape.
	ParkedRoutedTo ParkedStyle
	// DuplicateVirtualMACError answers a move of a block one of whose
	// virtual MACs also carries addresses outside it (moves.go). Default
	// 403 with a text naming the MAC: a guess.
	DuplicateVirtualMACError ErrorReply
	// VirtualMACQuotaError answers a move that would take the destination
	// over its vmac.quota (moves.go). Default 403, a guessed text.
	VirtualMACQuotaError ErrorReply
	// VirtualMACReappearDelay is how long a moved block's virtual MACs
	// take, once the move is done, to appear on the destination (moves.go).
	// Default zero: at once.
	VirtualMACReappearDelay time.Duration
	// AddressInBlock defaults to AddressInBlockNotFound. Either way, moves
	// and tasks of an address inside a block answer 404: only the block
	// moves (github ovh/docs, the guide on moving additional IPs: blocks
	// move as a whole).
	AddressInBlock AddressInBlock
	// NotRoutedError answers a virtual MAC request for an IP not routed to
	// the server. Default 403 "The IP address <ip> is not routed to <server>".
	NotRoutedError ErrorReply
	// VirtualMACUnsupportedError answers a virtual MAC request on a server
	// without virtual MAC support. Default 403 "Virtual MAC is not supported
	// on this server".
	VirtualMACUnsupportedError ErrorReply
	// TaskRetention purges finished tasks (they then answer 404) this long
	// after they finished. Zero keeps them forever.
	TaskRetention time.Duration
	// TaskFunctions names the tasks of virtual MAC writes; zero fields take
	// the defaults (see the Function constants).
	TaskFunctions TaskFunctions
	// Conformance checks every request against OVH's API description
	// (testdata/schema, see APISchema) and every answer the simulator gives
	// of its own (injected faults aside); Violations returns what departed
	// from it. Tests of a client turn it on to prove both sides speak OVH's
	// API as published.
	Conformance bool
}

// Server is a running (or startable) OVH API simulator. It is an
// http.Handler, so it can also be mounted on any http.Server.
type Server struct {
	opts  Options
	clock Clock

	mu         sync.Mutex // guards everything below up to ctlMu
	st         *state
	auth       *authRegistry
	outcomes   map[string][]TaskOutcome
	extraTasks int
	visibility taskVisibility

	ctlMu      sync.Mutex // guards calls, faults, holds and violations
	calls      map[string]int
	faults     map[string]*faultState
	holds      map[string]*hold
	violations []string
	schema     *Schema

	queryIDs atomic.Uint64
	admin    *http.ServeMux
	hs       *httptest.Server
}

// taskVisibility reproduces OVH answering 404 or 500 to a task read for a
// while after the task was created.
type taskVisibility struct {
	window time.Duration
	status int
}

// New builds a simulator seeded with opts.World.
func New(opts Options) (*Server, error) {
	if opts.Profile == "" {
		opts.Profile = ProfileOVH
	}
	if opts.Profile != ProfileOVH && opts.Profile != ProfileKimsufi {
		return nil, fmt.Errorf("unknown profile %q", opts.Profile)
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	// Guesses, configurable: ovh MACs in the locally administered 02:00:00
	// range, vmware ones in VMware's 00:50:56 OUI.
	prefixes := map[string]string{"ovh": "02:00:00", "vmware": "00:50:56"}
	for t, p := range opts.MACPrefixes {
		prefixes[t] = strings.ToLower(p)
	}
	opts.MACPrefixes = prefixes
	for _, f := range []*string{&opts.TaskFunctions.CreateVirtualMAC, &opts.TaskFunctions.BindIP} {
		if *f == "" {
			*f = FunctionAddVirtualMAC
		}
	}
	if opts.TaskFunctions.UnbindIP == "" {
		opts.TaskFunctions.UnbindIP = FunctionRemoveVirtualMAC
	}
	for _, f := range []string{opts.TaskFunctions.CreateVirtualMAC, opts.TaskFunctions.BindIP, opts.TaskFunctions.UnbindIP} {
		if !slices.Contains(virtualMACFunctions, f) {
			return nil, fmt.Errorf("task function %q is none of OVH's virtual MAC names %v", f, virtualMACFunctions)
		}
	}
	if opts.ParkedRoutedTo == "" {
		opts.ParkedRoutedTo = ParkedServiceNameNull
	}
	switch opts.AddressInBlock {
	case "":
		opts.AddressInBlock = AddressInBlockNotFound
	case AddressInBlockNotFound, AddressInBlockBlock:
	default:
		return nil, fmt.Errorf("unknown AddressInBlock %q", opts.AddressInBlock)
	}
	// Both refusal texts are guesses (no public source quotes them): the
	// client must not depend on them, and tests can change them.
	if opts.NotRoutedError.Status == 0 {
		opts.NotRoutedError.Status = http.StatusForbidden
	}
	for _, e := range []*ErrorReply{&opts.DuplicateVirtualMACError, &opts.VirtualMACQuotaError} {
		if e.Status == 0 {
			e.Status = http.StatusForbidden
		}
	}
	if opts.VirtualMACUnsupportedError.Status == 0 {
		opts.VirtualMACUnsupportedError = ErrorReply{http.StatusForbidden, "Virtual MAC is not supported on this server"}
	}
	s := &Server{
		opts:     opts,
		clock:    opts.Clock,
		st:       newState(),
		auth:     newAuthRegistry(),
		outcomes: map[string][]TaskOutcome{},
		calls:    map[string]int{},
		faults:   map[string]*faultState{},
		holds:    map[string]*hold{},
	}
	if opts.Conformance {
		schema, err := APISchema()
		if err != nil {
			return nil, err
		}
		s.schema = schema
	}
	if err := s.AddWorld(opts.World); err != nil {
		return nil, err
	}
	s.admin = s.adminMux()
	return s, nil
}

// Start listens on Options.Addr and serves in the background.
func (s *Server) Start() error {
	l, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	s.hs = &httptest.Server{Listener: l, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	s.hs.Start()
	return nil
}

// URL is the server's root, e.g. http://127.0.0.1:41234. Empty before Start.
func (s *Server) URL() string {
	if s.hs == nil {
		return ""
	}
	return s.hs.URL
}

// Endpoint is what go-ovh takes as endpoint: URL() + "/1.0".
func (s *Server) Endpoint() string { return s.URL() + "/1.0" }

// Close stops the server and blocks until its requests are done. Held
// requests are released first.
func (s *Server) Close() {
	s.ctlMu.Lock()
	for _, h := range s.holds {
		h.releaseOnce()
	}
	s.ctlMu.Unlock()
	if s.hs != nil {
		s.hs.Close()
	}
}

// Clock is the clock tasks follow.
func (s *Server) Clock() Clock { return s.clock }

// ServeHTTP serves the API under /1.0 and /v1 and the admin surface under
// /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if strings.HasPrefix(path, "/_sim/") {
		s.admin.ServeHTTP(w, r)
		return
	}
	if path == validationPath {
		s.validateCredential(w, r)
		return
	}
	var rt *route
	var params map[string]string
	key := r.Method + " (unknown route)"
	rest, underBase := cutBase(path)
	if underBase {
		if rt, params = match(r.Method, rest); rt != nil {
			key = rt.key
		}
	}
	s.count(key)
	// The body is read before any hold: net/http notices a client that
	// went away (r.Context() ends) only once the request body is consumed,
	// and a held request whose sender died must be dropped, unprocessed.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	if s.schema != nil && underBase {
		s.violate(s.schema.CheckRequest(r.Method, rest, r.URL.Query(), body))
		rec := &recorder{ResponseWriter: w}
		w = rec
		defer func() {
			if rec.status != 0 && !rec.injected {
				s.violate(s.schema.CheckResponse(r.Method, rest, rec.status, rec.body.Bytes()))
			}
		}()
	}
	goOn, after := s.applyFaults(w, r, key)
	if !goOn {
		return
	}
	if rt == nil || !rt.availableIn(s.opts.Profile) {
		s.writeReply(w, unknownRoute())
		return
	}
	s.mu.Lock()
	if rt.auth {
		if f := s.auth.authenticate(r, body, rest); f != nil {
			s.mu.Unlock()
			s.writeAuthFailure(w, f)
			return
		}
	}
	s.tick()
	rep := rt.handle(s, &call{params: params, body: body, query: r.URL.Query(), header: r.Header, host: r.Host})
	s.mu.Unlock()
	if after.LoseReply {
		dropConnection(w)
		return
	}
	if after.ReplyLatency > 0 && !sleepCtx(r.Context(), after.ReplyLatency) {
		return // the client gave up; OVH did the work all the same
	}
	s.writeReply(w, rep)
}

// recorder keeps what the simulator answered, for the conformance check.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	injected bool // an injected fault answered, not the simulator
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijacking not supported")
	}
	r.status = 0 // no answer to check
	return hj.Hijack()
}

func (s *Server) violate(v []string) {
	if len(v) == 0 {
		return
	}
	s.ctlMu.Lock()
	s.violations = append(s.violations, v...)
	s.ctlMu.Unlock()
}

// Violations returns every departure from OVH's API description seen since
// the server started (Options.Conformance), in order.
func (s *Server) Violations() []string {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	return slices.Clone(s.violations)
}

// dropConnection closes the client's connection without an answer, as a
// proxy or a network failure between OVH and the client would.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http closes the connection without writing
}

// cutBase strips the API version prefix. OVH serves /1.0 and /v1 (and /v2,
// which the simulator does not model).
func cutBase(path string) (string, bool) {
	for _, base := range []string{"/1.0", "/v1"} {
		if rest, ok := strings.CutPrefix(path, base); ok && strings.HasPrefix(rest, "/") {
			return rest, true
		}
	}
	return "", false
}

type call struct {
	params map[string]string
	body   []byte
	query  url.Values
	header http.Header
	host   string
}

func (c *call) decode(v any) *reply {
	if len(c.body) == 0 {
		r := badRequest("Missing request body")
		return &r
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		r := badRequest("Invalid JSON received")
		return &r
	}
	return nil
}

type reply struct {
	status int
	body   any
}

// errorBody is the shape of OVH API errors (authentication failures aside).
type errorBody struct {
	Class   string `json:"class,omitempty"`
	Message string `json:"message"`
}

func ok(v any) reply { return reply{http.StatusOK, v} }

func apiError(status int, msg string) reply {
	return reply{status, errorBody{Class: errorClass(status), Message: msg}}
}

func badRequest(msg string) reply { return apiError(http.StatusBadRequest, msg) }

// serviceNotFound: 404 Client::NotFound "This service does not exist", as
// quoted from real calls in github aureq/cert-manager-webhook-ovh#39.
func serviceNotFound() reply { return apiError(http.StatusNotFound, "This service does not exist") }

// objectNotFound: the "(field = value)" text comes from the project's design
// notes (shared/design/ovh-api.md); no public source found, so a guess in
// its details.
func objectNotFound(field, value string) reply {
	return apiError(http.StatusNotFound, fmt.Sprintf("The requested object (%s = %s) does not exist", field, value))
}

// unknownRoute: what OVH answers for a route an endpoint lacks, e.g. a
// product Kimsufi or So you Start do not sell: 404 Client::NotFound "Got an
// invalid (or empty) URL" (github ovh/terraform-provider-ovh, branch master,
// website/docs/index.html.markdown, "Region/company limitations").
func unknownRoute() reply { return apiError(http.StatusNotFound, "Got an invalid (or empty) URL") }

func errorClass(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "Client::BadRequest"
	case http.StatusUnauthorized:
		return "Client::Unauthorized"
	case http.StatusForbidden:
		return "Client::Forbidden"
	case http.StatusNotFound:
		return "Client::NotFound"
	case http.StatusConflict:
		return "Client::Conflict"
	case http.StatusTooManyRequests:
		return "Client::TooManyRequests"
	case http.StatusServiceUnavailable:
		return "Server::ServiceUnavailable"
	}
	if status >= 500 {
		return "Server::InternalServerError"
	}
	return ""
}

// nextQueryID imitates X-Ovh-Queryid values quoted from real answers, e.g.
// "EU.ext-3.65e35d7b.2743956.409faf758b6080216e956063f7a5db1b" (github
// aureq/cert-manager-webhook-ovh#39); tests match the "EU.ext-sim" prefix.
func (s *Server) nextQueryID() string {
	return fmt.Sprintf("EU.ext-sim.%08x.%d", uint32(time.Now().UnixNano()), s.queryIDs.Add(1))
}

func (s *Server) writeReply(w http.ResponseWriter, rep reply) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Ovh-Queryid", s.nextQueryID())
	w.WriteHeader(rep.status)
	_ = json.NewEncoder(w).Encode(rep.body)
}

func (s *Server) writeAuthFailure(w http.ResponseWriter, f *authFailure) {
	body := map[string]string{
		"errorCode": f.errorCode,
		"httpCode":  fmt.Sprintf("%d %s", f.status, http.StatusText(f.status)),
		"message":   f.message,
	}
	if f.class != "" {
		body["class"] = f.class
	}
	s.writeReply(w, reply{f.status, body})
}

func (s *Server) count(key string) {
	s.ctlMu.Lock()
	s.calls[key]++
	s.ctlMu.Unlock()
}

// Fault is injected on a route (a key such as "GET /ip/{ip}", or "*" for
// every API route). Latency and holds delay the request; a non-zero Status
// then answers it instead of the simulator.
type Fault struct {
	// Status to answer; zero lets the request through after Latency.
	Status int `json:"status,omitempty"`
	// Body to send; empty sends OVH's JSON error shape for Status. Use
	// HTMLErrorPage for the pages OVH's front ends return on 5xx.
	Body        string            `json:"body,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	Header      map[string]string `json:"header,omitempty"`
	// Count is how many requests the fault applies to; zero means all until
	// cleared.
	Count   int           `json:"count,omitempty"`
	Latency time.Duration `json:"-"`
	// LoseReply lets the simulator handle the request (a write is done,
	// its task created) and then closes the connection without answering:
	// the client cannot tell whether OVH got it. Status must be zero.
	LoseReply bool `json:"loseReply,omitempty"`
	// ReplyLatency lets the simulator handle the request and then delays
	// the answer, so that a client with a shorter timeout gives up on a
	// write OVH accepted. Status must be zero.
	ReplyLatency time.Duration `json:"-"`
}

type faultState struct {
	Fault
	remaining int // -1: unlimited
}

type hold struct {
	ch      chan struct{}
	once    sync.Once
	waiting int
}

func (h *hold) releaseOnce() { h.once.Do(func() { close(h.ch) }) }

// HTMLErrorPage is the kind of page OVH's load balancers return instead of
// JSON when the API behind them fails.
func HTMLErrorPage(status int) string {
	return fmt.Sprintf("<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center><hr><center>nginx</center></body></html>\n",
		status, http.StatusText(status), status, http.StatusText(status))
}

// applyFaults runs the holds, latency and injected answers for a route. It
// reports whether the request should go on to the simulator, and the fault
// whose LoseReply or ReplyLatency then applies to the answer.
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request, key string) (goOn bool, after Fault) {
	s.ctlMu.Lock()
	h := s.holds[key]
	if h != nil {
		h.waiting++
	}
	s.ctlMu.Unlock()
	if h != nil {
		select {
		case <-h.ch:
		case <-r.Context().Done():
		}
		s.ctlMu.Lock()
		h.waiting--
		s.ctlMu.Unlock()
		if r.Context().Err() != nil {
			return false, Fault{}
		}
	}

	s.ctlMu.Lock()
	fs := s.faults[key]
	if fs == nil {
		fs = s.faults["*"]
	}
	var f Fault
	if fs != nil {
		f = fs.Fault
		if fs.remaining > 0 {
			fs.remaining--
			if fs.remaining == 0 {
				for k, v := range s.faults {
					if v == fs {
						delete(s.faults, k)
					}
				}
			}
		}
	}
	s.ctlMu.Unlock()
	if fs == nil {
		return true, Fault{}
	}
	if f.Latency > 0 && !sleepCtx(r.Context(), f.Latency) {
		return false, Fault{}
	}
	if f.Status == 0 {
		return true, f
	}
	if rec, ok := w.(*recorder); ok {
		rec.injected = true
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	if f.Body == "" {
		s.writeReply(w, apiError(f.Status, faultMessage(f.Status)))
		return false, Fault{}
	}
	ct := f.ContentType
	if ct == "" {
		ct = "application/json; charset=utf-8"
		if strings.HasPrefix(strings.TrimSpace(f.Body), "<") {
			ct = "text/html"
		}
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Ovh-Queryid", s.nextQueryID())
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
	return false, Fault{}
}

// QueryTimeOut is OVH's answer when a query takes too long on its side: a
// 400 with errorCode QUERY_TIME_OUT (github UrielCh/api-ovh-node,
// packages/core/src/index.ts, which retries it as a 408). Its message is not
// quoted anywhere: a guess.
func QueryTimeOut() Fault {
	return Fault{Status: http.StatusBadRequest,
		Body: `{"errorCode":"QUERY_TIME_OUT","httpCode":"400 Bad Request","message":"Query timeout"}`}
}

// faultMessage is the message of an injected error given no body. Whether
// OVH answers 429 at all, and its texts for 429 and 5xx, are guesses: tests
// that care pass a Body (HTMLErrorPage for the front ends' pages).
func faultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Too many requests"
	case http.StatusInternalServerError:
		return "Internal server error"
	case http.StatusServiceUnavailable:
		return "Service temporarily unavailable"
	}
	return http.StatusText(status)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
