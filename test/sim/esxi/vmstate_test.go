package esxisim_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

// strictEnums checks what a client that validates enum values on decoding
// (VMware's pyvmomi) requires of a VM's properties: every enum-typed field
// the vim25 schema marks as always present (no omitempty) holds one of the
// enum's values. It returns the paths that do not.
func strictEnums(v reflect.Value, path string) []string {
	var bad []string
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			bad = append(bad, strictEnums(v.Elem(), path)...)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			bad = append(bad, strictEnums(v.Index(i), path)...)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("xml")
			name := strings.Split(tag, ",")[0]
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if values := fv.MethodByName("Values"); values.IsValid() && fv.Kind() == reflect.String {
				if strings.Contains(tag, "omitempty") && fv.String() == "" {
					continue
				}
				ok := false
				all := values.Call(nil)[0]
				for j := 0; j < all.Len(); j++ {
					ok = ok || all.Index(j).String() == fv.String()
				}
				if !ok {
					bad = append(bad, path+"."+name+"="+fv.String())
				}
				continue
			}
			bad = append(bad, strictEnums(fv, path+"."+name)...)
		}
	}
	return bad
}

func vmsWithProps(t *testing.T, c *vim25.Client, h *esxisim.Harness) []mo.VirtualMachine {
	t.Helper()
	ctx := testContext(t)
	f := find.NewFinder(c)
	dc, err := f.Datacenter(ctx, h.Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	list, err := f.VirtualMachineList(ctx, "*")
	if err != nil {
		t.Fatal(err)
	}
	var refs []types.ManagedObjectReference
	for _, vm := range list {
		refs = append(refs, vm.Reference())
	}
	var vms []mo.VirtualMachine
	if err := property.DefaultCollector(c).Retrieve(ctx, refs, []string{"name", "runtime", "summary", "guestHeartbeatStatus"}, &vms); err != nil {
		t.Fatal(err)
	}
	return vms
}

// Clients other than govmomi read vm.runtime and vm.summary whole; what
// vcsim leaves empty there, ESXi always sends.
func TestVMRuntimeAndSummaryReadByStrictClients(t *testing.T) {
	for _, vc := range []bool{false, true} {
		h := esxisim.StartT(t, esxisim.Options{VCenter: vc})
		ctx := testContext(t)
		c := clientFor(t, ctx, h)
		if err := h.SetPower(ctx, "web1", true); err != nil {
			t.Fatal(err)
		}
		for _, vm := range vmsWithProps(t, c, h) {
			if bad := strictEnums(reflect.ValueOf(vm.Runtime), "runtime"); len(bad) != 0 {
				t.Errorf("vcenter=%v %s: %v", vc, vm.Name, bad)
			}
			if bad := strictEnums(reflect.ValueOf(vm.Summary), "summary"); len(bad) != 0 {
				t.Errorf("vcenter=%v %s: %v", vc, vm.Name, bad)
			}
			if vm.Runtime.FaultToleranceState != types.VirtualMachineFaultToleranceStateNotConfigured ||
				vm.Runtime.RecordReplayState != types.VirtualMachineRecordReplayStateInactive {
				t.Errorf("%s: runtime %+v", vm.Name, vm.Runtime)
			}
			want := types.ManagedEntityStatusGray
			if vm.Name == "web1" {
				want = types.ManagedEntityStatusGreen
			}
			if vm.GuestHeartbeatStatus != want || vm.Summary.QuickStats.GuestHeartbeatStatus != want {
				t.Errorf("%s (%s): guestHeartbeatStatus %q, summary %q, want %q", vm.Name, vm.Runtime.PowerState,
					vm.GuestHeartbeatStatus, vm.Summary.QuickStats.GuestHeartbeatStatus, want)
			}
		}
		// And back to gray when the VM stops.
		if err := h.SetPower(ctx, "web1", false); err != nil {
			t.Fatal(err)
		}
		for _, vm := range vmsWithProps(t, c, h) {
			if vm.Name == "web1" && vm.GuestHeartbeatStatus != types.ManagedEntityStatusGray {
				t.Errorf("web1 off: guestHeartbeatStatus %q", vm.GuestHeartbeatStatus)
			}
		}
	}
}

// Failed tasks carry ESXi's sentences, not Go type names.
func TestTaskFaultMessagesAreESXis(t *testing.T) {
	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true})
	ctx := testContext(t)
	c := clientFor(t, ctx, h)
	f := find.NewFinder(c)
	dc, err := f.Datacenter(ctx, h.Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	vm, err := f.VirtualMachine(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	taskError := func(task *object.Task, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		_, err = task.WaitForResult(ctx)
		if err == nil {
			t.Fatal("the task succeeded")
		}
		return err.Error()
	}
	if msg := taskError(vm.PowerOn(ctx)); msg != "The attempted operation cannot be performed in the current state (Powered on)." {
		t.Errorf("power on a running VM: %q", msg)
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nic := devices.SelectByType((*types.VirtualEthernetCard)(nil))[0].(types.BaseVirtualEthernetCard)
	card := nic.GetVirtualEthernetCard()
	card.MacAddress, card.AddressType = "02:00:00:aa:bb:cc", string(types.VirtualEthernetCardMacTypeManual)
	spec := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: nic.(types.BaseVirtualDevice)},
	}}
	if msg := taskError(vm.Reconfigure(ctx, spec)); msg != "The attempted operation cannot be performed in the current state (Powered on)." {
		t.Errorf("MAC edit on a running VM: %q", msg)
	}
	h.FailNextTask("PowerOffVM_Task", &types.TaskInProgress{})
	if msg := taskError(vm.PowerOff(ctx)); msg != "Another task is already in progress." {
		t.Errorf("queued TaskInProgress: %q", msg)
	}
	if err := h.SetPower(ctx, "web1", false); err != nil {
		t.Fatal(err)
	}
	if msg := taskError(vm.PowerOff(ctx)); msg != "The attempted operation cannot be performed in the current state (Powered off)." {
		t.Errorf("power off a stopped VM: %q", msg)
	}
}
