package esxi

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/metrics"
)

// vmProperties are what FindVM reads, and what the watcher watches (a change
// to any of them may change a BridgedVM's status).
var vmProperties = []string{
	"name",
	"runtime.powerState",
	"config.hardware.device",
	"guest.toolsRunningStatus",
	"guest.net",
	"guest.ipStack",
}

// scope is where VMs and networks are looked up: the named datacenter, or
// every datacenter when none is named (a standalone ESXi has exactly one,
// "ha-datacenter").
type scope struct {
	datacenters []datacenter
	// root is the container for the watcher's view: the datacenter's VM
	// folder, or the inventory root when several datacenters are in scope.
	root types.ManagedObjectReference
}

func (sc *scope) datacenterRefs() []types.ManagedObjectReference {
	refs := make([]types.ManagedObjectReference, len(sc.datacenters))
	for i, dc := range sc.datacenters {
		refs[i] = dc.ref
	}
	return refs
}

type datacenter struct {
	ref      types.ManagedObjectReference
	vmFolder types.ManagedObjectReference
}

// scope resolves the datacenters once per session; their references do not
// change over a datacenter's life.
func (s *session) scope(ctx context.Context) (*scope, error) {
	s.mu.Lock()
	memo := s.scopeMemo
	s.mu.Unlock()
	if memo != nil {
		return memo, nil
	}
	f := find.NewFinder(s.vc, false)
	var dcs []*object.Datacenter
	if s.creds.Datacenter != "" {
		dc, err := f.Datacenter(ctx, s.creds.Datacenter)
		if err != nil {
			if _, nf := err.(*find.NotFoundError); nf {
				return nil, cause.New(cause.NotFound, system, "FindDatacenter",
					fmt.Sprintf("datacenter %q not found", s.creds.Datacenter), err)
			}
			return nil, classify("FindDatacenter", err)
		}
		dcs = []*object.Datacenter{dc}
	} else {
		list, err := f.DatacenterList(ctx, "*")
		if err != nil {
			return nil, classify("FindDatacenter", err)
		}
		dcs = list
	}
	refs := make([]types.ManagedObjectReference, len(dcs))
	for i, dc := range dcs {
		refs[i] = dc.Reference()
	}
	if len(refs) == 0 {
		return nil, cause.New(cause.NotFound, system, "FindDatacenter", "the inventory has no datacenter", nil)
	}
	var mos []mo.Datacenter
	if err := property.DefaultCollector(s.vc).Retrieve(ctx, refs, []string{"vmFolder"}, &mos); err != nil {
		return nil, classify("FindDatacenter", err)
	}
	sc := &scope{root: s.vc.ServiceContent.RootFolder}
	for _, m := range mos {
		sc.datacenters = append(sc.datacenters, datacenter{ref: m.Self, vmFolder: m.VmFolder})
	}
	if len(sc.datacenters) == 1 {
		sc.root = sc.datacenters[0].vmFolder
	}
	s.mu.Lock()
	s.scopeMemo = sc
	s.mu.Unlock()
	return sc, nil
}

// FindVM implements Client.
func (s *session) FindVM(ctx context.Context, name string) (VM, error) {
	// The watch knows which VM bears the name: one call instead of a
	// search and a read. It may be out of date (renamed, deleted since):
	// the VM read is checked, and the search done then.
	if ref, ok := s.watchedRef(name); ok {
		vm, err := s.readVM(ctx, ref, name)
		if err == nil && vm.Name == name {
			return vm, nil
		}
		if err != nil && !cause.Is(err, cause.NotFound) {
			return VM{}, err
		}
	}
	ref, err := s.findVMRef(ctx, name)
	if err != nil {
		return VM{}, err
	}
	return s.readVM(ctx, ref, name)
}

// watchedRef is the reference the session's watch last saw named name.
func (s *session) watchedRef(name string) (types.ManagedObjectReference, bool) {
	s.mu.Lock()
	w := s.watch
	s.mu.Unlock()
	if w == nil {
		return types.ManagedObjectReference{}, false
	}
	return w.refOf(name)
}

// readVM reads the VM ref, found under name.
func (s *session) readVM(ctx context.Context, ref types.ManagedObjectReference, name string) (VM, error) {
	var m mo.VirtualMachine
	if err := property.DefaultCollector(s.vc).RetrieveOne(ctx, ref, vmProperties, &m); err != nil {
		err = classify("FindVM", err)
		if cause.Is(err, cause.NotFound) { // deleted between the two calls
			return VM{}, vmNotFound(name)
		}
		return VM{}, err
	}
	vm := vmFromMO(m)
	if err := s.nameDistributedPortGroups(ctx, &vm, m); err != nil {
		return VM{}, err
	}
	return vm, nil
}

