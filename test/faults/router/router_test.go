// Package router_test is the router part of the fault matrix (issue 8): each
// case breaks the simulated router in one way while a RouterConfig is being
// applied, checks the condition that names the fault, clears it, and checks
// that the router converged with exactly the writes the change needed — one
// repair commit, one save — and that no save ever persisted a partially
// applied configuration. The garbage cases feed the drivers output they
// cannot interpret and check that nothing is written on its strength.
package router_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/test/faults/harness"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

func TestMain(m *testing.M) { harness.Main(m) }

const (
	ssh = v1.DriverSSH
	api = v1.DriverVyOSAPI

	// many stands for "every attempt until the fault is cleared".
	many = 1 << 20
)

// env is one case's world.
type env struct {
	ns   string
	sim  *routersim.Router
	rc   *v1.RouterConfig
	log  func() []harness.Transition
	port string // the reserved SSH port of a router that is not started yet
}

type faultCase struct {
	name    string
	profile routersim.Profile
	driver  v1.RouterDriver
	// unstarted: the router is down (nothing listens on its port) until
	// the fault is cleared.
	unstarted bool
	opts      harness.OperatorOptions
	// inject breaks the router (or its Secret) before the RouterConfig
	// exists.
	inject func(t *testing.T, e *env)
	// The condition expected during the fault. oneShot faults last one
	// attempt: the condition is looked for among the transitions instead
	// of being required to hold until the fault is cleared.
	typ, reason string
	parts       []string
	oneShot     bool
	// during checks more while the fault holds.
	during func(t *testing.T, e *env)
	// clear ends the fault (default: sim.ClearFaults).
	clear func(t *testing.T, e *env)
	// Writes once converged: commits that changed the configuration,
	// commits started (0: not checked), saves.
	commits, attempts, saves int
}

