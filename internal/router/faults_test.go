package router_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/router"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

func otherHostKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ssh.NewPublicKey(pub)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestWrongHostKeyRefused(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS14, routersim.Options{Password: "s3cr3t-pa55word"})
	secret := sshSecret(sim)
	secret["hostKey"] = []byte(otherHostKey(t))
	d := connect(t, router.SSH, sim, secret)
	_, err := d.Probe(testCtx(t))
	if cause.KindOf(err) != cause.TrustFailure {
		t.Fatalf("got %v, want TrustFailure", err)
	}
	fp := ssh.FingerprintSHA256(sim.HostPublicKey())
	if !strings.Contains(err.Error(), fp) {
		t.Fatalf("message %q lacks the presented key's fingerprint %s", err, fp)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatal("error shows the password")
	}
	if n := sim.Count("ssh.exec"); n != 0 {
		t.Fatalf("%d commands ran on an untrusted host", n)
	}
	// Without a pinned key the driver is not even built, unless asked.
	delete(secret, "hostKey")
	if _, err := router.New(router.Endpoint{Kind: router.SSH, Address: sim.SSHAddr()}, secret); cause.KindOf(err) != cause.Invalid {
		t.Fatalf("no host key: %v", err)
	}
	secret["insecureSkipHostKeyVerification"] = []byte("true")
	if _, err := connect(t, router.SSH, sim, secret).Probe(testCtx(t)); err != nil {
		t.Fatalf("explicit opt-out: %v", err)
	}
}

func TestCredentialsRefused(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	sim := startSim(t, routersim.VyOS13, routersim.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	ctx := testCtx(t)

	secret := sshSecret(sim)
	secret["password"] = []byte("wrong-password")
	if _, err := connect(t, router.SSH, sim, secret).Probe(ctx); cause.KindOf(err) != cause.CredentialsInvalid {
		t.Fatalf("wrong password: %v", err)
	} else if strings.Contains(err.Error(), "wrong-password") {
		t.Fatal("error shows the password")
	}
	block, _ := ssh.MarshalPrivateKey(priv, "")
	keySecret := map[string][]byte{"username": []byte(sim.Username()), "privateKey": pem.EncodeToMemory(block), "hostKey": []byte(sim.HostKeyLine())}
	if _, err := connect(t, router.SSH, sim, keySecret).Probe(ctx); err != nil {
		t.Fatalf("public key authentication: %v", err)
	}

	api := apiSecret(sim)
	api["apiKey"] = []byte("not-the-key")
	if _, err := connect(t, router.VyOSAPI, sim, api).ReadConfig(ctx, nil); cause.KindOf(err) != cause.CredentialsInvalid {
		t.Fatalf("wrong API key: %v", err)
	} else if strings.Contains(err.Error(), "not-the-key") {
		t.Fatal("error shows the API key")
	}
}

func TestTLSTrust(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS15, routersim.Options{})
	other := startSim(t, routersim.VyOS15, routersim.Options{})
	ctx := testCtx(t)
	probe := func(secret map[string][]byte) error {
		_, err := connect(t, router.VyOSAPI, sim, secret).ReadConfig(ctx, nil)
		return err
	}
	if err := probe(apiSecret(sim)); err != nil {
		t.Fatalf("CA-verified: %v", err)
	}
	pinned := apiSecret(sim)
	pinned["ca.crt"] = sim.ServerCertPEM()
	if err := probe(pinned); err != nil {
		t.Fatalf("pinned server certificate: %v", err)
	}
	wrong := apiSecret(sim)
	wrong["ca.crt"] = other.CACertPEM()
	err := probe(wrong)
	if cause.KindOf(err) != cause.TrustFailure || !strings.Contains(err.Error(), "SHA256:") {
		t.Fatalf("wrong CA: %v", err)
	}
	wrongPin := apiSecret(sim)
	wrongPin["ca.crt"] = other.ServerCertPEM()
	if err := probe(wrongPin); cause.KindOf(err) != cause.TrustFailure {
		t.Fatalf("wrong pinned certificate: %v", err)
	}
	system := apiSecret(sim)
	delete(system, "ca.crt")
	if err := probe(system); cause.KindOf(err) != cause.TrustFailure {
		t.Fatalf("self-signed router against system roots: %v", err)
	}
	system["insecureSkipTLSVerify"] = []byte("true")
	if err := probe(system); err != nil {
		t.Fatalf("explicit opt-out: %v", err)
	}
}

