// Package esxisim is an ESXi (or vCenter) stand-in for tests and the demo: it
// serves govmomi's vcsim over HTTPS with its own certificate, builds the seed
// topology (port groups LAN and WAN on vSwitch0, VMs "vyatta" with two NICs and
// "web1" with one), and adds the ESXi behaviour vcsim lacks: a running VM's MAC
// address cannot be edited (InvalidPowerState), and a NIC is never pointed at
// a port group that does not exist (vcsim would crash the process). It also
// fills what vcsim leaves empty and ESXi always sends (vmstate.go: the
// fault-tolerance and record/replay states, guestHeartbeatStatus) and puts
// ESXi's sentences, not Go type names, in failed tasks.
//
// Changes a person would make in the vSphere client go through a separate
// govmomi session (SetNICMAC, SetNICPortGroup, SetPower), so that the client
// under test sees them exactly as it would see a human's: as property
// collector updates, not as shared memory.
//
// From a test:
//
//	h := esxisim.StartT(t, esxisim.Options{PoweredOn: true}) // or VCenter: true
//	secret := h.SecretData() // url, username, password, thumbprint
//	_ = h.SetNICMAC(ctx, "web1", "Network adapter 1", "02:00:00:aa:bb:cc") // InvalidPowerState: it runs
//
// Standalone (the demo): go run ./test/sim/esxi/cmd/esxisim -out endpoint.json
package esxisim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/sim25"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"golang.org/x/sync/errgroup"
)

// Port groups of the seed topology.
const (
	PortGroupLAN = "LAN"
	PortGroupWAN = "WAN"
)

// Options shape one simulated endpoint. The zero value is the seed: a
// standalone ESXi with vyatta and web1 powered off.
type Options struct {
	// VCenter serves a vCenter (datacenter "DC0", one standalone host)
	// instead of a standalone ESXi host ("ha-datacenter").
	VCenter bool
	// Addr is the listen address; default 127.0.0.1 on a free port.
	Addr string
	// Username and Password are the only credentials the endpoint accepts.
	// Defaults: "root" and a random password.
	Username, Password string
	// PoweredOn powers the default VMs on after creation.
	PoweredOn bool
	// VMs replaces the default VMs (vyatta, web1).
	VMs []VMSpec
	// ExtraVMs adds that many one-NIC VMs named "vm-0001"... on LAN, for
	// scale tests.
	ExtraVMs int
}

// VMSpec describes one VM to create.
type VMSpec struct {
	Name      string
	PoweredOn bool
	// NICs in order; they are labelled "Network adapter 1", "Network adapter 2"...
	NICs []NICSpec
	// Guest, when set, gives the VM a guest with VMware Tools, booting with
	// this network configuration (guest.go); nil leaves Tools not
	// installed, as vcsim does.
	Guest *GuestNetwork
}

// NICSpec is one virtual NIC. An empty MAC lets the host generate one.
type NICSpec struct {
	PortGroup string
	MAC       string
}

// DefaultVMs is the seed's inventory: the router VM with its LAN and WAN legs
// and the web server bridged on the WAN.
// Both guests are configured as the write-up says (seedGuests).
func DefaultVMs(poweredOn bool) []VMSpec {
	g := seedGuests()
	return []VMSpec{
		{Name: "vyatta", PoweredOn: poweredOn, NICs: []NICSpec{{PortGroup: PortGroupLAN}, {PortGroup: PortGroupWAN}}, Guest: g["vyatta"]},
		{Name: "web1", PoweredOn: poweredOn, NICs: []NICSpec{{PortGroup: PortGroupWAN}}, Guest: g["web1"]},
	}
}

// Harness is one running simulated endpoint.
type Harness struct {
	// URL is the SDK endpoint (https://host:port/sdk), without credentials.
	URL *url.URL
	// Username and Password are the accepted credentials.
	Username, Password string
	// Thumbprint is the SHA-256 thumbprint of the host certificate,
	// colon-separated upper-case hex as the ESXi console shows it.
	Thumbprint string
	// CAPEM is the PEM certificate of the CA that signed the host certificate.
	CAPEM []byte
	// Datacenter is the inventory's datacenter name.
	Datacenter string
	// VCenter reports whether this harness models a vCenter.
	VCenter bool

	model  *simulator.Model
	server *simulator.Server
	rules  *rules
	guests *guests

	adminMu sync.Mutex
	admin   *vim25.Client
}

