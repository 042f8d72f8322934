package ovhsim

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The project's own record of OVH's API description: for the operations the
// operator (and this simulator) use, their paths, path and query parameters,
// request bodies and answers, with the models' field names, types, enums
// and nullable fields. It is written from OVH's published OpenAPI
// descriptions (each file names its source) in a compact format of our own,
// and is the oracle the conformance checks hold the simulator's answers and
// the client's requests to.
//
//go:embed testdata/schema/*.json
var schemaFiles embed.FS

// schemaNode describes a value: a primitive type (string, integer, boolean),
// an array of items, an object of properties, "any" (not described further)
// or "empty" (no body at all); or a ref to a named type.
type schemaNode struct {
	Type       string                 `json:"type,omitempty"`
	Format     string                 `json:"format,omitempty"`
	Enum       []json.RawMessage      `json:"enum,omitempty"`
	Nullable   bool                   `json:"nullable,omitempty"`
	Ref        string                 `json:"ref,omitempty"`
	Items      *schemaNode            `json:"items,omitempty"`
	Properties map[string]*schemaNode `json:"properties,omitempty"`
	Required   []string               `json:"required,omitempty"`
	Note       string                 `json:"note,omitempty"`
}

type schemaOperation struct {
	Method          string                 `json:"method"`
	Path            string                 `json:"path"`
	PathParams      map[string]*schemaNode `json:"pathParams,omitempty"`
	Query           map[string]*schemaNode `json:"query,omitempty"`
	Body            *schemaNode            `json:"body,omitempty"`
	Response        *schemaNode            `json:"response"`
	Unauthenticated bool                   `json:"unauthenticated,omitempty"`
	segs            []string
}

type schemaFile struct {
	Source     string                 `json:"source"`
	Types      map[string]*schemaNode `json:"types"`
	Operations []*schemaOperation     `json:"operations"`
}

// Schema is OVH's API description as far as this project uses it.
type Schema struct {
	types map[string]*schemaNode
	ops   []*schemaOperation
}

var (
	apiSchemaOnce sync.Once
	apiSchema     *Schema
	apiSchemaErr  error
)

// APISchema returns the embedded description (testdata/schema), loaded once.
func APISchema() (*Schema, error) {
	apiSchemaOnce.Do(func() { apiSchema, apiSchemaErr = loadSchema(schemaFiles) })
	return apiSchema, apiSchemaErr
}

