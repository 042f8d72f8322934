// Package ovhsim is a stand-in for the OVHcloud API, faithful enough that the
// operator's OVH client can be tested through the real go-ovh library over
// HTTP instead of against hand-written mocks.
//
// It serves the routes the operator uses under both /1.0 and /v1: additional
// ("failover") IPs and their moves, dedicated servers, their network
// specification, virtual MACs and the tasks all writes return. It verifies
// go-ovh's request signatures (a wrong application secret fails exactly as on
// OVH) and accepts bearer access tokens.
//
// What makes the real API hard to program against is reproduced on purpose:
// writes return tasks that advance on a clock (real or manual), GET /ip/{ip}
// keeps the old route until a move's task is done, task reads may answer 404
// or 500 right after creation and 404 once purged, errors come back in OVH's
// shapes and texts (and as HTML pages when a front end fails), and the Kimsufi
// product line lacks the virtual MAC and move routes altogether.
//
// The shapes it serves follow OVH's published API description, kept as the
// project's own compact record in testdata/schema (APISchema); with
// Options.Conformance every request and every answer is checked against it,
// and Violations lists what departed. Each modelled behaviour cites its
// source next to its code; what no public source confirms says it is a
// guess, and is configurable where a client could come to depend on it.
//
// Tests and benchmarks steer it through Go methods or the equivalent HTTP
// admin surface under /_sim/: per-route call counters, per-route fault
// injection (status, body, latency, holding requests), task outcomes, and
// out-of-band changes to the world (move an IP, delete a virtual MAC, change
// its type or binding, change a server's network specification) for drift
// tests. The small program in cmd/ovhsim serves a world read from YAML.
package ovhsim
