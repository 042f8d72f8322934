package main

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// topology is the write-up's setup multiplied: servers at OVH, failover IPs
// routed to them with their virtual MACs already created, one ESXi VM per
// failover IP already carrying its MAC on the WAN port group, and routers
// configured the 2013 way. It is an installation being adopted: what the
// operator finds already matches the spec, except for the routers, which
// carry the seed's gateway-less default route and get repaired.
type topology struct {
	Servers int // dedicated servers the failover IPs are spread over
	IPs     int // FailoverIPs, BridgedVMs and ESXi VMs (one of each per IP)
	Routers int // RouterConfigs and simulated routers; they use the last IPs
	// VMs is how many of the IPs, from the first, have a BridgedVM and an
	// ESXi VM; zero means all of them.
	VMs       int
	Namespace string

	// Intervals written into the objects; zero leaves the CRD default.
	OVHSync, RouterHealth, ESXiResync time.Duration
}

// elsewhere is the server failover IPs are moved to in the drift trials.
const elsewhere = world.OtherServer

func (t topology) server(i int) string {
	if i == 0 {
		return world.Server // the seed's server
	}
	return fmt.Sprintf("ns1000%02d.ip-198-51-100.eu", i)
}

// Every main IP sits in 198.51.100.0/24, so every server's OVH gateway is
// the write-up's 198.51.100.254 (the .254 rule) and one router seed fits all.
func (t topology) mainIP(i int) string {
	if i == 0 {
		return world.ServerMainIP
	}
	return fmt.Sprintf("198.51.100.%d", 17+i)
}

// ip is the i-th failover IP: 203.0.113.1-254, then 192.0.2.1-254.
func (t topology) ip(i int) string {
	if i < 254 {
		return fmt.Sprintf("203.0.113.%d", i+1)
	}
	return fmt.Sprintf("192.0.2.%d", i-254+1)
}

func (t topology) ipServer(i int) string { return t.server(i % t.Servers) }

// mac is the VMware-range virtual MAC of the i-th failover IP.
func (t topology) mac(i int) string { return fmt.Sprintf("00:50:56:0a:%02x:%02x", i>>8, i&0xff) }

func (t topology) fipName(i int) string { return fmt.Sprintf("fip-%03d", i) }
func (t topology) bvmName(i int) string { return fmt.Sprintf("bvm-%03d", i) }
func (t topology) vmName(i int) string  { return fmt.Sprintf("vm-%04d", i+1) }
func (t topology) rtcName(r int) string { return fmt.Sprintf("rtc-%02d", r) }

// routerIP is the index of the failover IP router r's WAN uses.
func (t topology) routerIP(r int) int { return t.IPs - t.Routers + r }

func (t topology) validate() error {
	switch {
	case t.Servers < 1:
		return fmt.Errorf("need at least one server")
	case t.IPs < 1 || t.IPs > 508:
		return fmt.Errorf("between 1 and 508 failover IPs (two documentation /24s), not %d", t.IPs)
	case t.Routers > t.IPs:
		return fmt.Errorf("%d routers need as many failover IPs, have %d", t.Routers, t.IPs)
	}
	return nil
}

// ovhWorld is OVH as the operator finds it: every IP routed to its server
// and bound to its VM's virtual MAC.
func (t topology) ovhWorld() ovhsim.World {
	w := ovhsim.World{Applications: world.SeedOVH().Applications}
	for s := range t.Servers {
		w.Servers = append(w.Servers, ovhsim.DedicatedServer{Name: t.server(s), MainIP: t.mainIP(s)})
	}
	w.Servers = append(w.Servers, ovhsim.DedicatedServer{Name: elsewhere, MainIP: "198.51.100.99"})
	for i := range t.IPs {
		w.IPs = append(w.IPs, ovhsim.IP{IP: t.ip(i), RoutedTo: t.ipServer(i)})
		w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{
			Server: t.ipServer(i), MAC: t.mac(i), Type: "vmware",
			Addresses: []ovhsim.VirtualAddress{{IP: t.ip(i), VirtualMachineName: t.vmName(i)}},
		})
	}
	return w
}

func (t topology) vmCount() int {
	if t.VMs > 0 {
		return min(t.VMs, t.IPs)
	}
	return t.IPs
}

// vms are the ESXi VMs, powered on, each with one NIC on WAN carrying its
// failover IP's virtual MAC and a guest configured as the write-up says.
func (t topology) vms() []esxisim.VMSpec {
	out := make([]esxisim.VMSpec, t.vmCount())
	for i := range out {
		out[i] = esxisim.VMSpec{Name: t.vmName(i), PoweredOn: true,
			NICs:  []esxisim.NICSpec{{PortGroup: esxisim.PortGroupWAN, MAC: t.mac(i)}},
			Guest: esxisim.WriteUpGuest(t.ip(i), world.Gateway)}
	}
	return out
}

