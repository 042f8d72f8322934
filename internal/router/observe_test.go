package router_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/internal/router"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// A health check over SSH is one exec session once the platform is known,
// and reads exactly what the one-call-per-item methods read; over the HTTP
// API it is three calls (configuration, routes, neighbours).
func TestObserveIsOneSessionAndReadsTheSame(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		profile  routersim.Profile
		platform router.Platform
		mode     router.GatewayRouteMode
	}{
		{routersim.Vyatta65, router.Vyatta6, router.BootScriptMode},
		{routersim.VyOS13, router.VyOS13, router.InterfaceRouteMode},
		{routersim.VyOS14, router.VyOS14, router.InterfaceRouteMode},
	} {
		t.Run(string(c.profile), func(t *testing.T) {
			opts := routersim.Options{}
			if c.profile == routersim.Vyatta65 {
				opts.Seed = routersim.SeedVyatta2013 // the flood, the boot script missing
			}
			sim := startSim(t, c.profile, opts)
			if err := sim.InjectTraffic(traffic...); err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			rend, err := router.Render(c.platform, seedDesired(c.mode))
			if err != nil {
				t.Fatal(err)
			}
			req := router.ObserveRequest{Owned: rend.Owned, BootScript: c.mode == router.BootScriptMode, Dev: wan}

			// The platform known (the status of an earlier pass): one session.
			d, err := router.New(router.Endpoint{Kind: router.SSH, Address: sim.SSHAddr(), Platform: c.platform}, sshSecret(sim))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			before := sim.Calls()
			ob, err := router.Observe(ctx, d, req)
			if err != nil {
				t.Fatal(err)
			}
			after := sim.Calls()
			if n := after["ssh.exec"] - before["ssh.exec"]; n != 1 {
				t.Errorf("%d exec sessions for one health check, want 1", n)
			}
			if n := after["ssh.connect"] - before["ssh.connect"]; n != 1 {
				t.Errorf("%d SSH connections for one health check, want 1", n)
			}
			if ob.Info.Platform != c.platform || ob.Info.Version == "" {
				t.Errorf("platform read in the same session: %+v", ob.Info)
			}

			// The same reads, one call each.
			each := connect(t, router.SSH, sim, sshSecret(sim))
			running, err := each.ReadConfig(ctx, rend.Owned)
			if err != nil {
				t.Fatal(err)
			}
			saved, err := each.ReadSavedConfig(ctx, rend.Owned)
			if err != nil {
				t.Fatal(err)
			}
			routes, err := each.Routes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			neigh, err := each.Neighbours(ctx, wan)
			if err != nil {
				t.Fatal(err)
			}
			if !ob.Running.Equal(running) || !ob.SavedKnown || !ob.Saved.Equal(saved) ||
				!reflect.DeepEqual(ob.Routes, routes) || !reflect.DeepEqual(ob.Neighbours, neigh) {
				t.Errorf("Observe read otherwise than the single calls:\n%+v\nrunning %v\nsaved %v\nroutes %v\nneighbours %v",
					ob, running, saved, routes, neigh)
			}
			if req.BootScript {
				boot, err := each.BootScript(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if ob.Boot != boot {
					t.Errorf("boot script %+v, single call %+v", ob.Boot, boot)
				}
			}
		})
	}
}

// A router that is not the platform the driver was given (upgraded since
// the last look) is reported, not misread.
func TestObserveNoticesAnotherPlatform(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS14, routersim.Options{})
	d, err := router.New(router.Endpoint{Kind: router.SSH, Address: sim.SSHAddr(), Platform: router.VyOS13}, sshSecret(sim))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = router.Observe(testCtx(t), d, router.ObserveRequest{Dev: wan})
	var m *router.PlatformMismatch
	if !errors.As(err, &m) || m.Expected != router.VyOS13 || m.Found.Platform != router.VyOS14 {
		t.Fatalf("Observe on a 1.4 router read as 1.3: %v", err)
	}
}
