// Command demo runs the whole system on this machine — a real kube-apiserver,
// the OVH, ESXi and router simulators seeded with the 2013 write-up's setup,
// and the operator binary — applies config/samples, waits until everything is
// Ready, then replays the write-up's failures one by one and shows each being
// detected and repaired. `make demo` runs it; `make demo KEEP=1` leaves it all
// running to play with.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

const ns = "demo"

// routerNetns names the router's namespaces with -kernel.
var routerNetns string

func main() {
	operatorBin := flag.String("operator", "bin/manager", "the operator binary")
	keep := flag.Bool("keep", false, "keep everything running at the end (Ctrl-C stops it)")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up on any single step after this long")
	kernel := flag.Bool("kernel", false, "run the router on the real kernel in network namespaces, with real ARP (needs root)")
	flag.Parse()
	if *kernel {
		routerNetns = fmt.Sprintf("ovhb-demo-%d", os.Getpid())
	}
	if err := run(*operatorBin, *keep, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "\n✗ demo failed: %v\n", err)
		os.Exit(1)
	}
}

type demo struct {
	cp      *controlplane.ControlPlane
	w       *world.World
	op      *world.Operator
	dir     string
	timeout time.Duration
	started time.Time
}

func run(operatorBin string, keep bool, timeout time.Duration) error {
	d := &demo{timeout: timeout, started: time.Now()}
	var err error
	if d.dir, err = os.MkdirTemp("", "ovhbridge-demo-"); err != nil {
		return err
	}
	defer d.cleanup(keep)
	if operatorBin, err = filepath.Abs(operatorBin); err != nil {
		return err
	}

	d.step("Starting etcd and kube-apiserver %s on loopback", controlplane.K8sVersion)
	if d.cp, err = controlplane.Start(controlplane.Options{KubeconfigPath: filepath.Join(d.dir, "kubeconfig")}); err != nil {
		return err
	}
	d.step("Starting the simulators: OVH API, ESXi host (vcsim), Vyatta 6.5 router configured the 2013 way")
	if d.w, err = world.Start(world.Options{Traffic: true, RouterNetns: routerNetns}); err != nil {
		return err
	}
	if arp, err := d.w.Router.ARPRequests(); err == nil {
		fmt.Printf("    on the real kernel (namespace %s), OVH's gateway has received %s\n", routerNetns, arpText(arp))
	}
	fmt.Printf("    the router routes with interface-route + gateway-address and talks to the Internet:\n")
	fmt.Print(indent(indent(d.w.Router.RoutesText())))
	fmt.Printf("    its ARP table on eth2 already holds %d entries (OVH's ARP-flood complaint)\n", len(d.w.Router.Neighbours("eth2")))
	fmt.Printf("    %s is routed to %s, not to %s\n", world.RouterWANIP, world.OtherServer, world.Server)

	d.step("Starting the operator (%s)", filepath.Base(operatorBin))
	if d.op, err = world.StartOperator(operatorBin, d.cp.Kubeconfig, d.dir); err != nil {
		return err
	}

	d.step("kubectl apply -f config/samples/ (Secrets pointing at the simulators, shorter intervals, the router adopted under Observe)")
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	samples, err := d.w.Samples(filepath.Join(root, "config", "samples"),
		world.Intervals{OVHSync: 2 * time.Second, RouterHealth: 2 * time.Second, RouterObserve: true})
	if err != nil {
		return err
	}
	if _, err := d.cp.Run("create", "namespace", ns); err != nil {
		return err
	}
	for _, m := range [][]byte{d.w.Secrets(), samples} {
		out, err := d.kubectlIn(m, "apply", "-n", ns, "-f", "-")
		if err != nil {
			return err
		}
		fmt.Print(indent(out))
	}

	d.step("The router as it is, observed and not touched (managementPolicy: Observe)")
	if _, err := d.cp.Run("wait", "-n", ns, "--for=jsonpath={.status.conditions[?(@.type==\"ARPTableHealthy\")].status}=False",
		"rtc/edge", fmt.Sprintf("--timeout=%s", d.timeout)); err != nil {
		return err
	}
	diag, err := d.cp.Run("get", "-n", ns, "rtc", "edge", "-o",
		`jsonpath={range .status.conditions[?(@.status=="False")]}{.type}: {.reason}{"\n"}    {.message}{"\n"}{end}`)
	if err != nil {
		return err
	}
	fmt.Print(indent(diag))
	d.step("kubectl patch routerconfig edge: managementPolicy Manage — the operator fixes the router")
	if _, err := d.cp.Run("patch", "-n", ns, "rtc", "edge", "--type=merge", "-p", `{"spec":{"managementPolicy":"Manage"}}`); err != nil {
		return err
	}

	d.step("Waiting for everything to be Ready (kubectl get ovhbridge)")
	if err := d.waitAllReady(); err != nil {
		return err
	}
	rc, _ := d.cp.Run("get", "-n", ns, "rtc", "edge", "-o",
		`jsonpath=default route: {.status.defaultRoute.destination} via {.status.defaultRoute.gateway} dev {.status.defaultRoute.device}; boot script {.status.bootScript.state}; WAN neighbours {.status.wanNeighbours.entries} ({.status.wanNeighbours.offLinkEntries} off-link)`)
	fmt.Printf("    router: %s\n", rc)
	v6, _ := d.cp.Run("get", "-n", ns, "fip", "web-wan", "-o",
		`jsonpath=server IPv6 (FailoverIP status.ipv6): block {.status.ipv6.block}, gateway {.status.ipv6.gateway}`)
	fmt.Printf("    %s\n", v6)
	guest, _ := d.cp.Run("get", "-n", ns, "bvm", "web1", "-o", `jsonpath={.status.conditions[?(@.type=="GuestNetworkConfigured")].message}`)
	fmt.Printf("    web1's guest: %s\n", guest)
	events, _ := d.cp.Run("get", "events", "-n", ns, "--field-selector", "involvedObject.name=edge,type=Warning",
		"--sort-by=.lastTimestamp", "-o", "custom-columns=REASON:.reason,MESSAGE:.message", "--no-headers")
	fmt.Printf("    what the operator did on the router (kubectl get events):\n%s", indent(lastLines(events, 6)))
	arpAtReady, arpErr := d.w.Router.ARPRequests()

	var results []result
	failures := d.failures()
	for i, f := range failures {
		d.step("Failure %d/%d: %s", i+1, len(failures), f.Name)
		r, err := d.replay(f)
		if err != nil {
			return err
		}
		results = append(results, r)
	}

	d.step("Summary (%s in all)", time.Since(d.started).Round(time.Second))
	fmt.Printf("    %-88s %-28s %9s %9s\n", "failure", "reported as", "detected", "repaired")
	for _, r := range results {
		by := ""
		if r.byHand {
			by = "  (by hand, inside the guest)"
		}
		fmt.Printf("    %-88s %-28s %8.1fs %8.1fs%s\n", r.name, r.reason, r.detected.Seconds(), r.repaired.Seconds(), by)
	}
	if now, err := d.w.Router.ARPRequests(); err == nil && arpErr == nil {
		for k, v := range arpAtReady {
			now[k] -= v
		}
		fmt.Printf("    since everything was Ready, OVH's gateway has received %s\n", arpText(now))
	}
	out, _ := d.cp.Run("get", "ovhbridge", "-n", ns)
	fmt.Print(indent(out))
	fmt.Println("\n✓ every failure of the write-up was detected and repaired (the guest's by hand, as the operator told)")
	if keep {
		d.keep()
	}
	return nil
}