func vmNotFound(name string) error {
	return cause.New(cause.NotFound, system, "FindVM", fmt.Sprintf("VM %q not found", name), nil)
}

// findVMRef asks the search index for a VM directly in a datacenter's VM
// folder (one call; where ESXi keeps every VM) and falls back to a recursive
// search, for vCenters that file VMs in sub-folders.
func (s *session) findVMRef(ctx context.Context, name string) (types.ManagedObjectReference, error) {
	sc, err := s.scope(ctx)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	si := object.NewSearchIndex(s.vc)
	for _, dc := range sc.datacenters {
		found, err := si.FindChild(ctx, object.NewFolder(s.vc, dc.vmFolder), name)
		if err != nil {
			return types.ManagedObjectReference{}, classify("FindVM", err)
		}
		if found != nil && found.Reference().Type == "VirtualMachine" {
			return found.Reference(), nil
		}
	}
	m := view.NewManager(s.vc)
	for _, dc := range sc.datacenters {
		v, err := m.CreateContainerView(ctx, dc.vmFolder, []string{"VirtualMachine"}, true)
		if err != nil {
			return types.ManagedObjectReference{}, classify("FindVM", err)
		}
		refs, err := v.Find(ctx, []string{"VirtualMachine"}, property.Match{"name": name})
		_ = v.Destroy(context.WithoutCancel(ctx))
		if err != nil {
			return types.ManagedObjectReference{}, classify("FindVM", err)
		}
		if len(refs) > 0 {
			return refs[0], nil
		}
	}
	return types.ManagedObjectReference{}, vmNotFound(name)
}

func vmFromMO(m mo.VirtualMachine) VM {
	vm := VM{Ref: m.Self.String(), Name: m.Name, PowerState: PowerState(m.Runtime.PowerState)}
	if m.Config != nil {
		var cards []*types.VirtualEthernetCard
		for _, d := range m.Config.Hardware.Device {
			if eth, ok := d.(types.BaseVirtualEthernetCard); ok {
				cards = append(cards, eth.GetVirtualEthernetCard())
			}
		}
		sort.Slice(cards, func(i, j int) bool { return cards[i].Key < cards[j].Key })
		for i, c := range cards {
			n := NIC{Key: c.Key, Index: i, MAC: strings.ToLower(c.MacAddress), AddressType: c.AddressType}
			if c.DeviceInfo != nil {
				n.Label = c.DeviceInfo.GetDescription().Label
			}
			n.PortGroup = standardPortGroup(c)
			if c.Connectable != nil {
				n.Connected = c.Connectable.Connected
			}
			vm.NICs = append(vm.NICs, n)
		}
	}
	// Without running Tools, guest.net and guest.ipStack are stale or
	// placeholders (vcsim lists MACs with no addresses): report nothing.
	if g := m.Guest; g != nil && g.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		vm.Guest.ToolsRunning = true
		for _, n := range g.Net {
			mac := strings.ToLower(n.MacAddress)
			vm.Guest.NICs = append(vm.Guest.NICs, GuestNIC{MAC: mac, Addresses: guestAddresses(n)})
			if n.MacAddress == "" || len(n.IpAddress) == 0 {
				continue
			}
			if vm.Guest.IPs == nil {
				vm.Guest.IPs = map[string][]string{}
			}
			vm.Guest.IPs[mac] = append(vm.Guest.IPs[mac], n.IpAddress...)
		}
		for _, st := range g.IpStack {
			if st.IpRouteConfig == nil {
				continue
			}
			for _, r := range st.IpRouteConfig.IpRoute {
				vm.Guest.Routes = append(vm.Guest.Routes, Route{
					Network: r.Network, PrefixLength: r.PrefixLength,
					Gateway: r.Gateway.IpAddress, Device: r.Gateway.Device,
				})
			}
		}
	}
	return vm
}

// guestAddresses reads a guest NIC's addresses with their prefix lengths
// from ipConfig (vSphere API 5.0 and later), or bare from the deprecated
// ipAddress list when ipConfig is absent.
func guestAddresses(n types.GuestNicInfo) []string {
	var out []string
	if n.IpConfig != nil && len(n.IpConfig.IpAddress) > 0 {
		for _, a := range n.IpConfig.IpAddress {
			out = append(out, fmt.Sprintf("%s/%d", a.IpAddress, a.PrefixLength))
		}
		return out
	}
	return append(out, n.IpAddress...)
}

