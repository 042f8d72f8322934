// Package cause classifies errors from external systems (OVH, ESXi, routers)
// into the few kinds a controller can act on. Each internal/<system> package
// wraps what its library returns into an *Error so that controllers never need
// to know a library's error types to choose a condition reason.
package cause

import (
	"errors"
	"fmt"
)

// Kind is what a controller needs to know about a failure to decide whether to
// retry, how soon, and which condition reason to report.
type Kind string

const (
	// Unknown is an error that was not classified; treat it as transient.
	Unknown Kind = ""
	// Unreachable: network failure, timeout, 5xx. Retry with backoff.
	Unreachable Kind = "Unreachable"
	// CredentialsInvalid: authentication or authorisation refused (bad key,
	// bad signature, bad password, expired token). Retrying cannot help until
	// the Secret changes.
	CredentialsInvalid Kind = "CredentialsInvalid"
	// TrustFailure: TLS certificate or SSH host key did not match what the
	// Secret pins. Never retried with weaker checks.
	TrustFailure Kind = "TrustFailure"
	// RateLimited: the remote asked us to slow down (429 or equivalent).
	RateLimited Kind = "RateLimited"
	// CapabilityMissing: the remote does not offer the feature (Kimsufi has no
	// virtual MACs, a platform without an HTTP API, ...).
	CapabilityMissing Kind = "CapabilityMissing"
	// NotFound: the named object does not exist on the remote.
	NotFound Kind = "NotFound"
	// Conflict: the remote state forbids the change (vMAC already on the IP,
	// configuration lock held, ...). Usually transient or needs a human.
	Conflict Kind = "Conflict"
	// Invalid: the remote rejected the request as malformed; retrying the same
	// request cannot succeed.
	Invalid Kind = "Invalid"
)

// Error is a classified failure of one operation on an external system.
type Error struct {
	Kind    Kind
	System  string // "ovh", "esxi", "router"
	Op      string // operation name, e.g. "MoveIP"
	Message string // human text from the remote (never contains secrets)
	Err     error  // underlying error, may be nil
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Op == "" {
		return fmt.Sprintf("%s: %s", e.System, msg)
	}
	return fmt.Sprintf("%s %s: %s", e.System, e.Op, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// New builds a classified error.
func New(kind Kind, system, op, message string, err error) *Error {
	return &Error{Kind: kind, System: system, Op: op, Message: message, Err: err}
}

// KindOf returns the Kind of the first *Error in err's chain, or Unknown.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unknown
}

// Is reports whether err carries the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// Retryable reports whether retrying the same call later may succeed.
func Retryable(err error) bool {
	switch KindOf(err) {
	case CredentialsInvalid, TrustFailure, CapabilityMissing, Invalid:
		return false
	default:
		return true
	}
}
