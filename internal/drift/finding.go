// Package drift compares what the operator observed in the outside world with
// what a spec asks for, as pure functions over plain structs: no network, no
// clients, no Kubernetes types (only the condition reasons of api/v1alpha1,
// the one vocabulary users see). Each check returns Findings — one per failure
// mode, named by the condition reason a user sees — which controllers turn
// into conditions, status.drift and Events. Table tests feed these functions
// real-looking outputs, including the seed incident's.
package drift

// Finding is one way the world differs from the spec.
type Finding struct {
	// Reason is the CamelCase condition reason, e.g. "ARPFlood".
	Reason string
	// Field names what differs: a spec path or an observed attribute,
	// e.g. "routes.default" or "neighbours[eth2]".
	Field string
	// Expected is what the spec implies, in words a human can compare.
	Expected string
	// Observed is what was found.
	Observed string
	// Message explains the finding and, where it helps, what to do.
	Message string
	// Subject is which of several like things the finding is about, when
	// an object has several: the address of a block a virtual MAC finding
	// concerns. Empty otherwise.
	Subject string
}
