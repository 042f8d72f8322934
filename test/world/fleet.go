package world

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// A Fleet is a world with many objects that all need external writes at
// once: failover IPs routed to the wrong server and without virtual MACs,
// one running VM per IP whose NIC must take that MAC (a power cycle each),
// and routers whose configuration must be committed and saved. The fault
// suites kill operators in the middle of it and then count, on the
// simulators, that every change was made exactly once.
type Fleet struct {
	*World
	// Routers are the simulated routers, Routers[0] being World.Router
	// (Vyatta 6.5 with the write-up's broken configuration).
	Routers []*routersim.Router
	// IPs are the failover IPs; IP i is bridged to VM VMs[i] and, for
	// i < len(Routers), is router i's WAN address.
	IPs, VMs []string
}

// FleetOptions size a Fleet.
type FleetOptions struct {
	// IPs is the number of failover IPs (and VMs): at least one per router.
	IPs int
	// RouterProfiles are the routers besides the world's Vyatta 6.5; each
	// starts from the profile's default configuration.
	RouterProfiles []routersim.Profile
	// OVHMoveDuration and OVHVirtualMACDuration are how long OVH tasks take.
	OVHMoveDuration, OVHVirtualMACDuration time.Duration
	// ESXiWriteDelay holds every ESXi power and reconfigure call that long
	// before the host acts on it, and RouterLatency every router command
	// after it ran: a kill is then likely to fall between a write reaching
	// the system and the operator hearing back.
	ESXiWriteDelay, RouterLatency time.Duration
}

// ESXiWrites are the SOAP methods that change a VM.
var ESXiWrites = []string{"ReconfigVM_Task", "PowerOffVM_Task", "PowerOnVM_Task", "ResetVM_Task",
	"SuspendVM_Task", "ShutdownGuest", "RebootGuest"}

// OVHWrites are the OVH routes that change something.
var OVHWrites = []string{ovhsim.RouteIPMove, ovhsim.RouteVMACCreate, ovhsim.RouteVMACBind, ovhsim.RouteVMACUnbind}

// RouterWrites are the router call counters that change the router: a
// commit, a save, the boot script written (tee, chmod, mv), routes
// replaced and neighbours flushed.
var RouterWrites = []string{"commit", "save", "tee", "chmod", "mv", "ip route replace", "ip neigh flush", "api:/configure", "api:/config-file"}