func loadSchema(fsys fs.FS) (*Schema, error) {
	names, err := fs.Glob(fsys, "testdata/schema/*.json")
	if err != nil {
		return nil, err
	}
	s := &Schema{types: map[string]*schemaNode{}}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var f schemaFile
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if f.Source == "" {
			return nil, fmt.Errorf("%s names no source", name)
		}
		for t, n := range f.Types {
			if _, dup := s.types[t]; dup {
				return nil, fmt.Errorf("%s: type %s declared twice", name, t)
			}
			s.types[t] = n
		}
		for _, op := range f.Operations {
			op.segs = strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
			if found, _ := s.operation(op.Method, op.Path); found != nil && found.Path == op.Path {
				return nil, fmt.Errorf("%s: operation %s %s declared twice", name, op.Method, op.Path)
			}
			s.ops = append(s.ops, op)
		}
	}
	// Every ref must resolve: a typo would otherwise validate nothing.
	var check func(n *schemaNode, where string) error
	check = func(n *schemaNode, where string) error {
		if n == nil {
			return nil
		}
		if n.Ref != "" && s.types[n.Ref] == nil {
			return fmt.Errorf("%s: unknown type %s", where, n.Ref)
		}
		if err := check(n.Items, where+"[]"); err != nil {
			return err
		}
		for k, p := range n.Properties {
			if err := check(p, where+"."+k); err != nil {
				return err
			}
		}
		return nil
	}
	for t, n := range s.types {
		if err := check(n, t); err != nil {
			return nil, err
		}
	}
	for _, op := range s.ops {
		where := op.Method + " " + op.Path
		for _, m := range []map[string]*schemaNode{op.PathParams, op.Query} {
			for k, n := range m {
				if err := check(n, where+" "+k); err != nil {
					return nil, err
				}
			}
		}
		if err := check(op.Body, where+" body"); err != nil {
			return nil, err
		}
		if err := check(op.Response, where+" response"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Operations lists "METHOD /path/{param}" for every described operation.
func (s *Schema) Operations() []string {
	var out []string
	for _, op := range s.ops {
		out = append(out, op.Method+" "+op.Path)
	}
	sort.Strings(out)
	return out
}

// HasOperation reports whether "METHOD /template" is described.
func (s *Schema) HasOperation(key string) bool {
	method, path, _ := strings.Cut(key, " ")
	op, _ := s.operation(method, path)
	return op != nil && op.Path == path
}

// operation finds the operation for a path whose segments are already
// unescaped and joined by "/" (templates match themselves).
func (s *Schema) operation(method, path string) (*schemaOperation, []string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	return s.match(method, segs)
}

func (s *Schema) match(method string, segs []string) (*schemaOperation, []string) {
next:
	for _, op := range s.ops {
		if op.Method != method || len(op.segs) != len(segs) {
			continue
		}
		for i, t := range op.segs {
			if !strings.HasPrefix(t, "{") && t != segs[i] {
				continue next
			}
		}
		return op, segs
	}
	return nil, nil
}

// lookup finds the operation for an escaped API path (base path removed).
func (s *Schema) lookup(method, escapedPath string) (*schemaOperation, map[string]string, error) {
	raw := strings.Split(strings.Trim(escapedPath, "/"), "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		u, err := url.PathUnescape(r)
		if err != nil {
			return nil, nil, err
		}
		segs[i] = u
	}
	op, _ := s.match(method, segs)
	if op == nil {
		return nil, nil, nil
	}
	params := map[string]string{}
	for i, t := range op.segs {
		if strings.HasPrefix(t, "{") {
			params[strings.Trim(t, "{}")] = segs[i]
		}
	}
	return op, params, nil
}

// CheckRequest returns how a request departs from OVH's description of its
// operation: an operation OVH does not have, a path or query parameter of
// the wrong type or outside its enum, an unknown query parameter, a body
// field OVH does not know, a required one missing, a body where none is
// expected. escapedPath is the path after the /1.0 or /v1 base.
func (s *Schema) CheckRequest(method, escapedPath string, query url.Values, body []byte) []string {
	op, params, err := s.lookup(method, escapedPath)
	where := method + " " + escapedPath
	if err != nil {
		return []string{where + ": path does not unescape: " + err.Error()}
	}
	if op == nil {
		return []string{where + ": OVH's API has no such operation"}
	}
	where = "request " + op.Method + " " + op.Path
	var out []string
	for name, v := range params {
		out = append(out, s.checkScalar(op.PathParams[name], v, where+" path parameter "+name)...)
	}
	for name, vs := range query {
		n, known := op.Query[name]
		if !known {
			out = append(out, fmt.Sprintf("%s: query parameter %q is not described", where, name))
			continue
		}
		if len(vs) != 1 {
			out = append(out, fmt.Sprintf("%s: query parameter %q given %d times", where, name, len(vs)))
			continue
		}
		out = append(out, s.checkScalar(n, vs[0], where+" query parameter "+name)...)
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case op.Body == nil && len(trimmed) > 0:
		out = append(out, where+": sends a body, OVH's operation takes none")
	case op.Body != nil && len(trimmed) == 0:
		out = append(out, where+": sends no body")
	case op.Body != nil:
		out = append(out, s.checkJSON(op.Body, trimmed, where+" body")...)
	}
	return out
}

// CheckResponse returns how an answer departs from OVH's description: a
// success body not of the operation's response model (unknown fields, wrong
// types, values outside enums, nulls where OVH never sends null), or an
// error body not of OVH's error shapes. Answers to operations OVH does not
// have are CheckRequest's business.
func (s *Schema) CheckResponse(method, escapedPath string, status int, body []byte) []string {
	op, _, err := s.lookup(method, escapedPath)
	if err != nil || op == nil {
		return nil
	}
	where := fmt.Sprintf("response %s %s (HTTP %d)", op.Method, op.Path, status)
	trimmed := bytes.TrimSpace(body)
	if status < 200 || status >= 300 {
		return checkErrorBody(trimmed, where)
	}
	if op.Response != nil && op.Response.Type == "empty" {
		if len(trimmed) > 0 && string(trimmed) != "null" {
			return []string{where + ": a body where OVH sends none"}
		}
		return nil
	}
	return s.checkJSON(op.Response, trimmed, where)
}

// errorFields are the fields of OVH's error bodies: Client::/Server:: classed
// API errors ({"class", "message"}, sometimes "details") and authentication
// failures ({"errorCode", "httpCode", "message"}). Source: go-ovh v1.9.0
// error.go (class, message, details); issue threads quoting real bodies,
// e.g. github ovh/php-ovh#56 and #62 (errorCode, httpCode, message).
var errorFields = map[string]bool{"class": true, "message": true, "details": true, "errorCode": true, "httpCode": true}

func checkErrorBody(body []byte, where string) []string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return []string{where + ": error body is not a JSON object"}
	}
	var out []string
	for k := range obj {
		if !errorFields[k] {
			out = append(out, fmt.Sprintf("%s: error body field %q is not one of OVH's", where, k))
		}
	}
	var msg string
	if err := json.Unmarshal(obj["message"], &msg); err != nil || msg == "" {
		out = append(out, where+": error body has no message")
	}
	return out
}

func (s *Schema) checkJSON(n *schemaNode, data []byte, where string) []string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{where + ": not JSON: " + err.Error()}
	}
	if dec.More() {
		return []string{where + ": trailing data after the JSON value"}
	}
	return s.check(n, v, where)
}