func TestRouterFaults(t *testing.T) {
	nothingWritten := func(t *testing.T, e *env) {
		if w := harness.Writes(e.sim); w != (harness.RouterWrites{}) {
			t.Errorf("writes during the fault: %+v", w)
		}
	}
	// A commit refused for the lock is an attempt that changes nothing.
	nothingChanged := func(t *testing.T, e *env) {
		if w := harness.Writes(e.sim); w.Commits != 0 || w.Saves != 0 {
			t.Errorf("writes during the fault: %+v", w)
		}
	}
	nothingExecuted := func(t *testing.T, e *env) {
		if n := e.sim.Count("ssh.exec"); n != 0 {
			t.Errorf("%d commands ran before the fault was cleared", n)
		}
	}
	nothingSaved := func(t *testing.T, e *env) {
		if s := e.sim.Saves(); len(s) != 0 {
			t.Errorf("saved during a refused commit:\n%s", s[0].Active)
		}
	}
	partial := func(t *testing.T, e *env) {
		nothingSaved(t, e)
		active := e.sim.ActiveCommands()
		if !strings.Contains(active, "10.0.10.254/24") || strings.Contains(active, "masquerade") {
			t.Errorf("expected a partial commit (interfaces yes, NAT no):\n%s", active)
		}
	}
	fixSecret := func(t *testing.T, e *env) { harness.SetRouterSecret(t, e.ns, harness.RouterSecretData(e.sim)) }
	breakSecret := func(mutate func(map[string]string, *routersim.Router)) func(*testing.T, *env) {
		return func(t *testing.T, e *env) {
			d := harness.RouterSecretData(e.sim)
			mutate(d, e.sim)
			harness.SetRouterSecret(t, e.ns, d)
		}
	}
	const vyattaNATError = "NAT configuration error in rule 20: inbound-interface eth2 is not configured"
	const vyosNATError = "Source NAT configuration error in rule 10: outbound-interface eth2 does not exist"

	cases := []faultCase{
		{name: "vyatta65-ssh/connection-cut-at-connect", profile: routersim.Vyatta65, driver: ssh,
			inject: func(t *testing.T, e *env) { e.sim.CutNextConnections(many) },
			typ:    v1.TypeSynced, reason: v1.ReasonUnreachable, during: func(t *testing.T, e *env) { nothingExecuted(t, e); nothingWritten(t, e) },
			commits: 1, attempts: 1, saves: 1},
		{name: "vyos13-ssh/connection-closed-at-first-command", profile: routersim.VyOS13, driver: ssh,
			inject: func(t *testing.T, e *env) { e.sim.DropNextExecs(many) },
			typ:    v1.TypeSynced, reason: v1.ReasonUnreachable, parts: []string{"connection lost before the command finished"},
			during: nothingWritten, commits: 1, attempts: 1, saves: 1},
		{name: "vyatta65-ssh/drop-during-commit-not-applied", profile: routersim.Vyatta65, driver: ssh,
			inject: func(t *testing.T, e *env) { e.sim.DropNextCommit(false) },
			typ:    v1.TypeSynced, reason: v1.ReasonUnreachable, parts: []string{"may or may not have been applied"}, oneShot: true,
			commits: 1, attempts: 2, saves: 1},
		{name: "vyos14-ssh/drop-after-commit-applied", profile: routersim.VyOS14, driver: ssh,
			inject: func(t *testing.T, e *env) { e.sim.DropNextCommit(true) },
			typ:    v1.TypeSynced, reason: v1.ReasonUnreachable, parts: []string{"re-read before retrying"}, oneShot: true,
			commits: 1, attempts: 1, saves: 1},
		{name: "vyos14-api/drop-after-commit-applied", profile: routersim.VyOS14, driver: api,
			inject: func(t *testing.T, e *env) { e.sim.DropNextCommit(true) },
			typ:    v1.TypeSynced, reason: v1.ReasonUnreachable, parts: []string{"no answer to the commit"}, oneShot: true,
			commits: 1, attempts: 1, saves: 1},
		{name: "vyos13-ssh/drop-after-commit-before-save", profile: routersim.VyOS13, driver: ssh,
			inject: func(t *testing.T, e *env) { e.sim.DropNextSave() },
			typ:    v1.TypeSynced, reason: v1.ReasonUnreachable, parts: []string{"Save"}, oneShot: true,
			commits: 1, attempts: 1, saves: 1},
		{name: "vyos14-api/drop-after-commit-before-save", profile: routersim.VyOS14, driver: api,
			inject: func(t *testing.T, e *env) { e.sim.DropNextSave() },
			typ:    v1.TypeSynced, reason: v1.ReasonUnreachable, parts: []string{"Save"}, oneShot: true,
			commits: 1, attempts: 1, saves: 1},
		{name: "vyatta65-ssh/commit-failure", profile: routersim.Vyatta65, driver: ssh,
			inject: func(t *testing.T, e *env) { e.sim.FailCommits("nat destination", vyattaNATError) },
			typ:    v1.TypeConfigApplied, reason: v1.ReasonCommitFailed, parts: []string{vyattaNATError, "nothing was saved"},
			during: nothingSaved, commits: 2, saves: 1},
		{name: "vyos14-api/partial-commit", profile: routersim.VyOS14, driver: api,
			inject: func(t *testing.T, e *env) { e.sim.FailCommits("nat source", vyosNATError) },
			typ:    v1.TypeConfigApplied, reason: v1.ReasonCommitFailed, parts: []string{vyosNATError},
			during: partial, commits: 2, saves: 1},
		{name: "vyos13-ssh/partial-commit", profile: routersim.VyOS13, driver: ssh,
			inject: func(t *testing.T, e *env) { e.sim.FailCommits("nat source", vyosNATError) },
			typ:    v1.TypeConfigApplied, reason: v1.ReasonCommitFailed, parts: []string{vyosNATError},
			during: partial, commits: 2, saves: 1},
		{name: "vyos14-ssh/lock-held", profile: routersim.VyOS14, driver: ssh,
			inject: func(t *testing.T, e *env) { e.sim.HoldLock(true) },
			typ:    v1.TypeSynced, reason: v1.ReasonExternalError, parts: []string{"temporarily locked"},
			during: nothingChanged, commits: 1, saves: 1},
		{name: "vyos14-api/lock-held", profile: routersim.VyOS14, driver: api,
			inject: func(t *testing.T, e *env) { e.sim.HoldLock(true) },
			typ:    v1.TypeSynced, reason: v1.ReasonExternalError, parts: []string{"temporarily locked"},
			during: nothingChanged, commits: 1, saves: 1},
		{name: "vyos14-api/timeout-after-successful-commit", profile: routersim.VyOS14, driver: api,
			opts:   harness.OperatorOptions{RouterCallTimeout: 3 * time.Second},
			inject: func(t *testing.T, e *env) { e.sim.DelayNextCommitReply(10 * time.Second) },
			typ:    v1.TypeSynced, reason: v1.ReasonUnreachable, parts: []string{"no answer to the commit"}, oneShot: true,
			commits: 1, attempts: 1, saves: 1},
		{name: "vyatta65-ssh/host-unreachable", profile: routersim.Vyatta65, driver: ssh, unstarted: true,
			typ: v1.TypeSynced, reason: v1.ReasonUnreachable, parts: []string{"connection refused"},
			clear: func(t *testing.T, e *env) {
				if err := e.sim.StartOn(e.port, "0"); err != nil {
					t.Fatal(err)
				}
			},
			commits: 1, attempts: 1, saves: 1},
		{name: "vyos14-ssh/wrong-credentials", profile: routersim.VyOS14, driver: ssh,
			inject: breakSecret(func(d map[string]string, _ *routersim.Router) { d["password"] = "not-the-password" }),
			typ:    v1.TypeSynced, reason: v1.ReasonCredentialsInvalid, parts: []string{"refused the credentials"},
			during: nothingExecuted, clear: fixSecret, commits: 1, attempts: 1, saves: 1},
		{name: "vyos14-api/wrong-api-key", profile: routersim.VyOS14, driver: api,
			inject: breakSecret(func(d map[string]string, _ *routersim.Router) { d["apiKey"] = "not-the-key" }),
			typ:    v1.TypeSynced, reason: v1.ReasonCredentialsInvalid, parts: []string{"refused the API key"},
			during: nothingWritten, clear: fixSecret, commits: 1, attempts: 1, saves: 1},
		{name: "vyos13-ssh/wrong-host-key", profile: routersim.VyOS13, driver: ssh,
			inject: breakSecret(func(d map[string]string, _ *routersim.Router) {
				other, err := routersim.New(routersim.VyOS13, routersim.Options{})
				if err != nil {
					panic(err)
				}
				d["hostKey"] = other.HostKeyLine()
			}),
			typ: v1.TypeSynced, reason: v1.ReasonTrustFailure, parts: []string{"host key mismatch", "SHA256:"},
			during: nothingExecuted, clear: fixSecret, commits: 1, attempts: 1, saves: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runFaultCase(t, c)
		})
	}
}