// PortGroups implements Client. On a standalone host the port groups are
// read from the host's network system (networkInfo.portgroup: where ESXi
// keeps them, including ones no VM uses yet); on a vCenter, from the
// networks of the datacenters in scope (standard and distributed).
func (s *session) PortGroups(ctx context.Context) ([]string, error) {
	// Callers at once share one read (the lock is held over it).
	s.pgMu.Lock()
	defer s.pgMu.Unlock()
	if s.pgNames != nil && time.Since(s.pgAt) < portGroupsFresh {
		return slices.Clone(s.pgNames), nil
	}
	names, err := s.networks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	s.pgNames, s.pgAt = out, time.Now()
	return slices.Clone(out), nil
}

// portGroupsFresh is how long a read of the port groups is reused: every
// BridgedVM pass checks its NICs' port groups against them, and a fleet
// adopted in one apply would read them once per VM. A port group a person
// adds shows within that long.
const portGroupsFresh = 5 * time.Second

// networks maps each network name in scope to its managed object (zero for
// a host port group, which a NIC names by DeviceName only).
func (s *session) networks(ctx context.Context) (map[string]types.ManagedObjectReference, error) {
	sc, err := s.scope(ctx)
	if err != nil {
		return nil, err
	}
	pc := property.DefaultCollector(s.vc)
	out := map[string]types.ManagedObjectReference{}
	if !s.vc.IsVC() {
		nsRefs, err := s.networkSystems(ctx, sc)
		if err != nil {
			return nil, err
		}
		var nss []mo.HostNetworkSystem
		if len(nsRefs) > 0 {
			if err := pc.Retrieve(ctx, nsRefs, []string{"networkInfo.portgroup"}, &nss); err != nil {
				return nil, classify("PortGroups", err)
			}
		}
		for _, ns := range nss {
			if ns.NetworkInfo == nil {
				continue
			}
			for _, pg := range ns.NetworkInfo.Portgroup {
				out[pg.Spec.Name] = types.ManagedObjectReference{}
			}
		}
		return out, nil
	}
	var dcs []mo.Datacenter
	if err := pc.Retrieve(ctx, sc.datacenterRefs(), []string{"network"}, &dcs); err != nil {
		return nil, classify("PortGroups", err)
	}
	var netRefs []types.ManagedObjectReference
	for _, dc := range dcs {
		netRefs = append(netRefs, dc.Network...)
	}
	if len(netRefs) == 0 {
		return out, nil
	}
	names, err := s.entityNames(ctx, netRefs)
	if err != nil {
		return nil, err
	}
	for ref, name := range names {
		out[name] = ref
	}
	return out, nil
}

// networkSystems returns the hosts' network systems, resolved once per
// session: a standalone ESXi host is the only host of its inventory.
func (s *session) networkSystems(ctx context.Context, sc *scope) ([]types.ManagedObjectReference, error) {
	s.mu.Lock()
	memo := s.netSystemsMemo
	s.mu.Unlock()
	if memo != nil {
		return memo, nil
	}
	refs := []types.ManagedObjectReference{}
	for _, dc := range sc.datacenters {
		v, err := view.NewManager(s.vc).CreateContainerView(ctx, dc.ref, []string{"HostSystem"}, true)
		if err != nil {
			return nil, classify("PortGroups", err)
		}
		var hosts []mo.HostSystem
		err = v.Retrieve(ctx, []string{"HostSystem"}, []string{"configManager.networkSystem"}, &hosts)
		_ = v.Destroy(context.WithoutCancel(ctx))
		if err != nil {
			return nil, classify("PortGroups", err)
		}
		for _, h := range hosts {
			if h.ConfigManager.NetworkSystem != nil {
				refs = append(refs, *h.ConfigManager.NetworkSystem)
			}
		}
	}
	s.mu.Lock()
	s.netSystemsMemo = refs
	s.mu.Unlock()
	return refs, nil
}