// Start builds the model, serves it over HTTPS and creates the inventory.
func Start(opts Options) (*Harness, error) {
	if opts.Username == "" {
		opts.Username = "root"
	}
	if opts.Password == "" {
		opts.Password = randomPassword()
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.VMs == nil {
		opts.VMs = DefaultVMs(opts.PoweredOn)
	}
	for i := range opts.ExtraVMs {
		opts.VMs = append(opts.VMs, VMSpec{
			Name: fmt.Sprintf("vm-%04d", i+1),
			NICs: []NICSpec{{PortGroup: PortGroupLAN}},
		})
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("esxisim: listen address %q: %w", opts.Addr, err)
	}
	pki, err := newServerPKI(host)
	if err != nil {
		return nil, fmt.Errorf("esxisim: certificate: %w", err)
	}

	var model *simulator.Model
	datacenter := "ha-datacenter"
	if opts.VCenter {
		model = simulator.VPX()
		model.Cluster, model.ClusterHost, model.Host = 0, 0, 1
		datacenter = "DC0"
	} else {
		model = simulator.ESX()
	}
	model.Machine = 0 // only the VMs we name
	if err := model.Create(); err != nil {
		return nil, fmt.Errorf("esxisim: create model: %w", err)
	}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{pki.cert}, MinVersion: tls.VersionTLS12}
	model.Service.Listen = &url.URL{Host: opts.Addr, User: url.UserPassword(opts.Username, opts.Password)}

	h := &Harness{
		Username:   opts.Username,
		Password:   opts.Password,
		Thumbprint: pki.thumbprint,
		CAPEM:      pki.caPEM,
		Datacenter: datacenter,
		VCenter:    opts.VCenter,
		model:      model,
		rules:      newRules(),
		guests:     newGuests(),
	}
	h.rules.install(model)
	model.Map().AddHandler(vmStates{})
	model.Map().AddHandler(h.guests)
	h.server = model.Service.NewServer()
	u := *h.server.URL
	u.User = nil
	h.URL = &u

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := h.build(ctx, opts.VMs); err != nil {
		h.Close()
		return nil, err
	}
	h.rules.resetCalls()
	return h, nil
}

// StartT starts a harness for a test and closes it when the test ends.
func StartT(tb testing.TB, opts Options) *Harness {
	tb.Helper()
	h, err := Start(opts)
	if err != nil {
		tb.Fatalf("esxisim: %v", err)
	}
	tb.Cleanup(h.Close)
	return h
}

// Close logs the admin session out and stops the server. A client that left
// a WaitForUpdatesEx pending without cancelling it delays Close by up to its
// MaxWaitSeconds: vcsim answers every request before shutting down.
func (h *Harness) Close() {
	h.adminMu.Lock()
	if h.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = session.NewManager(h.admin).Logout(ctx)
		cancel()
		h.admin.CloseIdleConnections()
		h.admin = nil
	}
	h.adminMu.Unlock()
	if h.server != nil {
		h.server.Close()
	}
	h.model.Remove()
}

// SecretData is what a Secret for this endpoint holds, under the keys the
// operator reads (url, username, password, thumbprint). Add "ca.crt" or
// "datacenter" as a test needs.
func (h *Harness) SecretData() map[string][]byte {
	return map[string][]byte{
		"url":        []byte(h.URL.String()),
		"username":   []byte(h.Username),
		"password":   []byte(h.Password),
		"thumbprint": []byte(h.Thumbprint),
	}
}

// Model is the underlying vcsim model, for tests that need more than the
// helpers offer (fault rules: Model().Service.AddFaultRule).
func (h *Harness) Model() *simulator.Model { return h.model }

