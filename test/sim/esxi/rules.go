package esxisim

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// rules sits in front of every SOAP call vcsim dispatches (Registry.Handler):
// it counts calls, applies per-method delays, and hands ReconfigVM_Task to a
// VM wrapper that enforces what ESXi enforces. Using the dispatch hook rather
// than replacing the VM objects in the registry keeps vcsim's own type
// assertions on *simulator.VirtualMachine working.
type rules struct {
	mu     sync.Mutex
	counts map[string]int64
	// sessionless counts the calls made without a valid session (expired
	// or never logged in): the host refuses them with NotAuthenticated
	// before doing anything, so a write among them changed nothing.
	sessionless map[string]int64
	delays      map[string]time.Duration
	// taskFaults are the faults the next tasks of a method end with.
	taskFaults map[string][]types.BaseMethodFault
}

func newRules() *rules {
	return &rules{counts: map[string]int64{}, sessionless: map[string]int64{}, delays: map[string]time.Duration{}, taskFaults: map[string][]types.BaseMethodFault{}}
}

// failNextTask queues a fault for the next task of method.
func (r *rules) failNextTask(method string, fault types.BaseMethodFault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.taskFaults[method] = append(r.taskFaults[method], fault)
}

// takeTaskFault returns the fault queued for method's next task, if any.
func (r *rules) takeTaskFault(method string) types.BaseMethodFault {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.taskFaults[method]
	if len(q) == 0 {
		return nil
	}
	r.taskFaults[method] = q[1:]
	return q[0]
}

func (r *rules) install(m *simulator.Model) {
	m.Map().Handler = r.dispatch
}

func (r *rules) dispatch(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
	r.mu.Lock()
	if ctx.Session == nil || ctx.Session.UserAgent != adminUserAgent {
		r.counts[m.Name]++
	}
	if ctx.Session == nil {
		r.sessionless[m.Name]++
	}
	delay := r.delays[m.Name]
	r.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}

	if m.Name == "ReconfigVM_Task" && m.This.Type == "VirtualMachine" {
		// A VM created after the harness was built (by a test's own client)
		// gets ESXi's rules on its first reconfiguration. What this hook
		// returns is overridden by the session's object lookup, so the
		// wrapper has to be in the registry itself.
		r.wrapVM(ctx.Map, m.This)
	}
	return nil, nil
}

// wrapVM replaces a VM in the registry by its ESXi-faithful wrapper. Putting
// an object notifies property collectors (an "enter" update), so the harness
// wraps its own VMs before any client is connected.
func (r *rules) wrapVM(m *simulator.Registry, ref types.ManagedObjectReference) {
	if vm, ok := m.Get(ref).(*simulator.VirtualMachine); ok {
		m.Put(&esxiVM{VirtualMachine: vm, rules: r})
	}
}

func (r *rules) setDelay(method string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d <= 0 {
		delete(r.delays, method)
		return
	}
	r.delays[method] = d
}

func (r *rules) calls() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

func (r *rules) callsWithoutSession() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.sessionless))
	for k, v := range r.sessionless {
		out[k] = v
	}
	return out
}

func (r *rules) resetCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts = map[string]int64{}
	r.sessionless = map[string]int64{}
}

// esxiVM is a VM whose reconfiguration follows ESXi's rules. vcsim calls its
// methods while holding the VM's lock, so reading the VM here is safe.
type esxiVM struct {
	*simulator.VirtualMachine
	rules *rules
}

func (vm *esxiVM) failedTask(ctx *simulator.Context, name string, fault types.BaseMethodFault) types.ManagedObjectReference {
	return failedTask(ctx, vm.VirtualMachine, name, fault)
}

// PowerOnVMTask fails as queued by FailNextTask, refuses a VM that already
// runs (InvalidPowerState, with ESXi's message rather than vcsim's type
// name), or powers the VM on.
func (vm *esxiVM) PowerOnVMTask(ctx *simulator.Context, req *types.PowerOnVM_Task) soap.HasFault {
	fault := vm.rules.takeTaskFault("PowerOnVM_Task")
	if fault == nil && vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
		fault = &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: vm.Runtime.PowerState}
	}
	if fault != nil {
		return &methods.PowerOnVM_TaskBody{Res: &types.PowerOnVM_TaskResponse{Returnval: vm.failedTask(ctx, "powerOn", fault)}}
	}
	return vm.VirtualMachine.PowerOnVMTask(ctx, req)
}

// PowerOffVMTask fails as queued by FailNextTask, refuses a VM that is
// already off, or powers the VM off.
func (vm *esxiVM) PowerOffVMTask(ctx *simulator.Context, req *types.PowerOffVM_Task) soap.HasFault {
	fault := vm.rules.takeTaskFault("PowerOffVM_Task")
	if fault == nil && vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOff {
		fault = &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: vm.Runtime.PowerState}
	}
	if fault != nil {
		return &methods.PowerOffVM_TaskBody{Res: &types.PowerOffVM_TaskResponse{Returnval: vm.failedTask(ctx, "powerOff", fault)}}
	}
	return vm.VirtualMachine.PowerOffVMTask(ctx, req)
}

// ReconfigVMTask refuses, as a failed task, what ESXi refuses: changing a NIC's
// MAC address while the VM is powered on (port group changes are allowed), and
// pointing a NIC at a port group that does not exist (vcsim would dereference
// nil and take the whole process down).
func (vm *esxiVM) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	fault := vm.rules.takeTaskFault("ReconfigVM_Task")
	if fault == nil {
		fault = vm.check(ctx, &req.Spec)
	}
	if fault != nil {
		return &methods.ReconfigVM_TaskBody{Res: &types.ReconfigVM_TaskResponse{Returnval: vm.failedTask(ctx, "reconfigVm", fault)}}
	}
	return vm.VirtualMachine.ReconfigVMTask(ctx, req)
}

func (vm *esxiVM) check(ctx *simulator.Context, spec *types.VirtualMachineConfigSpec) types.BaseMethodFault {
	current := map[int32]string{}
	for _, d := range vm.Config.Hardware.Device {
		if eth, ok := d.(types.BaseVirtualEthernetCard); ok {
			c := eth.GetVirtualEthernetCard()
			current[c.Key] = c.MacAddress
		}
	}
	for _, change := range spec.DeviceChange {
		dc := change.GetVirtualDeviceConfigSpec()
		eth, ok := dc.Device.(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		card := eth.GetVirtualEthernetCard()
		if b, ok := card.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok && !networkExists(ctx, b.DeviceName) {
			return &types.NotFound{VimFault: types.VimFault{MethodFault: types.MethodFault{
				FaultMessage: []types.LocalizableMessage{{Key: "esxisim.network.notFound", Message: "network " + b.DeviceName + " not found"}},
			}}}
		}
		if dc.Operation != types.VirtualDeviceConfigSpecOperationEdit {
			continue
		}
		old, known := current[card.Key]
		macChanged := known && card.MacAddress != "" && !strings.EqualFold(card.MacAddress, old)
		if macChanged && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			return &types.InvalidPowerState{
				RequestedState: types.VirtualMachinePowerStatePoweredOff,
				ExistingState:  vm.Runtime.PowerState,
			}
		}
	}
	return nil
}

func networkExists(ctx *simulator.Context, name string) bool {
	for _, e := range ctx.Map.All("Network") {
		if e.Entity().Name == name {
			return true
		}
	}
	return false
}

func randomPassword() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic("esxisim: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
