package esxi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// ChangeKind says why a VMChange was sent.
type ChangeKind string

// Change kinds.
const (
	VMEntered  ChangeKind = "enter"  // a VM appeared (or was renamed to this name)
	VMModified ChangeKind = "modify" // a watched property changed
	VMLeft     ChangeKind = "leave"  // the VM is gone (or was renamed away from this name)
	VMResync   ChangeKind = "resync" // the watcher (re)started or its resync timer fired
)

// VMChange tells that something a BridgedVM observes may have changed on a
// VM: its name, power state, devices (MACs, port groups) or guest network.
// It carries no state: the controller reads the VM again.
type VMChange struct {
	Endpoint Key
	VMName   string
	Kind     ChangeKind
}

// Source turns the pool's VM changes into reconcile requests through mapFn
// (typically: the BridgedVMs that name change.VMName and whose Secret's Key
// is change.Endpoint), for builder.WatchesRawSource. Changes flow once
// Watch was called for an endpoint.
func (s *Sessions) Source(mapFn handler.TypedMapFunc[VMChange, reconcile.Request]) source.Source {
	ch := make(chan event.TypedGenericEvent[VMChange], 256)
	s.addSubscriber(func(ctx context.Context, c VMChange) {
		select {
		case ch <- event.TypedGenericEvent[VMChange]{Object: c}:
		case <-ctx.Done():
		}
	})
	return source.Channel(ch, handler.TypedEnqueueRequestsFromMapFunc(mapFn))
}

// watcher follows every VM of one endpoint with a private property collector
// on a container view, long-polling WaitForUpdatesEx: no change, no traffic
// beyond one call per WatchMaxWait.
type watcher struct {
	sess   *session
	emit   func(context.Context, VMChange)
	cancel context.CancelFunc
	done   chan struct{}

	// known survives rebuilds so that VMs deleted while the session was
	// down are reported as gone. Only the watcher's goroutine uses it.
	known map[types.ManagedObjectReference]*seenVM

	// refs maps each known VM's name to its reference, for FindVM to skip
	// the search (refOf): a hint, checked against the VM's name when read.
	refsMu sync.RWMutex
	refs   map[string]types.ManagedObjectReference
	// namesChanged: known's names changed since refs was built (the
	// watcher's goroutine only).
	namesChanged bool
}

// refOf returns the reference the watch last saw named name.
func (w *watcher) refOf(name string) (types.ManagedObjectReference, bool) {
	w.refsMu.RLock()
	defer w.refsMu.RUnlock()
	ref, ok := w.refs[name]
	return ref, ok
}

// indexNames rebuilds refs from known: after the initial listing, and after
// a batch that entered, renamed or removed a VM (namesChanged); a batch of
// property changes alone leaves the names as they were.
func (w *watcher) indexNames() {
	refs := make(map[string]types.ManagedObjectReference, len(w.known))
	for ref, vm := range w.known {
		if vm.name != "" {
			refs[vm.name] = ref
		}
	}
	w.refsMu.Lock()
	w.refs = refs
	w.refsMu.Unlock()
}

type seenVM struct {
	name string
	// props are digests of the last values of vmProperties, to drop vcsim's
	// repeated "enter"s: a VM's devices and guest network are kilobytes, a
	// digest 8 bytes (5000 VMs held 30 MB of values for this alone).
	props map[string]uint64
}

func startWatcher(sess *session, emit func(context.Context, VMChange)) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{sess: sess, emit: emit, cancel: cancel, done: make(chan struct{}), known: map[types.ManagedObjectReference]*seenVM{}}
	go w.run(ctx)
	return w
}

// stop cancels the pending wait on the host and waits for the watcher to
// destroy its collector and view.
func (w *watcher) stop() {
	w.cancel()
	<-w.done
}