type result struct {
	name, reason       string
	detected, repaired time.Duration
	byHand             bool
}

// failure is one of the world's failures, or one only a person can repair:
// the operator never logs into a guest, so after the detection the demo
// prints what the operator says to run inside the guest, and runs it.
type failure struct {
	world.Failure
	// condition is the condition whose message says what to do by hand.
	condition string
	// byHand is the person's repair.
	byHand func() error
}

func (d *demo) failures() []failure {
	var out []failure
	for _, f := range d.w.Failures() {
		out = append(out, failure{Failure: f})
	}
	return append(out, d.guestRebootFailure(), d.guestIPv6Failure())
}

// guestRebootFailure: web1's guest got the write-up's `route add` by hand,
// never in its configuration, and reboots. The kernel then refuses the
// default route too (its gateway is off the /32), and the VM is offline —
// on IPv6 as well, whose routes were typed the same way.
func (d *demo) guestRebootFailure() failure {
	const vm = "web1"
	full := *world.WebGuest()
	esx := d.w.ESXi
	return failure{
		Failure: world.Failure{
			Name: "web1's guest reboots: the gateway route added by hand (never saved) is gone",
			Kind: "bridgedvm", Object: vm, Reasons: []string{"GuestGatewayRouteMissing"},
			Do: func(context.Context) error {
				boot := full
				boot.Routes = nil // the address is in the configuration, the two routes were typed
				if err := esx.SetGuestBootNetwork(vm, boot); err != nil {
					return err
				}
				return esx.RebootGuest(vm)
			},
		},
		condition: "GuestNetworkConfigured",
		byHand: func() error {
			for _, r := range full.Routes {
				if err := esx.AddGuestRoute(vm, r); err != nil {
					return err
				}
			}
			return esx.SetGuestBootNetwork(vm, full) // and, this time, into the configuration
		},
	}
}

