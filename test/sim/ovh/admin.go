package ovhsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// This file is the out-of-band surface: what tests (through Go) and scripts
// (through HTTP under /_sim/) use to look at the world, change it behind the
// operator's back and make the API misbehave.

// AddWorld adds servers, IPs, virtual MACs and credentials.
func (s *Server) AddWorld(w World) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, app := range w.Applications {
		if app.Key == "" || app.Secret == "" {
			return fmt.Errorf("application without key or secret")
		}
		if err := s.auth.addApplication(app); err != nil {
			return err
		}
	}
	for _, tok := range w.AccessTokens {
		s.auth.tokens[tok] = true
	}
	return s.st.seed(w, s.opts.Profile)
}

// World returns the current state, tasks applied up to now. Virtual MACs
// whose creation is not done are left out.
func (s *Server) World() World {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	return s.st.world(s.auth)
}

// Tasks returns every task not purged, oldest first.
func (s *Server) Tasks() []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	var out []Task
	for _, t := range s.st.tasks {
		if !t.purged {
			out = append(out, t.Task)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AddApplication registers an application and consumer keys for it, each
// granted every call.
func (s *Server) AddApplication(key, secret string, consumerKeys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.auth.addApplication(Application{Key: key, Secret: secret, ConsumerKeys: consumerKeys})
}

// AddConsumerKey registers a validated consumer key of an application
// already known, granted exactly rules.
func (s *Server) AddConsumerKey(appKey, ck string, rules []AccessRule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.auth.apps[appKey]; !ok {
		return fmt.Errorf("unknown application %q", appKey)
	}
	if rules == nil {
		rules = []AccessRule{}
	}
	s.auth.consumers[ck] = &consumerKey{app: appKey, rules: rules, state: CredentialValidated}
	return nil
}

// ConsumerKey returns a consumer key's rules and state, as OVH's
// GET /auth/currentCredential would.
func (s *Server) ConsumerKey(ck string) (rules []AccessRule, state string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.auth.consumers[ck]
	if c == nil {
		return nil, "", false
	}
	return append([]AccessRule(nil), c.rules...), c.state, true
}

// SetConsumerKeyState changes a consumer key's state: CredentialValidated is
// what the account owner's visit to the validation URL does,
// CredentialExpired what time does.
func (s *Server) SetConsumerKeyState(ck, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.auth.consumers[ck]
	if c == nil {
		return fmt.Errorf("unknown consumer key")
	}
	c.state = state
	return nil
}

// RevokeConsumerKey deletes a consumer key: OVH then answers NOT_CREDENTIAL.
func (s *Server) RevokeConsumerKey(ck string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.auth.consumers, ck)
}

// AddAccessToken accepts a bearer token.
func (s *Server) AddAccessToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth.tokens[token] = true
}

// RevokeAccessToken stops accepting a bearer token.
func (s *Server) RevokeAccessToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.auth.tokens, token)
}

// Calls returns the number of requests per route key (RouteIP, ...) since
// the last reset, whatever their outcome.
func (s *Server) Calls() map[string]int {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// CallCount is Calls()[route].
func (s *Server) CallCount(route string) int {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	return s.calls[route]
}

// TotalCalls is the number of API requests except GET /auth/time, which
// go-ovh makes once per client to learn the clock offset.
func (s *Server) TotalCalls() int {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	n := 0
	for k, v := range s.calls {
		if k != RouteAuthTime {
			n += v
		}
	}
	return n
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	s.calls = map[string]int{}
}

// InjectFault makes a route (or "*", every API route) misbehave, replacing
// any fault already set on it.
func (s *Server) InjectFault(route string, f Fault) {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	remaining := f.Count
	if remaining <= 0 {
		remaining = -1
	}
	s.faults[route] = &faultState{Fault: f, remaining: remaining}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	s.faults = map[string]*faultState{}
}

// Hold blocks every request to a route until release is called (or the
// server is closed). Held tells how many are waiting; together they let a
// test line requests up deterministically, e.g. to prove coalescing.
func (s *Server) Hold(route string) (release func()) {
	h := &hold{ch: make(chan struct{})}
	s.ctlMu.Lock()
	s.holds[route] = h
	s.ctlMu.Unlock()
	return func() {
		s.ctlMu.Lock()
		if s.holds[route] == h {
			delete(s.holds, route)
		}
		s.ctlMu.Unlock()
		h.releaseOnce()
	}
}

// Held is the number of requests currently blocked by Hold on a route.
func (s *Server) Held(route string) int {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if h := s.holds[route]; h != nil {
		return h.waiting
	}
	return 0
}

// SetTaskVisibility makes task reads answer status (404 or 500) during the
// window after each task's creation, as OVH does. Zero window turns it off.
func (s *Server) SetTaskVisibility(window time.Duration, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visibility = taskVisibility{window: window, status: status}
}

// SetExtraTasks makes every write create n more tasks of the same function
// on the same resource, besides the one it returns.
func (s *Server) SetExtraTasks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extraTasks = n
}

