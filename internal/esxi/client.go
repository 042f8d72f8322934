// Package esxi is the operator's only door to VMware ESXi (or vCenter): a
// narrow Client over govmomi to read a VM's NICs, power state and guest
// information, check port groups, and start the few tasks a BridgedVM needs
// (reconfigure one NIC, power on, power off), plus a pool of cached sessions
// and a per-endpoint change watcher that turns property-collector updates
// into controller-runtime events.
//
// Nothing here waits for a vSphere task: methods that change the world return
// the task's reference, which survives an operator restart, and Task reads it
// later. Every error carries a cause.Kind.
package esxi

import (
	"context"
	"strings"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

const system = "esxi"

// Client is what the BridgedVM controller may do on one ESXi or vCenter
// endpoint. References (VM, task) are strings such as "VirtualMachine:12" or
// "Task:haTask-12-vim.VirtualMachine.powerOn-123", stable across sessions.
type Client interface {
	// FindVM reads a VM by name: its NICs, power state and what VMware Tools
	// report. A missing VM is a NotFound error.
	FindVM(ctx context.Context, name string) (VM, error)
	// PortGroups lists the port groups (networks) a NIC can be attached to,
	// sorted.
	PortGroups(ctx context.Context) ([]string, error)
	// ReconfigureNIC sets the MAC address (manual address type; "" keeps the
	// current one) and the port group ("" keeps the current one) of the NIC
	// with the given device key, and returns the reconfigure task. It refuses
	// a port group that does not exist (NotFound) without sending anything,
	// and returns "" when the NIC already matches.
	ReconfigureNIC(ctx context.Context, vmRef string, nicKey int32, mac, portGroup string) (taskRef string, err error)
	// PowerOn starts powering the VM on and returns the task.
	PowerOn(ctx context.Context, vmRef string) (taskRef string, err error)
	// PowerOff starts a hard power-off and returns the task.
	PowerOff(ctx context.Context, vmRef string) (taskRef string, err error)
	// Task reads a task started earlier, possibly by a previous operator
	// process. Hosts forget finished tasks after a while: NotFound then means
	// "look at the VM instead".
	Task(ctx context.Context, taskRef string) (TaskInfo, error)
}

// PowerState is a VM's runtime.powerState.
type PowerState string

// Power states as vSphere names them.
const (
	PoweredOn  PowerState = "poweredOn"
	PoweredOff PowerState = "poweredOff"
	Suspended  PowerState = "suspended"
)

// VM is one virtual machine as observed.
type VM struct {
	Ref        string
	Name       string
	PowerState PowerState
	NICs       []NIC // ordered by device key, which is the order of "Network adapter N"
	Guest      Guest
}

// NIC is one virtual Ethernet card.
type NIC struct {
	Key         int32  // device key, what ReconfigureNIC takes
	Label       string // "Network adapter 2"
	Index       int    // 0-based position among the VM's NICs
	MAC         string // lower case, colon separated
	AddressType string // "manual", "generated" or "assigned"
	PortGroup   string // "" when the NIC is on something that is not a named network
	Connected   bool
}

// NICByLabel returns the NIC with the given label ("Network adapter 2").
func (vm VM) NICByLabel(label string) (NIC, bool) {
	for _, n := range vm.NICs {
		if strings.EqualFold(n.Label, label) {
			return n, true
		}
	}
	return NIC{}, false
}

// NICByIndex returns the i-th NIC (0-based).
func (vm VM) NICByIndex(i int) (NIC, bool) {
	if i < 0 || i >= len(vm.NICs) {
		return NIC{}, false
	}
	return vm.NICs[i], true
}

// Guest is what VMware Tools report; empty when Tools do not run.
type Guest struct {
	ToolsRunning bool
	// IPs lists the guest's addresses per NIC, keyed by lower-case MAC.
	IPs map[string][]string
	// NICs are the guest's interfaces in the order Tools list them
	// (guest.net); a route's Device is a position in this list.
	NICs   []GuestNIC
	Routes []Route
}

// GuestNIC is one interface of the guest.
type GuestNIC struct {
	MAC string // lower case, colon separated
	// Addresses in CIDR notation ("203.0.113.124/32"), IPv4 and IPv6. An
	// address Tools give without its prefix length (an old Tools filling
	// only the deprecated guest.net[].ipAddress) is bare.
	Addresses []string
}

// Route is one entry of the guest's routing table.
type Route struct {
	Network      string
	PrefixLength int32
	Gateway      string // "" for an on-link route
	Device       string // guest NIC index as Tools report it
}

// TaskState is a vSphere task's info.state.
type TaskState string

// Task states.
const (
	TaskQueued  TaskState = "queued"
	TaskRunning TaskState = "running"
	TaskSuccess TaskState = "success"
	TaskError   TaskState = "error"
)

// TaskInfo is the observable state of a task.
type TaskInfo struct {
	Ref   string
	Name  string // e.g. "ReconfigVM_Task"
	State TaskState
	// Fault is the vSphere fault type of a failed task ("InvalidPowerState"),
	// FaultKind its classification, Error the host's message.
	Fault     string
	FaultKind cause.Kind
	Error     string
	Queued    time.Time
	Completed time.Time // zero until the task is done
}

// Done reports whether the task reached a terminal state.
func (t TaskInfo) Done() bool { return t.State == TaskSuccess || t.State == TaskError }
