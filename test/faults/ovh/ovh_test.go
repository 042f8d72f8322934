// Package ovhfaults is the OVH part of the fault matrix: each case breaks
// the OVH API (simulated, over HTTP, through go-ovh) while a FailoverIP
// needs a write, checks that the FailoverIP's conditions name the fault,
// lets the fault end, and checks that the FailoverIP converges with exactly
// the writes its change needed and that a correct neighbour was never
// touched.
package ovhfaults

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	h "github.com/ovhbridge/ovhbridge-operator/test/faults/harness"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

func TestMain(m *testing.M) { h.Main(m) }

// change is what the FailoverIP under test needs from OVH.
type change int

const (
	// move: the IP is routed to the other server and must come back (one
	// POST .../move).
	move change = iota
	// createVMAC: the IP is routed right but web1 has no virtual MAC yet
	// (one POST .../virtualMac).
	createVMAC
)

// env is one case's world.
type env struct {
	t     *testing.T
	ns    string
	sim   *ovhsim.Server
	old   []*ovhsim.Server // simulators replaced after an outage
	back  func() *ovhsim.Server
	opts  ovhsim.Options
	opOpt h.OperatorOptions
	op    *h.Operator
	fip   *v1.FailoverIP
	trail *h.Trail
}

// sims are every simulator that served the case, for write counts.
func (e *env) sims() []*ovhsim.Server {
	out := append([]*ovhsim.Server{}, e.old...)
	if e.sim != nil && !slices.Contains(out, e.sim) {
		out = append(out, e.sim)
	}
	return out
}

type ovhCase struct {
	name   string
	change change
	sim    ovhsim.Options
	op     h.OperatorOptions
	// before runs once the simulator is up, before the operator starts.
	before func(e *env)
	// fault runs once the FailoverIP exists (for faults that must hit a
	// write or a task in flight).
	fault func(e *env)
	// during lists the condition transitions ("Type=Status/Reason"), one
	// of which must be seen while the fault lasts.
	during []string
	// whileFaulty checks more while the fault lasts.
	whileFaulty func(e *env)
	// clear ends the fault (nil: it ends by itself).
	clear func(e *env)
	// writes are the OVH writes expected in the end.
	writes map[string]int
}