// guestIPv6Failure: web1's guest loses its IPv6 default route (`ip -6
// route del default`, or a router advertisement's route expiring): IPv4
// works, IPv6 beyond the server's gateway does not. The operator names it
// with the `ip -6` command; the demo runs it, and puts it in the guest's
// configuration as the message says.
func (d *demo) guestIPv6Failure() failure {
	const vm = "web1"
	esx := d.w.ESXi
	return failure{
		Failure: world.Failure{
			Name: "web1's guest loses its IPv6 default route (IPv4 still works)",
			Kind: "bridgedvm", Object: vm, Reasons: []string{"GuestDefaultRoute6Missing"},
			Do: func(context.Context) error { return esx.DeleteGuestRoute(vm, "::/0") },
		},
		condition: "GuestNetworkConfigured",
		byHand: func() error {
			if err := esx.AddGuestRoute(vm, esxisim.GuestIPRoute{Destination: "default", Gateway: world.ServerIPv6Gateway, NIC: 0}); err != nil {
				return err
			}
			return esx.SetGuestBootNetwork(vm, *world.WebGuest())
		},
	}
}

// replay breaks the world and follows the object's Ready condition through
// `kubectl get -w`, which sees every status update — even a flip that lasts
// less than a poll interval.
func (d *demo) replay(f failure) (result, error) {
	obj := f.Kind + "/" + f.Object
	watch := d.cp.KubectlCmd("get", "-n", ns, obj, "-w", "--output-watch-events=false", "-o",
		`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}{"\n"}`)
	stdout, err := watch.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := watch.Start(); err != nil {
		return result{}, err
	}
	defer func() { _ = watch.Process.Kill(); _ = watch.Wait() }()
	type change struct {
		at             time.Time
		status, reason string
	}
	changes := make(chan change, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 {
				changes <- change{time.Now(), f[0], f[1]}
			}
		}
		close(changes)
	}()
	// The first line is the current state: Ready before the failure.
	select {
	case c := <-changes:
		if c.status != "True" {
			return result{}, fmt.Errorf("%s is not Ready before the failure (%s %s)", obj, c.status, c.reason)
		}
	case <-time.After(10 * time.Second):
		return result{}, fmt.Errorf("kubectl get -w printed nothing for %s", obj)
	}

	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	start := time.Now()
	if err := f.Do(ctx); err != nil {
		return result{}, fmt.Errorf("breaking the world: %w", err)
	}
	var r result
	r.name = f.Name
	path := []string{"True"}
	for {
		select {
		case c, ok := <-changes:
			if !ok {
				return r, fmt.Errorf("kubectl get -w %s stopped", obj)
			}
			if last := path[len(path)-1]; last == c.status+"/"+c.reason || (c.status == "True" && last == "True") {
				continue
			}
			if c.status == "True" {
				if r.detected == 0 {
					continue // still the old state
				}
				r.repaired = c.at.Sub(start)
				path = append(path, "True")
				fmt.Printf("    %s Ready: %s\n", obj, strings.Join(path, " → "))
				fmt.Printf("    detected after %.1fs, repaired after %.1fs\n", r.detected.Seconds(), r.repaired.Seconds())
				d.printRepairs(f.Object, start)
				return r, nil
			}
			if r.detected == 0 {
				r.detected, r.reason = c.at.Sub(start), c.reason
				if f.byHand != nil {
					if err := d.repairByHand(f, obj, r.detected); err != nil {
						return r, err
					}
					r.byHand = true
				}
			}
			path = append(path, c.status+"/"+c.reason)
		case <-ctx.Done():
			return r, fmt.Errorf("%s did not go through a failure and back within %s (seen: %s); operator log: %s",
				obj, d.timeout, strings.Join(path, " → "), d.op.LogPath)
		}
	}
}

// repairByHand prints what the operator says to run inside the guest, then
// plays the person who runs it.
func (d *demo) repairByHand(f failure, obj string, after time.Duration) error {
	msg, err := d.cp.Run("get", "-n", ns, obj, "-o",
		fmt.Sprintf(`jsonpath={.status.conditions[?(@.type=="%s")].message}`, f.condition))
	if err != nil {
		return err
	}
	fmt.Printf("    %s named it after %.2fs; kubectl describe %s says (%s):\n", obj, after.Seconds(), obj, f.condition)
	const each = "; inside the guest of VM "
	for i, part := range strings.Split(msg, each) {
		if i > 0 {
			part = strings.TrimPrefix(each, "; ") + part
		}
		fmt.Printf("      %s\n", part)
	}
	fmt.Printf("    a person logs into %s and runs those commands (the operator never does)\n", f.Object)
	return f.byHand()
}

