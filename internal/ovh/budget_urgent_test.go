package ovh

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// An Urgent request goes before the requests already waiting for the same
// budget (writes, task reads): they never reserve a token ahead of it.
// Without it, a scheduled refresh queues behind every repair under way and
// the server is seen late.
func TestUrgentRequestsGoBeforeOthersWaiting(t *testing.T) {
	b := newBudget(20, 1, "urgent-test") // a token every ~50 ms, burst 1
	ctx := context.Background()
	if err := b.take(ctx); err != nil { // the burst: the bucket is empty now
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	take := func(name string, ctx context.Context) {
		defer wg.Done()
		if err := b.take(ctx); err != nil {
			t.Error(name, err)
			return
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
	}
	for _, n := range []string{"write 1", "write 2", "task read"} {
		wg.Add(1)
		go take(n, ctx)
	}
	// The others have looked at the bucket (empty) and wait for a token.
	waitUntil(t, func() bool { return b.urgent.Load() == 0 && budgetWaitingCount(b) == 3 })
	wg.Add(1)
	go take("refresh", Urgent(ctx))
	wg.Wait()
	if len(order) != 4 || order[0] != "refresh" {
		t.Fatalf("served in the order %v, want the urgent refresh first", order)
	}
}

// A request that is not urgent still refuses at once to wait past its
// deadline, as the limiter does (the caller reports the budget, not a
// timeout of OVH).
func TestNonUrgentRequestRefusesToWaitPastItsDeadline(t *testing.T) {
	b := newBudget(1.0/60, 1, "deadline-test") // one a minute
	if err := b.take(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := b.take(ctx)
	var limited *clientRateLimitError
	if !errors.As(err, &limited) {
		t.Fatalf("err = %v, want the budget's refusal", err)
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Fatalf("refused after %v, want at once", waited)
	}
}

func budgetWaitingCount(b *budget) int { return int(b.others.Load()) }

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// The requests that are not urgent are served in their order of arrival:
// none waits for minutes while later ones go.
func TestOtherRequestsAreServedInArrivalOrder(t *testing.T) {
	b := newBudget(10, 1, "fifo-test") // a token every ~100 ms
	ctx := context.Background()
	if err := b.take(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	const n = 6
	for i := range n {
		wg.Go(func() {
			if err := b.take(ctx); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
		// Counted as waiting, then some time to reach the line (a few
		// instructions) before the next one comes.
		waitUntil(t, func() bool { return budgetWaitingCount(b)+len(snapshot(&mu, &order)) == i+1 })
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("served in the order %v, want arrival order", order)
		}
	}
}

func snapshot(mu *sync.Mutex, s *[]int) []int {
	mu.Lock()
	defer mu.Unlock()
	return append([]int(nil), *s...)
}

// An unlimited budget never makes a request wait, not even for its line.
func TestUnlimitedBudgetHasNoLine(t *testing.T) {
	b := newBudget(math.Inf(1), 1, "unlimited-test")
	b.line <- struct{}{} // the line held: a request queuing for it would hang
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.take(ctx); err != nil {
		t.Fatalf("take on an unlimited budget: %v", err)
	}
}
