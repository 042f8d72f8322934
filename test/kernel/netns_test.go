package kernel_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// lab is the seed's topology in three network namespaces this test creates
// and removes by name: the router (WAN eth2 with the /32 failover address,
// LAN eth1), OVH's gateway (answering ARP for every address it routes
// elsewhere, as OVH's router did by proxy-ARP), and a LAN host.
type lab struct {
	t               *testing.T
	router, gw, lan string
}

const (
	wanAddr    = "203.0.113.123"
	gwAddr     = "198.51.100.254"
	gwMAC      = "00:05:73:a0:00:01" // the simulator's default GatewayMAC
	wanMAC     = "00:0c:29:00:00:02"
	lanMAC     = "00:0c:29:00:00:01"
	lanHost    = "10.0.10.10"
	lanHostMAC = "52:54:00:00:0a:0a" // what the simulator answers for 10.0.10.10
)

// requireNetAdmin fails (never skips) when the test cannot create network
// namespaces: CI runs as root, and a missing capability must be seen.
func requireNetAdmin(t *testing.T) {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("cannot read /proc/self/status to check CAP_NET_ADMIN: %v", err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			const capNetAdmin, capSysAdmin = 12, 21
			if err != nil || caps&(1<<capNetAdmin) == 0 || caps&(1<<capSysAdmin) == 0 {
				t.Fatalf("this test builds network namespaces and needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run it as root, as CI does); effective capabilities: %s", strings.TrimSpace(v))
			}
		}
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("this test needs iproute2's ip: %v", err)
	}
	if _, err := exec.LookPath("arp"); err != nil {
		t.Fatalf("this test captures `arp -e -n` and needs net-tools' arp (.ci/run installs it; apt-get install net-tools): %v", err)
	}
}

func newLab(t *testing.T) *lab {
	requireNetAdmin(t)
	suffix := strconv.Itoa(os.Getpid())
	l := &lab{t: t, router: "ovhb-rt-" + suffix, gw: "ovhb-gw-" + suffix, lan: "ovhb-lan-" + suffix}
	for _, ns := range []string{l.router, l.gw, l.lan} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s (this test needs CAP_NET_ADMIN)", ns, err, out)
		}
		ns := ns
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	// Links are created inside the namespaces (never in the caller's), so
	// deleting the namespaces removes them.
	l.ip("", "link", "add", "eth2", "netns", l.router, "address", wanMAC, "type", "veth", "peer", "name", "gw0", "netns", l.gw, "address", gwMAC)
	l.ip("", "link", "add", "eth1", "netns", l.router, "address", lanMAC, "type", "veth", "peer", "name", "lan0", "netns", l.lan, "address", lanHostMAC)
	// The gateway routes everything but its own /24 out of up0, so its
	// proxy-ARP answers for every such address (net/ipv4/arp.c arp_process:
	// a proxy answer needs a route through another interface).
	l.ip(l.gw, "link", "add", "up0", "type", "veth", "peer", "name", "up1")
	for ns, links := range map[string][]string{l.router: {"lo", "eth1", "eth2"}, l.gw: {"lo", "gw0", "up0", "up1"}, l.lan: {"lo", "lan0"}} {
		for _, dev := range links {
			l.ip(ns, "link", "set", dev, "up")
		}
	}
	l.ip(l.router, "addr", "add", wanAddr+"/32", "dev", "eth2")
	l.ip(l.router, "addr", "add", "10.0.10.254/24", "dev", "eth1")
	l.ip(l.gw, "addr", "add", gwAddr+"/24", "dev", "gw0")
	l.ip(l.gw, "route", "add", "default", "dev", "up0")
	l.ip(l.gw, "route", "add", wanAddr, "dev", "gw0")
	l.ip(l.lan, "addr", "add", lanHost+"/24", "dev", "lan0")
	l.ip(l.lan, "route", "add", "default", "via", "10.0.10.254")
	l.sysctl(l.gw, "net/ipv4/ip_forward", "1")
	l.sysctl(l.gw, "net/ipv4/conf/gw0/proxy_arp", "1")
	l.sysctl(l.gw, "net/ipv4/conf/all/rp_filter", "0")
	l.sysctl(l.gw, "net/ipv4/conf/gw0/rp_filter", "0")
	// Answer at once instead of after a random delay of up to 0.8 s.
	l.sysctl(l.gw, "net/ipv4/neigh/gw0/proxy_delay", "0")
	l.sysctl(l.router, "net/ipv4/ip_forward", "1")
	// Unanswered destinations fail after three probes 50 ms apart.
	l.sysctl(l.router, "net/ipv4/neigh/eth2/retrans_time_ms", "50")
	return l
}