// ReconfigureNIC implements Client. The whole device is read and sent back
// with the changes: a partial edit would drop its backing.
func (s *session) ReconfigureNIC(ctx context.Context, vmRef string, nicKey int32, mac, portGroup string) (string, error) {
	const op = "ReconfigureNIC"
	ref, err := parseRef(op, vmRef, "VirtualMachine")
	if err != nil {
		return "", err
	}
	if mac != "" {
		if mac, err = normalizeMAC(mac); err != nil {
			return "", cause.New(cause.Invalid, system, op, err.Error(), nil)
		}
	}
	var m mo.VirtualMachine
	if err := property.DefaultCollector(s.vc).RetrieveOne(ctx, ref, []string{"name", "config.hardware.device"}, &m); err != nil {
		return "", classify(op, err)
	}
	if m.Config == nil {
		return "", cause.New(cause.Conflict, system, op, fmt.Sprintf("VM %q has no readable configuration", m.Name), nil)
	}
	var device types.BaseVirtualDevice
	var card *types.VirtualEthernetCard
	for _, d := range m.Config.Hardware.Device {
		if eth, ok := d.(types.BaseVirtualEthernetCard); ok && d.GetVirtualDevice().Key == nicKey {
			device, card = d, eth.GetVirtualEthernetCard()
		}
	}
	if card == nil {
		return "", cause.New(cause.NotFound, system, op, fmt.Sprintf("VM %q has no network adapter with key %d", m.Name, nicKey), nil)
	}

	changed := false
	if mac != "" && (!strings.EqualFold(card.MacAddress, mac) || card.AddressType != string(types.VirtualEthernetCardMacTypeManual)) {
		card.MacAddress = mac
		card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
		changed = true
	}
	current, err := s.portGroupName(ctx, card)
	if err != nil {
		return "", err
	}
	if portGroup != "" && current != portGroup {
		backing, err := s.backing(ctx, portGroup)
		if err != nil {
			return "", err
		}
		card.Backing = backing
		changed = true
	}
	if !changed {
		return "", nil
	}
	req := types.ReconfigVM_Task{This: ref, Spec: types.VirtualMachineConfigSpec{
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationEdit,
			Device:    device,
		}},
	}}
	res, err := methods.ReconfigVM_Task(ctx, s.vc, &req)
	if err != nil {
		return "", classify(op, err)
	}
	return res.Returnval.String(), nil
}

// standardPortGroup names a NIC's network when it is a standard port group
// (the backing carries the name); "" otherwise.
func standardPortGroup(card *types.VirtualEthernetCard) string {
	if b, ok := card.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
		return b.DeviceName
	}
	return ""
}

// distributedPortGroup returns the distributed port group a NIC is on, if
// any. On vCenter a port group's key is its managed object's value.
func distributedPortGroup(card *types.VirtualEthernetCard) (types.ManagedObjectReference, bool) {
	if b, ok := card.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); ok {
		return types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}, true
	}
	return types.ManagedObjectReference{}, false
}

// portGroupName names the network of a NIC, reading a distributed port
// group's name from vCenter (its backing carries only a key).
func (s *session) portGroupName(ctx context.Context, card *types.VirtualEthernetCard) (string, error) {
	ref, ok := distributedPortGroup(card)
	if !ok {
		return standardPortGroup(card), nil
	}
	names, err := s.entityNames(ctx, []types.ManagedObjectReference{ref})
	return names[ref], err
}

// nameDistributedPortGroups fills in the port group of NICs on distributed
// switches, in one call; VMs on standard port groups cost nothing.
func (s *session) nameDistributedPortGroups(ctx context.Context, vm *VM, m mo.VirtualMachine) error {
	if m.Config == nil {
		return nil
	}
	byKey := map[int32]types.ManagedObjectReference{}
	var refs []types.ManagedObjectReference
	for _, d := range m.Config.Hardware.Device {
		if eth, ok := d.(types.BaseVirtualEthernetCard); ok {
			if ref, ok := distributedPortGroup(eth.GetVirtualEthernetCard()); ok {
				byKey[d.GetVirtualDevice().Key] = ref
				refs = append(refs, ref)
			}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	names, err := s.entityNames(ctx, refs)
	if err != nil {
		return err
	}
	for i := range vm.NICs {
		if ref, ok := byKey[vm.NICs[i].Key]; ok {
			vm.NICs[i].PortGroup = names[ref]
		}
	}
	return nil
}

func (s *session) entityNames(ctx context.Context, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	var content []types.ObjectContent
	if err := property.DefaultCollector(s.vc).Retrieve(ctx, refs, []string{"name"}, &content); err != nil {
		return nil, classify("FindVM", err)
	}
	names := map[types.ManagedObjectReference]string{}
	for _, c := range content {
		for _, p := range c.PropSet {
			if name, ok := p.Val.(string); ok && p.Name == "name" {
				names[c.Obj] = name
			}
		}
	}
	return names, nil
}

// backing returns the NIC backing for a network, refusing a name that does
// not exist: a NIC sent to a missing port group is cut off (and crashes
// vcsim).
func (s *session) backing(ctx context.Context, portGroup string) (types.BaseVirtualDeviceBackingInfo, error) {
	nets, err := s.networks(ctx)
	if err != nil {
		return nil, err
	}
	ref, ok := nets[portGroup]
	if !ok {
		return nil, cause.New(cause.NotFound, system, "ReconfigureNIC", fmt.Sprintf("port group %q does not exist", portGroup), nil)
	}
	if ref.Value == "" {
		return &types.VirtualEthernetCardNetworkBackingInfo{
			VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: portGroup},
		}, nil
	}
	nr, ok := object.NewReference(s.vc, ref).(object.NetworkReference)
	if !ok {
		return nil, cause.New(cause.Invalid, system, "ReconfigureNIC", fmt.Sprintf("%q is not a network", portGroup), nil)
	}
	b, err := nr.EthernetCardBackingInfo(ctx)
	if err != nil {
		return nil, classify("ReconfigureNIC", err)
	}
	return b, nil
}

// normalizeMAC accepts the usual spellings and returns lower-case colon form.
// The address must be unicast: a multicast source MAC is dropped by switches.
func normalizeMAC(mac string) (string, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(mac))
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%q is not a MAC address", mac)
	}
	if hw[0]&1 == 1 {
		return "", fmt.Errorf("%s is a multicast address", hw)
	}
	return hw.String(), nil
}