// FailNextTasks makes the next n tasks of a function end with outcome
// instead of succeeding. Their effect is not applied.
func (s *Server) FailNextTasks(function string, n int, outcome TaskOutcome) error {
	if !terminal(outcome.Status) || outcome.Status == StatusDone {
		return fmt.Errorf("outcome status %q is not a failure status", outcome.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.outcomes[function] = append(s.outcomes[function], outcome)
	}
	return nil
}

// PurgeTasks forgets every finished task, as OVH eventually does; reads of
// them answer 404. It returns how many were purged.
func (s *Server) PurgeTasks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	n := 0
	for _, t := range s.st.tasks {
		if terminal(t.Status) && !t.purged {
			t.purged = true
			n++
		}
	}
	return n
}

// AddTask creates a task nobody asked for (OVH creates some on its own) on
// an IP block or a server. It stays in the given status until SetTaskStatus
// changes it.
func (s *Server) AddTask(scope, target, function, status string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch scope {
	case ScopeIP:
		p, err := parseBlock(target)
		if err != nil || s.st.ips[p.String()] == nil {
			return 0, fmt.Errorf("unknown IP %q", target)
		}
		target = p.String()
	case ScopeServer:
		if s.st.servers[target] == nil {
			return 0, fmt.Errorf("unknown server %q", target)
		}
	default:
		return 0, fmt.Errorf("unknown scope %q", scope)
	}
	now := s.clock.Now()
	t := s.addTask(scope, target, function, now, never)
	t.Status = status
	if terminal(status) {
		t.Done = now
	}
	return t.ID, nil
}

// SetTaskStatus forces a task's status, e.g. to leave a move stuck in
// "doing" or to cancel it. A forced terminal status does not apply the
// task's effect.
func (s *Server) SetTaskStatus(id int64, status, comment string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.st.tasks[id]
	if t == nil {
		return fmt.Errorf("no task %d", id)
	}
	t.Status, t.Comment = status, comment
	if terminal(status) {
		t.Done = s.clock.Now()
		if t.abort != nil && status != StatusDone {
			t.abort()
		}
	} else {
		// Keep tick from finishing it: a forced pending status sticks.
		t.Due = never
	}
	return nil
}

// Advance moves a ManualClock forward; it fails on any other clock.
func (s *Server) Advance(d time.Duration) error {
	mc, isManual := s.clock.(*ManualClock)
	if !isManual {
		return errors.New("the simulator runs on a real clock")
	}
	mc.Advance(d)
	return nil
}

// MoveIP routes an IP block to a server at once, as if someone had used the
// OVH manager. Its virtual MACs follow it.
func (s *Server) MoveIP(ip, to string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	p, err := parseBlock(ip)
	if err != nil || s.st.ips[p.String()] == nil {
		return fmt.Errorf("unknown IP %q", ip)
	}
	b := s.st.ips[p.String()]
	if s.st.servers[to] == nil {
		return fmt.Errorf("unknown server %q", to)
	}
	// At once, without OVH's rules: a virtual MAC shared with addresses
	// outside the block ends up on both servers.
	macs := s.suspendBlockMACs(b)
	b.routedTo, b.moveTask = to, 0
	s.landMACs(to, macs)
	return nil
}

// DeleteVirtualMAC removes a virtual MAC and all its IPs at once.
func (s *Server) DeleteVirtualMAC(server, mac string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	d, v, err := s.adminVMAC(server, mac)
	if err != nil {
		return err
	}
	delete(d.macs, v.mac)
	return nil
}