func runFaultCase(t *testing.T, c faultCase) {
	e := newEnv(t, c.profile, c.unstarted)
	if c.inject != nil {
		c.inject(t, e)
	}
	harness.StartOperator(t, e.ns, c.opts)
	e.create(t, c.driver)

	harness.Eventually(t, 60*time.Second, "the condition naming the fault",
		harness.Saw(e.log, c.typ, metav1.ConditionFalse, c.reason, c.parts...))
	if !c.oneShot {
		// A lasting fault keeps its condition: check it is still the
		// current one, then what else must hold meanwhile.
		harness.Eventually(t, 10*time.Second, "the fault's condition", harness.ConditionIs(e.rc, c.typ, metav1.ConditionFalse, c.reason))
	}
	if c.during != nil {
		c.during(t, e)
	}
	clear := c.clear
	if clear == nil {
		clear = func(*testing.T, *env) { e.sim.ClearFaults() }
	}
	start := time.Now()
	clear(t, e)
	harness.Ready(t, e.rc, 60*time.Second)
	took := time.Since(start).Round(10 * time.Millisecond)
	w := e.settled(t, c.driver)

	if w.Commits != c.commits || w.Saves != c.saves || (c.attempts > 0 && w.Attempts != c.attempts) {
		t.Errorf("writes %+v, want %d commit(s) changing the configuration (%d started), %d save(s); journal: %+v",
			w, c.commits, c.attempts, c.saves, e.sim.Commits())
	}
	if err := harness.SavesComplete(e.sim, e.sim.ActiveCommands()); err != nil {
		t.Error(err)
	}
	t.Logf("case %s: during=%s converged in %s, commits=%d saves=%d", c.name, c.reason, took, w.Commits, w.Saves)
}

func newEnv(t *testing.T, p routersim.Profile, unstarted bool) *env {
	ns := harness.Namespace(t)
	opts := routersim.Options{}
	if p == routersim.Vyatta65 {
		opts.Seed = routersim.SeedVyatta2013
	}
	if !unstarted {
		return &env{ns: ns, sim: harness.Router(t, ns, p, opts)}
	}
	// A router that is down: its host key is known (the Secret pins it)
	// but nothing listens on its port until the case starts it there.
	opts.Gateway = harness.Gateway
	sim, err := routersim.New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	harness.RouterSecret(t, ns, harness.RouterSecretData(sim))
	return &env{ns: ns, sim: sim, port: port}
}

// create creates the write-up's RouterConfig for the case's router and
// starts recording its conditions.
func (e *env) create(t *testing.T, driver v1.RouterDriver) {
	if e.port != "" {
		e.rc = harness.RouterConfigAt(e.ns, "edge", net.JoinHostPort("127.0.0.1", e.port), driver)
	} else {
		e.rc = harness.RouterConfig(e.ns, "edge", e.sim, driver)
	}
	e.log = harness.Transitions(t, e.rc, &v1.RouterConfigList{})
	harness.Create(t, e.rc)
}