// build creates port groups and VMs through the admin session, the way an
// administrator would have set the host up.
func (h *Harness) build(ctx context.Context, vms []VMSpec) error {
	return h.withAdmin(ctx, func(c *vim25.Client) error {
		f := find.NewFinder(c)
		dc, err := f.Datacenter(ctx, h.Datacenter)
		if err != nil {
			return fmt.Errorf("esxisim: datacenter: %w", err)
		}
		f.SetDatacenter(dc)
		host, err := f.DefaultHostSystem(ctx)
		if err != nil {
			return fmt.Errorf("esxisim: host: %w", err)
		}
		ns, err := host.ConfigManager().NetworkSystem(ctx)
		if err != nil {
			return fmt.Errorf("esxisim: network system: %w", err)
		}
		for _, pg := range []string{PortGroupLAN, PortGroupWAN} {
			spec := types.HostPortGroupSpec{Name: pg, VswitchName: "vSwitch0", Policy: types.HostNetworkPolicy{}}
			if err := ns.AddPortGroup(ctx, spec); err != nil {
				return fmt.Errorf("esxisim: add port group %s: %w", pg, err)
			}
		}
		pool, err := host.ResourcePool(ctx)
		if err != nil {
			return fmt.Errorf("esxisim: resource pool: %w", err)
		}
		ds, err := f.DefaultDatastore(ctx)
		if err != nil {
			return fmt.Errorf("esxisim: datastore: %w", err)
		}
		folders, err := dc.Folders(ctx)
		if err != nil {
			return fmt.Errorf("esxisim: folders: %w", err)
		}
		// A few creations at a time: scale tests ask for hundreds of VMs.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		refs := make([]types.ManagedObjectReference, len(vms))
		for i, spec := range vms {
			g.Go(func() error {
				ref, err := createVM(gctx, folders.VmFolder, pool, host, ds.Name(), spec)
				refs[i] = ref
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		// Rules and guests are in place before the first power-on, which
		// boots the guest.
		for i, ref := range refs {
			h.rules.wrapVM(h.model.Map(), ref)
			if vms[i].Guest != nil {
				h.guests.add(ref, *vms[i].Guest)
				// vcsim lists every vNIC in guest.net already: a VM that
				// is off reports nothing.
				if err := h.changeGuest(vms[i].Name, func(*guestOS, *mo.VirtualMachine) error { return nil }); err != nil {
					return err
				}
			}
		}
		g, gctx = errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i, spec := range vms {
			if spec.PoweredOn {
				g.Go(func() error { return powerOn(gctx, object.NewVirtualMachine(c, refs[i]), spec.Name) })
			}
		}
		return g.Wait()
	})
}

func createVM(ctx context.Context, folder *object.Folder, pool *object.ResourcePool, host *object.HostSystem, datastore string, spec VMSpec) (types.ManagedObjectReference, error) {
	config := types.VirtualMachineConfigSpec{
		Name:     spec.Name,
		GuestId:  string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest),
		NumCPUs:  1,
		MemoryMB: 512,
		Files:    &types.VirtualMachineFileInfo{VmPathName: "[" + datastore + "]"},
	}
	for i, nic := range spec.NICs {
		card := &types.VirtualVmxnet3{}
		eth := card.GetVirtualEthernetCard()
		eth.Key = int32(-1 - i)
		eth.DeviceInfo = &types.Description{Label: fmt.Sprintf("Network adapter %d", i+1), Summary: nic.PortGroup}
		eth.Backing = &types.VirtualEthernetCardNetworkBackingInfo{
			VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: nic.PortGroup},
		}
		eth.Connectable = &types.VirtualDeviceConnectInfo{StartConnected: true, AllowGuestControl: true}
		eth.AddressType = string(types.VirtualEthernetCardMacTypeGenerated)
		if nic.MAC != "" {
			eth.AddressType = string(types.VirtualEthernetCardMacTypeManual)
			eth.MacAddress = nic.MAC
		}
		config.DeviceChange = append(config.DeviceChange, &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device:    card,
		})
	}
	var ref types.ManagedObjectReference
	task, err := folder.CreateVM(ctx, config, pool, host)
	if err != nil {
		return ref, fmt.Errorf("esxisim: create VM %s: %w", spec.Name, err)
	}
	info, err := task.WaitForResult(ctx)
	if err != nil {
		return ref, fmt.Errorf("esxisim: create VM %s: %w", spec.Name, err)
	}
	return info.Result.(types.ManagedObjectReference), nil
}

func powerOn(ctx context.Context, vm *object.VirtualMachine, name string) error {
	task, err := vm.PowerOn(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("esxisim: power on %s: %w", name, err)
	}
	return nil
}