// resolve follows refs; nullable on any node of the chain counts.
func (s *Schema) resolve(n *schemaNode) (*schemaNode, bool) {
	nullable := false
	for n != nil {
		nullable = nullable || n.Nullable
		if n.Ref == "" {
			return n, nullable
		}
		n = s.types[n.Ref]
	}
	return nil, nullable
}

func (s *Schema) check(n *schemaNode, v any, where string) []string {
	t, nullable := s.resolve(n)
	if t == nil {
		return []string{where + ": no schema"}
	}
	if v == nil {
		if nullable || t.Type == "any" {
			return nil
		}
		return []string{where + ": null, but OVH's model never has null here"}
	}
	switch t.Type {
	case "any":
		return nil
	case "string":
		str, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: %s is not a string", where, show(v))}
		}
		return s.checkString(t, str, where)
	case "integer":
		num, ok := v.(json.Number)
		if !ok {
			return []string{fmt.Sprintf("%s: %s is not an integer", where, show(v))}
		}
		if _, err := strconv.ParseInt(num.String(), 10, 64); err != nil {
			return []string{fmt.Sprintf("%s: %s is not an integer", where, num)}
		}
		return checkEnum(t, num.String(), where)
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: %s is not a boolean", where, show(v))}
		}
		return nil
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s is not an array", where, show(v))}
		}
		var out []string
		for i, e := range arr {
			out = append(out, s.check(t.Items, e, fmt.Sprintf("%s[%d]", where, i))...)
		}
		return out
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s is not an object", where, show(v))}
		}
		var out []string
		for _, k := range sortedKeys(obj) {
			p, known := t.Properties[k]
			if !known {
				out = append(out, fmt.Sprintf("%s: field %q is not in OVH's model", where, k))
				continue
			}
			out = append(out, s.check(p, obj[k], where+"."+k)...)
		}
		for _, k := range t.Required {
			if _, present := obj[k]; !present {
				out = append(out, fmt.Sprintf("%s: required field %q is missing", where, k))
			}
		}
		return out
	}
	return []string{fmt.Sprintf("%s: schema type %q unknown", where, t.Type)}
}

// show renders a decoded JSON value as JSON, for messages.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// checkScalar checks a path or query parameter, which travels as text.
func (s *Schema) checkScalar(n *schemaNode, v, where string) []string {
	t, _ := s.resolve(n)
	if t == nil {
		return []string{where + ": no schema"}
	}
	switch t.Type {
	case "any":
		return nil
	case "string":
		return s.checkString(t, v, where)
	case "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return []string{fmt.Sprintf("%s: %q is not an integer", where, v)}
		}
		return checkEnum(t, v, where)
	case "boolean":
		if v != "true" && v != "false" {
			return []string{fmt.Sprintf("%s: %q is not a boolean", where, v)}
		}
		return nil
	}
	return []string{fmt.Sprintf("%s: a %s cannot be a parameter", where, t.Type)}
}

func (s *Schema) checkString(t *schemaNode, v, where string) []string {
	if msg := checkFormat(t.Format, v); msg != "" {
		return []string{fmt.Sprintf("%s: %q is not %s", where, v, msg)}
	}
	enc, _ := json.Marshal(v)
	return checkEnum(t, string(enc), where)
}

func checkEnum(t *schemaNode, encoded, where string) []string {
	if len(t.Enum) == 0 {
		return nil
	}
	if slices.ContainsFunc(t.Enum, func(e json.RawMessage) bool { return string(e) == encoded }) {
		return nil
	}
	return []string{fmt.Sprintf("%s: %s is not in OVH's enum", where, encoded)}
}

func checkFormat(format, v string) string {
	switch format {
	case "":
		return ""
	case "ip-block":
		if _, err := netip.ParsePrefix(v); err != nil {
			return "an IP block (CIDR)"
		}
	case "ipv4-block":
		if p, err := netip.ParsePrefix(v); err != nil || !p.Addr().Is4() {
			return "an IPv4 block (CIDR)"
		}
	case "ipv6-block":
		if p, err := netip.ParsePrefix(v); err != nil || !p.Addr().Is6() {
			return "an IPv6 block (CIDR)"
		}
	case "ip":
		if _, err := netip.ParseAddr(v); err != nil {
			return "an IP address"
		}
	case "ipv4":
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
			return "an IPv4 address (no prefix length)"
		}
	case "ipv6":
		if a, err := netip.ParseAddr(v); err != nil || !a.Is6() {
			return "an IPv6 address"
		}
	case "date-time":
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return "an RFC 3339 date-time"
		}
	case "mac":
		if hw, err := net.ParseMAC(v); err != nil || len(hw) != 6 {
			return "a MAC address"
		}
	default:
		return "of unknown format " + format
	}
	return ""
}
