package world

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
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
	// i < len(Routers), is router i's WAN address. With
	// FleetOptions.SharedMAC the last two IPs name the same VM.
	IPs, VMs []string

	api []bool // router i is driven through the VyOS HTTP API
	// resaves are saves a router may repeat (see AllowResave).
	resaves map[int]int
	// dropped are OVH requests that never reached OVH's logic (see
	// AllowDroppedRequests).
	dropped map[string]int
	// functions are the names OVH gives virtual MAC tasks here.
	functions ovhsim.TaskFunctions
	// shared is the index of the pair of IPs sharing one VM and its MAC
	// (FleetOptions.SharedMAC), -1 without.
	shared int
}

// SharedMAC is the virtual MAC the pair of FleetOptions.SharedMAC shares on
// OtherServer at the start.
const SharedMAC = "00:50:56:0a:0b:0c"

// AllowDroppedRequests accepts n more requests to an OVH route than the
// changes need: requests the simulator held and dropped unprocessed because
// the operator that sent them died. They reached no OVH logic (no task, no
// change), so they are not writes; the tasks are still counted exactly.
func (f *Fleet) AllowDroppedRequests(route string, n int) {
	if f.dropped == nil {
		f.dropped = map[string]int{}
	}
	f.dropped[route] += n
}

// APIRouter reports whether router i is driven through the VyOS HTTP API.
func (f *Fleet) APIRouter(i int) bool { return f.api[i] }

// AllowResave accepts one more save of router i. Over the VyOS HTTP API the
// operator cannot read config.boot: it knows a configuration is saved only
// from the hash it recorded in status after saving, so an operator killed
// between a save and that record saves again after its restart (a save of
// the same configuration: repeated, never wrong). The caller allows it
// only for a kill it saw land in that window.
func (f *Fleet) AllowResave(i int) {
	if f.resaves == nil {
		f.resaves = map[int]int{}
	}
	f.resaves[i]++
}

