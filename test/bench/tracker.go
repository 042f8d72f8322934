package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

// The kinds, as the tracker's keys name them ("FailoverIP/fip-000").
const (
	kindFIP = "FailoverIP"
	kindBVM = "BridgedVM"
	kindRTC = "RouterConfig"
)

// readiness is an object's Ready condition as one watch event showed it, and
// when the bench received that event.
type readiness struct {
	At     time.Time
	Status metav1.ConditionStatus // "" while the object has no Ready yet
	Reason string
	// Current: Ready was computed for the object's present generation.
	Current bool
}

func (r readiness) ready() bool { return r.Current && r.Status == metav1.ConditionTrue }

// tracker follows Ready on every object of the three kinds in one namespace
// through watches (informers), timestamping each change as it arrives. Every
// latency the bench reports ends at one of these timestamps: the moment a
// watcher of the API — kubectl get -w, Argo CD — could have seen it.
type tracker struct {
	mu      sync.Mutex
	log     map[string][]readiness // "Kind/name" -> Ready changes, oldest first
	changed chan struct{}          // closed and replaced on every change
	stop    context.CancelFunc
}

func startTracker(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, ns string) (*tracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		cancel()
		return nil, err
	}
	t := &tracker{log: map[string][]readiness{}, changed: make(chan struct{}), stop: cancel}
	for kind, obj := range map[string]client.Object{
		kindFIP: &v1.FailoverIP{}, kindBVM: &v1.BridgedVM{}, kindRTC: &v1.RouterConfig{},
	} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			cancel()
			return nil, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.observe(kind, o) },
			UpdateFunc: func(_, o any) { t.observe(kind, o) },
		}); err != nil {
			cancel()
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		cancel()
		return nil, fmt.Errorf("the bench's watches did not sync")
	}
	return t, nil
}

func (t *tracker) Close() { t.stop() }

// observe records o's Ready if it differs from the last one recorded.
func (t *tracker) observe(kind string, o any) {
	at := time.Now()
	obj, ok := o.(interface {
		client.Object
		GetResourceStatus() *v1.ResourceStatus
	})
	if !ok {
		return
	}
	r := readiness{At: at}
	if c := meta.FindStatusCondition(obj.GetResourceStatus().Conditions, v1.TypeReady); c != nil {
		r.Status, r.Reason, r.Current = c.Status, c.Reason, c.ObservedGeneration == obj.GetGeneration()
	}
	key := kind + "/" + obj.GetName()
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.log[key]; len(l) > 0 {
		last := l[len(l)-1]
		if last.Status == r.Status && last.Reason == r.Reason && last.Current == r.Current {
			return
		}
	}
	t.log[key] = append(t.log[key], r)
	close(t.changed)
	t.changed = make(chan struct{})
}

// first returns the first change of key received at or after since that
// satisfies pred, waiting for it until ctx ends.
func (t *tracker) first(ctx context.Context, key string, since time.Time, pred func(readiness) bool) (readiness, error) {
	for {
		t.mu.Lock()
		for _, r := range t.log[key] {
			if !r.At.Before(since) && pred(r) {
				t.mu.Unlock()
				return r, nil
			}
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return readiness{}, fmt.Errorf("%s: %w (last Ready: %s)", key, ctx.Err(), t.describe(key))
		}
	}
}

// current returns key's latest recorded Ready.
func (t *tracker) current(key string) readiness {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.log[key]; len(l) > 0 {
		return l[len(l)-1]
	}
	return readiness{}
}

func (t *tracker) describe(key string) string {
	r := t.current(key)
	if r.At.IsZero() {
		return "never seen"
	}
	return fmt.Sprintf("%s/%s current=%v", r.Status, r.Reason, r.Current)
}

// allReady waits until every key is Ready for its generation and returns
// the time the last of them became so.
func (t *tracker) allReady(ctx context.Context, keys []string) (time.Time, error) {
	for {
		t.mu.Lock()
		var last time.Time
		missing := ""
		for _, k := range keys {
			l := t.log[k]
			if len(l) == 0 || !l[len(l)-1].ready() {
				missing = k
				break
			}
			last = maxTime(last, l[len(l)-1].At)
		}
		ch := t.changed
		t.mu.Unlock()
		if missing == "" {
			return last, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			notReady := 0
			for _, k := range keys {
				if !t.current(k).ready() {
					notReady++
				}
			}
			return time.Time{}, fmt.Errorf("%d of %d objects not Ready (e.g. %s: %s): %w",
				notReady, len(keys), missing, t.describe(missing), ctx.Err())
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
