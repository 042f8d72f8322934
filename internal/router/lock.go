package router

import (
	"context"
	"sync"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// routerLocks serialises writes per router address across every driver in
// the process: VyOS has one global commit lock and Vyatta's wrapper sessions
// race on it, so two reconciles committing at once would see spurious
// "temporarily locked" failures — or worse, interleave an apply with another
// reconcile's save.
var routerLocks = keyedMutex{m: map[string]chan struct{}{}}

type keyedMutex struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// lock waits for key's lock or for ctx; the returned func releases it. Keys are
// never removed: there are only as many as routers.
func (k *keyedMutex) lock(ctx context.Context, key, op string) (func(), error) {
	k.mu.Lock()
	ch, ok := k.m[key]
	if !ok {
		ch = make(chan struct{}, 1)
		k.m[key] = ch
	}
	k.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, cause.New(cause.Conflict, system, op, "another transaction on this router is still running", ctx.Err())
	}
}
