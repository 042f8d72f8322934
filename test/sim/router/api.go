package routersim

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
)

// The VyOS HTTP API: POST endpoints taking the form fields key and data (or a
// JSON body carrying key), replying {"success", "data", "error"} labelled
// text/html, as vyos-1x's FastAPI server does.

func (r *Router) startHTTPS(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/retrieve", r.post(r.apiRetrieve))
	mux.HandleFunc("/configure", r.post(r.apiConfigure))
	// The endpoints each release's server registers: /configure-section
	// from 1.4 (vyos-http-api-server, sagitta; absent on equuleus).
	// /image, /container-image, /reboot, /poweroff and /import-pki exist
	// too but are not modelled.
	if r.profile == VyOS14 || r.profile == VyOS15 {
		mux.HandleFunc("/configure-section", r.post(r.apiConfigureSection))
	}
	mux.HandleFunc("/config-file", r.post(r.apiConfigFile))
	mux.HandleFunc("/show", r.post(r.apiShow))
	mux.HandleFunc("/generate", r.post(r.apiGenerate))
	mux.HandleFunc("/reset", r.post(r.apiReset))
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		r.apiInFlight.Add(1)
		defer r.apiInFlight.Add(-1)
		r.sleep(r.latency())
		// GET /info, the one endpoint without a key, from 1.5 on
		// (docs.vyos.io/en/1.5/automation/vyos-api.html; not in the
		// vyos-1x current snapshot read, late 2024).
		if req.URL.Path == "/info" && r.profile == VyOS15 && req.Method == http.MethodGet {
			r.mu.Lock()
			r.count("api:/info")
			host := r.opts.Hostname
			r.mu.Unlock()
			reply(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{
				"version": r.Version(), "hostname": host, "banner": "Welcome to VyOS",
			}, "error": nil})
			return
		}
		notFound(w)
	})
	r.httpSrv = &http.Server{
		Handler: mux,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{r.ca.leaf},
			MinVersion:   tls.VersionTLS12,
		},
		// HTTP/1.1 only, as nginx in front of the API is configured; it
		// also lets a fault abort one request by closing its connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnState: func(c net.Conn, s http.ConnState) {
			r.mu.Lock()
			defer r.mu.Unlock()
			switch s {
			case http.StateNew:
				r.conns[c] = true
			case http.StateClosed, http.StateHijacked:
				delete(r.conns, c)
			}
		},
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.httpSrv.ServeTLS(ln, "", "")
	}()
}

func reply(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func success(w http.ResponseWriter, data any) {
	reply(w, http.StatusOK, map[string]any{"success": true, "data": data, "error": nil})
}

func failure(w http.ResponseWriter, status int, msg string) {
	reply(w, status, map[string]any{"success": false, "data": nil, "error": msg})
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, `{"detail":"Not Found"}`)
}

// apiHandler gets the decoded data of an authenticated request; it returns
// errDrop to abort the request without an answer.
type apiHandler func(w http.ResponseWriter, data json.RawMessage) error

func (r *Router) post(h apiHandler) http.HandlerFunc {
	return func(rw http.ResponseWriter, req *http.Request) {
		// A request whose client went away (an operator killed) is still
		// carried out to its end, as by the API server in front of a real
		// VyOS (a FastAPI handler is not cancelled when its client goes;
		// github vyos/vyos-1x, current, src/services/vyos-http-api-server):
		// APIRequestsInFlight lets a test wait for it.
		r.apiInFlight.Add(1)
		defer r.apiInFlight.Add(-1)
		w := rw
		r.sleep(r.latency())
		r.mu.Lock()
		r.count("api:" + req.URL.Path)
		rest := r.restEnabled()
		r.mu.Unlock()
		if !rest {
			notFound(w)
			return
		}
		if req.Method != http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			io.WriteString(w, `{"detail":"Method Not Allowed"}`)
			return
		}
		key, data, status, msg := decodeAPIRequest(req)
		if status != 0 {
			failure(w, status, msg)
			return
		}
		r.mu.Lock()
		ok := false
		for _, k := range r.apiKeys() {
			if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
				ok = true
			}
		}
		r.mu.Unlock()
		if !ok {
			failure(w, http.StatusUnauthorized, "Valid API key is required")
			return
		}
		var c apiCommand
		_ = json.Unmarshal(data, &c)
		g := r.garbler(strings.TrimSpace(req.URL.Path + " " + strings.Join(c.Path, " ")))
		delay := r.commitReplyDelay(req.URL.Path)
		var buf *bufferedReply
		if g != nil || delay > 0 {
			buf = &bufferedReply{header: http.Header{}}
			w = buf
		}
		if err := h(w, data); err == errDrop {
			// Abort: the client sees the connection close with no reply.
			panic(http.ErrAbortHandler)
		}
		if buf != nil {
			r.sleep(delay)
			if g == nil {
				g = func(s string) string { return s }
			}
			buf.sendGarbled(rw, g)
		}
	}
}

