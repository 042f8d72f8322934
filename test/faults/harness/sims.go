package harness

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// The write-up's topology, in documentation ranges.
const (
	Server      = "ns123456.ip-198-51-100.eu"
	OtherServer = "ns654321.ip-192-0-2.eu"
	Gateway     = "198.51.100.254"
	WANIP       = "203.0.113.123" // the router's failover IP (VM vyatta)
	WebIP       = "203.0.113.124" // web1's failover IP
	WANMAC      = "00:50:56:00:00:01"
	WebMAC      = "00:50:56:00:00:02"

	// Recognisable credentials: a suite may grep for them in logs and
	// events to prove they never leak.
	OVHAppKey      = "fault-app-key"
	OVHAppSecret   = "fault-app-secret-MUST-NOT-LEAK"
	OVHConsumerKey = "fault-consumer-key-MUST-NOT-LEAK"

	// Secret names the builders refer to.
	OVHSecretName    = "ovh"
	ESXiSecretName   = "esxi"
	RouterSecretName = "router"
)

// SeedOVH is the write-up's OVH side: the ESXi server and another one; the
// router's IP routed there and bound to its vmware virtual MAC, web1's IP
// routed there without one.
func SeedOVH() ovhsim.World {
	return ovhsim.World{
		Applications: []ovhsim.Application{{Key: OVHAppKey, Secret: OVHAppSecret, ConsumerKeys: []string{OVHConsumerKey}}},
		Servers: []ovhsim.DedicatedServer{
			{Name: Server, MainIP: "198.51.100.17"},
			{Name: OtherServer, MainIP: "192.0.2.10"},
		},
		IPs: []ovhsim.IP{{IP: WANIP, RoutedTo: Server}, {IP: WebIP, RoutedTo: Server}},
		VirtualMACs: []ovhsim.VirtualMAC{{Server: Server, MAC: WANMAC, Type: "vmware",
			Addresses: []ovhsim.VirtualAddress{{IP: WANIP, VirtualMachineName: "vyatta"}}}},
	}
}

// OVH starts the OVH simulator (opts.World defaults to SeedOVH) and creates
// the credentials Secret "ovh" in ns.
func OVH(t *testing.T, ns string, opts ovhsim.Options) *ovhsim.Server {
	t.Helper()
	if opts.World.Servers == nil {
		opts.World = SeedOVH()
	}
	sim, err := ovhsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	Create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: OVHSecretName},
		StringData: map[string]string{
			"endpoint": sim.Endpoint(), "applicationKey": OVHAppKey,
			"applicationSecret": OVHAppSecret, "consumerKey": OVHConsumerKey,
		},
	})
	return sim
}

// ESXi starts a simulated ESXi host and creates its credentials Secret
// "esxi" in ns (thumbprint pinned).
func ESXi(t *testing.T, ns string, opts esxisim.Options) *esxisim.Harness {
	t.Helper()
	h := esxisim.StartT(t, opts)
	Create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ESXiSecretName}, Data: h.SecretData()})
	return h
}

// Router starts a simulated router and creates its credentials Secret
// "router" in ns (host key and, for VyOS, the API key and CA pinned).
func Router(t *testing.T, ns string, profile routersim.Profile, opts routersim.Options) *routersim.Router {
	t.Helper()
	if opts.Gateway == "" {
		opts.Gateway = Gateway
	}
	sim, err := routersim.New(profile, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	data := map[string]string{"username": sim.Username(), "password": sim.Password(), "hostKey": sim.HostKeyLine()}
	if profile != routersim.Vyatta65 {
		data["apiKey"] = sim.APIKey()
		data["ca.crt"] = string(sim.CACertPEM())
	}
	Create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: RouterSecretName}, StringData: data})
	return sim
}

// FailoverIP is ip routed to Server, polled every second, with a vmware
// virtual MAC for vm when vm is not empty.
func FailoverIP(ns, name, ip, vm string) *v1.FailoverIP {
	f := &v1.FailoverIP{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.FailoverIPSpec{
			IP: ip, Server: Server,
			OVH: v1.OVHConnection{
				CredentialsSecretRef: v1.SecretReference{Name: OVHSecretName},
				SyncInterval:         &metav1.Duration{Duration: time.Second},
			},
		},
	}
	if vm != "" {
		f.Spec.VirtualMAC = &v1.VirtualMACSpec{Type: v1.VirtualMACVMware, VMName: vm}
	}
	return f
}

// BridgedVM manages vm's NIC label on port group pg with mac (empty: leave
// the MAC alone), power cycles allowed; the ESXi resync is slow so that
// only change events (or the fault's own retry) bring it back.
func BridgedVM(ns, name, vm, label, pg, mac string) *v1.BridgedVM {
	return &v1.BridgedVM{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.BridgedVMSpec{
			ESXi: v1.ESXiConnection{
				CredentialsSecretRef: v1.SecretReference{Name: ESXiSecretName},
				ResyncInterval:       &metav1.Duration{Duration: 10 * time.Minute},
			},
			VMName: vm, AllowPowerCycle: true,
			NICs: []v1.NICSpec{{Label: label, PortGroup: pg, MAC: mac}},
		},
	}
}

// RouterConfig is the write-up's router configuration (LAN, WAN /32 with
// the gateway route, masquerade and two port forwards) for sim, over driver,
// health checked every second.
func RouterConfig(ns, name string, sim *routersim.Router, driver v1.RouterDriver) *v1.RouterConfig {
	addr := sim.SSHAddr()
	if driver == v1.DriverVyOSAPI {
		addr = sim.APIURL()
	}
	return RouterConfigAt(ns, name, addr, driver)
}

// RouterConfigAt is RouterConfig for a router at addr (host:port for ssh, the
// API's URL for vyos-api), which need not be listening yet.
func RouterConfigAt(ns, name, addr string, driver v1.RouterDriver) *v1.RouterConfig {
	return &v1.RouterConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.RouterConfigSpec{
			Router: v1.RouterConnection{Driver: driver, Address: addr, Platform: v1.PlatformAuto,
				CredentialsSecretRef: v1.SecretReference{Name: RouterSecretName}},
			Interfaces: []v1.RouterInterface{
				{Name: "eth1", Addresses: []string{"10.0.10.254/24"}, Description: "LAN"},
				{Name: "eth2", Addresses: []string{WANIP + "/32"}, Description: "WAN"},
			},
			WAN: v1.WANSpec{Interface: "eth2", Gateway: Gateway, GatewayRouteMode: v1.GatewayRouteAuto},
			NAT: v1.NATSpec{
				Source: []v1.SourceNATRule{{Rule: 10, Description: "NAT-LAN-TO-WAN", OutboundInterface: "eth2",
					SourceAddress: "10.0.10.0/24", Translation: "masquerade"}},
				Destination: []v1.DestinationNATRule{
					{Rule: 20, Description: "minecraft", InboundInterface: "eth2", Protocol: "tcp", Port: 25565, TranslationAddress: "10.0.10.10"},
					{Rule: 21, Description: "subsonic", InboundInterface: "eth2", Protocol: "tcp", Port: 4040, TranslationAddress: "10.0.10.11"},
				},
			},
			Health: v1.HealthSpec{Interval: &metav1.Duration{Duration: time.Second}, ARPFloodThreshold: 8},
		},
	}
}
