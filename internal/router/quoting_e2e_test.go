package router_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/router"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// An apostrophe, double quotes and a backslash in descriptions, owned by the
// operator and not, on every profile and transport: the router prints them
// unescaped (cli-shell-api --show-commands, and config.boot up to 1.3), and
// the drivers still converge in one commit, read back what they wrote, see
// the saved configuration equal to the running one, and leave the
// unowned values alone. A double quote in a value the operator owns is
// refused (render.go checkRoundTrip: up to 1.3 the saved file would not load
// at the next boot, from 1.4 the commit's scripts could not read it), so the
// owned description has apostrophes only; on 1.4+ it survives a reboot.
func TestQuotesInDescriptionsConverge(t *testing.T) {
	const (
		quoted     = `Bob's "LAN" side`
		apostrophe = `Bob's 'LAN' side`
		unowned    = `Bob's "mgmt" port`
		backslash  = `C:\wan\uplink`
	)
	seed := "set interfaces ethernet eth0 description \"Bob's \\\"mgmt\\\" port\"\n" +
		"set interfaces ethernet eth3 description 'C:\\wan\\uplink'\n"
	for _, p := range routersim.Profiles {
		for _, kind := range []router.Kind{router.SSH, router.VyOSAPI} {
			if kind == router.VyOSAPI && p == routersim.Vyatta65 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", p, kind), func(t *testing.T) {
				t.Parallel()
				sim := startSim(t, p, routersim.Options{})
				if err := sim.SetConfig(strings.Split(strings.TrimSpace(seed), "\n")...); err != nil {
					t.Fatal(err)
				}
				d := drivers(t, sim)[kind]
				ctx := testCtx(t)
				info, err := d.Probe(ctx)
				if err != nil {
					t.Fatal(err)
				}
				want := seedDesired(info.Platform.DefaultGatewayRouteMode())
				want.Interfaces[0].Description = quoted
				if _, err := router.Render(info.Platform, want); cause.KindOf(err) != cause.Invalid || !strings.Contains(err.Error(), "double quote") {
					t.Fatalf("a double quote rendered on %s: %v", info.Platform, err)
				}
				unloadable := p == routersim.Vyatta65 || p == routersim.VyOS13
				owned := apostrophe
				want.Interfaces[0].Description = owned
				rend, err := router.Render(info.Platform, want)
				if err != nil {
					t.Fatal(err)
				}
				commits := sim.Count("commit")
				converge(t, ctx, d, rend)
				if n := sim.Count("commit") - commits; n != 1 {
					t.Fatalf("%d commits", n)
				}
				back, err := d.ReadConfig(ctx, rend.Owned)
				if err != nil {
					t.Fatal(err)
				}
				if tx := router.Diff(back, rend.Config, rend.Owned); len(tx) != 0 {
					t.Fatalf("does not converge: %v", tx)
				}
				if !back.Contains(router.Path{"interfaces", "ethernet", "eth1", "description", owned}) {
					t.Fatalf("owned description read back as\n%s", strings.Join(back.Lines(), "\n"))
				}
				all, err := d.ReadConfig(ctx, []router.Path{{"interfaces"}})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range []router.Path{
					{"interfaces", "ethernet", "eth0", "description", unowned},
					{"interfaces", "ethernet", "eth3", "description", backslash},
				} {
					if !all.Contains(p) {
						t.Fatalf("unowned %q not read (or changed):\n%s", p, strings.Join(all.Lines(), "\n"))
					}
				}
				if kind == router.SSH {
					saved, err := d.ReadSavedConfig(ctx, rend.Owned)
					if err != nil {
						t.Fatal(err)
					}
					if fs := drift.RouterSavedConfig(back, saved); len(fs) != 0 {
						t.Fatalf("saved differs from running: %+v\n%s", fs, sim.SavedConfig())
					}
					savedAll, err := d.ReadSavedConfig(ctx, []router.Path{{"interfaces"}})
					if err != nil || !savedAll.Equal(all) {
						t.Fatalf("saved interfaces %v:\n%s", err, sim.SavedConfig())
					}
				}
				// The simulator prints as the real tools do: nothing escaped
				// in the cli-shell-api listing, nor in config.boot up to 1.3.
				listing := sim.CLIShellAPICommands()
				if !strings.Contains(listing, `set 'interfaces' 'ethernet' 'eth1' 'description' '`+owned+`'`) {
					t.Fatalf("listing:\n%s", listing)
				}
				savedText := sim.SavedConfig()
				if wantSaved := `description "` + owned + `"`; !strings.Contains(savedText, wantSaved) {
					t.Fatalf("config.boot lacks %s:\n%s", wantSaved, savedText)
				}
				if unloadable {
					// The unowned eth0 description someone set by hand
					// holds double quotes: saved along with the
					// operator's change, it makes this config.boot
					// unloadable, and the router reboots empty. Render
					// keeps the operator's own values out of this; what
					// others left in the running configuration is saved
					// as it is.
					var be *routersim.BootLoadError
					if err := sim.Reboot(); !errors.As(err, &be) || !strings.Contains(be.Output, `text [mgmt"]`) {
						t.Fatalf("reboot: %v, want the boot loader to reject eth0's description\n%s", err, savedText)
					}
					return
				}
				if err := sim.Reboot(); err != nil {
					t.Fatalf("reboot: %v\n%s", err, savedText)
				}
				// The reboot cut every connection: a new driver reads.
				after, err := drivers(t, sim)[kind].ReadConfig(ctx, rend.Owned)
				if err != nil {
					t.Fatal(err)
				}
				if !after.Contains(router.Path{"interfaces", "ethernet", "eth1", "description", owned}) {
					t.Fatalf("after a reboot the owned description reads\n%s", strings.Join(after.Lines(), "\n"))
				}
			})
		}
	}
}
