package routersim

import (
	"net/http"
	"strings"
	"time"
)

// The journal and the faults below let a fault suite tell exactly what the
// router went through: which commits changed the active configuration,
// what every save persisted, and which replies were garbage.

// CommitRecord is one commit the router ran (over SSH or the API).
type CommitRecord struct {
	// Outcome is "applied", "unchanged" (nothing to commit), "failed"
	// (refused; see Changed for a partial commit), "locked" (another
	// commit held the lock) or "dropped" (the connection was cut; see
	// Changed for whether it took effect first).
	Outcome string
	// Changed says whether the active configuration changed.
	Changed bool
	// Output is what the commit printed.
	Output string
}

// SaveRecord is one save that wrote a file.
type SaveRecord struct {
	Path string
	// Active is the active configuration, as set commands, when it was
	// saved: what config.boot now holds.
	Active string
	// Saved is the file's new content.
	Saved string
}

func (r *Router) recordCommit(before, out string, ok bool, err error) {
	rec := CommitRecord{Output: out, Changed: r.active.key() != before}
	switch {
	case err == errDrop:
		rec.Outcome = "dropped"
	case strings.Contains(out, lockedMessage):
		rec.Outcome = "locked"
	case ok && strings.Contains(out, "No configuration changes to commit"):
		rec.Outcome = "unchanged"
	case ok:
		rec.Outcome = "applied"
	default:
		rec.Outcome = "failed"
	}
	r.commitLog = append(r.commitLog, rec)
}

// Commits lists every commit so far, oldest first.
func (r *Router) Commits() []CommitRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CommitRecord(nil), r.commitLog...)
}

// Saves lists every save that wrote a file, oldest first.
func (r *Router) Saves() []SaveRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SaveRecord(nil), r.saveLog...)
}

// FailCommits is FailCommit that keeps failing every commit touching prefix
// until ClearFaults, as a router whose template rejects a value does.
func (r *Router) FailCommits(prefix, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.failCommit = append(r.faults.failCommit, commitFailure{strings.Fields(prefix), text, true})
}

// DropNextSave cuts the connection (SSH) or aborts the request (HTTP) of the
// next save before anything is written.
func (r *Router) DropNextSave() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.dropSave = true
}

// DropNextExecs cuts the SSH connection of the next n commands as they
// arrive, before they run: no output, no exit status.
func (r *Router) DropNextExecs(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.dropExecs = n
}

// CutNextConnections closes the next n SSH connections as soon as they are
// accepted, before the SSH handshake.
func (r *Router) CutNextConnections(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.cutConns = n
}

// DelayNextCommitReply holds the API's reply to the next /configure for d
// after the commit took effect, as a slow proxy or a lost packet does: a
// client with a shorter deadline gives up on a commit that happened.
func (r *Router) DelayNextCommitReply(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.commitReplyDelay = d
}

// commitReplyDelay returns (and clears) the delay for a request to path.
func (r *Router) commitReplyDelay(path string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.faults.commitReplyDelay
	if d == 0 || !strings.HasPrefix(path, "/configure") {
		return 0
	}
	r.faults.commitReplyDelay = 0
	return d
}

// takeFault decrements a counted fault and reports whether it fired.
func (r *Router) takeFault(n *int, kind string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if *n <= 0 {
		return false
	}
	*n--
	r.count(kind)
	return true
}

// Garbler rewrites the output of a command or the body of an API reply.
type Garbler func(string) string

// Truncated keeps the first fraction of the output and always cuts inside a
// line, as a reply cut short by a crashing tool or a full disk does.
func Truncated(fraction float64) Garbler {
	return func(s string) string {
		cut := int(float64(len(s)) * fraction)
		if cut >= len(s) {
			cut = len(s) - 1
		}
		for cut > 0 && s[cut-1] == '\n' {
			cut--
		}
		if cut < 0 {
			cut = 0
		}
		return s[:cut]
	}
}

// ReplacedBy answers text instead of the output (an HTML error page of a
// proxy, binary noise, another tool's output).
func ReplacedBy(text string) Garbler { return func(string) string { return text } }

// Prefixed prints text before the output, as a login banner or a noisy
// shell profile does.
func Prefixed(text string) Garbler { return func(s string) string { return text + s } }

type garbleRule struct {
	match string
	g     Garbler
}

// GarbleOutput makes replies garbage until ClearFaults: over SSH the stdout
// of every command whose command line contains match (exit status kept);
// over the API the body of every reply to a request whose endpoint and
// path, joined by spaces ("/show ip route forward", "/retrieve",
// "/configure"), contain match (HTTP status kept). Each garbled reply
// counts as "garbled".
func (r *Router) GarbleOutput(match string, g Garbler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.garble = append(r.faults.garble, garbleRule{match, g})
}

// garbler returns the rule for key, counting its use, or nil.
func (r *Router) garbler(key string) Garbler {
	return r.garblerFor(key, true)
}

// garblerFor finds the rule for key. A rule with an empty match garbles
// whole sessions only (a login banner is printed once per session, by the
// shell's startup); the others garble the one command they name, inside a
// script as much as alone.
func (r *Router) garblerFor(key string, session bool) Garbler {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rule := range r.faults.garble {
		if (rule.match == "" && !session) || !strings.Contains(key, rule.match) {
			continue
		}
		r.count("garbled")
		return rule.g
	}
	return nil
}

// bufferedReply holds an API reply so that it can be garbled before sending.
type bufferedReply struct {
	header http.Header
	status int
	body   strings.Builder
}

func (b *bufferedReply) Header() http.Header { return b.header }
func (b *bufferedReply) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
func (b *bufferedReply) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// sendGarbled writes the buffered reply through g.
func (b *bufferedReply) sendGarbled(w http.ResponseWriter, g Garbler) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write([]byte(g(b.body.String())))
}