// routerSeed is the write-up's Vyatta configuration with router r's WAN
// address.
func (t topology) routerSeed(r int) string {
	return strings.ReplaceAll(routersim.SeedVyatta2013, world.RouterWANIP+"/32", t.ip(t.routerIP(r))+"/32")
}

// startRouters starts the routers beyond the world's own, which is router 0.
func (t topology) startRouters(w *world.World) ([]*routersim.Router, error) {
	routers := []*routersim.Router{w.Router}
	for r := 1; r < t.Routers; r++ {
		rt, err := routersim.New(routersim.Vyatta65, routersim.Options{Seed: t.routerSeed(r), Gateway: world.Gateway})
		if err != nil {
			return nil, err
		}
		if err := rt.Start(); err != nil {
			return nil, err
		}
		routers = append(routers, rt)
	}
	return routers, nil
}

// secrets are the world's three Secrets plus one per extra router (each
// router has its own host key, pinned in its Secret).
func (t topology) secrets(w *world.World, routers []*routersim.Router) []byte {
	var out bytes.Buffer
	out.Write(w.Secrets())
	for r := 1; r < len(routers); r++ {
		writeDoc(&out, map[string]any{
			"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata": map[string]any{"name": t.routerSecret(r)},
			"stringData": map[string]string{
				"username": routers[r].Username(), "password": routers[r].Password(), "hostKey": routers[r].HostKeyLine(),
			},
		})
	}
	return out.Bytes()
}

func (t topology) routerSecret(r int) string {
	if r == 0 {
		return "router-credentials" // the world's own
	}
	return fmt.Sprintf("router-credentials-%02d", r)
}

// objects renders every FailoverIP, BridgedVM and RouterConfig as one
// multi-document manifest, the shapes of config/samples.
func (t topology) objects(routers []*routersim.Router) []byte {
	var out bytes.Buffer
	for i := range t.IPs {
		ovhConn := map[string]any{"credentialsSecretRef": map[string]any{"name": "ovh-credentials"}}
		if t.OVHSync > 0 {
			ovhConn["syncInterval"] = t.OVHSync.String()
		}
		writeDoc(&out, object("FailoverIP", t.fipName(i), map[string]any{
			"ip": t.ip(i), "server": t.ipServer(i),
			"virtualMAC": map[string]any{"type": "vmware", "vmName": t.vmName(i)},
			"ovh":        ovhConn,
		}))
	}
	for i := range t.vmCount() {
		esxiConn := map[string]any{"credentialsSecretRef": map[string]any{"name": "esxi-credentials"}}
		if t.ESXiResync > 0 {
			esxiConn["resyncInterval"] = t.ESXiResync.String()
		}
		writeDoc(&out, object("BridgedVM", t.bvmName(i), map[string]any{
			"esxi": esxiConn, "vmName": t.vmName(i),
			"nics": []any{map[string]any{
				"label": "Network adapter 1", "portGroup": esxisim.PortGroupWAN,
				"macFrom": map[string]any{"failoverIPRef": map[string]any{"name": t.fipName(i)}},
			}},
			"powerState": "PoweredOn", "allowPowerCycle": true,
		}))
	}
	for r := range t.Routers {
		fip := map[string]any{"failoverIPRef": map[string]any{"name": t.fipName(t.routerIP(r))}}
		health := map[string]any{"arpFloodThreshold": 16}
		if t.RouterHealth > 0 {
			health["interval"] = t.RouterHealth.String()
		}
		writeDoc(&out, object("RouterConfig", t.rtcName(r), map[string]any{
			"router": map[string]any{
				"driver": "ssh", "address": routers[r].SSHAddr(), "platform": "auto",
				"credentialsSecretRef": map[string]any{"name": t.routerSecret(r)},
			},
			"interfaces": []any{
				map[string]any{"name": "eth1", "description": "LAN", "addresses": []any{"10.0.10.254/24"}},
				map[string]any{"name": "eth2", "description": "WAN", "addressFrom": fip},
			},
			"wan": map[string]any{"interface": "eth2", "gatewayFrom": fip, "gatewayRouteMode": "Auto"},
			"nat": map[string]any{
				"source": []any{map[string]any{
					"rule": 10, "description": "NAT-LAN-TO-WAN", "outboundInterface": "eth2",
					"sourceAddress": "10.0.10.0/24", "translation": "masquerade",
				}},
				"destination": []any{map[string]any{
					"rule": 20, "description": "minecraft", "inboundInterface": "eth2",
					"protocol": "tcp", "port": 25565, "translationAddress": "10.0.10.10",
				}},
			},
			"health": health,
		}))
	}
	return out.Bytes()
}

func object(kind, name string, spec map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "ovhbridge.io/v1alpha1", "kind": kind,
		"metadata": map[string]any{"name": name}, "spec": spec,
	}
}

func writeDoc(out *bytes.Buffer, obj map[string]any) {
	b, err := yaml.Marshal(obj)
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	out.WriteString("---\n")
	out.Write(b)
}