// decodeAPIRequest accepts form fields (urlencoded or multipart) key + data,
// or a JSON body with key inside.
func decodeAPIRequest(req *http.Request) (key string, data json.RawMessage, status int, msg string) {
	req.Body = http.MaxBytesReader(nil, req.Body, 1<<20)
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data", "application/x-www-form-urlencoded":
		var err error
		if ct == "multipart/form-data" {
			err = req.ParseMultipartForm(1 << 20)
		} else {
			err = req.ParseForm()
		}
		if err != nil {
			return "", nil, http.StatusRequestEntityTooLarge, "Request body too large"
		}
		key = req.PostFormValue("key")
		d := req.PostFormValue("data")
		if key == "" {
			return "", nil, http.StatusUnauthorized, "Valid API key is required"
		}
		if d == "" {
			return "", nil, http.StatusUnprocessableEntity, "Non-empty data field is required"
		}
		if !json.Valid([]byte(d)) {
			return "", nil, http.StatusBadRequest, "Failed to parse JSON: Expecting value: line 1 column 1 (char 0)"
		}
		return key, json.RawMessage(d), 0, ""
	default:
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return "", nil, http.StatusRequestEntityTooLarge, "Request body too large"
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return "", nil, http.StatusBadRequest, "Failed to parse JSON: Expecting value: line 1 column 1 (char 0)"
		}
		_ = json.Unmarshal(obj["key"], &key)
		if key == "" {
			return "", nil, http.StatusUnauthorized, "Valid API key is required"
		}
		delete(obj, "key")
		d, _ := json.Marshal(obj)
		return key, d, 0, ""
	}
}

type apiCommand struct {
	Op      string          `json:"op"`
	Path    []string        `json:"path"`
	Value   *string         `json:"value"`
	Section json.RawMessage `json:"section"`
	File    string          `json:"file"`
	Format  string          `json:"configFormat"`
}

// commands decodes one command or a list of them ({"commands": [...]} or a
// bare list, as the form handler merges it).
func commands(data json.RawMessage) ([]apiCommand, string) {
	var list []apiCommand
	if json.Unmarshal(data, &list) == nil {
		return list, ""
	}
	var wrapped struct {
		Commands []apiCommand `json:"commands"`
	}
	if json.Unmarshal(data, &wrapped) == nil && wrapped.Commands != nil {
		return wrapped.Commands, ""
	}
	var one apiCommand
	if err := json.Unmarshal(data, &one); err != nil {
		return nil, fmt.Sprintf("Malformed command %q: any command must be a dict", string(data))
	}
	return []apiCommand{one}, ""
}