// PowerOn implements Client.
func (s *session) PowerOn(ctx context.Context, vmRef string) (string, error) {
	ref, err := parseRef("PowerOn", vmRef, "VirtualMachine")
	if err != nil {
		return "", err
	}
	res, err := methods.PowerOnVM_Task(ctx, s.vc, &types.PowerOnVM_Task{This: ref})
	if err != nil {
		return "", classify("PowerOn", err)
	}
	return res.Returnval.String(), nil
}

// PowerOff implements Client.
func (s *session) PowerOff(ctx context.Context, vmRef string) (string, error) {
	ref, err := parseRef("PowerOff", vmRef, "VirtualMachine")
	if err != nil {
		return "", err
	}
	res, err := methods.PowerOffVM_Task(ctx, s.vc, &types.PowerOffVM_Task{This: ref})
	if err != nil {
		return "", classify("PowerOff", err)
	}
	return res.Returnval.String(), nil
}

// Task implements Client.
func (s *session) Task(ctx context.Context, taskRef string) (TaskInfo, error) {
	ref, err := parseRef("Task", taskRef, "Task")
	if err != nil {
		return TaskInfo{}, err
	}
	var t mo.Task
	if err := property.DefaultCollector(s.vc).RetrieveOne(ctx, ref, []string{"info"}, &t); err != nil {
		err = classify("Task", err)
		if cause.Is(err, cause.NotFound) {
			return TaskInfo{}, cause.New(cause.NotFound, system, "Task", fmt.Sprintf("task %s is no longer known to the host", taskRef), err)
		}
		return TaskInfo{}, err
	}
	info := TaskInfo{
		Ref:    taskRef,
		Name:   t.Info.Name,
		State:  TaskState(t.Info.State),
		Queued: t.Info.QueueTime,
	}
	if t.Info.CompleteTime != nil {
		info.Completed = *t.Info.CompleteTime
	}
	if e := t.Info.Error; e != nil && e.Fault != nil {
		info.Fault = faultName(e.Fault)
		info.FaultKind = faultKind(e.Fault)
		info.Error = e.LocalizedMessage
		if info.Error == "" || info.Error == fmt.Sprintf("%T", e.Fault) {
			info.Error = info.Fault
		}
	}
	if info.Done() && s.firstSightOfDone(taskRef) {
		d := max(info.Completed.Sub(info.Queued), 0)
		metrics.TaskDuration.WithLabelValues(system, info.Name, string(info.State)).Observe(d.Seconds())
	}
	return info, nil
}

// firstSightOfDone reports whether this is the first time this process sees
// the task finished, so that its duration is recorded once. The memory is
// bounded: after a reset a task may be counted twice, which a histogram
// tolerates.
func (s *session) firstSightOfDone(taskRef string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.tasksDone[taskRef]; seen {
		return false
	}
	if len(s.tasksDone) >= 1024 || s.tasksDone == nil {
		s.tasksDone = map[string]struct{}{}
	}
	s.tasksDone[taskRef] = struct{}{}
	return true
}

// parseRef reads a reference written by Ref/taskRef fields ("Type:value").
func parseRef(op, s, wantType string) (types.ManagedObjectReference, error) {
	var ref types.ManagedObjectReference
	if !ref.FromString(s) || ref.Type != wantType {
		return ref, cause.New(cause.Invalid, system, op, fmt.Sprintf("%q is not a %s reference", s, wantType), nil)
	}
	return ref, nil
}
