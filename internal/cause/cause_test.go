package cause

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOfThroughWrapping(t *testing.T) {
	base := New(RateLimited, "ovh", "ListIPs", "Too many requests", nil)
	wrapped := fmt.Errorf("observe server: %w", base)
	if got := KindOf(wrapped); got != RateLimited {
		t.Fatalf("KindOf(wrapped) = %q, want RateLimited", got)
	}
	if KindOf(errors.New("plain")) != Unknown {
		t.Fatal("a plain error must be Unknown")
	}
	if !Retryable(wrapped) || Retryable(New(CredentialsInvalid, "ovh", "", "x", nil)) {
		t.Fatal("rate limits are retryable, bad credentials are not")
	}
	if got := base.Error(); got != "ovh ListIPs: Too many requests" {
		t.Fatalf("Error() = %q", got)
	}
}