// FleetOptions size a Fleet.
type FleetOptions struct {
	// IPs is the number of failover IPs (and VMs): at least one per router.
	IPs int
	// RouterProfiles are the routers besides the world's Vyatta 6.5; each
	// starts from the profile's default configuration.
	RouterProfiles []routersim.Profile
	// APIRouterProfiles are more routers (VyOS), driven through the VyOS
	// HTTP API rather than SSH.
	APIRouterProfiles []routersim.Profile
	// SharedMAC makes the last two IPs one VM's, bound on the other server
	// to one virtual MAC (the operator's rule, as OVH's guides bind a VM's
	// IPs: one MAC per VM). OVH moves neither while their MAC serves the
	// other, so the higher IP leaves the MAC (an unbind on the other
	// server), each moves, the MAC comes with the lower one, and the higher
	// binds to it again on Server (a bind). The VM has one BridgedVM,
	// bridged to the lower IP's MAC. It needs two IPs besides the routers'.
	SharedMAC bool
	// OVHTaskFunctions names OVH's virtual MAC tasks (see world.Options).
	OVHTaskFunctions ovhsim.TaskFunctions
	// OVHMoveDuration and OVHVirtualMACDuration are how long OVH tasks take;
	// OVHVirtualMACReappearDelay how long a moved MAC stays hidden.
	OVHMoveDuration, OVHVirtualMACDuration, OVHVirtualMACReappearDelay time.Duration
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
	routers := 1 + len(opts.RouterProfiles) + len(opts.APIRouterProfiles)
	if opts.IPs < routers {
		return nil, fmt.Errorf("a fleet of %d routers needs at least as many failover IPs", routers)
	}
	shared := -1
	if opts.SharedMAC {
		shared = opts.IPs - 2
		if shared < routers {
			return nil, fmt.Errorf("a fleet of %d routers and a shared MAC needs %d failover IPs at least", routers, routers+2)
		}
	}
	f := &Fleet{shared: shared, functions: opts.OVHTaskFunctions}
	for _, fn := range []*string{&f.functions.CreateVirtualMAC, &f.functions.BindIP} {
		if *fn == "" {
			*fn = ovhsim.FunctionAddVirtualMAC
		}
	}
	if f.functions.UnbindIP == "" {
		f.functions.UnbindIP = ovhsim.FunctionRemoveVirtualMAC
	}
	seed := SeedOVH()
	seed.IPs = nil
	var vms []esxisim.VMSpec
	for i := range opts.IPs {
		ip := fmt.Sprintf("203.0.113.%d", 10+i)
		vm := fmt.Sprintf("vm-%02d", i)
		second := shared >= 0 && i == shared+1
		if second {
			vm = f.VMs[shared]
		}
		f.IPs, f.VMs = append(f.IPs, ip), append(f.VMs, vm)
		// Routed to the other server: a move, then a virtual MAC, then the
		// VM's MAC change.
		seed.IPs = append(seed.IPs, ovhsim.IP{IP: ip, RoutedTo: OtherServer})
		if second {
			// The pair's guest answers for both, configured as the
			// write-up says for each; OVH has them on one MAC.
			g := vms[len(vms)-1].Guest
			g.Interfaces[0].Addresses = append(g.Interfaces[0].Addresses, ip+"/32")
			seed.VirtualMACs = append(seed.VirtualMACs, ovhsim.VirtualMAC{Server: OtherServer, MAC: SharedMAC, Type: "vmware",
				Addresses: []ovhsim.VirtualAddress{{IP: f.IPs[shared], VirtualMachineName: vm}, {IP: ip, VirtualMachineName: vm}}})
			continue
		}
		// Each guest is configured as the write-up says for its failover IP.
		vms = append(vms, esxisim.VMSpec{Name: vm, PoweredOn: true, NICs: []esxisim.NICSpec{{PortGroup: esxisim.PortGroupWAN}},
			Guest: esxisim.WriteUpGuest(ip, Gateway)})
	}
	w, err := Start(Options{OVH: &seed, ESXiVMs: vms, OVHTaskFunctions: opts.OVHTaskFunctions,
		OVHMoveDuration: opts.OVHMoveDuration, OVHVirtualMACDuration: opts.OVHVirtualMACDuration,
		OVHVirtualMACReappearDelay: opts.OVHVirtualMACReappearDelay})
	if err != nil {
		return nil, err
	}
	f.World = w
	f.Routers = []*routersim.Router{w.Router}
	f.api = make([]bool, 1, routers)
	for i, p := range append(slices.Clone(opts.RouterProfiles), opts.APIRouterProfiles...) {
		r, err := routersim.New(p, routersim.Options{Gateway: Gateway})
		if err == nil {
			err = r.Start()
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		f.Routers = append(f.Routers, r)
		f.api = append(f.api, i >= len(opts.RouterProfiles))
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

// FailoverIPName is the FailoverIP of IP i: "ip-" and its VM, "-2" added
// for the second IP of a VM.
func (f *Fleet) FailoverIPName(i int) string {
	if i > 0 && f.VMs[i] == f.VMs[i-1] {
		return "ip-" + f.VMs[i] + "-2"
	}
	return "ip-" + f.VMs[i]
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
		data := map[string]string{"username": r.Username(), "password": r.Password(), "hostKey": r.HostKeyLine()}
		if f.api[i+1] {
			data["apiKey"], data["ca.crt"] = r.APIKey(), string(r.CACertPEM())
		}
		add(secret(RouterName(i+1)+"-credentials", data))
	}
	for i, ip := range f.IPs {
		add(map[string]any{
			"apiVersion": "ovhbridge.io/v1alpha1", "kind": "FailoverIP",
			"metadata": map[string]any{"name": f.FailoverIPName(i)},
			"spec": map[string]any{
				"ip": ip, "server": Server,
				"virtualMAC": map[string]any{"type": "vmware", "vmName": f.VMs[i]},
				"ovh":        map[string]any{"credentialsSecretRef": map[string]any{"name": "ovh-credentials"}, "syncInterval": "10s"},
			},
		})
		if f.shared >= 0 && i == f.shared+1 {
			continue // the pair's VM has its BridgedVM already
		}
		add(map[string]any{
			"apiVersion": "ovhbridge.io/v1alpha1", "kind": "BridgedVM",
			"metadata": map[string]any{"name": f.VMs[i]},
			"spec": map[string]any{
				"esxi":   map[string]any{"credentialsSecretRef": map[string]any{"name": "esxi-credentials"}},
				"vmName": f.VMs[i],
				"nics": []any{map[string]any{"index": 0, "portGroup": esxisim.PortGroupWAN,
					"macFrom": map[string]any{"failoverIPRef": map[string]any{"name": f.FailoverIPName(i)}}}},
				"powerState": "PoweredOn", "allowPowerCycle": true,
			},
		})
	}
	for i, r := range f.Routers {
		creds := "router-credentials"
		if i > 0 {
			creds = RouterName(i) + "-credentials"
		}
		wan := map[string]any{"failoverIPRef": map[string]any{"name": f.FailoverIPName(i)}}
		driver, address := "ssh", r.SSHAddr()
		if f.api[i] {
			driver, address = "vyos-api", r.APIURL()
		}
		add(map[string]any{
			"apiVersion": "ovhbridge.io/v1alpha1", "kind": "RouterConfig",
			"metadata": map[string]any{"name": RouterName(i)},
			"spec": map[string]any{
				"router": map[string]any{"driver": driver, "address": address, "platform": "auto",
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
func (f *Fleet) Objects() int { return len(f.IPs) + len(f.DistinctVMs()) + len(f.Routers) }

// DistinctVMs are the fleet's VMs, each once.
func (f *Fleet) DistinctVMs() []string { return slices.Compact(slices.Clone(f.VMs)) }

// shares is 1 with FleetOptions.SharedMAC, else 0: the number of unbinds
// and binds the fleet needs, and of virtual MACs fewer than IPs.
func (f *Fleet) shares() int {
	if f.shared >= 0 {
		return 1
	}
	return 0
}

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
	if vms := len(f.DistinctVMs()); len(ovh.VirtualMACs) != vms {
		return fmt.Errorf("OVH has %d virtual MACs, want one per VM (%d)", len(ovh.VirtualMACs), vms)
	}
	if s := f.shared; s >= 0 && macOf[f.IPs[s]] != macOf[f.IPs[s+1]] {
		return fmt.Errorf("%s and %s, one VM's, are bound to %q and %q, want one MAC", f.IPs[s], f.IPs[s+1], macOf[f.IPs[s]], macOf[f.IPs[s+1]])
	}
	for i, ip := range f.IPs {
		if routed[ip] != Server {
			return fmt.Errorf("%s is routed to %q, want %s", ip, routed[ip], Server)
		}
		if macOf[ip] == "" {
			return fmt.Errorf("%s has no virtual MAC", ip)
		}
		if i > 0 && f.VMs[i] == f.VMs[i-1] {
			continue // the pair's VM: checked with the lower IP
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

// DuplicateWrites compares the simulators' counters with the changes the
// fleet needed, and returns every difference: one move per IP and one
// virtual MAC per VM at OVH (refused duplicates count too), the shared
// pair's one unbind and one bind; one power off, one
// reconfigure and one power on per VM; per router one commit that changed
// the configuration and one save of the configuration finally running
// (never a half-applied one), the boot script and gateway routes written at
// most once.
func (f *Fleet) DuplicateWrites() []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	w := f.Writes()

	tasks := f.OVHTasks()
	for _, ip := range f.IPs {
		if n := tasks[ovhsim.FunctionMoveIP][ip+"/32"]; n != 1 {
			fail("OVH: %d move tasks for %s, want exactly 1", n, ip)
		}
	}
	// Virtual MAC tasks, by function and server: one creation per VM but
	// the pair's, whose MAC comes with its lower IP, and for the pair one
	// unbind on the other server and one bind on Server. Bind and
	// creation may share a name: their counts add up.
	shares := f.shares()
	creates := len(f.DistinctVMs()) - shares
	wantTasks := map[string]map[string]int{}
	for _, t := range []struct {
		function, server string
		n                int
	}{{f.functions.CreateVirtualMAC, Server, creates}, {f.functions.BindIP, Server, shares}, {f.functions.UnbindIP, OtherServer, shares}} {
		if wantTasks[t.function] == nil {
			wantTasks[t.function] = map[string]int{}
		}
		wantTasks[t.function][t.server] += t.n
	}
	for fn, byServer := range tasks {
		if fn == ovhsim.FunctionMoveIP {
			continue
		}
		for server, n := range byServer {
			if want := wantTasks[fn][server]; n != want {
				fail("OVH: %d %s tasks on %s, want exactly %d", n, fn, server, want)
			}
		}
	}
	for fn, byServer := range wantTasks {
		for server, want := range byServer {
			if want > 0 && tasks[fn][server] == 0 {
				fail("OVH: no %s task on %s, want exactly %d", fn, server, want)
			}
		}
	}
	wantOVH := map[string]int{ovhsim.RouteIPMove: len(f.IPs), ovhsim.RouteVMACCreate: creates,
		ovhsim.RouteVMACBind: shares, ovhsim.RouteVMACUnbind: shares}
	for route, n := range w.OVH {
		if want := wantOVH[route] + f.dropped[route]; n != want {
			fail("OVH: %d requests %s, want %d (%d dropped unprocessed)", n, route, want, f.dropped[route])
		}
	}

	// Each VM needs at least one of each call to converge, so totals equal
	// to the number of VMs mean exactly one each.
	vms := int64(len(f.DistinctVMs()))
	wantESXi := map[string]int64{"ReconfigVM_Task": vms, "PowerOffVM_Task": vms, "PowerOnVM_Task": vms}
	for m, n := range w.ESXi {
		if n != wantESXi[m] {
			fail("ESXi: %d %s calls, want %d (one per VM)", n, m, wantESXi[m])
		}
	}

	for i, r := range f.Routers {
		name := fmt.Sprintf("%s (%s)", RouterName(i), r.Profile())
		commits := r.Commits()
		if len(commits) != 1 || !commits[0].Changed || commits[0].Outcome != "applied" {
			fail("%s: commits %+v, want exactly one, applied", name, commits)
		}
		final := r.ActiveCommands()
		saves := r.Saves()
		want := 1 + f.resaves[i]
		if len(saves) != want {
			fail("%s: %d saves, want exactly %d (1 + %d after kills between a save and its record)", name, len(saves), want, f.resaves[i])
		}
		for j, s := range saves {
			if s.Active != final {
				fail("%s: save %d wrote a configuration other than the one finally running:\n%s\nrunning:\n%s", name, j+1, s.Active, final)
			}
		}
		// At most: a restarted operator may find these done already.
		for k, most := range map[string]int{"mv": 1, "ip neigh flush": 1,
			"ip route replace": 2} { // the gateway's host route and the default route, in one script
			if n := w.Router[i][k]; n > most {
				fail("%s: %q %d times, want at most %d", name, k, n, most)
			}
		}
		if r.Profile() == routersim.Vyatta65 {
			if script, exists, executable := r.BootScript(); !exists || !executable || !strings.Contains(script, Gateway) {
				fail("%s: boot script exists=%v executable=%v, want the gateway routes in it:\n%s", name, exists, executable, script)
			}
		}
	}
	return errs
}

// NotReady lists the fleet's objects in ns that are not Ready for their
// current generation (or missing).
func (f *Fleet) NotReady(ctx context.Context, c client.Client, ns string) ([]string, error) {
	var out []string
	check := func(kind string, o client.Object, s *v1.ResourceStatus) {
		if !meta.IsStatusConditionTrue(s.Conditions, v1.TypeReady) || s.ObservedGeneration != o.GetGeneration() {
			out = append(out, fmt.Sprintf("%s/%s (%s)", kind, o.GetName(), s.ReadyReason()))
		}
	}
	var fips v1.FailoverIPList
	if err := c.List(ctx, &fips, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range fips.Items {
		check("FailoverIP", &fips.Items[i], fips.Items[i].GetResourceStatus())
	}
	var vms v1.BridgedVMList
	if err := c.List(ctx, &vms, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range vms.Items {
		check("BridgedVM", &vms.Items[i], vms.Items[i].GetResourceStatus())
	}
	var rcs v1.RouterConfigList
	if err := c.List(ctx, &rcs, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range rcs.Items {
		check("RouterConfig", &rcs.Items[i], rcs.Items[i].GetResourceStatus())
	}
	if n := len(fips.Items) + len(vms.Items) + len(rcs.Items); n != f.Objects() {
		out = append(out, fmt.Sprintf("%d objects listed, want %d", n, f.Objects()))
	}
	return out, nil
}

// Describe names the writes between two readings of the counters.
func Describe(before, after Writes) string {
	var out []string
	for k, v := range after.OVH {
		if d := v - before.OVH[k]; d > 0 {
			out = append(out, fmt.Sprintf("OVH %s ×%d", k, d))
		}
	}
	for k, v := range after.ESXi {
		if d := v - before.ESXi[k]; d > 0 {
			out = append(out, fmt.Sprintf("ESXi %s ×%d", k, d))
		}
	}
	for i, r := range after.Router {
		for k, v := range r {
			var was int
			if i < len(before.Router) {
				was = before.Router[i][k]
			}
			if d := v - was; d > 0 {
				out = append(out, fmt.Sprintf("%s %s ×%d", RouterName(i), k, d))
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// WaitForWrite polls the write counters until one grows past before.
func (f *Fleet) WaitForWrite(before Writes, timeout time.Duration) (Writes, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if w := f.Writes(); w.Total() > before.Total() {
			return w, true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return before, false
}