func TestOVHFaultMatrix(t *testing.T) {
	html503 := ovhsim.Fault{Status: http.StatusServiceUnavailable, Body: ovhsim.HTMLErrorPage(http.StatusServiceUnavailable)}
	clearFaults := func(e *env) { e.sim.ClearFaults() }
	moved := map[string]int{"move": 1}
	created := map[string]int{"vmac": 1}

	cases := []ovhCase{
		{
			name: "read-500-json", change: move,
			before: func(e *env) { e.sim.InjectFault("*", ovhsim.Fault{Status: http.StatusInternalServerError}) },
			during: []string{"Synced=False/Unreachable"},
			whileFaulty: func(e *env) {
				messageHas(e, v1.TypeSynced, "HTTP 500", "Internal server error")
			},
			clear: clearFaults, writes: moved,
		},
		{
			name: "read-503-html", change: createVMAC,
			before: func(e *env) { e.sim.InjectFault("*", html503) },
			during: []string{"Synced=False/Unreachable"},
			whileFaulty: func(e *env) {
				// The page's title, not the page: conditions stay readable.
				messageHas(e, v1.TypeSynced, "HTTP 503", "non-JSON error page")
				if msg := h.ConditionMessage(e.fip, v1.TypeSynced); strings.Contains(msg, "<") {
					e.t.Errorf("Synced message quotes the HTML page: %q", msg)
				}
			},
			clear: clearFaults, writes: created,
		},
		{
			name: "read-429-retry-after", change: move,
			before: func(e *env) {
				e.sim.InjectFault("*", ovhsim.Fault{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "3"}})
			},
			during: []string{"Synced=False/RateLimited"},
			clear:  clearFaults, writes: moved,
		},
		{
			name: "read-timeout", change: createVMAC,
			op: h.OperatorOptions{OVHTimeout: 300 * time.Millisecond},
			before: func(e *env) {
				// GET /ip?routedTo.serviceName=...: what every observation reads.
				e.sim.InjectFault(ovhsim.RouteIPList, ovhsim.Fault{Latency: 3 * time.Second})
			},
			during:      []string{"Synced=False/Unreachable"},
			whileFaulty: func(e *env) { messageHas(e, v1.TypeSynced, "timed out") },
			clear:       clearFaults, writes: created,
		},
		{
			// OVH moved the IP, the answer never came back: the operator
			// finds its task in the IP's task list instead of moving again.
			name: "write-move-answer-lost", change: move,
			before: func(e *env) {
				e.sim.InjectFault(ovhsim.RouteIPMove, ovhsim.Fault{LoseReply: true, Count: 1})
			},
			during: []string{"Synced=False/Unreachable"},
			writes: moved,
		},
		{
			name: "write-vmac-answer-late", change: createVMAC,
			op: h.OperatorOptions{OVHTimeout: 500 * time.Millisecond},
			before: func(e *env) {
				e.sim.InjectFault(ovhsim.RouteVMACCreate, ovhsim.Fault{ReplyLatency: 3 * time.Second, Count: 1})
			},
			during: []string{"Synced=False/Unreachable"},
			writes: created,
		},
		{
			// One request, several tasks (OVH does that), a foreign move
			// task stuck on the same IP, and the answer lost.
			name: "write-move-lost-extra-and-foreign-tasks", change: move,
			before: func(e *env) {
				if _, err := e.sim.AddTask(ovhsim.ScopeIP, h.WebIP, ovhsim.FunctionMoveIP, ovhsim.StatusDoing); err != nil {
					e.t.Fatal(err)
				}
				e.sim.SetExtraTasks(2)
				e.sim.InjectFault(ovhsim.RouteIPMove, ovhsim.Fault{LoseReply: true, Count: 1})
			},
			during: []string{"Synced=False/Unreachable"},
			writes: moved,
		},
		{
			name: "write-vmac-lost-extra-tasks", change: createVMAC,
			sim: ovhsim.Options{VirtualMACDuration: 500 * time.Millisecond},
			before: func(e *env) {
				e.sim.SetExtraTasks(2)
				e.sim.InjectFault(ovhsim.RouteVMACCreate, ovhsim.Fault{LoseReply: true, Count: 1})
			},
			during: []string{"Synced=False/Unreachable"},
			writes: created,
		},
		taskFailure("task-move-ovhError", move, ovhsim.FunctionMoveIP,
			ovhsim.TaskOutcome{Status: ovhsim.StatusOVHError, Comment: "Internal error, please retry later"}),
		taskFailure("task-vmac-customerError", createVMAC, ovhsim.FunctionAddVirtualMAC,
			ovhsim.TaskOutcome{Status: ovhsim.StatusCustomerError, Comment: "The virtual machine name contains forbidden characters"}),
		taskFailure("task-move-cancelled", move, ovhsim.FunctionMoveIP,
			ovhsim.TaskOutcome{Status: ovhsim.StatusCancelled, Comment: "Cancelled by OVH"}),
		{
			// Right after creation OVH may answer 404 for the task: not a
			// reason to move again.
			name: "task-not-visible-404", change: move,
			sim: ovhsim.Options{MoveDuration: 500 * time.Millisecond},
			before: func(e *env) {
				e.sim.SetTaskVisibility(2*time.Second, http.StatusNotFound)
			},
			during: []string{"Routed=False/MoveInProgress"},
			whileFaulty: func(e *env) {
				h.Eventually(e.t, 10*time.Second, "a task read answered 404", func() error {
					if n := e.sim.CallCount(ovhsim.RouteIPTask); n < 2 {
						return fmt.Errorf("%d task reads", n)
					}
					return nil
				})
			},
			writes: moved,
		},
		{
			name: "task-not-visible-500", change: createVMAC,
			sim: ovhsim.Options{VirtualMACDuration: 500 * time.Millisecond},
			before: func(e *env) {
				e.sim.SetTaskVisibility(2*time.Second, http.StatusInternalServerError)
			},
			during: []string{"Reconciling=True/TaskInProgress"},
			whileFaulty: func(e *env) {
				h.Eventually(e.t, 10*time.Second, "a task read answered 500", func() error {
					if n := e.sim.CallCount(ovhsim.RouteServerTask); n < 2 {
						return fmt.Errorf("%d task reads", n)
					}
					return nil
				})
			},
			writes: created,
		},
		{
			// The operator was down long enough for OVH to purge the task
			// it recorded: the IP itself says the move is done.
			name: "task-purged-while-down", change: move,
			sim: ovhsim.Options{MoveDuration: time.Second},
			fault: func(e *env) {
				waitTaskID(e)
				e.op.Stop()
				h.Eventually(e.t, 10*time.Second, "the move done at OVH", func() error {
					if to := routedTo(e.sim, h.WebIP); to != h.Server {
						return fmt.Errorf("routed to %s", to)
					}
					return nil
				})
				if n := e.sim.PurgeTasks(); n == 0 {
					e.t.Fatal("no task purged")
				}
				// Longer ago than OVH's task visibility grace.
				h.Eventually(e.t, 10*time.Second, "startedAt moved back", func() error {
					if _, err := h.Condition(e.fip, v1.TypeReady); err != nil {
						return err
					}
					e.fip.Status.PendingTask.StartedAt = metav1.NewTime(time.Now().Add(-10 * time.Minute))
					return h.Client().Status().Update(e.t.Context(), e.fip)
				})
			},
			// Stopped right after recording the task id, the status may not
			// show the move in progress yet.
			during: []string{"Routed=False/MoveInProgress", "Routed=False/RoutedElsewhere"},
			clear: func(e *env) {
				reads := e.sim.CallCount(ovhsim.RouteIPTask)
				e.op = h.StartOperator(e.t, e.ns, e.opOpt)
				h.Eventually(e.t, 15*time.Second, "the purged task read", func() error {
					if e.sim.CallCount(ovhsim.RouteIPTask) == reads {
						return fmt.Errorf("no task read since the restart")
					}
					return nil
				})
			},
			writes: moved,
		},
		{
			// The consumer key is revoked while the move runs; a new one in
			// the Secret lets the operator follow the same task.
			name: "credentials-revoked-mid-move", change: move,
			sim: ovhsim.Options{MoveDuration: 2 * time.Second},
			fault: func(e *env) {
				waitTaskID(e)
				e.sim.RevokeConsumerKey(h.OVHConsumerKey)
			},
			during: []string{"Synced=False/CredentialsInvalid"},
			whileFaulty: func(e *env) {
				// A deleted consumer key: OVH answers NOT_CREDENTIAL
				// (see test/sim/ovh/auth.go), and the message says what to do.
				messageHas(e, v1.TypeSynced, "NOT_CREDENTIAL", "This credential does not exist", "manager ovh-credentials")
				h.Eventually(e.t, 10*time.Second, "Stalled on credentials",
					h.ConditionIs(e.fip, v1.TypeStalled, metav1.ConditionTrue, v1.ReasonCredentialsInvalid))
			},
			clear: func(e *env) {
				e.sim.AddApplication(h.OVHAppKey, h.OVHAppSecret, "fault-consumer-key-2")
				h.UpdateSecret(e.t, e.ns, h.OVHSecretName, map[string]string{"consumerKey": "fault-consumer-key-2"})
			},
			writes: moved,
		},
		{
			name: "credentials-401-everywhere", change: createVMAC,
			before: func(e *env) {
				e.sim.InjectFault("*", ovhsim.Fault{Status: http.StatusUnauthorized,
					Body: `{"errorCode":"NOT_AUTHENTICATED","httpCode":"401 Unauthorized","message":"You must login first"}`})
			},
			during:      []string{"Synced=False/CredentialsInvalid"},
			whileFaulty: func(e *env) { messageHas(e, v1.TypeSynced, "HTTP 401", "You must login first") },
			clear: func(e *env) {
				// The consumer key had expired: a new one goes in the Secret.
				e.sim.ClearFaults()
				e.sim.AddApplication(h.OVHAppKey, h.OVHAppSecret, "fault-consumer-key-3")
				h.UpdateSecret(e.t, e.ns, h.OVHSecretName, map[string]string{"consumerKey": "fault-consumer-key-3"})
			},
			writes: created,
		},
		{
			name: "unreachable-then-back", change: move,
			before: func(e *env) {
				e.back = h.OVHDown(e.t, e.sim, e.opts)
				e.old = append(e.old, e.sim)
			},
			during: []string{"Synced=False/Unreachable"},
			whileFaulty: func(e *env) {
				messageHas(e, v1.TypeSynced, "cannot reach the OVH API")
			},
			clear:  func(e *env) { e.sim = e.back() },
			writes: moved,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			run(t, c)
		})
	}
}