// withAdmin runs fn with the harness's own session — a person at the vSphere
// client — logging in again if the session was expired.
func (h *Harness) withAdmin(ctx context.Context, fn func(*vim25.Client) error) error {
	h.adminMu.Lock()
	defer h.adminMu.Unlock()
	for attempt := 0; ; attempt++ {
		if h.admin == nil {
			c, err := h.login(ctx)
			if err != nil {
				return err
			}
			h.admin = c
		}
		err := fn(h.admin)
		if attempt == 0 && isNotAuthenticated(err) {
			h.admin = nil
			continue
		}
		return err
	}
}

func (h *Harness) login(ctx context.Context) (*vim25.Client, error) {
	u := *h.URL
	sc := soap.NewClient(&u, false)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.CAPEM)
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	sc.UserAgent = adminUserAgent
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("esxisim: admin client: %w", err)
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(h.Username, h.Password)); err != nil {
		return nil, fmt.Errorf("esxisim: admin login: %w", err)
	}
	return c, nil
}

// adminUserAgent marks the harness's own calls so that call counters show
// only what the client under test did.
const adminUserAgent = "esxisim-admin"

func isNotAuthenticated(err error) bool {
	return err != nil && fault.Is(err, &types.NotAuthenticated{})
}

// vmObject finds the simulator's VM object by name.
func (h *Harness) vmObject(name string) (*simulator.VirtualMachine, error) {
	for _, e := range h.model.Map().All("VirtualMachine") {
		switch vm := e.(type) {
		case *esxiVM:
			if vm.Name == name {
				return vm.VirtualMachine, nil
			}
		case *simulator.VirtualMachine:
			if vm.Name == name {
				return vm, nil
			}
		}
	}
	return nil, fmt.Errorf("esxisim: no VM named %q", name)
}

// vmRef finds a VM through the admin session.
func vmRef(ctx context.Context, c *vim25.Client, name string) (*object.VirtualMachine, error) {
	vm, err := find.NewFinder(c).VirtualMachine(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("esxisim: VM %q: %w", name, err)
	}
	return vm, nil
}

// NICState is a NIC as the vSphere client shows it.
type NICState struct {
	Key         int32  `json:"key"`
	Label       string `json:"label"`
	MAC         string `json:"mac"`
	AddressType string `json:"addressType"`
	PortGroup   string `json:"portGroup"`
}

// VMState is a VM as the vSphere client shows it.
type VMState struct {
	Name       string     `json:"name"`
	PowerState string     `json:"powerState"`
	NICs       []NICState `json:"nics"` // ordered by device key
}

// VM reads a VM's power state and NICs through the admin session.
func (h *Harness) VM(ctx context.Context, name string) (VMState, error) {
	var st VMState
	err := h.withAdmin(ctx, func(c *vim25.Client) error {
		vm, err := vmRef(ctx, c, name)
		if err != nil {
			return err
		}
		var m mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"name", "runtime.powerState", "config.hardware.device"}, &m); err != nil {
			return err
		}
		st = VMState{Name: m.Name, PowerState: string(m.Runtime.PowerState)}
		for _, d := range object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
			eth := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			n := NICState{Key: eth.Key, MAC: eth.MacAddress, AddressType: eth.AddressType}
			if eth.DeviceInfo != nil {
				n.Label = eth.DeviceInfo.GetDescription().Label
			}
			if b, ok := eth.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
				n.PortGroup = b.DeviceName
			}
			st.NICs = append(st.NICs, n)
		}
		sort.Slice(st.NICs, func(i, j int) bool { return st.NICs[i].Key < st.NICs[j].Key })
		return nil
	})
	return st, err
}

// SetNICMAC sets a NIC's MAC address (manual address type) out of band, as a
// person would in the vSphere client. On a running VM it fails with
// InvalidPowerState, like ESXi.
func (h *Harness) SetNICMAC(ctx context.Context, vmName, label, mac string) error {
	return h.editNIC(ctx, vmName, label, func(eth *types.VirtualEthernetCard) {
		eth.MacAddress = mac
		eth.AddressType = string(types.VirtualEthernetCardMacTypeManual)
	})
}

