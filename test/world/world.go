// Package world brings up the seed write-up's whole environment on loopback —
// the OVH API, the ESXi host and the Vyatta router, each simulated — and
// renders config/samples against it. `make demo`, the e2e tests and the
// benchmarks all start from here, so the three see the same world.
package world

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// The seed topology, in documentation address ranges.
const (
	Server       = "ns123456.ip-198-51-100.eu"
	ServerMainIP = "198.51.100.17"
	Gateway      = "198.51.100.254"
	OtherServer  = "ns654321.ip-192-0-2.eu"
	RouterWANIP  = "203.0.113.123"
	WebWANIP     = "203.0.113.124"

	// The server's IPv6 block (OVH gives every dedicated server one, read
	// into FailoverIP status.ipv6), its gateway by OVH's older ranges' rule
	// (the OVH simulator's ipv6Gateway: the /56's last addresses), and
	// web1's address in it, which its guest holds on the WAN interface with
	// the routes OVH's IPv6 guide adds.
	ServerIPv6Block   = "2001:db8:1:1::/64"
	ServerIPv6Gateway = "2001:db8:1:ff:ff:ff:ff:ff"
	WebWANIPv6        = "2001:db8:1:1::124/64"

	ovhAppKey      = "demo-application-key"
	ovhAppSecret   = "demo-application-secret"
	ovhConsumerKey = "demo-consumer-key"
)

// Options tune the world. Zero values give the demo's settings.
type Options struct {
	// OVHTaskFunctions names OVH's virtual MAC tasks (zero: the simulator's
	// defaults); OVH's schema lists two names for each.
	OVHTaskFunctions ovhsim.TaskFunctions
	// OVHMoveDuration and OVHVirtualMACDuration are how long OVH tasks
	// take (OVH: about a minute for a move; the demo does not wait that).
	OVHMoveDuration, OVHVirtualMACDuration time.Duration
	// OVHVirtualMACReappearDelay is how long a moved block's virtual MACs
	// stay hidden after the move (ovhsim.Options.VirtualMACReappearDelay).
	OVHVirtualMACReappearDelay time.Duration
	// RouterProfile is the router release (default vyatta-6.5), configured
	// from RouterSeed (default: the 2013 write-up's configuration).
	RouterProfile routersim.Profile
	RouterSeed    string
	// Traffic keeps the router sending to random Internet destinations, as
	// a real one does, which under the seed's bug floods its ARP table.
	Traffic bool
	// RouterNetns, when set, runs the router on the real kernel in
	// namespaces of that name (routersim.Options.Netns; needs root).
	RouterNetns string
	// ExtraVMs adds one-NIC VMs to the ESXi host (benchmarks).
	ExtraVMs int
	// ESXiVMs, when set, replace the seed's VMs (vyatta, web1): benchmarks
	// create VMs that already carry their virtual MACs.
	ESXiVMs []esxisim.VMSpec
	// OVH is the world OVH starts from; default: the seed's, with the
	// router's IP routed to another server (drift to fix at start).
	OVH *ovhsim.World
	// Credentials replace the demo's (the security suite uses recognisable
	// values, then looks for them where they must never appear).
	Credentials *Credentials
}

// Credentials are the secret halves of the world's credentials.
type Credentials struct {
	OVHApplicationSecret, OVHConsumerKey string
	ESXiPassword                         string
	RouterUsername, RouterPassword       string
}

// World is the running environment.
type World struct {
	OVH    *ovhsim.Server
	ESXi   *esxisim.Harness
	Router *routersim.Router

	// ESXiAdminURL and RouterAdminURL serve HTTP admin surfaces for
	// out-of-band changes (OVH's is under OVH.URL()+"/_sim/").
	ESXiAdminURL, RouterAdminURL string

	ovhAppSecret, ovhConsumerKey string

	servers []*http.Server
	stop    chan struct{}
	wg      sync.WaitGroup
}

