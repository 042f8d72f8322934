package ovh

import (
	"testing"
	"time"
)

// A budget of 60 a minute lets at most 60 requests through in any 60 s,
// its burst included: callers taking every token as soon as it exists, on
// a simulated clock, never exceed it in a sliding window.
func TestBudgetIsACeilingOverAnyMinute(t *testing.T) {
	for _, c := range []struct {
		perMinute float64
		burst     int
	}{{60, 5}, {60, 1}, {60, 30}, {120, 5}, {30, 10}} {
		b := newBudget(c.perMinute/60, c.burst, "window-test")
		start := time.Unix(1_000_000, 0)
		var sent []time.Time
		for now := start; now.Before(start.Add(5 * time.Minute)); now = now.Add(10 * time.Millisecond) {
			for b.limiter.AllowN(now, 1) {
				sent = append(sent, now)
			}
		}
		most := 0
		for i := range sent {
			n := 0
			for j := i; j < len(sent) && sent[j].Sub(sent[i]) < time.Minute; j++ {
				n++
			}
			most = max(most, n)
		}
		if most > int(c.perMinute) {
			t.Errorf("%v a minute, burst %d: %d requests in one 60 s window", c.perMinute, c.burst, most)
		}
		// And the budget is used: no more than the burst's share is lost.
		if min := int(c.perMinute) - c.burst - 1; most < min {
			t.Errorf("%v a minute, burst %d: only %d in the busiest minute, want at least %d", c.perMinute, c.burst, most, min)
		}
		if b.perMinute() != c.perMinute {
			t.Errorf("perMinute() = %v, want %v as asked", b.perMinute(), c.perMinute)
		}
	}
}