// SetNICPortGroup moves a NIC to another port group out of band. ESXi allows
// this on a running VM.
func (h *Harness) SetNICPortGroup(ctx context.Context, vmName, label, portGroup string) error {
	return h.editNIC(ctx, vmName, label, func(eth *types.VirtualEthernetCard) {
		eth.Backing = &types.VirtualEthernetCardNetworkBackingInfo{
			VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: portGroup},
		}
	})
}

func (h *Harness) editNIC(ctx context.Context, vmName, label string, edit func(*types.VirtualEthernetCard)) error {
	return h.withAdmin(ctx, func(c *vim25.Client) error {
		vm, err := vmRef(ctx, c, vmName)
		if err != nil {
			return err
		}
		devices, err := vm.Device(ctx)
		if err != nil {
			return err
		}
		for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
			eth := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			if eth.DeviceInfo == nil || eth.DeviceInfo.GetDescription().Label != label {
				continue
			}
			// The whole device goes back: a partial edit loses the backing.
			edit(eth)
			return vm.EditDevice(ctx, d)
		}
		return fmt.Errorf("esxisim: VM %q has no NIC labelled %q", vmName, label)
	})
}

// AddPortGroup adds a port group to vSwitch0 out of band, as an
// administrator would on the host.
func (h *Harness) AddPortGroup(ctx context.Context, name string) error {
	return h.withAdmin(ctx, func(c *vim25.Client) error {
		f := find.NewFinder(c)
		dc, err := f.Datacenter(ctx, h.Datacenter)
		if err != nil {
			return err
		}
		f.SetDatacenter(dc)
		host, err := f.DefaultHostSystem(ctx)
		if err != nil {
			return err
		}
		ns, err := host.ConfigManager().NetworkSystem(ctx)
		if err != nil {
			return err
		}
		return ns.AddPortGroup(ctx, types.HostPortGroupSpec{Name: name, VswitchName: "vSwitch0", Policy: types.HostNetworkPolicy{}})
	})
}

// SetPower powers a VM on or off out of band and waits for the task.
func (h *Harness) SetPower(ctx context.Context, vmName string, on bool) error {
	return h.withAdmin(ctx, func(c *vim25.Client) error {
		vm, err := vmRef(ctx, c, vmName)
		if err != nil {
			return err
		}
		var task *object.Task
		if on {
			task, err = vm.PowerOn(ctx)
		} else {
			task, err = vm.PowerOff(ctx)
		}
		if err != nil {
			return err
		}
		return task.Wait(ctx)
	})
}

// RenameVM renames a VM out of band.
func (h *Harness) RenameVM(ctx context.Context, vmName, newName string) error {
	return h.withAdmin(ctx, func(c *vim25.Client) error {
		vm, err := vmRef(ctx, c, vmName)
		if err != nil {
			return err
		}
		task, err := vm.Rename(ctx, newName)
		if err != nil {
			return err
		}
		return task.Wait(ctx)
	})
}

// Guest is a report of VMware Tools given as is (SetGuest), bypassing the
// guest model of guest.go.
type Guest struct {
	ToolsRunning bool         `json:"toolsRunning"`
	NICs         []GuestNIC   `json:"nics"`
	Routes       []GuestRoute `json:"routes"`
}

// GuestNIC is one guest interface as Tools see it.
type GuestNIC struct {
	MAC     string `json:"mac"`
	Network string `json:"network"`
	// IPs are addresses, with their prefix length when written as CIDR
	// (203.0.113.124/32); a bare address is taken as a host address.
	IPs []string `json:"ips"`
}

// GuestRoute is one entry of the guest's routing table.
type GuestRoute struct {
	Network      string `json:"network"`
	PrefixLength int32  `json:"prefixLength"`
	Gateway      string `json:"gateway"`
	Device       string `json:"device"` // index of the guest NIC, as Tools report it ("0", "1", ...)
}

