package ovh

import (
	"strings"
)

// AccessRule is one permission of an OVH consumer key: an HTTP method and a
// path pattern in which "*" stands for any run of characters, "/" included.
// "/ip/*" grants GET /ip/203.0.113.123%2F32/task/42 but not GET /ip: a
// root call needs a rule of its own, which is why OVH's SDKs grant "path"
// and "path/*" together (github ovh/python-ovh, ovh/consumer_key.py
// add_recursive_rules; github ovh/go-ovh v1.9.0, ovh/consumer_key.go).
type AccessRule struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

func (r AccessRule) String() string { return r.Method + " " + r.Path }

// Grants reports whether the rule allows method on path, an API path after
// the /1.0 or /v1 base (a query string is ignored).
func (r AccessRule) Grants(method, path string) bool {
	path, _, _ = strings.Cut(path, "?")
	return strings.EqualFold(r.Method, method) && globMatch(r.Path, path)
}

func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// AccessRules are exactly the calls the operator makes, and what the
// consumer key it uses needs: `manager ovh-credentials` requests a key with
// these rules, the README lists them, and a test proves every Client method
// works with them and fails, naming the rule, without any one of them.
//
//   - GET /ip: the one list call per server (GET /ip?routedTo.serviceName=);
//     "/ip/*" does not cover it.
//   - GET /ip/*: an IP, its task list and its tasks, the reverse DNS of
//     its addresses.
//   - POST /ip/*/move: moves.
//   - POST /ip/*/reverse: setting (or replacing) a reverse DNS name.
//   - GET /dedicated/server/*: network specification, virtual MACs and
//     their IPs, task list and tasks.
//   - POST /dedicated/server/*/virtualMac: creating a virtual MAC.
//   - POST /dedicated/server/*/virtualMac/*/virtualAddress: binding an IP.
//   - DELETE /dedicated/server/*/virtualMac/*/virtualAddress/*: unbinding.
//
// GET /auth/time needs no rule: it is unauthenticated.
var AccessRules = []AccessRule{
	{"GET", "/ip"},
	{"GET", "/ip/*"},
	{"POST", "/ip/*/move"},
	{"POST", "/ip/*/reverse"},
	{"GET", "/dedicated/server/*"},
	{"POST", "/dedicated/server/*/virtualMac"},
	{"POST", "/dedicated/server/*/virtualMac/*/virtualAddress"},
	{"DELETE", "/dedicated/server/*/virtualMac/*/virtualAddress/*"},
}

// ruleFor returns the rule of AccessRules that grants a call, if any.
func ruleFor(method, path string) (AccessRule, bool) {
	for _, r := range AccessRules {
		if r.Grants(method, path) {
			return r, true
		}
	}
	return AccessRule{}, false
}
