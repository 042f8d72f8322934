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
	// APIRouters are how many of the routers, the last ones, run VyOS 1.5
	// and are driven through its HTTP API instead of SSH.
	APIRouters int
	// VMs is how many of the IPs, from the first, have a BridgedVM and an
	// ESXi VM; zero means all of them.
	VMs int
	// MACs is how many of the IPs, from the first, have a virtual MAC at
	// OVH (and ask for one); zero means all of them. The others are plain
	// routed failover IPs.
	MACs int
	// FIPsOnly leaves out the BridgedVMs and RouterConfigs (the OVH budget
	// phase measures FailoverIPs alone).
	FIPsOnly bool
	// Accounts are the OVH accounts (one consumer key and Secret each) the
	// servers are spread over, server s in account s mod Accounts; Hosts
	// the ESXi hosts (one endpoint and Secret each), VM i on host i mod
	// Hosts. Zero means one.
	Accounts, Hosts int
	Namespace       string

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

// docIPs is how many failover IPs the documentation ranges hold here.
const docIPs = 508

// ip is the i-th failover IP: 203.0.113.1-254, then 192.0.2.1-254 (the
// documentation ranges, RFC 5737); a topology of more IPs than they hold
// takes them all from the benchmarking range 198.18.0.0/15 (RFC 2544),
// 254 per /24 (198.18.0.1-254, 198.18.1.1-254, ...). Neither is routed on
// the Internet, and these addresses only ever exist in the simulators.
func (t topology) ip(i int) string {
	if t.IPs > docIPs {
		n := i / 254
		return fmt.Sprintf("198.%d.%d.%d", 18+n/256, n%256, i%254+1)
	}
	if i < 254 {
		return fmt.Sprintf("203.0.113.%d", i+1)
	}
	return fmt.Sprintf("192.0.2.%d", i-254+1)
}

func (t topology) serverOf(i int) int    { return i % t.Servers }
func (t topology) ipServer(i int) string { return t.server(t.serverOf(i)) }

// account is the OVH account of server s; host the ESXi host of VM i.
func (t topology) account(s int) int { return s % max(t.Accounts, 1) }
func (t topology) host(i int) int    { return i % max(t.Hosts, 1) }

// mac is the VMware-range virtual MAC of the i-th failover IP.
func (t topology) mac(i int) string { return fmt.Sprintf("00:50:56:0a:%02x:%02x", i>>8, i&0xff) }

func (t topology) fipName(i int) string { return fmt.Sprintf("fip-%03d", i) }
func (t topology) bvmName(i int) string { return fmt.Sprintf("bvm-%03d", i) }
func (t topology) vmName(i int) string  { return fmt.Sprintf("vm-%04d", i+1) }
func (t topology) rtcName(r int) string { return fmt.Sprintf("rtc-%02d", r) }

// routerIP is the index of the failover IP router r's WAN uses.
func (t topology) routerIP(r int) int { return t.IPs - t.Routers + r }

// apiRouter reports whether router r is driven through the VyOS HTTP API.
func (t topology) apiRouter(r int) bool { return r >= t.Routers-t.APIRouters }

func (t topology) validate() error {
	switch {
	case t.Servers < 1 || t.Servers > 80:
		return fmt.Errorf("between 1 and 80 servers (main IPs 198.51.100.17-97), not %d", t.Servers)
	case t.IPs < 1 || t.IPs > 254*512:
		return fmt.Errorf("between 1 and %d failover IPs (198.18.0.0/15), not %d", 254*512, t.IPs)
	case t.Routers > t.IPs:
		return fmt.Errorf("%d routers need as many failover IPs, have %d", t.Routers, t.IPs)
	case t.APIRouters < 0 || (t.Routers > 0 && t.APIRouters >= t.Routers):
		return fmt.Errorf("%d API routers: router 0 (the world's own) is reached over SSH", t.APIRouters)
	case t.macCount() < t.vmCount():
		return fmt.Errorf("%d VMs need as many virtual MACs, have %d", t.vmCount(), t.macCount())
	case t.FIPsOnly && t.Routers > 0:
		return fmt.Errorf("a FailoverIP-only topology has no routers")
	}
	return nil
}

func (t topology) macCount() int {
	if t.MACs > 0 {
		return min(t.MACs, t.IPs)
	}
	return t.IPs
}

// The OVH applications of the accounts: account a signs with these.
func appKey(a int) string      { return fmt.Sprintf("bench-application-%d", a) }
func appSecret(a int) string   { return fmt.Sprintf("bench-application-secret-%d", a) }
func consumerKey(a int) string { return fmt.Sprintf("bench-consumer-key-%d", a) }

// ovhWorld is OVH as the operator finds it: every IP routed to its server
// and, for the first macCount, bound to its VM's virtual MAC.
func (t topology) ovhWorld() ovhsim.World {
	var w ovhsim.World
	for a := range max(t.Accounts, 1) {
		w.Applications = append(w.Applications, ovhsim.Application{
			Key: appKey(a), Secret: appSecret(a), ConsumerKeys: []string{consumerKey(a)}})
	}
	for s := range t.Servers {
		w.Servers = append(w.Servers, ovhsim.DedicatedServer{Name: t.server(s), MainIP: t.mainIP(s)})
	}
	w.Servers = append(w.Servers, ovhsim.DedicatedServer{Name: elsewhere, MainIP: "198.51.100.99"})
	for i := range t.IPs {
		w.IPs = append(w.IPs, ovhsim.IP{IP: t.ip(i), RoutedTo: t.ipServer(i)})
		if i < t.macCount() {
			w.VirtualMACs = append(w.VirtualMACs, ovhsim.VirtualMAC{
				Server: t.ipServer(i), MAC: t.mac(i), Type: "vmware",
				Addresses: []ovhsim.VirtualAddress{{IP: t.ip(i), VirtualMachineName: t.vmName(i)}},
			})
		}
	}
	return w
}