// ip runs iproute2 in namespace ns ("" for the caller's) and fails the test
// on error.
func (l *lab) ip(ns string, args ...string) string {
	l.t.Helper()
	out, err := l.ipErr(ns, args...)
	if err != nil {
		l.t.Fatal(err)
	}
	return out
}

func (l *lab) ipErr(ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// exec runs a command inside ns through `ip netns exec`, as the drivers'
// commands run on the router.
func (l *lab) exec(ns string, argv ...string) string {
	l.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		l.t.Fatalf("%s in %s: %v: %s", strings.Join(argv, " "), ns, err, stderr.String())
	}
	return stdout.String()
}

// sysctl writes /proc/sys/<key> from a thread inside ns: the net/ tree
// belongs to the namespace of the task that opens it.
func (l *lab) sysctl(ns, key, value string) {
	l.t.Helper()
	if err := inNetns(ns, func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	}); err != nil {
		l.t.Fatalf("sysctl %s=%s in %s: %v", key, value, ns, err)
	}
}

// inNetns runs fn on an OS thread moved into namespace ns. The thread is
// never handed back to the scheduler: it ends with the goroutine.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns) // where `ip netns add` binds it
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// send makes ns send one UDP datagram to each destination: real packets,
// routed by the namespace's kernel, which resolves the next hop by ARP.
func (l *lab) send(ns string, dsts ...string) {
	l.t.Helper()
	err := inNetns(ns, func() error {
		for _, d := range dsts {
			c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(d), Port: 9})
			if err != nil {
				return fmt.Errorf("%s: %w", d, err)
			}
			_, err = c.Write([]byte("ovhbridge kernel test\n"))
			c.Close()
			// An earlier failed resolution is reported on the next
			// send to the same destination; the packet itself is what
			// counts.
			if err != nil && !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("%s: %w", d, err)
			}
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("sending from %s: %v", ns, err)
	}
}

// neighState is the router's eth2 neighbour table: address -> state.
func (l *lab) neighState() map[string]string {
	l.t.Helper()
	var raw []struct {
		Dst   string   `json:"dst"`
		State []string `json:"state"`
	}
	out := l.ip(l.router, "-j", "-4", "neigh", "show", "dev", "eth2")
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		l.t.Fatalf("ip -j neigh: %v: %s", err, out)
	}
	m := map[string]string{}
	for _, r := range raw {
		m[r.Dst] = strings.Join(r.State, ",")
	}
	return m
}

// waitNeigh blocks until cond holds for the router's eth2 neighbour table,
// woken by the kernel's own neighbour notifications (an rtnetlink socket in
// the router's namespace, group RTMGRP_NEIGH), not by a timer. The deadline
// only turns a kernel that never gets there into a failure.
func (l *lab) waitNeigh(what string, cond func(map[string]string) bool) map[string]string {
	l.t.Helper()
	var fd int
	err := inNetns(l.router, func() error {
		var err error
		fd, err = syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		const rtmgrpNeigh = 0x4
		return syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: rtmgrpNeigh})
	})
	if err != nil {
		l.t.Fatalf("neighbour notifications: %v", err)
	}
	defer syscall.Close(fd)
	tv := syscall.NsecToTimeval(int64(time.Second))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		l.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	buf := make([]byte, 1<<16)
	for {
		// Subscribed before reading the table: no change is missed.
		st := l.neighState()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("the router's neighbour table never reached %s: %v", what, st)
		}
		if _, _, err := syscall.Recvfrom(fd, buf, 0); err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR) {
			l.t.Fatalf("neighbour notifications: %v", err)
		}
	}
}
