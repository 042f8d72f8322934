// Package netns drives network namespaces for the tests and simulators that
// run on a real Linux kernel: namespaces created and removed by name (`ip
// netns add|del`, bound under /run/netns), iproute2 and other commands run
// inside them, sysctls and sockets opened from a thread moved into one,
// real UDP traffic, OVH's gateway as a proxy-ARP (IPv4) or proxy-NDP
// (IPv6) namespace, and packet sockets counting the ARP requests and the
// neighbour solicitations a namespace receives. Everything needs
// CAP_NET_ADMIN and CAP_SYS_ADMIN (root, as CI runs); Check says so when
// they are missing.
package netns

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Check reports why this process cannot build network namespaces: missing
// CAP_NET_ADMIN or CAP_SYS_ADMIN, or no iproute2. tools are other commands
// the caller will run (e.g. "arp"), each with a hint on where it comes from.
func Check(tools map[string]string) error {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("cannot read /proc/self/status to check CAP_NET_ADMIN: %w", err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			const capNetAdmin, capSysAdmin = 12, 21
			if err != nil || caps&(1<<capNetAdmin) == 0 || caps&(1<<capSysAdmin) == 0 {
				return fmt.Errorf("network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root, as CI does); effective capabilities: %s", strings.TrimSpace(v))
			}
		}
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("iproute2's ip is needed: %w", err)
	}
	for tool, hint := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed (%s): %w", tool, hint, err)
		}
	}
	return nil
}

// Add creates the named namespace.
func Add(name string) error {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// Del removes the named namespace, and with it every link created inside.
func Del(name string) error {
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// IP runs iproute2 in namespace ns ("" for the caller's) and returns its
// standard output; a failure carries its standard error.
func IP(ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, errOut, code, err := run("ip", args...)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("ip %s: exit status %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errOut))
	}
	return out, nil
}

// IPRun runs iproute2 in ns and returns what it printed and its exit
// status, as a shell would show them; err is set only when it could not be
// run at all.
func IPRun(ns string, args ...string) (stdout, stderr string, code int, err error) {
	return run("ip", append([]string{"-n", ns}, args...)...)
}

// Exec runs argv inside ns (`ip netns exec`) and returns what it printed
// and its exit status; err is set only when it could not be run at all.
func Exec(ns string, argv ...string) (stdout, stderr string, code int, err error) {
	return run("ip", append([]string{"netns", "exec", ns}, argv...)...)
}

func run(name string, args ...string) (string, string, int, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), stderr.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return "", "", 0, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), 0, nil
}

// Do runs fn on an OS thread moved into namespace ns. The thread is never
// handed back to the scheduler: it ends with the goroutine. Sockets fn
// opens stay in ns whichever thread uses them later.
func Do(ns string, fn func() error) error {
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

// Sysctl writes /proc/sys/<key> inside ns: the net/ tree belongs to the
// namespace of the task that opens it.
func Sysctl(ns, key, value string) error {
	if err := Do(ns, func() error { return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644) }); err != nil {
		return fmt.Errorf("sysctl %s=%s in %s: %w", key, value, ns, err)
	}
	return nil
}

// ReadFile reads a file from a thread inside ns. /proc/net/... is the
// namespace of the process's main thread: read /proc/thread-self/net/...
// for ns's.
func ReadFile(ns, path string) (string, error) {
	var b []byte
	err := Do(ns, func() error {
		var err error
		b, err = os.ReadFile(path)
		return err
	})
	return string(b), err
}