func TestCommitFailureSurfacesAndNothingIsSaved(t *testing.T) {
	t.Parallel()
	for _, p := range []routersim.Profile{routersim.Vyatta65, routersim.VyOS13, routersim.VyOS14} {
		sim := startSim(t, p, routersim.Options{})
		for kind, d := range drivers(t, sim) {
			ctx := testCtx(t)
			info, err := d.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rend, _ := router.Render(info.Platform, router.Desired{
				SourceNAT: []router.SourceNATRule{{Rule: 10, OutboundInterface: wan, SourceAddress: "10.0.10.0/24"}},
			})
			saved := sim.SavedConfig()
			const text = "NAT configuration error in rule 10: translation address overlaps the WAN address"
			sim.FailCommit("nat source rule 10", text)
			obs, _ := d.ReadConfig(ctx, rend.Owned)
			err = d.Apply(ctx, router.Diff(obs, rend.Config, rend.Owned))
			if cause.KindOf(err) != cause.Invalid || !strings.Contains(err.Error(), text) {
				t.Fatalf("%s/%s: got %v, want Invalid with the router's text", p, kind, err)
			}
			running, err := d.ReadConfig(ctx, rend.Owned)
			if err != nil || len(running) != 0 {
				t.Fatalf("%s/%s: failed rule committed: %v %v", p, kind, running.Lines(), err)
			}
			if sim.SavedConfig() != saved {
				t.Fatalf("%s/%s: saved config changed by a failed commit", p, kind)
			}
		}
	}
}

// A commit that fails in one subtree commits the others (VyOS commits per
// subtree): the driver must report a failure even though the vbash commit
// exits 0, and the read-back shows what did go through.
func TestPartialCommitIsAFailure(t *testing.T) {
	t.Parallel()
	for _, kind := range []router.Kind{router.SSH, router.VyOSAPI} {
		sim := startSim(t, routersim.VyOS14, routersim.Options{})
		d := drivers(t, sim)[kind]
		ctx := testCtx(t)
		rend, _ := router.Render(router.VyOS14, seedDesired(router.InterfaceRouteMode))
		sim.FailCommit("nat", "Destination NAT configuration error in rule 20: translation requires address and/or port")
		err := d.Apply(ctx, router.Diff(nil, rend.Config, rend.Owned))
		if cause.KindOf(err) != cause.Invalid || !strings.Contains(err.Error(), "rule 20") {
			t.Fatalf("%s: got %v", kind, err)
		}
		running, _ := d.ReadConfig(ctx, rend.Owned)
		if !running.Contains(router.Path{"interfaces", "ethernet", "eth1", "address", "10.0.10.254/24"}) ||
			len(running.Under(router.Path{"nat"})) != 0 {
			t.Fatalf("%s: expected interfaces committed and NAT not: %v", kind, running.Lines())
		}
		if fs := drift.RouterNATRules(running, rend.Config); len(fs) != 3 {
			t.Fatalf("%s: NAT findings %+v", kind, fs)
		}
		// The controller's next pass converges.
		if err := d.Apply(ctx, router.Diff(running, rend.Config, rend.Owned)); err != nil {
			t.Fatalf("%s: retry: %v", kind, err)
		}
	}
}

// A refused set aborts the whole transaction before commit: nothing of it
// is applied.
func TestRefusedSetAbortsTheTransaction(t *testing.T) {
	t.Parallel()
	for _, kind := range []router.Kind{router.SSH, router.VyOSAPI} {
		sim := startSim(t, routersim.VyOS14, routersim.Options{})
		d := drivers(t, sim)[kind]
		ctx := testCtx(t)
		commits := sim.Count("commit")
		tx := router.Transaction{
			{Kind: router.OpSet, Path: router.Path{"interfaces", "ethernet", "eth1", "description", "LAN"}},
			// interface-route no longer exists on 1.4
			{Kind: router.OpSet, Path: router.Path{"protocols", "static", "interface-route", "198.51.100.254/32", "next-hop-interface", wan}},
		}
		err := d.Apply(ctx, tx)
		if cause.KindOf(err) != cause.Invalid || !strings.Contains(err.Error(), "is not valid") {
			t.Fatalf("%s: %v", kind, err)
		}
		if sim.Count("commit") != commits {
			t.Fatalf("%s: commit ran after a refused set", kind)
		}
		if strings.Contains(sim.ActiveCommands(), "description 'LAN'") {
			t.Fatalf("%s: part of a refused transaction applied", kind)
		}
	}
}