// printRepairs shows the Warning Events the operator recorded since start:
// what it found and what it did.
func (d *demo) printRepairs(name string, since time.Time) {
	out, err := d.cp.Run("get", "events.v1.events.k8s.io", "-n", ns, "-o",
		`jsonpath={range .items[?(@.type=="Warning")]}{.eventTime}|{.regarding.name}|{.reason}|{.note}{"\n"}{end}`)
	if err != nil {
		return
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		parts := strings.SplitN(l, "|", 4)
		if len(parts) != 4 || parts[1] != name {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, parts[0])
		if err != nil || at.Before(since) || strings.HasPrefix(parts[3], "Ready is") {
			continue // older, or the summary of a condition already shown
		}
		fmt.Printf("      event %-28s %s\n", parts[2], truncate(parts[3], 150))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

var ageColumn = regexp.MustCompile(`\s+\S+\s*$`)

// waitAllReady prints `kubectl get ovhbridge` whenever READY or REASON
// change, until every object is Ready.
func (d *demo) waitAllReady() error {
	deadline := time.Now().Add(d.timeout)
	last := ""
	for time.Now().Before(deadline) {
		out, err := d.cp.Run("get", "ovhbridge", "-n", ns)
		if err != nil {
			return err
		}
		var key []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			key = append(key, ageColumn.ReplaceAllString(l, ""))
		}
		if k := strings.Join(key, "\n"); k != last {
			last = k
			fmt.Printf("    [%5.1fs]\n%s", time.Since(d.started).Seconds(), indent(out))
		}
		notReady, err := d.cp.Run("get", "ovhbridge", "-n", ns, "-o",
			`jsonpath={range .items[*]}{.kind}/{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return err
		}
		all := true
		for _, l := range strings.Split(strings.TrimSpace(notReady), "\n") {
			if !strings.HasSuffix(l, "=True") {
				all = false
			}
		}
		if all && strings.TrimSpace(notReady) != "" {
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("not everything was Ready after %s; operator log: %s", d.timeout, d.op.LogPath)
}

func (d *demo) kubectlIn(stdin []byte, args ...string) (string, error) {
	cmd := d.cp.KubectlCmd(args...)
	cmd.Stdin = strings.NewReader(string(stdin))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (d *demo) step(format string, args ...any) {
	fmt.Printf("\n▶ [%5.1fs] %s\n", time.Since(d.started).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) keep() {
	fmt.Printf(`
Everything keeps running. In another shell:

  export KUBECONFIG=%s
  %s get ovhbridge -n %s
  %s describe routerconfig edge -n %s

Simulators (break things, then watch the conditions):
  OVH API      %s   (admin: curl -X POST '%s/_sim/ip/move' -d '{"ip":"%s","to":"%s"}')
  ESXi         %s   (admin: %s/vms/vyatta)
  web1's guest (inside the VM, as Tools report it):
               curl -X DELETE %s/vms/web1/guest/routes/default; curl %s/vms/web1/guest/state
               curl -X DELETE %s/vms/web1/guest/routes/::_0   (IPv6's default route)
  router SSH   %s   (admin: curl -X POST '%s/route/delete?dst=default')
  operator log %s

Ctrl-C stops everything.
`, d.cp.Kubeconfig, d.cp.Kubectl, ns, d.cp.Kubectl, ns,
		d.w.OVH.Endpoint(), d.w.OVH.URL(), world.RouterWANIP, world.OtherServer,
		d.w.ESXi.URL.String(), d.w.ESXiAdminURL, d.w.ESXiAdminURL, d.w.ESXiAdminURL, d.w.ESXiAdminURL, d.w.Router.SSHAddr(), d.w.RouterAdminURL, d.op.LogPath)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

func (d *demo) cleanup(keep bool) {
	if d.op != nil {
		_ = d.op.Stop()
	}
	if d.w != nil {
		d.w.Close()
	}
	if d.cp != nil {
		_ = d.cp.Stop()
	}
	if !keep {
		os.RemoveAll(d.dir)
	}
}

// arpText sums ARP requests the gateway namespace received (-kernel) by
// kind: the flood's, for off-link destinations, and the gateway's own.
func arpText(m map[string]int) string {
	off := 0
	for k, v := range m {
		if k != world.Gateway {
			off += v
		}
	}
	return fmt.Sprintf("%d ARP requests for off-link destinations and %d for the gateway", off, m[world.Gateway])
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
