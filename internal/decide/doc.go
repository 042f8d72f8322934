// Package decide holds the operator's decisions as pure functions of (spec,
// observation, status): which OVH write fixes a FailoverIP, the next step of a
// BridgedVM's power cycle, the order of a router repair, which claimant of an
// IP, NIC or router wins, what Ready says, which FailoverIP updates concern a
// BridgedVM. No clients, no I/O, no clock: the controllers observe, call these,
// act on the answer and report, and every rule here is table-tested without an
// API server.
//
// internal/drift says what differs; this package says what to do about it.
package decide