func (r *Router) apiRetrieve(w http.ResponseWriter, data json.RawMessage) error {
	var c apiCommand
	if json.Unmarshal(data, &c) != nil || c.Op == "" || c.Path == nil {
		failure(w, http.StatusBadRequest, `Missing required field. "op" and "path" fields are required`)
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch c.Op {
	case "showConfig":
		v, ok := r.active.json(c.Path)
		if !ok {
			failure(w, http.StatusBadRequest, "Configuration under specified path is empty\n")
			return nil
		}
		success(w, v)
	case "returnValues":
		vals, _ := r.active.values(c.Path)
		if vals == nil {
			vals = []string{}
		}
		success(w, vals)
	case "returnValue":
		vals, _ := r.active.values(c.Path)
		if len(vals) == 0 {
			failure(w, http.StatusBadRequest, fmt.Sprintf("Path [%s] does not exist", strings.Join(c.Path, " ")))
			return nil
		}
		success(w, vals[0])
	case "exists":
		success(w, r.active.exists(c.Path))
	default:
		failure(w, http.StatusBadRequest, fmt.Sprintf("'%s' is not a valid operation", c.Op))
	}
	return nil
}

// apiConfigure runs the commands in one session and ONE commit; any error
// discards the session (though subtrees committed before a commit failure
// stay committed).
func (r *Router) apiConfigure(w http.ResponseWriter, data json.RawMessage) error {
	cmds, msg := commands(data)
	if msg != "" {
		failure(w, http.StatusBadRequest, msg)
		return nil
	}
	for _, c := range cmds {
		if c.Op == "" {
			failure(w, http.StatusBadRequest, fmt.Sprintf("Malformed command '%s': missing 'op' field", mustJSON(c)))
			return nil
		}
		if len(c.Path) == 0 {
			failure(w, http.StatusBadRequest, fmt.Sprintf("Malformed command '%s': empty path", mustJSON(c)))
			return nil
		}
	}
	r.apiMu.Lock()
	defer r.apiMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	work := r.active.clone()
	for _, c := range cmds {
		path := c.Path
		if c.Value != nil && *c.Value != "" {
			path = append(append([]string{}, path...), *c.Value)
		}
		switch c.Op {
		case "set":
			r.count("set")
			if err := work.set(path); err != nil {
				failure(w, http.StatusBadRequest, err.Error()+"  Set failed\n\n")
				return nil
			}
		case "delete":
			r.count("delete")
			if _, err := work.del(path); err != nil {
				failure(w, http.StatusBadRequest, err.Error()+"  Delete failed\n\n")
				return nil
			}
		default:
			failure(w, http.StatusBadRequest, fmt.Sprintf("'%s' is not a valid operation", c.Op))
			return nil
		}
	}
	return r.apiCommit(w, work)
}

func (r *Router) apiCommit(w http.ResponseWriter, work *tree) error {
	out, ok, err := r.commit(work)
	if err != nil {
		return err
	}
	if !ok {
		failure(w, http.StatusBadRequest, out)
		return nil
	}
	success(w, nil)
	return nil
}

// apiConfigureSection (1.4+) sets or loads (replaces) whole subtrees given in
// the /retrieve JSON shape.
func (r *Router) apiConfigureSection(w http.ResponseWriter, data json.RawMessage) error {
	cmds, msg := commands(data)
	if msg != "" {
		failure(w, http.StatusBadRequest, msg)
		return nil
	}
	r.apiMu.Lock()
	defer r.apiMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	work := r.active.clone()
	for _, c := range cmds {
		if len(c.Section) == 0 {
			failure(w, http.StatusBadRequest, fmt.Sprintf("Malformed command '%s': missing 'section' or 'config' field", mustJSON(c)))
			return nil
		}
		var sec any
		if json.Unmarshal(c.Section, &sec) != nil {
			failure(w, http.StatusBadRequest, "section must be a JSON object")
			return nil
		}
		var paths [][]string
		sectionPaths(sec, append([]string{}, c.Path...), &paths)
		switch c.Op {
		case "load":
			if len(c.Path) > 0 {
				if _, err := work.del(c.Path); err != nil {
					failure(w, http.StatusBadRequest, err.Error())
					return nil
				}
			}
		case "set":
		default:
			failure(w, http.StatusBadRequest, fmt.Sprintf("'%s' is not a valid operation", c.Op))
			return nil
		}
		for _, p := range paths {
			if err := work.set(p); err != nil {
				failure(w, http.StatusBadRequest, err.Error()+"  Set failed\n\n")
				return nil
			}
		}
	}
	return r.apiCommit(w, work)
}

func sectionPaths(v any, at []string, out *[][]string) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 && len(at) > 0 {
			*out = append(*out, at)
		}
		for k, c := range x {
			sectionPaths(c, append(append([]string{}, at...), k), out)
		}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				*out = append(*out, append(append([]string{}, at...), s))
			}
		}
	case string:
		*out = append(*out, append(append([]string{}, at...), x))
	}
}