func (w *watcher) run(ctx context.Context) {
	defer close(w.done)
	log := w.sess.log
	backoff := time.Second
	for ctx.Err() == nil {
		relogged := w.sess.reloggedIn()
		err := w.watch(ctx, relogged)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-relogged:
			// The view and collector died with the old session.
			log.Info("rebuilding the VM watch after re-login")
			backoff = time.Second
			continue
		default:
		}
		log.Info("VM watch interrupted; rebuilding", "reason", classify("Watch", err).Error(), "after", backoff)
		select {
		case <-ctx.Done():
			return
		case <-relogged:
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// watch builds a view and a collector and follows updates until ctx ends,
// the session is replaced, or a call fails.
func (w *watcher) watch(ctx context.Context, relogged <-chan struct{}) error {
	vc := w.sess.vc
	sc, err := w.sess.scope(ctx)
	if err != nil {
		return err
	}
	v, err := view.NewManager(vc).CreateContainerView(ctx, sc.root, []string{"VirtualMachine"}, true)
	if err != nil {
		return err
	}
	defer w.cleanup(func(ctx context.Context) error { return v.Destroy(ctx) })

	pcRes, err := methods.CreatePropertyCollector(ctx, vc, &types.CreatePropertyCollector{This: vc.ServiceContent.PropertyCollector})
	if err != nil {
		return err
	}
	pc := pcRes.Returnval
	defer w.cleanup(func(ctx context.Context) error {
		_, err := methods.DestroyPropertyCollector(ctx, vc, &types.DestroyPropertyCollector{This: pc})
		return err
	})
	_, err = methods.CreateFilter(ctx, vc, &types.CreateFilter{This: pc, Spec: types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{
			Obj:       v.Reference(),
			Skip:      types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}},
		}},
		PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: vmProperties}},
	}})
	if err != nil {
		return err
	}

	maxWait := int32(w.sess.opts.WatchMaxWait / time.Second)
	var resync <-chan time.Time
	if w.sess.opts.WatchResync > 0 {
		t := time.NewTicker(w.sess.opts.WatchResync)
		defer t.Stop()
		resync = t.C
	}
	// The first answer lists every VM (possibly over several truncated
	// sets); later ones carry only changes.
	version := ""
	initial := map[types.ManagedObjectReference]*seenVM{}
	for {
		set, err := w.wait(ctx, relogged, pc, version, maxWait)
		if err != nil {
			return err
		}
		if set != nil {
			version = set.Version
			for _, fs := range set.FilterSet {
				w.apply(ctx, fs.ObjectSet, initial)
			}
			if initial != nil && (set.Truncated == nil || !*set.Truncated) {
				w.finishInitial(ctx, initial)
				initial = nil
			}
			if initial == nil && w.namesChanged {
				w.indexNames()
				w.namesChanged = false
			}
		}
		select {
		case <-resync:
			for _, vm := range w.known {
				w.emit(ctx, VMChange{Endpoint: w.sess.key, VMName: vm.name, Kind: VMResync})
			}
		default:
		}
	}
}

// wait is one long poll. A re-login abandons it (the collector is gone
// anyway); stopping cancels it on the host too, or vcsim (and a real host's
// thread) would keep it until MaxWaitSeconds.
func (w *watcher) wait(ctx context.Context, relogged <-chan struct{}, pc types.ManagedObjectReference, version string, maxWait int32) (*types.UpdateSet, error) {
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-relogged:
			cancel()
		case <-waitCtx.Done():
		}
	}()
	res, err := methods.WaitForUpdatesEx(waitCtx, w.sess.vc, &types.WaitForUpdatesEx{
		This:    pc,
		Version: version,
		Options: &types.WaitOptions{MaxWaitSeconds: &maxWait},
	})
	if err != nil {
		if ctx.Err() != nil {
			cctx, ccancel := context.WithTimeout(context.Background(), w.sess.opts.CallTimeout)
			_, _ = methods.CancelWaitForUpdates(cctx, w.sess.vc, &types.CancelWaitForUpdates{This: pc})
			ccancel()
			return nil, ctx.Err()
		}
		return nil, err
	}
	return res.Returnval, nil
}

// cleanup destroys a session object even though the watch's context may be
// done. After a re-login the object is already gone: that is not an error.
func (w *watcher) cleanup(destroy func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.sess.opts.CallTimeout)
	defer cancel()
	if err := destroy(ctx); err != nil && !errors.Is(err, context.Canceled) {
		w.sess.log.V(1).Info("could not destroy a watch object", "reason", classify("Watch", err).Error())
	}
}