// SendUDP makes ns send one UDP datagram to port 9 of each destination
// (IPv4 or IPv6): real packets, routed by the namespace's kernel, which
// resolves the next hop by ARP or neighbour discovery.
func SendUDP(ns string, dsts ...string) error {
	return Do(ns, func() error {
		for _, d := range dsts {
			c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.ParseIP(d), Port: 9})
			if err != nil {
				return fmt.Errorf("%s: %w", d, err)
			}
			_, err = c.Write([]byte("ovhbridge kernel traffic\n"))
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
}

// ProxyARPGateway makes dev in ns behave as OVH's gateway did: it holds
// addr (the server's /24 .254), routes every other address out of a veth
// pair of its own (up0/up1), and answers ARP by proxy for every address it
// routes elsewhere (net/ipv4/arp.c arp_process: a proxy answer needs a
// route through another interface), at once (proxy_delay 0) instead of
// after a random delay of up to 0.8 s.
func ProxyARPGateway(ns, dev, addr string) error {
	steps := [][]string{
		{"link", "add", "up0", "type", "veth", "peer", "name", "up1"},
		{"link", "set", "lo", "up"}, {"link", "set", dev, "up"}, {"link", "set", "up0", "up"}, {"link", "set", "up1", "up"},
		{"addr", "add", addr, "dev", dev},
		{"route", "add", "default", "dev", "up0"},
	}
	for _, s := range steps {
		if _, err := IP(ns, s...); err != nil {
			return err
		}
	}
	for _, kv := range [][2]string{
		{"net/ipv4/ip_forward", "1"},
		{"net/ipv4/conf/" + dev + "/proxy_arp", "1"},
		{"net/ipv4/conf/all/rp_filter", "0"},
		{"net/ipv4/conf/" + dev + "/rp_filter", "0"},
		{"net/ipv4/neigh/" + dev + "/proxy_delay", "0"},
	} {
		if err := Sysctl(ns, kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// ARPCounter counts the ARP requests one interface of a namespace
// receives, by target address, through a packet socket (AF_PACKET,
// ETH_P_ARP) bound to it. The kernel hands a received frame to every
// packet handler of its protocol in the same pass (net/core/dev.c
// __netif_receive_skb_core), so once the namespace has answered a request
// the socket holds it: Drain after seeing the answer misses nothing.
type ARPCounter struct {
	mu sync.Mutex
	fd int
}

// CountARP opens an ARPCounter on dev in ns.
func CountARP(ns, dev string) (*ARPCounter, error) {
	c := &ARPCounter{fd: -1}
	err := Do(ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		proto := htons(unix.ETH_P_ARP)
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(proto))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting ARP on %s in %s: %w", dev, ns, err)
	}
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Drain reads every ARP request received since the last Drain and returns
// their number by target address. Frames the namespace sent itself are not
// counted.
func (c *ARPCounter) Drain() (map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	buf := make([]byte, 1500)
	for {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) {
			return out, nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return out, err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		// RFC 826 for Ethernet/IPv4: htype 1, ptype 0x0800, hlen 6,
		// plen 4, op (1 = request), then sha, spa, tha, tpa.
		if n < 28 || binary.BigEndian.Uint16(buf[6:8]) != 1 || buf[4] != 6 || buf[5] != 4 {
			continue
		}
		tpa, _ := netip.AddrFromSlice(buf[24:28])
		out[tpa.String()]++
	}
}

// Close closes the socket.
func (c *ARPCounter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Neighbours is the IPv4 neighbour table of dev in ns: address -> state
// (iproute2's names, comma-joined when several).
func Neighbours(ns, dev string) (map[string]string, error) { return neighbours(ns, dev, "-4") }

// Neighbours6 is Neighbours for IPv6 (neighbour discovery).
func Neighbours6(ns, dev string) (map[string]string, error) { return neighbours(ns, dev, "-6") }

func neighbours(ns, dev, family string) (map[string]string, error) {
	var raw []struct {
		Dst   string   `json:"dst"`
		State []string `json:"state"`
	}
	out, err := IP(ns, "-j", family, "neigh", "show", "dev", dev)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return nil, fmt.Errorf("ip -j neigh: %w: %s", err, out)
	}
	m := map[string]string{}
	for _, r := range raw {
		m[r.Dst] = strings.Join(r.State, ",")
	}
	return m, nil
}

// WaitNeigh blocks until cond holds for dev's neighbour table in ns, woken
// by the kernel's own neighbour notifications (an rtnetlink socket in ns,
// group RTMGRP_NEIGH), not by a timer. The deadline only turns a kernel
// that never gets there into an error, which carries the last table seen.
func WaitNeigh(ns, dev string, deadline time.Duration, cond func(map[string]string) bool) (map[string]string, error) {
	return waitNeigh(ns, dev, "-4", deadline, cond)
}

// WaitNeigh6 is WaitNeigh for the IPv6 neighbour table.
func WaitNeigh6(ns, dev string, deadline time.Duration, cond func(map[string]string) bool) (map[string]string, error) {
	return waitNeigh(ns, dev, "-6", deadline, cond)
}

func waitNeigh(ns, dev, family string, deadline time.Duration, cond func(map[string]string) bool) (map[string]string, error) {
	var fd int
	err := Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_NEIGH})
	})
	if err != nil {
		return nil, fmt.Errorf("neighbour notifications: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, err
	}
	end := time.Now().Add(deadline)
	buf := make([]byte, 1<<16)
	for {
		// Subscribed before reading the table: no change is missed.
		st, err := neighbours(ns, dev, family)
		if err != nil {
			return nil, err
		}
		if cond(st) {
			return st, nil
		}
		if time.Now().After(end) {
			return st, fmt.Errorf("not reached after %s: %v", deadline, st)
		}
		if _, _, err := unix.Recvfrom(fd, buf, 0); err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return st, fmt.Errorf("neighbour notifications: %w", err)
		}
	}
}