// taskFailure is a case where the write's task ends badly at OVH: the
// comment reaches the conditions, the write is not retried for the same
// generation, and a spec change tries once more.
func taskFailure(name string, ch change, function string, outcome ovhsim.TaskOutcome) ovhCase {
	writes := map[string]int{"move": 2}
	if ch == createVMAC {
		writes = map[string]int{"vmac": 2}
	}
	return ovhCase{
		name: name, change: ch,
		before: func(e *env) {
			if err := e.sim.FailNextTasks(function, 1, outcome); err != nil {
				e.t.Fatal(err)
			}
		},
		during: []string{"Stalled=True/TaskFailed"},
		whileFaulty: func(e *env) {
			messageHas(e, v1.TypeStalled, outcome.Status, outcome.Comment)
			messageHas(e, v1.TypeReady, "not retried", outcome.Comment)
			// More passes (a pass every second) without a second write.
			before := e.sim.TotalCalls()
			h.Eventually(e.t, 15*time.Second, "more passes", func() error {
				if n := e.sim.TotalCalls() - before; n < 6 {
					return fmt.Errorf("%d calls since the failure", n)
				}
				return nil
			})
			if w := h.OVHWrites(e.sim); w["move"]+w["vmac"] != 1 {
				e.t.Fatalf("retried for the same generation: %s", h.FormatCounts(w))
			}
		},
		// A new generation is a new decision: it tries again.
		clear: func(e *env) {
			h.Update(e.t, e.fip, func(f *v1.FailoverIP) {
				f.Spec.OVH.SyncInterval = &metav1.Duration{Duration: 2 * time.Second}
			})
		},
		writes: writes,
	}
}