// SetVirtualMACType changes a virtual MAC's type (ovh or vmware) in place.
func (s *Server) SetVirtualMACType(server, mac, typ string) error {
	if !validMACType(typ) {
		return fmt.Errorf("type %q is neither ovh nor vmware", typ)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	_, v, err := s.adminVMAC(server, mac)
	if err != nil {
		return err
	}
	v.typ = typ
	return nil
}

// BindVirtualMAC binds an IP routed to the server to an existing virtual MAC
// at once, taking it off any other virtual MAC it was on.
func (s *Server) BindVirtualMAC(server, mac, ip, vmName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	d, v, err := s.adminVMAC(server, mac)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", ip)
	}
	if b := s.st.blockOf(addr); b == nil || b.routedTo != d.name {
		return fmt.Errorf("%s is not routed to %s", ip, d.name)
	}
	ip = addr.String()
	for m, other := range d.macs {
		if other != v {
			delete(other.addrs, ip)
			if len(other.addrs) == 0 && len(other.binding) == 0 && !other.creating {
				delete(d.macs, m)
			}
		}
	}
	v.addrs[ip] = vmName
	return nil
}

func (s *Server) adminVMAC(server, mac string) (*dedicated, *vmac, error) {
	d := s.st.servers[server]
	if d == nil {
		return nil, nil, fmt.Errorf("unknown server %q", server)
	}
	m, err := normalizeMAC(mac)
	if err != nil {
		return nil, nil, err
	}
	v := d.macs[m]
	if v == nil {
		return nil, nil, fmt.Errorf("server %s has no virtual MAC %s", server, m)
	}
	return d, v, nil
}

// Network is a change to a server's network specification; empty fields
// are left as they are.
type Network struct {
	MainIP              string `json:"mainIP,omitempty"`
	Gateway             string `json:"gateway,omitempty"`
	Network             string `json:"network,omitempty"`
	VirtualMACSupported *bool  `json:"vmacSupported,omitempty"`
	// IPv6Gateway, when set, is routing.ipv6.gateway from now on.
	IPv6Gateway string `json:"ipv6Gateway,omitempty"`
}

// SetNetwork changes what GET .../specifications/network answers.
func (s *Server) SetNetwork(server string, n Network) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.servers[server]
	if d == nil {
		return fmt.Errorf("unknown server %q", server)
	}
	mainIP, gateway, network := n.MainIP, n.Gateway, n.Network
	if mainIP == "" {
		mainIP = d.mainIP.String()
	}
	if gateway == "" {
		gateway = d.gateway.String()
	}
	if network == "" {
		network = d.network.String()
	}
	next := *d
	if err := next.setNetwork(mainIP, gateway, network); err != nil {
		return err
	}
	if n.IPv6Gateway != "" {
		if err := next.setIPv6Gateway(n.IPv6Gateway); err != nil {
			return err
		}
	}
	if n.VirtualMACSupported != nil {
		if *n.VirtualMACSupported && s.opts.Profile == ProfileKimsufi {
			return errors.New("Kimsufi servers cannot support virtual MACs")
		}
		next.vmacSupported = *n.VirtualMACSupported
	}
	*d = next
	return nil
}

