package ovhsim

import (
	"sort"
	"time"
)

// Task statuses: OVH's enum, shared by IP and dedicated server tasks.
const (
	StatusInit          = "init"
	StatusTodo          = "todo"
	StatusDoing         = "doing"
	StatusDone          = "done"
	StatusCancelled     = "cancelled"
	StatusCustomerError = "customerError"
	StatusOVHError      = "ovhError"
)

// Task functions. genericMoveFloatingIp is the only move name of OVH's IP
// task enum (github ovh/ovhcloud-cli, internal/assets/api-schemas/ip.json,
// ip.TaskFunctionEnum; github ovh/manager's ips app mocks a move with it).
// For virtual MACs OVH's dedicated.TaskFunctionEnum (baremetal.json) has two
// names each, and OVH's control panel waits on all four (github ovh/manager,
// packages/manager/apps/ips/src/utils/vmacDataRefresh.constants.ts): which
// one OVH gives which call is not documented, so Options.TaskFunctions
// chooses; the defaults are the first pair.
const (
	FunctionMoveIP              = "genericMoveFloatingIp"
	FunctionAddVirtualMAC       = "virtualMacAdd"
	FunctionAddVirtualMACAlt    = "addVirtualMac"
	FunctionRemoveVirtualMAC    = "virtualMacDelete"
	FunctionRemoveVirtualMACAlt = "removeVirtualMac"
	FunctionMoveVirtualMAC      = "moveVirtualMac"
)

// TaskFunctions names the functions of the tasks virtual MAC writes start.
type TaskFunctions struct {
	CreateVirtualMAC string `json:"createVirtualMac,omitempty"` // default FunctionAddVirtualMAC
	BindIP           string `json:"bindIP,omitempty"`           // default FunctionAddVirtualMAC
	UnbindIP         string `json:"unbindIP,omitempty"`         // default FunctionRemoveVirtualMAC
}

// virtualMACFunctions are the names a TaskFunctions field may take.
var virtualMACFunctions = []string{FunctionAddVirtualMAC, FunctionAddVirtualMACAlt, FunctionRemoveVirtualMAC, FunctionRemoveVirtualMACAlt, FunctionMoveVirtualMAC}

// Task scopes: which task collection a task is listed in.
const (
	ScopeIP     = "ip"     // GET /ip/{ip}/task/{taskId}
	ScopeServer = "server" // GET /dedicated/server/{serviceName}/task/{taskId}
)

// Task is a test's view of one simulated task.
type Task struct {
	ID       int64     `json:"id"`
	Scope    string    `json:"scope"`
	Target   string    `json:"target"` // the IP block or server the task belongs to
	Function string    `json:"function"`
	Status   string    `json:"status"`
	Comment  string    `json:"comment,omitempty"`
	Created  time.Time `json:"created"`
	Due      time.Time `json:"due"`
	Done     time.Time `json:"done,omitzero"`
}

// TaskOutcome forces how the next tasks of a function end, for tests of
// failed moves and refused virtual MACs.
type TaskOutcome struct {
	Status  string `json:"status"` // cancelled, customerError or ovhError
	Comment string `json:"comment"`
}

type task struct {
	Task
	destination string // move target server
	outcome     *TaskOutcome
	// effect changes the world when the task succeeds; abort undoes the
	// bookkeeping done at creation when it fails. Both run under Server.mu.
	effect func() error
	abort  func()
	purged bool
}

// never is the due time of tasks a test pinned in a pending status.
var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func terminal(status string) bool {
	switch status {
	case StatusDone, StatusCancelled, StatusCustomerError, StatusOVHError:
		return true
	}
	return false
}

// newTask registers a task due after d (zero: done at the next look).
// Called under Server.mu.
func (s *Server) newTask(scope, target, function string, d time.Duration, effect func() error, abort func()) *task {
	now := s.clock.Now()
	t := s.addTask(scope, target, function, now, now.Add(d))
	t.effect, t.abort = effect, abort
	if q := s.outcomes[function]; len(q) > 0 {
		o := q[0]
		t.outcome = &o
		s.outcomes[function] = q[1:]
	}
	// One request can create more than one task on OVH; callers must not
	// assume the task they got back is the only one on the resource.
	for i := 0; i < s.extraTasks; i++ {
		s.addTask(scope, target, function, now, now.Add(d))
	}
	return t
}

func (s *Server) addTask(scope, target, function string, created, due time.Time) *task {
	id := s.st.nextTaskID
	s.st.nextTaskID += 1 + id%7 // ids are not consecutive on OVH either
	t := &task{Task: Task{ID: id, Scope: scope, Target: target, Function: function, Status: StatusTodo, Created: created, Due: due}}
	s.st.tasks[id] = t
	return t
}

// tick finishes every task whose due time has passed, oldest first, so that
// effects apply in the order the requests were made. Called under Server.mu
// before every read or write of the world, which lets a manual clock drive
// tasks without any goroutine.
func (s *Server) tick() {
	now := s.clock.Now()
	var due []*task
	for _, t := range s.st.tasks {
		if terminal(t.Status) {
			continue
		}
		if now.Before(t.Due) {
			if !now.Before(t.Created.Add(t.Due.Sub(t.Created) / 2)) {
				t.Status = StatusDoing
			}
			continue
		}
		due = append(due, t)
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].Due.Equal(due[j].Due) {
			return due[i].Due.Before(due[j].Due)
		}
		return due[i].ID < due[j].ID
	})
	for _, t := range due {
		s.finish(t, t.Due)
	}
	s.landDue(now)
	if s.opts.TaskRetention > 0 {
		for _, t := range s.st.tasks {
			if terminal(t.Status) && now.Sub(t.Done) > s.opts.TaskRetention {
				t.purged = true
			}
		}
	}
}

func (s *Server) finish(t *task, at time.Time) {
	t.Done = at
	switch {
	case t.outcome != nil:
		t.Status, t.Comment = t.outcome.Status, t.outcome.Comment
		if t.abort != nil {
			t.abort()
		}
	case t.effect != nil:
		if err := t.effect(); err != nil {
			t.Status, t.Comment = StatusOVHError, err.Error()
			if t.abort != nil {
				t.abort()
			}
			return
		}
		t.Status = StatusDone
	default:
		t.Status = StatusDone
	}
}

// lastUpdate is when the task last changed status as far as a client can tell.
func (t *task) lastUpdate() time.Time {
	if terminal(t.Status) {
		return t.Done
	}
	if t.Status == StatusDoing {
		return t.Created.Add(t.Due.Sub(t.Created) / 2)
	}
	return t.Created
}