// settled waits for two more full observations after Ready — a duplicate
// commit or save would happen in one of them — and returns the writes.
func (e *env) settled(t *testing.T, driver v1.RouterDriver) harness.RouterWrites {
	reads := "showConfig"
	if driver == api {
		reads = "api:/retrieve"
	}
	base := e.sim.Count(reads)
	harness.Eventually(t, 30*time.Second, "two more observations", func() error {
		if n := e.sim.Count(reads) - base; n < 2 {
			return fmt.Errorf("%d observation(s) since Ready", n)
		}
		return nil
	})
	harness.Ready(t, e.rc, 10*time.Second)
	return harness.Writes(e.sim)
}

// noise is deterministic binary garbage without newlines.
func noise(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0x80 + r.IntN(0x80))
	}
	return string(b)
}

// garbageCase makes one kind of router output garbage.
type garbageCase struct {
	name    string
	profile routersim.Profile
	driver  v1.RouterDriver
	// match and garble go to GarbleOutput.
	match  string
	garble routersim.Garbler
	// fresh: garble from the start, while the first repair runs, instead
	// of on a converged router.
	fresh bool
	// The Synced condition's message must name what was wrong.
	parts []string
	// tolerated: the drivers read through this garbage; nothing changes.
	tolerated bool
	// Writes once converged.
	commits, attempts, saves int
}

// Garbage from the router: a condition that says what came back, no panic,
// reconciles that keep coming, no write on the strength of garbage, and
// recovery once the output is sane.
func TestRouterGarbage(t *testing.T) {
	const html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	const banner = "Welcome to VyOS!\n\n   Check out project news at https://blog.vyos.io\n\n"
	cases := []garbageCase{
		{name: "vyatta65-ssh/ip-route-cut-mid-line", profile: routersim.Vyatta65, driver: ssh,
			match: "ip -4 route show", garble: routersim.Truncated(0.6), parts: []string{"`ip -4 route show table main`", "ends inside a line"}},
		{name: "vyos14-ssh/ip-j-route-broken-json", profile: routersim.VyOS14, driver: ssh,
			match: "ip -j -4 route", garble: routersim.ReplacedBy(`[{"dst":"default","gateway":"198.51.100.254","dev":"eth2",` + "\n"),
			parts: []string{"unparsable ip -j route output", "unexpected end of JSON input"}},
		{name: "vyos14-ssh/ip-j-route-cut", profile: routersim.VyOS14, driver: ssh,
			match: "ip -j -4 route", garble: routersim.Truncated(0.5), parts: []string{"ends inside a line"}},
		{name: "vyos14-api/html-instead-of-json", profile: routersim.VyOS14, driver: api,
			match: "/retrieve", garble: routersim.ReplacedBy(html), parts: []string{"not the API's JSON", "<html>"}},
		{name: "vyos13-api/show-arp-unexpected-text", profile: routersim.VyOS13, driver: api,
			match:  "/show arp",
			garble: routersim.ReplacedBy(`{"success": true, "data": "\n  Invalid command: show [arp]\n", "error": null}`),
			parts:  []string{"unparsable show arp output", "Invalid command"}},
		{name: "vyos13-ssh/binary-noise-instead-of-config", profile: routersim.VyOS13, driver: ssh,
			match: "showConfig", garble: routersim.ReplacedBy(noise(8, 300) + "\n"), parts: []string{"no set command"}},
		{name: "vyatta65-ssh/config-commands-cut-mid-line", profile: routersim.Vyatta65, driver: ssh,
			match: "showConfig", garble: routersim.Truncated(0.7), parts: []string{"showConfig", "ends inside a line"}},
		{name: "vyatta65-ssh/config-boot-cut", profile: routersim.Vyatta65, driver: ssh,
			match: "cat /config/config.boot", garble: routersim.Truncated(0.5), parts: []string{"unparsable /config/config.boot"}},
		{name: "vyatta65-ssh/proc-net-arp-error-text", profile: routersim.Vyatta65, driver: ssh,
			match: "/proc/net/arp", garble: routersim.ReplacedBy("cat: /proc/net/arp: Input/output error\n"),
			parts: []string{"unparsable /proc/net/arp", "Input/output error"}},
		// A banner printed by the shell's startup comes once per session, and
		// the health check's sections are told by their markers: tolerated.
		{name: "vyos14-ssh/login-banner-on-every-session", profile: routersim.VyOS14, driver: ssh,
			match: "", garble: routersim.Prefixed(banner), tolerated: true},
		{name: "vyos14-ssh/commit-output-lost", profile: routersim.VyOS14, driver: ssh, fresh: true,
			match: "sg vyattacfg", garble: routersim.ReplacedBy(""), parts: []string{"may or may not have been applied"},
			commits: 1, attempts: 1, saves: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runGarbageCase(t, c)
		})
	}
}

