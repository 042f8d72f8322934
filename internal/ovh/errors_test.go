package ovh

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 30 ", 30 * time.Second},
		{"0", 0},
		{"-1", 0},
		{"+5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"3600", time.Hour},
		{"3601", maxRetryAfter},
		// 9227000000 s overflows time.Duration (~292 years): it once wrapped
		// to a negative wait (found by FuzzDecodeError).
		{"9227000000", maxRetryAfter},
		{"99999999999999999999", maxRetryAfter},
		{"Wed, 02 Dec 2026 12:00:42 GMT", 42 * time.Second},
		{"Wed, 02 Dec 2026 11:59:00 GMT", 0},
		{"Thu, 02 Dec 2027 12:00:00 GMT", maxRetryAfter},
	}
	for _, c := range cases {
		if got := parseRetryAfter(c.header, now); got != c.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}