// SeedOVH is the OVH side of the seed: the ESXi server and another one,
// the web IP routed to the ESXi server, the router's routed elsewhere; no
// virtual MACs yet. The web server's name (the samples' web-wan
// spec.reverse) resolves to its IP, as OVH requires before setting the
// reverse.
func SeedOVH() ovhsim.World {
	return ovhsim.World{
		Applications: []ovhsim.Application{{Key: ovhAppKey, Secret: ovhAppSecret, ConsumerKeys: []string{ovhConsumerKey}}},
		Servers: []ovhsim.DedicatedServer{
			{Name: Server, MainIP: ServerMainIP, IPv6: ServerIPv6Block},
			{Name: OtherServer, MainIP: "192.0.2.10"},
		},
		IPs: []ovhsim.IP{{IP: RouterWANIP, RoutedTo: OtherServer}, {IP: WebWANIP, RoutedTo: Server}},
		DNS: []ovhsim.DNSRecord{{Name: "www.example.com", Addresses: []string{WebWANIP}}},
	}
}

// WebGuest is web1's guest as configured in the seed: the write-up's IPv4
// (the failover IP as a /32, the route to the gateway, the default via it)
// and IPv6 from the server's block, dual stack.
func WebGuest() *esxisim.GuestNetwork {
	return esxisim.WriteUpGuest(WebWANIP, Gateway).WithIPv6(WebWANIPv6, ServerIPv6Gateway)
}

// SeedVMs are the ESXi host's VMs in the seed (esxisim's defaults), web1
// dual stack.
func SeedVMs() []esxisim.VMSpec {
	vms := esxisim.DefaultVMs(true)
	for i := range vms {
		if vms[i].Name == "web1" {
			vms[i].Guest = WebGuest()
		}
	}
	return vms
}

// Start brings the three simulators up.
func Start(opts Options) (w *World, err error) {
	if opts.OVHMoveDuration == 0 {
		opts.OVHMoveDuration = 3 * time.Second
	}
	if opts.OVHVirtualMACDuration == 0 {
		opts.OVHVirtualMACDuration = time.Second
	}
	if opts.RouterProfile == "" {
		opts.RouterProfile = routersim.Vyatta65
		if opts.RouterSeed == "" {
			opts.RouterSeed = routersim.SeedVyatta2013
		}
	}
	seed := SeedOVH()
	if opts.OVH != nil {
		seed = *opts.OVH
	}
	w = &World{stop: make(chan struct{}), ovhAppSecret: ovhAppSecret, ovhConsumerKey: ovhConsumerKey}
	var esxiPassword string
	routerOpts := routersim.Options{Seed: opts.RouterSeed, Gateway: Gateway, Netns: opts.RouterNetns}
	if c := opts.Credentials; c != nil {
		w.ovhAppSecret, w.ovhConsumerKey = c.OVHApplicationSecret, c.OVHConsumerKey
		seed.Applications = []ovhsim.Application{{Key: ovhAppKey, Secret: c.OVHApplicationSecret, ConsumerKeys: []string{c.OVHConsumerKey}}}
		esxiPassword = c.ESXiPassword
		routerOpts.Username, routerOpts.Password = c.RouterUsername, c.RouterPassword
	}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if w.OVH, err = ovhsim.New(ovhsim.Options{World: seed, MoveDuration: opts.OVHMoveDuration, TaskFunctions: opts.OVHTaskFunctions,
		VirtualMACDuration: opts.OVHVirtualMACDuration, VirtualMACReappearDelay: opts.OVHVirtualMACReappearDelay}); err != nil {
		return nil, err
	}
	if err = w.OVH.Start(); err != nil {
		return nil, err
	}
	vms := opts.ESXiVMs
	if vms == nil {
		vms = SeedVMs()
	}
	if w.ESXi, err = esxisim.Start(esxisim.Options{PoweredOn: true, ExtraVMs: opts.ExtraVMs, VMs: vms, Password: esxiPassword}); err != nil {
		return nil, err
	}
	if w.Router, err = routersim.New(opts.RouterProfile, routerOpts); err != nil {
		return nil, err
	}
	if err = w.Router.Start(); err != nil {
		return nil, err
	}
	if w.ESXiAdminURL, err = w.serve(w.ESXi.AdminHandler()); err != nil {
		return nil, err
	}
	if w.RouterAdminURL, err = w.serve(routerAdmin(w.Router)); err != nil {
		return nil, err
	}
	if opts.Traffic {
		w.sendTraffic(8) // a router that has been up a while
		w.wg.Add(1)
		go w.traffic()
	}
	return w, nil
}