// StartFleet brings the fleet's simulators up.
func StartFleet(opts FleetOptions) (*Fleet, error) {
	if opts.IPs < 1+len(opts.RouterProfiles) {
		return nil, fmt.Errorf("a fleet of %d routers needs at least as many failover IPs", 1+len(opts.RouterProfiles))
	}
	f := &Fleet{}
	seed := SeedOVH()
	seed.IPs = nil
	var vms []esxisim.VMSpec
	for i := range opts.IPs {
		ip := fmt.Sprintf("203.0.113.%d", 10+i)
		vm := fmt.Sprintf("vm-%02d", i)
		f.IPs, f.VMs = append(f.IPs, ip), append(f.VMs, vm)
		// Routed to the other server: a move, then a virtual MAC, then the
		// VM's MAC change.
		seed.IPs = append(seed.IPs, ovhsim.IP{IP: ip, RoutedTo: OtherServer})
		vms = append(vms, esxisim.VMSpec{Name: vm, PoweredOn: true, NICs: []esxisim.NICSpec{{PortGroup: esxisim.PortGroupWAN}}})
	}
	w, err := Start(Options{OVH: &seed, ESXiVMs: vms,
		OVHMoveDuration: opts.OVHMoveDuration, OVHVirtualMACDuration: opts.OVHVirtualMACDuration})
	if err != nil {
		return nil, err
	}
	f.World = w
	f.Routers = []*routersim.Router{w.Router}
	for _, p := range opts.RouterProfiles {
		r, err := routersim.New(p, routersim.Options{Gateway: Gateway})
		if err == nil {
			err = r.Start()
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		f.Routers = append(f.Routers, r)
	}
	for _, m := range ESXiWrites {
		w.ESXi.SetMethodDelay(m, opts.ESXiWriteDelay)
	}
	for _, r := range f.Routers {
		r.SetLatency(opts.RouterLatency)
	}
	return f, nil
}

// Close stops every simulator.
func (f *Fleet) Close() {
	for _, r := range f.Routers[min(1, len(f.Routers)):] {
		r.Close()
	}
	f.World.Close()
}

// RouterName is the RouterConfig (and Secret prefix) of router i.
func RouterName(i int) string { return fmt.Sprintf("router-%d", i) }

// Manifests renders the credential Secrets and every object: per IP a
// FailoverIP and a BridgedVM (allowPowerCycle), per router a RouterConfig
// with the write-up's LAN, NAT and WAN on its IP.
func (f *Fleet) Manifests() []byte {
	var out bytes.Buffer
	out.Write(f.Secrets())
	add := func(obj map[string]any) {
		b, _ := yaml.Marshal(obj)
		out.WriteString("---\n")
		out.Write(b)
	}
	for i, r := range f.Routers[1:] {
		add(secret(RouterName(i+1)+"-credentials", map[string]string{
			"username": r.Username(), "password": r.Password(), "hostKey": r.HostKeyLine(),
		}))
	}
	for i, ip := range f.IPs {
		add(map[string]any{
			"apiVersion": "ovhbridge.io/v1alpha1", "kind": "FailoverIP",
			"metadata": map[string]any{"name": "ip-" + f.VMs[i]},
			"spec": map[string]any{
				"ip": ip, "server": Server,
				"virtualMAC": map[string]any{"type": "vmware", "vmName": f.VMs[i]},
				"ovh":        map[string]any{"credentialsSecretRef": map[string]any{"name": "ovh-credentials"}, "syncInterval": "10s"},
			},
		})
		add(map[string]any{
			"apiVersion": "ovhbridge.io/v1alpha1", "kind": "BridgedVM",
			"metadata": map[string]any{"name": f.VMs[i]},
			"spec": map[string]any{
				"esxi":   map[string]any{"credentialsSecretRef": map[string]any{"name": "esxi-credentials"}},
				"vmName": f.VMs[i],
				"nics": []any{map[string]any{"index": 0, "portGroup": esxisim.PortGroupWAN,
					"macFrom": map[string]any{"failoverIPRef": map[string]any{"name": "ip-" + f.VMs[i]}}}},
				"powerState": "PoweredOn", "allowPowerCycle": true,
			},
		})
	}
	for i, r := range f.Routers {
		creds := "router-credentials"
		if i > 0 {
			creds = RouterName(i) + "-credentials"
		}
		wan := map[string]any{"failoverIPRef": map[string]any{"name": "ip-" + f.VMs[i]}}
		add(map[string]any{
			"apiVersion": "ovhbridge.io/v1alpha1", "kind": "RouterConfig",
			"metadata": map[string]any{"name": RouterName(i)},
			"spec": map[string]any{
				"router": map[string]any{"driver": "ssh", "address": r.SSHAddr(), "platform": "auto",
					"credentialsSecretRef": map[string]any{"name": creds}},
				"interfaces": []any{
					map[string]any{"name": "eth1", "description": "LAN", "addresses": []any{"10.0.10.254/24"}},
					map[string]any{"name": "eth2", "description": "WAN", "addressFrom": wan},
				},
				"wan": map[string]any{"interface": "eth2", "gatewayFrom": wan, "gatewayRouteMode": "Auto"},
				"nat": map[string]any{
					"source": []any{map[string]any{"rule": 10, "description": "NAT-LAN-TO-WAN", "outboundInterface": "eth2",
						"sourceAddress": "10.0.10.0/24", "translation": "masquerade"}},
					"destination": []any{map[string]any{"rule": 20, "description": "minecraft", "inboundInterface": "eth2",
						"protocol": "tcp", "port": 25565, "translationAddress": "10.0.10.10"}},
				},
				"health": map[string]any{"interval": "5s"},
			},
		})
	}
	return out.Bytes()
}

// Objects is the number of objects Manifests creates (Secrets aside).
func (f *Fleet) Objects() int { return 2*len(f.IPs) + len(f.Routers) }

// Writes are the simulators' counts of calls that change something.
type Writes struct {
	OVH    map[string]int   // by route
	ESXi   map[string]int64 // by SOAP method
	Router []map[string]int // per router, by call kind
}

// Total adds every count up: it grows by one with each external write.
func (w Writes) Total() int {
	n := 0
	for _, v := range w.OVH {
		n += v
	}
	for _, v := range w.ESXi {
		n += int(v)
	}
	for _, r := range w.Router {
		for _, v := range r {
			n += v
		}
	}
	return n
}

// Writes reads the simulators' write counters.
func (f *Fleet) Writes() Writes {
	w := Writes{OVH: map[string]int{}, ESXi: map[string]int64{}}
	calls := f.OVH.Calls()
	for _, r := range OVHWrites {
		w.OVH[r] = calls[r]
	}
	esxi := f.ESXi.Calls()
	for _, m := range ESXiWrites {
		w.ESXi[m] = esxi[m]
	}
	for _, r := range f.Routers {
		calls := r.Calls()
		rw := map[string]int{}
		for _, k := range RouterWrites {
			rw[k] = calls[k]
		}
		w.Router = append(w.Router, rw)
	}
	return w
}

// OVHTasks counts the OVH tasks created per function and target (the IP
// block for a move, the server for a virtual MAC).
func (f *Fleet) OVHTasks() map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, t := range f.OVH.Tasks() {
		if out[t.Function] == nil {
			out[t.Function] = map[string]int{}
		}
		out[t.Function][t.Target]++
	}
	return out
}

// Converged checks the systems themselves, not the objects' status: every
// IP routed to the ESXi server and bound to its own virtual MAC, every VM
// running with that MAC on its NIC.
func (f *Fleet) Converged(ctx context.Context) error {
	ovh := f.OVH.World()
	routed := map[string]string{}
	for _, ip := range ovh.IPs {
		routed[strings.TrimSuffix(ip.IP, "/32")] = ip.RoutedTo
	}
	macOf := map[string]string{}
	for _, vm := range ovh.VirtualMACs {
		for _, a := range vm.Addresses {
			if _, dup := macOf[a.IP]; dup {
				return fmt.Errorf("%s is bound to two virtual MACs", a.IP)
			}
			macOf[a.IP] = vm.MAC
		}
	}
	if len(ovh.VirtualMACs) != len(f.IPs) {
		return fmt.Errorf("OVH has %d virtual MACs, want one per IP (%d)", len(ovh.VirtualMACs), len(f.IPs))
	}
	for i, ip := range f.IPs {
		if routed[ip] != Server {
			return fmt.Errorf("%s is routed to %q, want %s", ip, routed[ip], Server)
		}
		if macOf[ip] == "" {
			return fmt.Errorf("%s has no virtual MAC", ip)
		}
		vm, err := f.ESXi.VM(ctx, f.VMs[i])
		if err != nil {
			return err
		}
		if vm.PowerState != "poweredOn" || len(vm.NICs) != 1 || !strings.EqualFold(vm.NICs[0].MAC, macOf[ip]) {
			return fmt.Errorf("VM %s is %s with NICs %+v, want poweredOn with MAC %s", vm.Name, vm.PowerState, vm.NICs, macOf[ip])
		}
	}
	return nil
}