func run(t *testing.T, c ovhCase) {
	e := &env{t: t, ns: h.Namespace(t), opts: c.sim, opOpt: c.op}
	e.sim = h.OVH(t, e.ns, c.sim)
	if c.change == move {
		if err := e.sim.MoveIP(h.WebIP, h.OtherServer); err != nil {
			t.Fatal(err)
		}
	}
	vm := ""
	if c.change == createVMAC {
		vm = "web1"
	}
	if c.before != nil {
		c.before(e)
	}
	e.op = h.StartOperator(t, e.ns, c.op)
	// A neighbour already right: nothing may be written for it.
	wan := h.FailoverIP(e.ns, "wan", h.WANIP, "vyatta")
	e.fip = h.FailoverIP(e.ns, "web", h.WebIP, vm)
	e.trail = h.Follow(t, e.fip, &v1.FailoverIPList{})
	h.Create(t, wan, e.fip)
	if c.fault != nil {
		c.fault(e)
	}
	during := e.trail.Await(t, 30*time.Second, c.during...)
	if c.whileFaulty != nil {
		c.whileFaulty(e)
	}
	cleared := time.Now()
	if c.clear != nil {
		c.clear(e)
	}
	h.Ready(t, e.fip, 60*time.Second)
	converged := time.Since(cleared)
	h.Ready(t, wan, 30*time.Second)

	writes := h.OVHWrites(e.sims()...)
	h.ExpectCounts(t, c.name+" writes", writes, c.writes)
	world := e.sim.World()
	if to := routedTo(e.sim, h.WebIP); to != h.Server {
		t.Errorf("%s routed to %q", h.WebIP, to)
	}
	if to := routedTo(e.sim, h.WANIP); to != h.Server {
		t.Errorf("neighbour %s routed to %q", h.WANIP, to)
	}
	for _, m := range world.VirtualMACs {
		ips := addresses(m)
		switch {
		case m.MAC == h.WANMAC && ips != h.WANIP:
			t.Errorf("neighbour's virtual MAC %s now carries %s", m.MAC, ips)
		case m.MAC != h.WANMAC && (c.change != createVMAC || ips != h.WebIP || m.Type != "vmware"):
			t.Errorf("unexpected virtual MAC %+v", m)
		}
	}
	if c.change == createVMAC && len(world.VirtualMACs) != 2 {
		t.Errorf("want the neighbour's and web1's virtual MACs, got %+v", world.VirtualMACs)
	}
	h.Outcome(t, c.name, strings.SplitN(during, "=", 2)[1]+" ("+strings.SplitN(during, "=", 2)[0]+")",
		converged, h.FormatCounts(writes))
}

func routedTo(sim *ovhsim.Server, ip string) string {
	for _, r := range sim.World().IPs {
		if strings.TrimSuffix(r.IP, "/32") == ip {
			return r.RoutedTo
		}
	}
	return ""
}

func addresses(m ovhsim.VirtualMAC) string {
	var ips []string
	for _, a := range m.Addresses {
		ips = append(ips, a.IP)
	}
	return strings.Join(ips, ",")
}

// messageHas waits until condition typ's message contains every part.
func messageHas(e *env, typ string, parts ...string) {
	e.t.Helper()
	h.Eventually(e.t, 15*time.Second, typ+" message", func() error {
		msg := h.ConditionMessage(e.fip, typ)
		for _, p := range parts {
			if !strings.Contains(msg, p) {
				return fmt.Errorf("%s message %q lacks %q", typ, msg, p)
			}
		}
		return nil
	})
}

// waitTaskID waits until the FailoverIP records the id of its OVH task.
func waitTaskID(e *env) {
	e.t.Helper()
	h.Eventually(e.t, 15*time.Second, "a task id in status", func() error {
		if _, err := h.Condition(e.fip, v1.TypeReady); err != nil {
			return err
		}
		if p := e.fip.Status.PendingTask; p == nil || p.ID == "" {
			return fmt.Errorf("pendingTask = %+v", p)
		}
		return nil
	})
}