// ProxyNDPGateway makes dev in ns OVH's IPv6 gateway as far as the tests
// can tell: it holds addr (the gateway, with the enclosing /56 as its
// prefix), answers neighbour solicitations for itself and, by proxy, for
// each of answerFor (net/ipv6/ndisc.c ndisc_recv_ns: a proxy entry
// answers when the interface forwards and has proxy_ndp, at once when
// proxy_delay is 0; pndisc_constructor joins the entry's solicited-node
// group, so the multicast solicitation is received), and drops what it is
// sent to forward (a blackhole default: no ICMPv6 errors come back to
// disturb the router's neighbour table). Duplicate address detection is
// off in ns, so addresses are usable at once. Linux proxies NDP per
// address, not per prefix: answerFor lists the destinations a test will
// send to. That OVH's router answers solicitations for off-link
// destinations at all is a guess, modelled on its proxy-ARP (the seed's
// ARP log).
func ProxyNDPGateway(ns, dev, addr string, answerFor []string) error {
	for _, kv := range [][2]string{
		{"net/ipv6/conf/all/accept_dad", "0"},
		{"net/ipv6/conf/" + dev + "/accept_dad", "0"},
		{"net/ipv6/conf/all/forwarding", "1"},
		{"net/ipv6/conf/" + dev + "/proxy_ndp", "1"},
		{"net/ipv6/neigh/" + dev + "/proxy_delay", "0"},
	} {
		if err := Sysctl(ns, kv[0], kv[1]); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"link", "set", "lo", "up"}, {"link", "set", dev, "up"},
		{"-6", "addr", "add", addr, "dev", dev, "nodad"},
		{"-6", "route", "add", "blackhole", "default"},
	}
	for _, a := range answerFor {
		steps = append(steps, []string{"-6", "neigh", "add", "proxy", a, "dev", dev})
	}
	for _, s := range steps {
		if _, err := IP(ns, s...); err != nil {
			return err
		}
	}
	return nil
}

// NSCounter counts the IPv6 neighbour solicitations one interface of a
// namespace receives, by target address, through a packet socket
// (AF_PACKET, ETH_P_IPV6) bound to it: like ARPCounter, it holds every
// solicitation the namespace has answered by the time the answer is seen.
// Duplicate address detection probes (source ::) are not counted.
type NSCounter struct {
	mu sync.Mutex
	fd int
}

// CountNS opens an NSCounter on dev in ns.
func CountNS(ns, dev string) (*NSCounter, error) {
	c := &NSCounter{fd: -1}
	err := Do(ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		proto := htons(unix.ETH_P_IPV6)
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(proto))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting neighbour solicitations on %s in %s: %w", dev, ns, err)
	}
	return c, nil
}

// Drain reads every neighbour solicitation received since the last Drain
// and returns their number by target address. Frames the namespace sent
// itself are not counted.
func (c *NSCounter) Drain() (map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	buf := make([]byte, 1500)
	for {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) {
			return out, nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return out, err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		// RFC 8200 header (40 bytes, next header 58 = ICMPv6, no
		// extension headers on NDP), then RFC 4861 4.3: type 135, code,
		// checksum, reserved, target address.
		if n < 64 || buf[0]>>4 != 6 || buf[6] != 58 || buf[40] != 135 {
			continue
		}
		src, _ := netip.AddrFromSlice(buf[8:24])
		if src.IsUnspecified() {
			continue
		}
		target, _ := netip.AddrFromSlice(buf[48:64])
		out[target.String()]++
	}
}

// Close closes the socket.
func (c *NSCounter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}