// SetGuest makes Tools report exactly g for a VM, whatever its guest
// model says, until the guest is changed through the model again
// (SetGuestNetwork, RebootGuest, SetTools...) or the VM's power changes.
// There is no API for this (the guest agent writes it), so the simulator
// object is updated directly; the update still reaches property collectors
// like Tools' own would.
func (h *Harness) SetGuest(vmName string, g Guest) error {
	vm, err := h.vmObject(vmName)
	if err != nil {
		return err
	}
	h.guests.setRaw(vm.Self)
	status, tools := types.VirtualMachineToolsRunningStatusGuestToolsNotRunning, types.VirtualMachineToolsStatusToolsNotRunning
	if g.ToolsRunning {
		status, tools = types.VirtualMachineToolsRunningStatusGuestToolsRunning, types.VirtualMachineToolsStatusToolsOk
	}
	nics := []types.GuestNicInfo{}
	for _, n := range g.NICs {
		info := types.GuestNicInfo{MacAddress: n.MAC, Network: n.Network, Connected: true}
		for _, ip := range n.IPs {
			p, err := parsePrefix(ip)
			if err != nil {
				return fmt.Errorf("esxisim: guest address %q: %w", ip, err)
			}
			if info.IpConfig == nil {
				info.IpConfig = &types.NetIpConfigInfo{}
			}
			info.IpAddress = append(info.IpAddress, p.Addr().String())
			info.IpConfig.IpAddress = append(info.IpConfig.IpAddress, types.NetIpConfigInfoIpAddress{
				IpAddress: p.Addr().String(), PrefixLength: int32(p.Bits()),
				State: string(types.NetIpConfigInfoIpAddressStatusPreferred),
			})
		}
		nics = append(nics, info)
	}
	var routes []types.NetIpRouteConfigInfoIpRoute
	for _, r := range g.Routes {
		routes = append(routes, types.NetIpRouteConfigInfoIpRoute{
			Network:      r.Network,
			PrefixLength: r.PrefixLength,
			Gateway:      types.NetIpRouteConfigInfoGateway{IpAddress: r.Gateway, Device: r.Device},
		})
	}
	stack := []types.GuestStackInfo{{IpRouteConfig: &types.NetIpRouteConfigInfo{IpRoute: routes}}}
	ctx := h.model.Service.Context
	h.model.Map().AtomicUpdate(ctx, vm, []types.PropertyChange{
		{Name: "guest.toolsStatus", Val: tools},
		{Name: "guest.toolsRunningStatus", Val: string(status)},
		{Name: "guest.net", Val: nics},
		{Name: "guest.ipStack", Val: stack},
	})
	return nil
}

// changeGuest edits a VM's guest and publishes what Tools then report, as
// one property-collector update.
func (h *Harness) changeGuest(vmName string, edit func(*guestOS, *mo.VirtualMachine) error) error {
	vm, err := h.vmObject(vmName)
	if err != nil {
		return err
	}
	ctx := h.model.Service.Context
	h.model.Map().WithLock(ctx, vm, func() {
		var changes []types.PropertyChange
		changes, err = h.guests.change(vm.Self, &vm.VirtualMachine, func(o *guestOS) error { return edit(o, &vm.VirtualMachine) })
		if err == nil {
			h.model.Map().Update(ctx, vm, changes)
		}
	})
	return err
}

// running refuses to change the running configuration of a guest that is
// not running.
func running(vm *mo.VirtualMachine) error {
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return fmt.Errorf("esxisim: VM %s is %s: its guest does not run", vm.Name, vm.Runtime.PowerState)
	}
	return nil
}

// SetGuestNetwork sets what a running guest has now, as a person logged
// into it would with ip addr/ip route commands; it is lost at the next
// reboot unless SetGuestBootNetwork says the same.
func (h *Harness) SetGuestNetwork(vmName string, n GuestNetwork) error {
	return h.changeGuest(vmName, func(o *guestOS, vm *mo.VirtualMachine) error {
		if err := running(vm); err != nil {
			return err
		}
		o.running = cloneNetwork(n)
		return nil
	})
}

// SetGuestBootNetwork sets the configuration a guest boots with (its
// /etc/network/interfaces, say). What runs now does not change.
func (h *Harness) SetGuestBootNetwork(vmName string, n GuestNetwork) error {
	return h.changeGuest(vmName, func(o *guestOS, _ *mo.VirtualMachine) error {
		o.boot = cloneNetwork(n)
		return nil
	})
}

