package esxisim

import (
	"fmt"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// vmStates fills, on every VM, the properties vcsim (govmomi v0.56.0
// simulator/virtual_machine.go NewVirtualMachine) leaves empty although
// ESXi always sends them, and keeps them current on power changes:
//   - runtime.faultToleranceState and runtime.recordReplayState (and their
//     copies in summary.runtime): enums without omitempty
//     (vim25/types VirtualMachineRuntimeInfo), served as empty elements,
//     which a client that checks enum values (VMware's pyvmomi) refuses,
//     so vm.runtime and vm.summary cannot be read at all. A standalone host
//     without FT or record/replay reports "notConfigured" and "inactive".
//   - guestHeartbeatStatus (not set by vcsim at all) and
//     summary.quickStats.guestHeartbeatStatus (always gray there): gray
//     while the VM is off, green once it runs — a guess that VMware Tools
//     runs in every powered-on guest, as the harness's guest info assumes.
//
// It is a registry handler (simulator.RegisterObject): vcsim calls it after
// every object is put or changed.
type vmStates struct{}

func (vmStates) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "EsxiSimVMStates", Value: "vm-states"}
}

func heartbeat(p types.VirtualMachinePowerState) types.ManagedEntityStatus {
	if p == types.VirtualMachinePowerStatePoweredOn {
		return types.ManagedEntityStatusGreen
	}
	return types.ManagedEntityStatusGray
}

func (vmStates) PutObject(_ *simulator.Context, obj mo.Reference) {
	var vm *simulator.VirtualMachine
	switch x := obj.(type) {
	case *simulator.VirtualMachine:
		vm = x
	case *esxiVM:
		vm = x.VirtualMachine
	default:
		return
	}
	// A new VM, not yet seen by any client: its fields are set as vcsim
	// sets its own, before anyone reads them.
	for _, rt := range []*types.VirtualMachineRuntimeInfo{&vm.Runtime, &vm.Summary.Runtime} {
		if rt.FaultToleranceState == "" {
			rt.FaultToleranceState = types.VirtualMachineFaultToleranceStateNotConfigured
		}
		if rt.RecordReplayState == "" {
			rt.RecordReplayState = types.VirtualMachineRecordReplayStateInactive
		}
	}
	vm.GuestHeartbeatStatus = heartbeat(vm.Runtime.PowerState)
	vm.Summary.QuickStats.GuestHeartbeatStatus = vm.GuestHeartbeatStatus
}

func (vmStates) UpdateObject(ctx *simulator.Context, obj mo.Reference, changes []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok {
		return
	}
	for _, c := range changes {
		if c.Name != "runtime.powerState" {
			continue
		}
		p, _ := c.Val.(types.VirtualMachinePowerState)
		if hb := heartbeat(p); hb != vm.GuestHeartbeatStatus {
			// Called from inside vcsim's own update, with the VM's lock
			// held by the power task: Update, not AtomicUpdate.
			ctx.Update(ctx.Map.Get(vm.Self), []types.PropertyChange{
				{Name: "guestHeartbeatStatus", Val: hb},
				{Name: "summary.quickStats.guestHeartbeatStatus", Val: hb},
			})
		}
	}
}

func (vmStates) RemoveObject(*simulator.Context, types.ManagedObjectReference) {}

// esxiMessage is the English sentence ESXi puts in a fault's localized
// message, where vcsim puts the Go type name ("*types.InvalidPowerState",
// simulator/task.go). The sentences are VMware's, as ESXi and vCenter
// report them in public bug reports: InvalidPowerState
// (fog/fog-vsphere#287, vmware/vic#1049), InvalidState (vmware/vic#2244),
// TaskInProgress (vmware/vic#1896), NotAuthenticated (vmware/vic#6673);
// NotFound as govmomi's simulator/esxcli.go has it. Others get the
// general system error sentence with the fault's name — a guess.
func esxiMessage(f types.BaseMethodFault) string {
	switch x := f.(type) {
	case *types.InvalidPowerState:
		return "The attempted operation cannot be performed in the current state (" + powerStateName(x.ExistingState) + ")."
	case *types.InvalidState:
		return "The operation is not allowed in the current state."
	case *types.TaskInProgress:
		return "Another task is already in progress."
	case *types.NotAuthenticated:
		return "The session is not authenticated."
	case *types.NotFound:
		return "The object or item referred to could not be found."
	case *types.GenericVmConfigFault:
		if x.Reason != "" {
			return x.Reason
		}
	}
	name := fmt.Sprintf("%T", f)
	if i := len("*types."); len(name) > i && name[:i] == "*types." {
		name = name[i:]
	}
	return "A general system error occurred: " + name
}

func powerStateName(p types.VirtualMachinePowerState) string {
	switch p {
	case types.VirtualMachinePowerStatePoweredOn:
		return "Powered on"
	case types.VirtualMachinePowerStatePoweredOff:
		return "Powered off"
	case types.VirtualMachinePowerStateSuspended:
		return "Suspended"
	}
	return string(p)
}

// failedTask answers a task method with a task that has already failed with
// fault, the VM left as it was, and ESXi's sentence as its message. vcsim's
// Task.Run would put the fault's Go type name there, so the task is
// registered and completed here instead.
func failedTask(ctx *simulator.Context, entity mo.Reference, name string, fault types.BaseMethodFault) types.ManagedObjectReference {
	task := simulator.CreateTask(entity, name, nil)
	tctx := ctx.For(vim25.Path)
	tctx.Map.Put(task)
	now := time.Now()
	tctx.Map.Update(tctx, task, []types.PropertyChange{
		{Name: "info.key", Val: task.Self.Value},
		{Name: "info.task", Val: task.Self},
		{Name: "info.startTime", Val: now},
		{Name: "info.completeTime", Val: now},
		{Name: "info.state", Val: types.TaskInfoStateError},
		{Name: "info.error", Val: types.LocalizedMethodFault{Fault: fault, LocalizedMessage: esxiMessage(fault)}},
	})
	return task.Self
}
