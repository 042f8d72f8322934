package esxi

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// Options tune a Sessions pool. Zero values take the defaults shown.
type Options struct {
	Logger logr.Logger
	// CallTimeout bounds each SOAP call (default 30s); a caller's shorter
	// deadline wins.
	CallTimeout time.Duration
	// KeepAlive is how long a session may sit idle before it is pinged
	// (default 10m; ESXi expires idle sessions after 30m).
	KeepAlive time.Duration
	// IdleTimeout logs out a session nobody asked for in that long, such as
	// one whose Secret was rotated away (default 1h).
	IdleTimeout time.Duration
	// WatchMaxWait is the watcher's WaitForUpdatesEx MaxWaitSeconds (default
	// 30s). It bounds how long a lost session can go unnoticed by the
	// watcher, and how long vcsim waits before shutting down.
	WatchMaxWait time.Duration
	// WatchResync makes each watcher re-announce every VM it knows at this
	// interval, a safety net for a lost update (default 10m; negative
	// disables). It sends nothing to the host.
	WatchResync time.Duration
}

func (o *Options) defaults() {
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 10 * time.Minute
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = time.Hour
	}
	if o.WatchMaxWait < time.Second {
		o.WatchMaxWait = 30 * time.Second
	}
	if o.WatchResync == 0 {
		o.WatchResync = 10 * time.Minute
	}
}

// Sessions is the pool of logged-in sessions, one per credentials Key, and
// of their watchers. It is safe for concurrent use.
type Sessions struct {
	opts Options

	mu      sync.Mutex
	entries map[Key]*entry
	closed  bool

	subsMu sync.RWMutex
	subs   map[int]func(context.Context, VMChange)
	nextID int

	runCtx  context.Context // cancelled by Close; bounds deliveries
	stopRun context.CancelFunc
	reaper  chan struct{}
}

// entry serializes logins for one key, so concurrent reconciles of BridgedVMs
// sharing a Secret open one session, not one each.
type entry struct {
	mu   sync.Mutex
	sess *session
}

// NewSessions returns an empty pool.
func NewSessions(opts Options) *Sessions {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sessions{
		opts:    opts,
		entries: map[Key]*entry{},
		subs:    map[int]func(context.Context, VMChange){},
		runCtx:  ctx,
		stopRun: cancel,
		reaper:  make(chan struct{}),
	}
	go s.reap(ctx)
	return s
}

var errClosed = cause.New(cause.Unreachable, system, "Connect", "the session pool is closed", nil)

// Get returns the Client for creds, logging in if no session exists for
// their Key. Failures are classified: CredentialsInvalid for a refused
// login, TrustFailure for an untrusted certificate, Unreachable otherwise.
func (s *Sessions) Get(ctx context.Context, creds Credentials) (Client, error) {
	return s.get(ctx, creds)
}

func (s *Sessions) get(ctx context.Context, creds Credentials) (*session, error) {
	key := creds.Key()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	e := s.entries[key]
	if e == nil {
		e = &entry{}
		s.entries[key] = e
	}
	s.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == nil {
		sess, err := dial(ctx, creds, &s.opts)
		if err != nil {
			s.forget(key, e)
			return nil, err
		}
		e.sess = sess
		s.opts.Logger.V(1).Info("logged in", "esxi", key.String())
	}
	e.sess.touch()
	return e.sess, nil
}

func (s *Sessions) forget(key Key, e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[key] == e {
		delete(s.entries, key)
	}
}

// Watch makes sure the endpoint of creds has a running watcher, logging in
// if needed. Changes are delivered to every subscriber (Source, Subscribe).
// Calling it on every reconcile is cheap.
func (s *Sessions) Watch(ctx context.Context, creds Credentials) error {
	sess, err := s.get(ctx, creds)
	if err != nil {
		return err
	}
	return sess.ensureWatch(s.broadcast)
}

// Subscribe returns a channel of every VM change on every watched endpoint,
// and a function to stop the subscription. A subscriber that does not read
// holds the watchers back; it does not lose changes.
func (s *Sessions) Subscribe() (<-chan VMChange, func()) {
	ch := make(chan VMChange, 256)
	gone := make(chan struct{})
	id := s.addSubscriber(func(ctx context.Context, c VMChange) {
		select {
		case ch <- c:
		case <-ctx.Done():
		case <-gone: // unsubscribed while a watcher waited on it
		}
	})
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			close(gone)
			s.removeSubscriber(id)
		})
	}
}

func (s *Sessions) addSubscriber(fn func(context.Context, VMChange)) int {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	s.nextID++
	s.subs[s.nextID] = fn
	return s.nextID
}

func (s *Sessions) removeSubscriber(id int) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	delete(s.subs, id)
}

func (s *Sessions) broadcast(ctx context.Context, c VMChange) {
	s.subsMu.RLock()
	defer s.subsMu.RUnlock()
	for _, fn := range s.subs {
		fn(ctx, c)
	}
}

// reap logs out sessions nobody asked for in IdleTimeout.
func (s *Sessions) reap(ctx context.Context) {
	defer close(s.reaper)
	t := time.NewTicker(min(s.opts.IdleTimeout/4, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var idle []*session
		s.mu.Lock()
		for key, e := range s.entries {
			// TryLock: an entry being logged in is in use by definition.
			if !e.mu.TryLock() {
				continue
			}
			if e.sess != nil && time.Since(time.Unix(0, e.sess.lastUsed.Load())) > s.opts.IdleTimeout {
				idle = append(idle, e.sess)
				delete(s.entries, key)
			}
			e.mu.Unlock()
		}
		s.mu.Unlock()
		for _, sess := range idle {
			sess.log.V(1).Info("logging out an unused session")
			cctx, cancel := context.WithTimeout(context.Background(), s.opts.CallTimeout)
			sess.close(cctx)
			cancel()
		}
	}
}

// Close stops every watcher and logs every session out. The manager calls it
// at shutdown; Get and Watch fail afterwards.
func (s *Sessions) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	entries := s.entries
	s.entries = map[Key]*entry{}
	s.mu.Unlock()

	s.stopRun()
	<-s.reaper
	var wg sync.WaitGroup
	for _, e := range entries {
		e.mu.Lock()
		sess := e.sess
		e.mu.Unlock()
		if sess == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess.close(ctx)
		}()
	}
	wg.Wait()
	return nil
}