// A connection lost mid-commit leaves nothing saved; the driver says the
// outcome is unknown, and the next reconcile (read, diff, apply) converges
// whether or not the commit happened.
func TestDropMidCommit(t *testing.T) {
	t.Parallel()
	for _, kind := range []router.Kind{router.SSH, router.VyOSAPI} {
		for _, applied := range []bool{false, true} {
			sim := startSim(t, routersim.VyOS13, routersim.Options{})
			d := drivers(t, sim)[kind]
			ctx := testCtx(t)
			rend, _ := router.Render(router.VyOS13, seedDesired(router.InterfaceRouteMode))
			saved := sim.SavedConfig()
			sim.DropNextCommit(applied)
			err := d.Apply(ctx, router.Diff(nil, rend.Config, rend.Owned))
			if cause.KindOf(err) != cause.Unreachable || !strings.Contains(err.Error(), "may or may not") {
				t.Fatalf("%s applied=%t: %v", kind, applied, err)
			}
			if sim.SavedConfig() != saved {
				t.Fatalf("%s applied=%t: something was saved", kind, applied)
			}
			obs, err := d.ReadConfig(ctx, rend.Owned)
			if err != nil {
				t.Fatal(err)
			}
			if applied != obs.Equal(rend.Config) {
				t.Fatalf("%s applied=%t: running %v", kind, applied, obs.Lines())
			}
			converge(t, ctx, d, rend)
			if !strings.Contains(sim.SavedConfig(), "interface-route 198.51.100.254/32") {
				t.Fatalf("%s applied=%t: not converged:\n%s", kind, applied, sim.SavedConfig())
			}
		}
	}
}

func TestCommitLockIsAConflict(t *testing.T) {
	t.Parallel()
	for _, p := range []routersim.Profile{routersim.Vyatta65, routersim.VyOS14} {
		sim := startSim(t, p, routersim.Options{})
		for kind, d := range drivers(t, sim) {
			sim.HoldLock(true)
			tx := router.Transaction{{Kind: router.OpSet, Path: router.Path{"interfaces", "ethernet", "eth1", "description", "LAN"}}}
			err := d.Apply(testCtx(t), tx)
			if cause.KindOf(err) != cause.Conflict || !cause.Retryable(err) {
				t.Fatalf("%s/%s: %v", p, kind, err)
			}
			sim.HoldLock(false)
			if err := d.Apply(testCtx(t), tx); err != nil {
				t.Fatalf("%s/%s after the lock: %v", p, kind, err)
			}
		}
	}
}

func TestSlowRouterTimesOut(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS14, routersim.Options{})
	for kind, d := range drivers(t, sim) {
		if _, err := d.Probe(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		sim.SetLatency(5 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := d.Routes(ctx)
		cancel()
		if cause.KindOf(err) != cause.Unreachable {
			t.Fatalf("%s: %v", kind, err)
		}
		sim.SetLatency(0)
		if _, err := d.Routes(testCtx(t)); err != nil {
			t.Fatalf("%s: after the slow reply: %v", kind, err)
		}
	}
}

func TestUnreachableRouter(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS14, routersim.Options{})
	ssh := connect(t, router.SSH, sim, sshSecret(sim))
	api := connect(t, router.VyOSAPI, sim, apiSecret(sim))
	sim.Close()
	for _, d := range []router.Driver{ssh, api} {
		if _, err := d.Probe(testCtx(t)); cause.KindOf(err) != cause.Unreachable {
			t.Fatalf("closed router: %v", err)
		}
	}
}

// Reboot without save: the running configuration falls back to the saved
// one (drift for the next reconcile), and before the reboot the unsaved
// difference is visible.
func TestRebootWithoutSave(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS14, routersim.Options{})
	d := drivers(t, sim)[router.SSH]
	ctx := testCtx(t)
	rend, _ := router.Render(router.VyOS14, seedDesired(router.InterfaceRouteMode))
	if err := d.Apply(ctx, router.Diff(nil, rend.Config, rend.Owned)); err != nil {
		t.Fatal(err)
	}
	running, _ := d.ReadConfig(ctx, rend.Owned)
	saved, _ := d.ReadSavedConfig(ctx, rend.Owned)
	if fs := drift.RouterSavedConfig(running, saved); !drift.HasReason(fs, v1.ReasonUnsavedConfig) {
		t.Fatalf("unsaved config not detected: %+v", fs)
	}
	if err := sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	running, err := d.ReadConfig(ctx, rend.Owned)
	if err != nil {
		t.Fatal(err)
	}
	if len(router.Diff(running, rend.Config, rend.Owned)) == 0 {
		t.Fatal("no drift after rebooting without save")
	}
	routes, _ := d.Routes(ctx)
	if fs := drift.RouterRoutes(routes, seedWAN); !drift.HasReason(fs, v1.ReasonGatewayRouteMissing) {
		t.Fatalf("routes after reboot %v: %+v", routes, fs)
	}
	converge(t, ctx, d, rend)
	if err := sim.Reboot(); err != nil {
		t.Fatal(err)
	}
	running, _ = d.ReadConfig(ctx, rend.Owned)
	if !running.Equal(rend.Config) {
		t.Fatalf("saved configuration lost on reboot: %v", running.Lines())
	}
}

