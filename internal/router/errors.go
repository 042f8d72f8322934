package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// system is the label of every error and metric this package produces.
const system = "router"

// lockedText is what both the vbash commit and the HTTP API print when another
// commit holds the global configuration lock; it is the only commit failure
// worth retrying unchanged.
const lockedText = "Configuration system temporarily locked"

func invalid(op, msg string, err error) error {
	return cause.New(cause.Invalid, system, op, msg, err)
}

// unexpected reports router output the operator cannot interpret: truncated,
// garbled, a banner or an error page instead of what the command prints. It
// is not Invalid — nothing is wrong with the spec or the request, and the
// same read may well succeed next time — so it stays unclassified: retried
// with backoff (ExternalError), never acted upon. A bounded excerpt of what
// came back tells a human where to look.
func unexpected(op, what, output string, err error) error {
	msg := "unexpected output from the router: " + what
	if err != nil {
		msg += ": " + err.Error()
	}
	if ex := firstLine(output); ex != "" {
		msg += fmt.Sprintf("; it begins %q", ex)
	} else {
		msg += "; it is empty"
	}
	return cause.New(cause.Unknown, system, op, sanitize(msg), err)
}

// commitError classifies the text a failed commit printed: the lock is a
// Conflict (retry later), anything else is Invalid (the same transaction will
// fail again until the spec or the router changes).
func commitError(op, text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		text = "commit failed and the router returned no error text"
	}
	if strings.Contains(text, lockedText) {
		return cause.New(cause.Conflict, system, op, text, nil)
	}
	return cause.New(cause.Invalid, system, op, text, nil)
}

// networkError classifies transport failures: anything that prevents a
// request from reaching the router or its answer from coming back.
func networkError(ctx context.Context, op string, err error) error {
	var ce *cause.Error
	if errors.As(err, &ce) {
		return err
	}
	if ctx.Err() != nil {
		return cause.New(cause.Unreachable, system, op, "timed out or cancelled: "+ctx.Err().Error(), err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		return cause.New(cause.Unreachable, system, op, "timed out", err)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return cause.New(cause.Unreachable, system, op, "connection refused", err)
	}
	return cause.New(cause.Unreachable, system, op, sanitize(err.Error()), err)
}

// sanitize bounds remote-provided text before it lands in a status message.
func sanitize(s string) string {
	s = strings.TrimSpace(s)
	const max = 2000
	if len(s) > max {
		s = s[:max] + fmt.Sprintf("... (%d bytes more)", len(s)-max)
	}
	return s
}