// SetGuestAddresses sets the addresses of the guest's interface on the
// vNIC at position nic (0: "Network adapter 1"), as
// `ip addr flush dev eth0` followed by `ip addr add` would.
func (h *Harness) SetGuestAddresses(vmName string, nic int, addrs ...string) error {
	return h.changeGuest(vmName, func(o *guestOS, vm *mo.VirtualMachine) error {
		if err := running(vm); err != nil {
			return err
		}
		for _, a := range addrs {
			if _, err := parsePrefix(a); err != nil {
				return fmt.Errorf("esxisim: address %q: %w", a, err)
			}
		}
		var out []GuestInterface
		for _, i := range o.running.Interfaces {
			if i.NIC != nic {
				out = append(out, i)
			}
		}
		if len(addrs) > 0 {
			out = append(out, GuestInterface{NIC: nic, Addresses: slices.Clone(addrs)})
		}
		o.running.Interfaces = out
		return nil
	})
}

// AddGuestRoute adds a route inside a running guest, as `ip route add`
// would: a route through a gateway the guest cannot reach on the link is
// refused, as the kernel refuses it.
func (h *Harness) AddGuestRoute(vmName string, r GuestIPRoute) error {
	return h.changeGuest(vmName, func(o *guestOS, vm *mo.VirtualMachine) error {
		if err := running(vm); err != nil {
			return err
		}
		for _, e := range o.running.Routes {
			if sameRoute(e, r) {
				// iproute2's answer to EEXIST.
				return errors.New("esxisim: RTNETLINK answers: File exists")
			}
		}
		if err := reachable(o.running, r); err != nil {
			return err
		}
		o.running.Routes = append(o.running.Routes, r)
		return nil
	})
}

// DeleteGuestRoute deletes the route to destination ("default", an address
// or a prefix) inside a running guest, as `ip route del` would. Routes
// through the deleted one's gateway stay, as they do in Linux.
func (h *Harness) DeleteGuestRoute(vmName, destination string) error {
	return h.changeGuest(vmName, func(o *guestOS, vm *mo.VirtualMachine) error {
		if err := running(vm); err != nil {
			return err
		}
		for i, e := range o.running.Routes {
			if sameDestination(e, destination) {
				o.running.Routes = slices.Delete(o.running.Routes, i, i+1)
				return nil
			}
		}
		// iproute2's answer to ESRCH.
		return errors.New("esxisim: RTNETLINK answers: No such process")
	})
}

// RebootGuest reboots the guest OS (the VM stays powered on): what was
// changed by hand is gone, the boot configuration is back.
func (h *Harness) RebootGuest(vmName string) error {
	return h.changeGuest(vmName, func(o *guestOS, vm *mo.VirtualMachine) error {
		if err := running(vm); err != nil {
			return err
		}
		o.running = boot(o.boot)
		o.toolsStopped = false
		return nil
	})
}

// SetTools stops or starts VMware Tools inside a running guest
// (systemctl stop open-vm-tools).
func (h *Harness) SetTools(vmName string, run bool) error {
	return h.changeGuest(vmName, func(o *guestOS, vm *mo.VirtualMachine) error {
		if err := running(vm); err != nil && run {
			return err
		}
		o.toolsStopped = !run
		return nil
	})
}

// GuestState reads a VM's guest as the harness models it.
func (h *Harness) GuestState(vmName string) (GuestState, error) {
	vm, err := h.vmObject(vmName)
	if err != nil {
		return GuestState{}, err
	}
	var st GuestState
	ok := false
	h.model.Map().WithLock(h.model.Service.Context, vm, func() {
		st, ok = h.guests.state(vm.Self, &vm.VirtualMachine)
	})
	if !ok {
		return st, fmt.Errorf("esxisim: VM %s has no VMware Tools (no guest configuration was given)", vmName)
	}
	return st, nil
}

// ExpireSessions terminates every session but the harness's own, as an idle
// timeout or an administrator would. It returns how many it ended.
func (h *Harness) ExpireSessions(ctx context.Context) (int, error) {
	n := 0
	err := h.withAdmin(ctx, func(c *vim25.Client) error {
		var m mo.SessionManager
		sm := session.NewManager(c)
		if err := mo.RetrieveProperties(ctx, c, c.ServiceContent.PropertyCollector, sm.Reference(), &m); err != nil {
			return err
		}
		var ids []string
		for _, s := range m.SessionList {
			if m.CurrentSession != nil && s.Key == m.CurrentSession.Key {
				continue
			}
			ids = append(ids, s.Key)
		}
		if len(ids) == 0 {
			return nil
		}
		n = len(ids)
		return sm.TerminateSession(ctx, ids)
	})
	return n, err
}