// Out-of-band changes the health checks must notice.
func TestOutOfBandDrift(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.Vyatta65, routersim.Options{})
	d := drivers(t, sim)[router.SSH]
	ctx := testCtx(t)
	rend, _ := router.Render(router.Vyatta6, seedDesired(router.BootScriptMode))
	converge(t, ctx, d, rend)

	sim.DeleteRoute("default")
	routes, _ := d.Routes(ctx)
	if fs := drift.RouterRoutes(routes, seedWAN); !drift.HasReason(fs, v1.ReasonGatewayRouteMissing) {
		t.Fatalf("deleted default route not noticed: %+v", fs)
	}
	if err := d.ReplaceRoutes(ctx, rend.BootRoutes); err != nil {
		t.Fatal(err)
	}
	routes, _ = d.Routes(ctx)
	if fs := drift.RouterRoutes(routes, seedWAN); len(fs) != 0 {
		t.Fatalf("routes not restored: %+v", fs)
	}

	content, _, _ := sim.BootScript()
	sim.WriteBootScript(content, false)
	bs, _ := d.BootScript(ctx)
	if state, fs := drift.RouterBootScript(bs, rend.BootScriptBlock); state != drift.BootScriptNotExecutable || !drift.HasReason(fs, v1.ReasonBootScriptMissing) {
		t.Fatalf("non-executable boot script: %s %+v", state, fs)
	}
	sim.DeleteBootScript()
	bs, _ = d.BootScript(ctx)
	if state, _ := drift.RouterBootScript(bs, rend.BootScriptBlock); state != drift.BootScriptMissing || bs.Present {
		t.Fatalf("deleted boot script: %s %+v", state, bs)
	}
	if err := d.WriteBootScript(ctx, router.MergeBootScript("", rend.BootScriptBlock)); err != nil {
		t.Fatal(err)
	}
	bs, _ = d.BootScript(ctx)
	if state, _ := drift.RouterBootScript(bs, rend.BootScriptBlock); state != drift.BootScriptPresent {
		t.Fatalf("rewritten boot script: %s", state)
	}

	if err := sim.SetConfig("set nat source rule 10 translation address 203.0.113.123"); err != nil {
		t.Fatal(err)
	}
	running, _ := d.ReadConfig(ctx, rend.Owned)
	if fs := drift.RouterNATRules(running, rend.Config); !drift.HasReason(fs, v1.ReasonNATRuleMissing) {
		t.Fatalf("edited NAT rule not noticed: %+v", fs)
	}
	saved, _ := d.ReadSavedConfig(ctx, rend.Owned)
	if fs := drift.RouterSavedConfig(running, saved); !drift.HasReason(fs, v1.ReasonUnsavedConfig) {
		t.Fatalf("unsaved out-of-band edit not noticed: %+v", fs)
	}
}

func TestHTTPAPIHasNoShell(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS15, routersim.Options{})
	d := drivers(t, sim)[router.VyOSAPI]
	ctx := testCtx(t)
	if _, err := d.BootScript(ctx); cause.KindOf(err) != cause.CapabilityMissing {
		t.Fatal(err)
	}
	if err := d.WriteBootScript(ctx, "x"); cause.KindOf(err) != cause.CapabilityMissing {
		t.Fatal(err)
	}
	if err := d.ReplaceRoutes(ctx, []router.Route{{Dst: "default", Gateway: gw, Dev: wan}}); cause.KindOf(err) != cause.CapabilityMissing {
		t.Fatal(err)
	}
	if _, err := router.New(router.Endpoint{Kind: router.VyOSAPI, Address: sim.APIURL(), Platform: router.Vyatta6}, apiSecret(sim)); cause.KindOf(err) != cause.CapabilityMissing {
		t.Fatalf("API driver for Vyatta: %v", err)
	}
	// VyOS 1.5 serves the REST API only with `service https api rest`.
	if err := sim.DeleteConfig("service https api rest"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadConfig(ctx, nil); cause.KindOf(err) != cause.CapabilityMissing || !strings.Contains(err.Error(), "api rest") {
		t.Fatalf("REST disabled: %v", err)
	}
}

// The API refuses to touch service https: its commit would run in the
// background and the answer could not tell the outcome.
func TestServiceHTTPSNeverChanged(t *testing.T) {
	t.Parallel()
	sim := startSim(t, routersim.VyOS14, routersim.Options{})
	d := drivers(t, sim)[router.VyOSAPI]
	err := d.Apply(testCtx(t), router.Transaction{{Kind: router.OpDelete, Path: router.Path{"service", "https", "api", "keys"}}})
	if cause.KindOf(err) != cause.Invalid || sim.Count("api:/configure") != 0 {
		t.Fatalf("got %v", err)
	}
}