// adminMux serves the HTTP twin of the Go admin methods.
func (s *Server) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/world", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.World()) })
	mux.HandleFunc("POST /_sim/world", adminDo(func(w World) error { return s.AddWorld(w) }))
	mux.HandleFunc("GET /_sim/tasks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Tasks()) })
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Calls()) })
	mux.HandleFunc("DELETE /_sim/calls", func(w http.ResponseWriter, r *http.Request) { s.ResetCalls(); writeJSON(w, map[string]int{}) })
	mux.HandleFunc("POST /_sim/faults", adminDo(func(req struct {
		Route        string `json:"route"`
		Latency      string `json:"latency"`
		ReplyLatency string `json:"replyLatency"`
		Fault
	}) error {
		if req.Route == "" {
			return errors.New("route is required")
		}
		if req.Latency != "" {
			d, err := time.ParseDuration(req.Latency)
			if err != nil {
				return err
			}
			req.Fault.Latency = d
		}
		if req.ReplyLatency != "" {
			d, err := time.ParseDuration(req.ReplyLatency)
			if err != nil {
				return err
			}
			req.Fault.ReplyLatency = d
		}
		s.InjectFault(req.Route, req.Fault)
		return nil
	}))
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) { s.ClearFaults(); writeJSON(w, struct{}{}) })
	mux.HandleFunc("POST /_sim/tasks/visibility", adminDo(func(req struct {
		Window string `json:"window"`
		Status int    `json:"status"`
	}) error {
		d, err := time.ParseDuration(req.Window)
		if err != nil {
			return err
		}
		s.SetTaskVisibility(d, req.Status)
		return nil
	}))
	mux.HandleFunc("POST /_sim/tasks/purge", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]int{"purged": s.PurgeTasks()})
	})
	mux.HandleFunc("POST /_sim/tasks/extra", adminDo(func(req struct {
		Count int `json:"count"`
	}) error {
		s.SetExtraTasks(req.Count)
		return nil
	}))
	mux.HandleFunc("POST /_sim/tasks/outcomes", adminDo(func(req struct {
		Function string `json:"function"`
		Count    int    `json:"count"`
		TaskOutcome
	}) error {
		return s.FailNextTasks(req.Function, req.Count, req.TaskOutcome)
	}))
	mux.HandleFunc("POST /_sim/tasks/status", adminDo(func(req struct {
		ID      int64  `json:"id"`
		Status  string `json:"status"`
		Comment string `json:"comment"`
	}) error {
		return s.SetTaskStatus(req.ID, req.Status, req.Comment)
	}))
	mux.HandleFunc("POST /_sim/tasks", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Scope, Target, Function, Status string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, err := s.AddTask(req.Scope, req.Target, req.Function, req.Status)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]string{"id": strconv.FormatInt(id, 10)})
	})
	mux.HandleFunc("POST /_sim/clock/advance", adminDo(func(req struct {
		Duration string `json:"duration"`
	}) error {
		d, err := time.ParseDuration(req.Duration)
		if err != nil {
			return err
		}
		return s.Advance(d)
	}))
	mux.HandleFunc("POST /_sim/ip/move", adminDo(func(req struct{ IP, To string }) error { return s.MoveIP(req.IP, req.To) }))
	mux.HandleFunc("POST /_sim/vmac/delete", adminDo(func(req struct{ Server, MAC string }) error {
		return s.DeleteVirtualMAC(req.Server, req.MAC)
	}))
	mux.HandleFunc("POST /_sim/vmac/type", adminDo(func(req struct{ Server, MAC, Type string }) error {
		return s.SetVirtualMACType(req.Server, req.MAC, req.Type)
	}))
	mux.HandleFunc("POST /_sim/vmac/bind", adminDo(func(req struct {
		Server, MAC, IP    string
		VirtualMachineName string `json:"virtualMachineName"`
	}) error {
		return s.BindVirtualMAC(req.Server, req.MAC, req.IP, req.VirtualMachineName)
	}))
	mux.HandleFunc("POST /_sim/dns", adminDo(func(req DNSRecord) error { return s.SetDNS(req.Name, req.Addresses...) }))
	mux.HandleFunc("POST /_sim/reverse", adminDo(func(req Reverse) error { return s.SetReverse(req.IP, req.Reverse) }))
	mux.HandleFunc("POST /_sim/network", adminDo(func(req struct {
		Server string `json:"server"`
		Network
	}) error {
		return s.SetNetwork(req.Server, req.Network)
	}))
	mux.HandleFunc("POST /_sim/credentials", adminDo(func(req struct {
		ApplicationKey    string   `json:"applicationKey"`
		ApplicationSecret string   `json:"applicationSecret"`
		ConsumerKeys      []string `json:"consumerKeys"`
		AccessToken       string   `json:"accessToken"`
	}) error {
		if req.ApplicationKey != "" {
			s.AddApplication(req.ApplicationKey, req.ApplicationSecret, req.ConsumerKeys...)
		}
		if req.AccessToken != "" {
			s.AddAccessToken(req.AccessToken)
		}
		return nil
	}))
	mux.HandleFunc("POST /_sim/credentials/state", adminDo(func(req struct {
		ConsumerKey string `json:"consumerKey"`
		State       string `json:"state"`
	}) error {
		return s.SetConsumerKeyState(req.ConsumerKey, req.State)
	}))
	mux.HandleFunc("POST /_sim/credentials/revoke", adminDo(func(req struct {
		ConsumerKey string `json:"consumerKey"`
		AccessToken string `json:"accessToken"`
	}) error {
		if req.ConsumerKey != "" {
			s.RevokeConsumerKey(req.ConsumerKey)
		}
		if req.AccessToken != "" {
			s.RevokeAccessToken(req.AccessToken)
		}
		return nil
	}))
	return mux
}

// adminDo decodes a JSON body into T, runs fn and answers {} or 400.
func adminDo[T any](fn func(T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req T
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := fn(req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, struct{}{})
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