// SetSessionTimeout sets the idle timeout of sessions created from now on.
func (h *Harness) SetSessionTimeout(ctx context.Context, d time.Duration) error {
	return h.withAdmin(ctx, func(c *vim25.Client) error {
		return sim25.SetSessionTimeout(ctx, c, d)
	})
}

// AddFault adds a SOAP-level fault rule (see simulator.FaultInjectionRule;
// FaultTypeNotAuthenticated drives a client's re-login path). Rules apply to
// every session, the harness's own included.
func (h *Harness) AddFault(rule simulator.FaultInjectionRule) {
	rule.Enabled = true
	if rule.Probability == 0 {
		rule.Probability = 1
	}
	if rule.ObjectType == "" {
		rule.ObjectType = "*"
	}
	if rule.ObjectName == "" {
		rule.ObjectName = "*"
	}
	h.model.Service.AddFaultRule(&rule)
}

// ClearFaults removes every fault rule.
func (h *Harness) ClearFaults() { h.model.Service.ClearFaultRules() }

// SetMethodDelay delays every call of a SOAP method (e.g. "RetrievePropertiesEx")
// by d; zero removes the delay.
func (h *Harness) SetMethodDelay(method string, d time.Duration) { h.rules.setDelay(method, d) }

// FailNextTask makes the next task of a VM method ("ReconfigVM_Task",
// "PowerOnVM_Task" or "PowerOffVM_Task") end in error with fault, leaving
// the VM as it was: the call itself succeeds, as on ESXi, and the failure
// shows in the task's info.
func (h *Harness) FailNextTask(method string, fault types.BaseMethodFault) {
	h.rules.failNextTask(method, fault)
}

// Calls returns how many times each SOAP method was called by clients other
// than the harness itself since the last ResetCalls.
func (h *Harness) Calls() map[string]int64 { return h.rules.calls() }

// CallsWithoutSession returns, among Calls, those made without a valid
// session (after ExpireSessions, say): refused with NotAuthenticated, they
// had no effect, so a count of writes leaves them out.
func (h *Harness) CallsWithoutSession() map[string]int64 { return h.rules.callsWithoutSession() }

// ResetCalls zeroes the call counters.
func (h *Harness) ResetCalls() { h.rules.resetCalls() }

// RestoreNICMAC changes a NIC's MAC on a VM in whatever power state, the way
// a restore from backup or a re-registered VMX brings a VM back with another
// MAC: no reconfigure call, no power rule, just a different device. Property
// collectors are notified like for any change.
func (h *Harness) RestoreNICMAC(vmName, label, mac string) error {
	vm, err := h.vmObject(vmName)
	if err != nil {
		return err
	}
	ctx := h.model.Service.Context
	found := false
	var devices []types.BaseVirtualDevice
	h.model.Map().WithLock(ctx, vm, func() {
		devices = append(devices, vm.Config.Hardware.Device...)
		for i, d := range devices {
			eth, ok := d.(types.BaseVirtualEthernetCard)
			if !ok {
				continue
			}
			card := eth.GetVirtualEthernetCard()
			if card.DeviceInfo == nil || card.DeviceInfo.GetDescription().Label != label {
				continue
			}
			// Replace the device value rather than mutating the one readers
			// may hold.
			cp := *card
			cp.MacAddress = mac
			cp.AddressType = string(types.VirtualEthernetCardMacTypeManual)
			switch d.(type) {
			case *types.VirtualVmxnet3:
				devices[i] = &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: cp}}
			case *types.VirtualE1000:
				devices[i] = &types.VirtualE1000{VirtualEthernetCard: cp}
			case *types.VirtualE1000e:
				devices[i] = &types.VirtualE1000e{VirtualEthernetCard: cp}
			default:
				*card = cp
			}
			found = true
		}
	})
	if !found {
		return fmt.Errorf("esxisim: VM %s has no NIC labelled %q", vmName, label)
	}
	h.model.Map().AtomicUpdate(ctx, vm, []types.PropertyChange{{Name: "config.hardware.device", Val: devices}})
	return nil
}