func (r *Router) apiConfigFile(w http.ResponseWriter, data json.RawMessage) error {
	var c apiCommand
	if json.Unmarshal(data, &c) != nil || c.Op == "" {
		failure(w, http.StatusBadRequest, `Missing required field "op"`)
		return nil
	}
	r.apiMu.Lock()
	defer r.apiMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch c.Op {
	case "save":
		out, err := r.save(c.File)
		if err != nil {
			return err
		}
		if r.profile == VyOS13 {
			success(w, "")
		} else {
			success(w, out)
		}
	case "load":
		if c.File == "" {
			failure(w, http.StatusBadRequest, `Missing required field "file"`)
			return nil
		}
		f, ok := r.files[c.File]
		if !ok {
			failure(w, http.StatusBadRequest, fmt.Sprintf("Unable to load config file: %s", c.File))
			return nil
		}
		work := r.emptyTree()
		if err := work.load(f.content); err != nil {
			failure(w, http.StatusBadRequest, err.Error())
			return nil
		}
		return r.apiCommit(w, work)
	default:
		failure(w, http.StatusBadRequest, fmt.Sprintf("'%s' is not a valid operation", c.Op))
	}
	return nil
}

// apiShow runs `vyatta-op-cmd-wrapper show PATH` as the API does (vyos-1x
// python/vyos/configsession.py SHOW, __run_command: stdout and stderr
// together, an error reply with that text when the command fails), so it
// answers exactly the show commands the release's op mode has.
func (r *Router) apiShow(w http.ResponseWriter, data json.RawMessage) error {
	return r.apiOpMode(w, data, "show")
}

// apiGenerate is /generate (every VyOS release's API server:
// vyos-http-api-server on equuleus and sagitta, api/rest/routers.py on
// current): `vyatta-op-cmd-wrapper generate PATH`. No generate command is
// modelled, so every path gets op mode's refusal.
func (r *Router) apiGenerate(w http.ResponseWriter, data json.RawMessage) error {
	return r.apiOpMode(w, data, "generate")
}

func (r *Router) apiOpMode(w http.ResponseWriter, data json.RawMessage, op string) error {
	var c apiCommand
	if json.Unmarshal(data, &c) != nil || c.Op == "" || c.Path == nil {
		failure(w, http.StatusBadRequest, `Missing required field. "op" and "path" fields are required`)
		return nil //nolint:nilerr // answered with the API's own error text
	}
	if c.Op != op {
		failure(w, http.StatusBadRequest, fmt.Sprintf("'%s' is not a valid operation", c.Op))
		return nil
	}
	sh := newShell(r, false)
	words := append([]string{op}, c.Path...)
	ok, code := sh.opCommand(words)
	if !ok {
		code = sh.invalid(nil, op)
		if len(c.Path) > 0 {
			sh.outStack = []*outputs{{}}
			code = sh.invalid([]string{op}, c.Path[0])
		}
	}
	out, errOut := sh.output()
	if code != 0 {
		failure(w, http.StatusBadRequest, out+errOut)
		return nil
	}
	success(w, out+errOut)
	return nil
}

func (r *Router) apiReset(w http.ResponseWriter, data json.RawMessage) error {
	var c apiCommand
	if json.Unmarshal(data, &c) != nil || c.Op != "reset" {
		failure(w, http.StatusBadRequest, `Missing required field. "op" and "path" fields are required`)
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(c.Path) == 4 && c.Path[0] == "ipv6" && c.Path[1] == "neighbors" && c.Path[2] == "interface" {
		if !r.hasNIC(c.Path[3]) {
			failure(w, http.StatusBadRequest, fmt.Sprintf("Interface '%s' does not exist in the system", c.Path[3]))
			return nil
		}
		r.count("ip -6 neigh flush")
		r.flushNeigh(c.Path[3], fam6)
		success(w, "")
		return nil
	}
	if len(c.Path) == 4 && c.Path[0] == "ip" && c.Path[1] == "arp" && c.Path[2] == "interface" {
		if !r.hasNIC(c.Path[3]) {
			failure(w, http.StatusBadRequest, fmt.Sprintf("Interface '%s' does not exist in the system", c.Path[3]))
			return nil
		}
		r.count("ip neigh flush")
		r.flushNeigh(c.Path[3], fam4)
		success(w, "")
		return nil
	}
	failure(w, http.StatusBadRequest, fmt.Sprintf("\n\n  Invalid command: reset [%s]\n\n", strings.Join(c.Path, " ")))
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// APIRequestsInFlight is the number of HTTP API requests the router is
// handling now.
func (r *Router) APIRequestsInFlight() int { return int(r.apiInFlight.Load()) }