// apply folds one batch of updates into what is known and emits a change per
// affected VM name. During the initial listing (initial != nil) it only
// collects; finishInitial then compares with what was known before.
func (w *watcher) apply(ctx context.Context, updates []types.ObjectUpdate, initial map[types.ManagedObjectReference]*seenVM) {
	emit := func(name string, kind ChangeKind) {
		if name != "" {
			w.emit(ctx, VMChange{Endpoint: w.sess.key, VMName: name, Kind: kind})
		}
	}
	for _, u := range updates {
		seen := w.known[u.Obj]
		switch u.Kind {
		case types.ObjectUpdateKindEnter:
			fresh := &seenVM{props: map[string]uint64{}}
			for _, c := range u.ChangeSet {
				fresh.props[c.Name] = digest(c.Val)
				if c.Name == "name" {
					fresh.name, _ = c.Val.(string)
				}
			}
			if initial != nil {
				initial[u.Obj] = fresh
				continue
			}
			// vcsim re-sends "enter" for every member when the view's
			// membership changes: only a real difference is news.
			if seen != nil && maps.Equal(seen.props, fresh.props) {
				continue
			}
			w.known[u.Obj] = fresh
			w.namesChanged = w.namesChanged || seen == nil || seen.name != fresh.name
			if seen != nil && seen.name != fresh.name {
				emit(seen.name, VMLeft)
			}
			emit(fresh.name, VMEntered)
		case types.ObjectUpdateKindModify:
			if seen == nil {
				seen = &seenVM{props: map[string]uint64{}}
				w.known[u.Obj] = seen
			}
			old := seen.name
			for _, c := range u.ChangeSet {
				if c.Name == "name" {
					seen.name, _ = c.Val.(string)
				}
				if c.Op == types.PropertyChangeOpAssign && isWatched(c.Name) {
					seen.props[c.Name] = digest(c.Val)
				} else {
					// A change below a watched path ("...device[4000]"):
					// forget the value so a later "enter" counts as news.
					delete(seen.props, watchedPrefix(c.Name))
				}
			}
			if old != seen.name {
				w.namesChanged = true
				emit(old, VMLeft)
				emit(seen.name, VMEntered)
			} else {
				emit(seen.name, VMModified)
			}
		case types.ObjectUpdateKindLeave:
			if seen != nil {
				delete(w.known, u.Obj)
				w.namesChanged = true
				emit(seen.name, VMLeft)
			}
		}
	}
}

// finishInitial replaces what was known with a fresh listing: every present
// VM is announced as a resync, and VMs that disappeared while no watch was
// running as gone.
func (w *watcher) finishInitial(ctx context.Context, initial map[types.ManagedObjectReference]*seenVM) {
	for ref, old := range w.known {
		if now, ok := initial[ref]; !ok || now.name != old.name {
			w.emit(ctx, VMChange{Endpoint: w.sess.key, VMName: old.name, Kind: VMLeft})
		}
	}
	w.known = initial
	w.namesChanged = true
	for _, vm := range initial {
		w.emit(ctx, VMChange{Endpoint: w.sess.key, VMName: vm.name, Kind: VMResync})
	}
}

// digestSeed keys digest: digests are compared within one process only.
var digestSeed = maphash.MakeSeed()

// digest stands for a property value when comparing it with a later one.
// A value that cannot be encoded gets a digest of its own, so that it always
// counts as changed (news, never a change missed).
func digest(v any) uint64 {
	b, err := json.Marshal(v)
	if err != nil {
		return maphash.String(digestSeed, fmt.Sprintf("unencodable %T %d", v, digestFailures.Add(1)))
	}
	return maphash.Bytes(digestSeed, b)
}

// digestFailures makes each unencodable value's digest unique.
var digestFailures atomic.Uint64

func isWatched(path string) bool {
	for _, p := range vmProperties {
		if p == path {
			return true
		}
	}
	return false
}

func watchedPrefix(path string) string {
	for _, p := range vmProperties {
		if strings.HasPrefix(path, p) {
			return p
		}
	}
	return path
}