func (w *World) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	w.servers = append(w.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// traffic makes the router talk to a few Internet hosts (documentation
// ranges) every half second, as its LAN clients would.
func (w *World) traffic() {
	defer w.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.sendTraffic(3)
		}
	}
}

func (w *World) sendTraffic(n int) {
	var dsts []string
	for range n {
		dsts = append(dsts, fmt.Sprintf("192.0.2.%d", 1+rand.IntN(253)), fmt.Sprintf("203.0.113.%d", 1+rand.IntN(100)))
	}
	_ = w.Router.InjectTraffic(dsts...)
}

// Close stops everything.
func (w *World) Close() {
	select {
	case <-w.stop:
		return
	default:
		close(w.stop)
	}
	w.wg.Wait()
	for _, s := range w.servers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	if w.Router != nil {
		w.Router.Close()
	}
	if w.ESXi != nil {
		w.ESXi.Close()
	}
	if w.OVH != nil {
		w.OVH.Close()
	}
}

// Failure is one of the seed's failures, done out of band.
type Failure struct {
	Name string
	// Object and Reason are the object that must report it and the Ready
	// reasons that count as having noticed it.
	Kind, Object string
	Reasons      []string
	Do           func(context.Context) error
}

// Failures are the seed's failures, in the order the demo replays them,
// and IPv6's version of the write-up's: the router's IPv6 default route
// without its gateway, soliciting every IPv6 destination (not in kernel
// mode, whose namespaces carry no IPv6 gateway).
func (w *World) Failures() []Failure {
	fs := w.failures4()
	if _, _, kernel := w.Router.Kernel(); !kernel {
		fs = append(fs, Failure{
			Name: "the router's IPv6 default route loses its gateway while it talks over IPv6 (NDP flood)",
			Kind: "routerconfig", Object: "edge",
			Reasons: []string{"DefaultRoute6WithoutGateway", "NDPFlood", "GatewayNDPMissing", "GatewayRoute6Missing"},
			Do: func(context.Context) error {
				if out, code := w.Router.RunIP("-6", "route", "replace", "default", "dev", "eth2"); code != 0 {
					return fmt.Errorf("ip -6 route replace default dev eth2: %s", out)
				}
				var dsts []string
				for i := 1; i <= 24; i++ {
					dsts = append(dsts, fmt.Sprintf("2001:db8:ffff::%x", i))
				}
				return w.Router.InjectTraffic(dsts...)
			},
		})
	}
	return fs
}

func (w *World) failures4() []Failure {
	return []Failure{
		{
			Name: "the router's failover IP is moved to another server in the OVH manager",
			Kind: "failoverip", Object: "router-wan", Reasons: []string{"RoutedElsewhere", "MoveInProgress"},
			Do: func(context.Context) error { return w.OVH.MoveIP(RouterWANIP, OtherServer) },
		},
		{
			Name: "the router VM is restored from a backup and its WAN NIC comes back with another MAC",
			Kind: "bridgedvm", Object: "vyatta", Reasons: []string{"MACMismatch", "PowerOffRequired"},
			Do: func(context.Context) error {
				return w.ESXi.RestoreNICMAC("vyatta", "Network adapter 2", "00:50:56:3f:00:99")
			},
		},
		{
			Name: "someone deletes the default route on the router",
			Kind: "routerconfig", Object: "edge", Reasons: []string{"GatewayRouteMissing", "DefaultRouteWithoutGateway"},
			Do: func(context.Context) error {
				if !w.Router.DeleteRoute("default") {
					return errors.New("the router has no default route to delete")
				}
				return nil
			},
		},
		{
			Name: "the router reboots after its boot script was deleted",
			Kind: "routerconfig", Object: "edge", Reasons: []string{"GatewayRouteMissing", "BootScriptMissing"},
			Do: func(context.Context) error {
				w.Router.DeleteBootScript()
				return w.Router.Reboot()
			},
		},
	}
}