func (t topology) vmCount() int {
	switch {
	case t.FIPsOnly:
		return 0
	case t.VMs > 0:
		return min(t.VMs, t.IPs)
	}
	return t.IPs
}

// vms are host h's ESXi VMs, powered on, each with one NIC on WAN carrying
// its failover IP's virtual MAC and a guest configured as the write-up
// says.
func (t topology) vms(h int) []esxisim.VMSpec {
	out := []esxisim.VMSpec{}
	for i := range t.vmCount() {
		if t.host(i) == h {
			out = append(out, esxisim.VMSpec{Name: t.vmName(i), PoweredOn: true,
				NICs:  []esxisim.NICSpec{{PortGroup: esxisim.PortGroupWAN, MAC: t.mac(i)}},
				Guest: esxisim.WriteUpGuest(t.ip(i), world.Gateway)})
		}
	}
	return out
}

// routerSeed is the write-up's Vyatta configuration with router r's WAN
// address.
func (t topology) routerSeed(r int) string {
	return strings.ReplaceAll(routersim.SeedVyatta2013, world.RouterWANIP+"/32", t.ip(t.routerIP(r))+"/32")
}

// startRouters starts the routers beyond the world's own, which is router 0:
// Vyatta 6.5 from the write-up's configuration, and the API routers VyOS
// 1.5 from its default one (SSH and the HTTP API on; the RouterConfig
// configures the rest).
func (t topology) startRouters(w *world.World) ([]*routersim.Router, error) {
	routers := []*routersim.Router{w.Router}
	for r := 1; r < t.Routers; r++ {
		profile, opts := routersim.Vyatta65, routersim.Options{Seed: t.routerSeed(r), Gateway: world.Gateway}
		if t.apiRouter(r) {
			profile, opts = routersim.VyOS15, routersim.Options{Gateway: world.Gateway}
		}
		rt, err := routersim.New(profile, opts)
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

// secrets are the credentials of every OVH account (endpoint: the OVH
// simulator behind the bench's request log), every ESXi host and every
// router (each router has its own host key, pinned in its Secret).
func (t topology) secrets(ovhEndpoint string, hosts []*esxisim.Harness, routers []*routersim.Router) []byte {
	var out bytes.Buffer
	for a := range max(t.Accounts, 1) {
		writeDoc(&out, secret(t.ovhSecret(a), map[string]string{
			"endpoint": ovhEndpoint, "applicationKey": appKey(a),
			"applicationSecret": appSecret(a), "consumerKey": consumerKey(a),
		}))
	}
	for h, hs := range hosts {
		data := map[string]string{}
		for k, v := range hs.SecretData() {
			data[k] = string(v)
		}
		writeDoc(&out, secret(t.esxiSecret(h), data))
	}
	for r, rt := range routers {
		data := map[string]string{"username": rt.Username(), "password": rt.Password(), "hostKey": rt.HostKeyLine()}
		if t.apiRouter(r) {
			data["apiKey"], data["ca.crt"] = rt.APIKey(), string(rt.CACertPEM())
		}
		writeDoc(&out, secret(t.routerSecret(r), data))
	}
	return out.Bytes()
}

func secret(name string, data map[string]string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": name}, "stringData": data,
	}
}

func (t topology) ovhSecret(a int) string {
	if a == 0 {
		return "ovh-credentials"
	}
	return fmt.Sprintf("ovh-credentials-%02d", a)
}

func (t topology) esxiSecret(h int) string {
	if h == 0 {
		return "esxi-credentials"
	}
	return fmt.Sprintf("esxi-credentials-%02d", h)
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
		ovhConn := map[string]any{"credentialsSecretRef": map[string]any{"name": t.ovhSecret(t.account(t.serverOf(i)))}}
		if t.OVHSync > 0 {
			ovhConn["syncInterval"] = t.OVHSync.String()
		}
		spec := map[string]any{"ip": t.ip(i), "server": t.ipServer(i), "ovh": ovhConn}
		if i < t.macCount() {
			spec["virtualMAC"] = map[string]any{"type": "vmware", "vmName": t.vmName(i)}
		}
		writeDoc(&out, object("FailoverIP", t.fipName(i), spec))
	}
	for i := range t.vmCount() {
		esxiConn := map[string]any{"credentialsSecretRef": map[string]any{"name": t.esxiSecret(t.host(i))}}
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
		driver, address := "ssh", "127.0.0.1:22" // no routers: the apply phase only
		if t.apiRouter(r) {
			driver, address = "vyos-api", "https://127.0.0.1:443"
		}
		if routers != nil {
			address = routers[r].SSHAddr()
			if t.apiRouter(r) {
				address = routers[r].APIURL()
			}
		}
		writeDoc(&out, object("RouterConfig", t.rtcName(r), map[string]any{
			"router": map[string]any{
				"driver": driver, "address": address, "platform": "auto",
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

// objectCount is how many objects objects renders.
func (t topology) objectCount() int { return t.IPs + t.vmCount() + t.Routers }

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