func runGarbageCase(t *testing.T, c garbageCase) {
	e := newEnv(t, c.profile, false)
	harness.StartOperator(t, e.ns, harness.OperatorOptions{})
	if c.fresh {
		e.sim.GarbleOutput(c.match, c.garble)
	}
	e.create(t, c.driver)
	var before harness.RouterWrites
	var side int
	if !c.fresh {
		harness.Ready(t, e.rc, 60*time.Second)
		before, side = harness.Writes(e.sim), sideWrites(e.sim)
		if before.Commits != 1 || before.Saves != 1 {
			t.Fatalf("converging took %+v, want one commit and one save", before)
		}
		e.sim.GarbleOutput(c.match, c.garble)
	}
	if c.tolerated {
		garbled := e.sim.Count("garbled")
		harness.Eventually(t, 30*time.Second, "three health checks through the garbage", func() error {
			if n := e.sim.Count("garbled") - garbled; n < 3 {
				return fmt.Errorf("%d garbled replies", n)
			}
			return nil
		})
		harness.Eventually(t, 10*time.Second, "still Synced", harness.ConditionIs(e.rc, v1.TypeSynced, metav1.ConditionTrue))
		harness.Ready(t, e.rc, 10*time.Second)
		if w := harness.Writes(e.sim); w.Commits != before.Commits || w.Saves != before.Saves || sideWrites(e.sim) != side {
			t.Errorf("writes through tolerated garbage: %+v, before %+v", w, before)
		}
		t.Logf("case garbage/%s: tolerated, no condition, no write", c.name)
		return
	}
	harness.Eventually(t, 60*time.Second, "a condition naming the garbage",
		harness.Saw(e.log, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonExternalError, c.parts...))
	if !c.fresh {
		// The reconciles go on (three more garbled replies), and nothing is
		// written while the output makes no sense.
		garbled := e.sim.Count("garbled")
		harness.Eventually(t, 30*time.Second, "reconciles going on", func() error {
			if n := e.sim.Count("garbled") - garbled; n < 3 {
				return fmt.Errorf("%d garbled replies since the condition", n)
			}
			return nil
		})
		harness.Eventually(t, 10*time.Second, "Synced still names it", harness.ConditionIs(e.rc, v1.TypeSynced, metav1.ConditionFalse, v1.ReasonExternalError))
		if w := harness.Writes(e.sim); w.Commits != before.Commits || w.Saves != before.Saves {
			t.Errorf("writes while the output was garbage: %+v, before %+v; journal %+v", w, before, e.sim.Commits())
		}
		if n := sideWrites(e.sim); n != side {
			t.Errorf("%d boot script, route or neighbour writes while the output was garbage", n-side)
		}
	}
	for _, tr := range e.log() {
		if strings.Contains(tr.Message, "panic") {
			t.Errorf("a reconcile panicked: %s", tr.Message)
		}
	}
	start := time.Now()
	e.sim.ClearFaults()
	harness.Eventually(t, 60*time.Second, "Synced again", harness.ConditionIs(e.rc, v1.TypeSynced, metav1.ConditionTrue))
	harness.Ready(t, e.rc, 30*time.Second)
	took := time.Since(start).Round(10 * time.Millisecond)
	w := e.settled(t, c.driver)
	wantC, wantS := 1, 1
	if c.fresh {
		wantC, wantS = c.commits, c.saves
	}
	if w.Commits != wantC || w.Saves != wantS || (c.attempts > 0 && w.Attempts != c.attempts) {
		t.Errorf("writes %+v, want %d commit(s) (%d started), %d save(s); journal %+v", w, wantC, c.attempts, wantS, e.sim.Commits())
	}
	if err := harness.SavesComplete(e.sim, e.sim.ActiveCommands()); err != nil {
		t.Error(err)
	}
	t.Logf("case garbage/%s: during=%s converged in %s, commits=%d saves=%d", c.name, v1.ReasonExternalError, took, w.Commits, w.Saves)
}

// sideWrites counts the writes other than commits and saves: boot script,
// kernel routes, neighbour flushes.
func sideWrites(sim *routersim.Router) int {
	return sim.Count("tee") + sim.Count("ip route replace") + sim.Count("ip neigh flush")
}
