// Package routersim is a stand-in for the Vyatta / VyOS router VM of an OVH
// bridged setup, faithful enough to test the operator's router drivers over
// the real protocols: an SSH server running the vbash scripts the drivers
// send (a small interpreter, not bash), the VyOS HTTPS API on VyOS profiles,
// working / active / saved configuration trees checked against the
// platform's templates, and a kernel model whose routes are derived from the
// active configuration as each platform's routing daemon does — including
// the Vyatta 6.5 + Quagga default route without gateway that floods the
// neighbour table when traffic is injected. Faults (dropped connections,
// failed or partial commits, the commit lock, slow replies) and out-of-band
// edits are injectable, and every command is counted.
package routersim

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ovhbridge/ovhbridge-operator/test/netns"
)

// Profile is a router release the simulator imitates.
type Profile string

// Profiles.
const (
	Vyatta65 Profile = "vyatta-6.5"
	VyOS13   Profile = "vyos-1.3"
	VyOS14   Profile = "vyos-1.4"
	VyOS15   Profile = "vyos-1.5"
)

// Profiles lists every profile.
var Profiles = []Profile{Vyatta65, VyOS13, VyOS14, VyOS15}

// Options configure a simulated router. Zero values get defaults.
type Options struct {
	// Username / Password accepted over SSH (default vyos / vyos, or
	// vyatta / vyatta on Vyatta).
	Username, Password string
	// RootPassword is what `su -` asks for (default: Password).
	RootPassword string
	// AuthorizedKeys are accepted for public-key authentication.
	AuthorizedKeys []ssh.PublicKey
	// HostKey is the SSH host key (default: a fresh ed25519 key).
	HostKey ssh.Signer
	// APIKey is put into the default configuration as `service https api
	// keys id ovhbridge key ...` (default "sim-api-key"). A seed
	// configuration brings its own keys.
	APIKey string
	// Seed is the initial saved and active configuration, curly
	// (config.boot) or set commands. Default: a minimal router with eth1
	// and eth2, SSH, and on VyOS the HTTP API.
	Seed string
	// NICs are the interfaces the VM has (default eth0..eth3).
	NICs []string
	// Gateway is OVH's gateway on the WAN (default 198.51.100.254) and
	// GatewayMAC the MAC it answers ARP with, for itself and — by
	// proxy-ARP — for every other address (default 00:05:73:a0:00:01).
	Gateway, GatewayMAC string
	// Gateway6 is OVH's IPv6 gateway: its neighbour entry is a router's.
	// Default: whatever the IPv6 default route goes through. The same
	// GatewayMAC answers its neighbour solicitations, and — a guess
	// modelled on the seed's proxy-ARP — those for every off-link address.
	Gateway6 string
	// Hosts maps neighbour addresses that answer ARP themselves to MACs.
	Hosts map[string]string
	// Silent are addresses nothing answers ARP for: their neighbour entry
	// stays INCOMPLETE, then FAILED (FailUnanswered).
	Silent []string
	// Addr is the listen address for both servers (default 127.0.0.1).
	Addr string
	// Hostname (default vyatta / vyos).
	Hostname string
	// Netns, when set, runs the router on a real kernel (netkernel.go):
	// the simulator creates the network namespaces Netns (the router, one
	// link per NIC), GatewayNetns(Netns) (OVH's gateway by proxy-ARP,
	// cabled to WAN) and LANNetns(Netns) (the other NICs' peers), and
	// removes them on Close. Needs CAP_NET_ADMIN and
	// CAP_SYS_ADMIN.
	Netns string
	// WAN is the NIC cabled to the gateway in kernel mode (default eth2).
	WAN string
}

// Router is one simulated router.
type Router struct {
	profile Profile
	opts    Options
	schema  *snode

	mu     sync.Mutex
	active *tree
	files  map[string]*file
	routes []kroute
	neigh  []neighbour
	// proxy6 is the kernel's IPv6 proxy neighbour table (pneigh), and
	// proxyApplied the neighbor-proxy configuration last applied to it.
	proxy6       []proxyEntry
	proxyApplied string
	// nhids are FRR's kernel nexthop objects; noCarrier the NICs whose
	// cable is out.
	nhids     map[string]int
	noCarrier map[string]bool
	calls     map[string]int
	faults    faults
	boots     int
	// nk is the real kernel in kernel mode (nil: the model), kernelErr
	// the last failure to bring it in line with the configuration.
	nk        *netKernel
	kernelErr error

	commitLog []CommitRecord
	saveLog   []SaveRecord

	hostKey ssh.Signer
	ca      *certAuthority
	sshLn   net.Listener
	httpLn  net.Listener
	httpSrv *http.Server
	conns   map[net.Conn]bool
	// apiInFlight counts the HTTP API requests being handled.
	apiInFlight atomic.Int64
	closed      chan struct{}
	wg          sync.WaitGroup
	apiMu       sync.Mutex // the API server's "giant lock" around sessions
	started     bool
	isClosed    bool
}

type file struct {
	content string
	mode    uint32
}

type faults struct {
	failCommit []commitFailure
	dropCommit *dropFault
	dropSave   bool
	lockHeld   bool
	latency    time.Duration
	dropExecs  int
	cutConns   int
	garble     []garbleRule

	commitReplyDelay time.Duration
}

type commitFailure struct {
	prefix []string
	text   string
	sticky bool // stays until ClearFaults instead of failing one commit
}

type dropFault struct{ applied bool }

// Paths of the files the simulator serves.
const (
	ConfigBootPath       = "/config/config.boot"
	vyattaVersionPath    = "/opt/vyatta/etc/version"
	vyosVersionPath      = "/usr/share/vyos/version.json"
	vyattaBootScriptPath = "/config/scripts/vyatta-postconfig-bootup.script"
	vyosBootScriptPath   = "/config/scripts/vyos-postconfig-bootup.script"
	scriptTemplatePath   = "/opt/vyatta/etc/functions/script-template"
)

// New builds a router with its configuration loaded and kernel state derived,
// not yet listening.
func New(p Profile, opts Options) (*Router, error) {
	known := false
	for _, q := range Profiles {
		known = known || p == q
	}
	if !known {
		return nil, fmt.Errorf("routersim: unknown profile %q", p)
	}
	if opts.Username == "" {
		opts.Username, opts.Password = "vyos", "vyos"
		if p == Vyatta65 {
			opts.Username, opts.Password = "vyatta", "vyatta"
		}
	}
	if opts.APIKey == "" {
		opts.APIKey = "sim-api-key"
	}
	if len(opts.NICs) == 0 {
		opts.NICs = []string{"eth0", "eth1", "eth2", "eth3"}
	}
	if opts.Gateway == "" {
		opts.Gateway = "198.51.100.254"
	}
	if opts.GatewayMAC == "" {
		opts.GatewayMAC = "00:05:73:a0:00:01"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1"
	}
	if opts.Hostname == "" {
		opts.Hostname = "vyos"
		if p == Vyatta65 {
			opts.Hostname = "vyatta"
		}
	}
	r := &Router{
		profile: p, opts: opts, schema: buildSchema(p),
		files: map[string]*file{}, calls: map[string]int{}, conns: map[net.Conn]bool{},
		closed: make(chan struct{}),
	}
	r.active = r.emptyTree()
	seed := opts.Seed
	if seed == "" {
		seed = r.defaultSeed()
	}
	if err := r.active.load(seed); err != nil {
		return nil, fmt.Errorf("routersim: seed configuration: %w", err)
	}
	r.files[ConfigBootPath] = &file{content: r.configBoot(r.active), mode: 0o660}
	r.files[r.versionPath()] = &file{content: r.versionFile(), mode: 0o644}
	r.files[r.bootScriptPath()] = &file{content: defaultBootScript, mode: 0o755}
	if p != Vyatta65 {
		r.files[scriptTemplatePath] = &file{content: "# script-template\n", mode: 0o644}
	}
	if opts.HostKey != nil {
		r.hostKey = opts.HostKey
	} else {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		if r.hostKey, err = ssh.NewSignerFromKey(priv); err != nil {
			return nil, err
		}
	}
	if opts.Netns != "" {
		if err := r.startKernel(); err != nil {
			return nil, err
		}
	}
	r.syncRoutes()
	return r, nil
}

const defaultBootScript = `#!/bin/sh
# This script is executed at boot time after the router configuration is fully applied.
# Any modifications required to work around unfixed bugs
# or use services not available through the CLI can be placed here.
`

func (r *Router) emptyTree() *tree {
	return &tree{schema: r.schema, root: newNode(), normaliseNAT: r.profile == VyOS14 || r.profile == VyOS15}
}

func (r *Router) defaultSeed() string {
	var b strings.Builder
	b.WriteString("set interfaces ethernet eth1 hw-id '00:0c:29:00:00:01'\n")
	b.WriteString("set interfaces ethernet eth2 hw-id '00:0c:29:00:00:02'\n")
	b.WriteString("set system host-name '" + r.opts.Hostname + "'\n")
	b.WriteString("set system login user " + r.opts.Username + " authentication encrypted-password '$6$sim$notarealhash'\n")
	b.WriteString("set service ssh port '22'\n")
	if r.profile != Vyatta65 {
		b.WriteString("set service https api keys id ovhbridge key '" + r.opts.APIKey + "'\n")
	}
	if r.profile == VyOS15 {
		b.WriteString("set service https api rest\n")
	}
	return b.String()
}

func (r *Router) versionPath() string {
	if r.profile == Vyatta65 {
		return vyattaVersionPath
	}
	return vyosVersionPath
}

func (r *Router) bootScriptPath() string {
	if r.profile == Vyatta65 {
		return vyattaBootScriptPath
	}
	return vyosBootScriptPath
}

// Version is the release string the router reports.
func (r *Router) Version() string {
	switch r.profile {
	case Vyatta65:
		return "VC6.5R1"
	case VyOS13:
		return "1.3.8"
	case VyOS14:
		return "1.4.0"
	}
	return "1.5-rolling-202501010000"
}

func (r *Router) releaseTrain() string {
	switch r.profile {
	case VyOS13:
		return "equuleus"
	case VyOS14:
		return "sagitta"
	}
	return "circinus"
}

func (r *Router) versionFile() string {
	if r.profile == Vyatta65 {
		return "Version :    VC6.5R1\nDescription : Vyatta Core 6.5 R1\nCopyright :  2006-2012 Vyatta, Inc.\n" +
			"Built by :   autobuild@vyatta.com\nBuilt on :   201210220136 -- Mon Oct 22 01:36:00 UTC 2012\n" +
			"Build ID :   1210220136-ea05c09\nBoot via :   image\n"
	}
	return fmt.Sprintf(`{"version": %q, "built_by": "autobuild@vyos.net", "built_on": "Mon 01 Jan 2024 00:00 UTC", "build_uuid": "00000000-0000-0000-0000-000000000000", "build_git": "0000000", "build_branch": %q, "release_train": %q, "lts_build": %t, "architecture": "amd64"}`+"\n",
		r.Version(), r.releaseTrain(), r.releaseTrain(), r.profile != VyOS15)
}

func (r *Router) showVersion() string {
	return fmt.Sprintf("Version:          VyOS %s\nRelease train:    %s\n\nBuilt by:         autobuild@vyos.net\nBuilt on:         Mon 01 Jan 2024 00:00 UTC\n"+
		"Build UUID:       00000000-0000-0000-0000-000000000000\nBuild commit ID:  0000000\n\nArchitecture:     x86_64\nBoot via:         installed image\nSystem type:      VMware guest\n",
		r.Version(), r.releaseTrain())
}

// showDialect is how `cli-shell-api showConfig` prints on this release.
func (r *Router) showDialect() bootDialect {
	if r.profile == Vyatta65 {
		return dialectPacifica
	}
	return dialectVyattaCfg
}

// saveDialect is how `save` writes config.boot: vyatta-save-config.pl
// printing `cli-shell-api showConfig` up to 1.3 (vyatta-cfg
// scripts/vyatta-save-config.pl, branches pacifica and equuleus),
// vyos-save-config.py through vyos1x-config from 1.4 (vyatta-cfg
// functions/wrapper/script-template save_cmd, branch sagitta).
func (r *Router) saveDialect() bootDialect {
	if r.profile == VyOS14 || r.profile == VyOS15 {
		return dialectVyOS1x
	}
	return r.showDialect()
}

// configBoot renders a saved configuration with the platform's footer.
func (r *Router) configBoot(t *tree) string {
	body := t.curly(r.saveDialect())
	switch r.profile {
	case Vyatta65:
		return body + "\n\n/* Warning: Do not remove the following line. */\n" +
			`/* === vyatta-config-version: "cluster@1:config-management@1:conntrack-sync@1:conntrack@1:cron@1:dhcp-relay@1:dhcp-server@4:firewall@4:ipsec@3:nat@3:qos@1:quagga@2:system@5:vrrp@1:wanloadbalance@3:webgui@1:webproxy@1:zone-policy@1" === */` + "\n" +
			"/* Release version: VC6.5R1 */\n"
	case VyOS13:
		return body + "\n\n/* Warning: Do not remove the following line. */\n" +
			`/* === vyatta-config-version: "broadcast-relay@1:cluster@1:config-management@1:conntrack@1:nat@5:system@21:zone-policy@1" === */` + "\n" +
			"/* Release version: " + r.Version() + " */\n"
	}
	return body + "// Warning: Do not remove the following line.\n" +
		`// vyos-config-version: "bgp@5:broadcast-relay@1:cluster@2:config-management@1:conntrack@5:nat@8:system@27:zone-policy@1"` + "\n" +
		"// Release version: " + r.Version() + "\n"
}

// Start listens for SSH (and HTTPS on VyOS profiles) on ephemeral ports.
func (r *Router) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("routersim: already started")
	}
	return r.listen("0", "0")
}

// StartOn listens on the given ports ("0" for ephemeral).
func (r *Router) StartOn(sshPort, httpsPort string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("routersim: already started")
	}
	return r.listen(sshPort, httpsPort)
}

func (r *Router) listen(sshPort, httpsPort string) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(r.opts.Addr, sshPort))
	if err != nil {
		return err
	}
	r.sshLn = ln
	r.wg.Add(1)
	go r.serveSSH(ln)
	if r.profile != Vyatta65 {
		ca, err := newCertAuthority(r.opts.Addr)
		if err != nil {
			ln.Close()
			return err
		}
		r.ca = ca
		hl, err := net.Listen("tcp", net.JoinHostPort(r.opts.Addr, httpsPort))
		if err != nil {
			ln.Close()
			return err
		}
		r.httpLn = hl
		r.startHTTPS(hl)
	}
	r.started = true
	return nil
}

// Close stops both servers and drops every connection.
func (r *Router) Close() {
	r.mu.Lock()
	if r.isClosed {
		r.mu.Unlock()
		return
	}
	r.isClosed = true
	close(r.closed)
	if r.sshLn != nil {
		r.sshLn.Close()
	}
	for c := range r.conns {
		c.Close()
	}
	srv := r.httpSrv
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	r.wg.Wait()
	if r.nk != nil {
		r.nk.close()
	}
}

// KernelError is, in kernel mode, the last failure to bring the real
// kernel in line with the configuration (nil when it is).
func (r *Router) KernelError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kernelErr
}

// Profile is the release this router imitates.
func (r *Router) Profile() Profile { return r.profile }

// SSHAddr is host:port of the SSH server.
func (r *Router) SSHAddr() string { return r.sshLn.Addr().String() }

// APIURL is the HTTPS API base URL ("" on Vyatta).
func (r *Router) APIURL() string {
	if r.httpLn == nil {
		return ""
	}
	return "https://" + r.httpLn.Addr().String()
}

// HostPublicKey is the SSH host key.
func (r *Router) HostPublicKey() ssh.PublicKey { return r.hostKey.PublicKey() }

// HostKeyLine is the host key in authorized_keys format, as a Secret's
// hostKey holds it.
func (r *Router) HostKeyLine() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(r.hostKey.PublicKey())))
}

// CACertPEM is the CA that signed the HTTPS certificate (nil on Vyatta).
func (r *Router) CACertPEM() []byte {
	if r.ca == nil {
		return nil
	}
	return r.ca.caPEM
}

// ServerCertPEM is the HTTPS server's own certificate, for pinning it.
func (r *Router) ServerCertPEM() []byte {
	if r.ca == nil {
		return nil
	}
	return r.ca.leafPEM
}

// APIKey is the key of the default configuration.
func (r *Router) APIKey() string { return r.opts.APIKey }

// Username and Password accepted over SSH.
func (r *Router) Username() string { return r.opts.Username }

// Password accepted over SSH.
func (r *Router) Password() string { return r.opts.Password }

// ---- observation ----

// ActiveCommands is the active configuration as set commands.
func (r *Router) ActiveCommands() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active.commands()
}

// CLIShellAPICommands is `cli-shell-api showConfig --show-active-only
// --show-commands`: every word in single quotes, nothing escaped.
func (r *Router) CLIShellAPICommands() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active.cliCommands(nil)
}

// SavedConfig is the content of /config/config.boot.
func (r *Router) SavedConfig() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.files[ConfigBootPath]; f != nil {
		return f.content
	}
	return ""
}

// RoutesText is `ip route show` as the platform prints it.
func (r *Router) RoutesText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.routesText(r.profile == Vyatta65)
}

// RoutesText6 is `ip -6 route show` as the platform prints it.
func (r *Router) RoutesText6() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.routesTextFamily(r.profile == Vyatta65, fam6)
}

// Neighbour is one entry of the simulated neighbour cache.
type Neighbour struct{ IP, Dev, MAC, State string }

// Neighbours lists the neighbour cache of dev ("" for all).
func (r *Router) Neighbours(dev string) []Neighbour {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nk != nil {
		r.nk.refresh(r)
	}
	var out []Neighbour
	for _, n := range r.neigh {
		if (dev == "" || n.dev == dev) && !n.v6() {
			out = append(out, Neighbour{n.ip, n.dev, n.mac, n.state})
		}
	}
	return out
}

// Neighbours6 lists the IPv6 neighbour cache of dev ("" for all).
func (r *Router) Neighbours6(dev string) []Neighbour {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Neighbour
	for _, n := range r.neigh {
		if (dev == "" || n.dev == dev) && n.v6() {
			out = append(out, Neighbour{n.ip, n.dev, n.mac, n.state})
		}
	}
	return out
}

// BootScript returns the boot script and whether it exists and is executable.
func (r *Router) BootScript() (content string, exists, executable bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[r.bootScriptPath()]
	if f == nil {
		return "", false, false
	}
	return f.content, true, f.mode&0o111 != 0
}

// Boots counts reboots.
func (r *Router) Boots() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.boots
}

// Calls returns a copy of the call counters: "ssh.connect", "ssh.exec",
// "api:/configure", and one per shell command kind ("commit", "save",
// "set", "delete", "showConfig", "ip route", "ip neigh", "cat", ...).
func (r *Router) Calls() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.calls))
	for k, v := range r.calls {
		out[k] = v
	}
	return out
}

// Count returns one call counter.
func (r *Router) Count(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[kind]
}

func (r *Router) count(kind string) { r.calls[kind]++ }

// ---- world events and out-of-band edits ----

// InjectTraffic makes the router send one packet to each destination (IPv4
// or IPv6), which fills the neighbour cache the way the kernel would (ARP,
// or neighbour discovery): with a correct default
// route only the gateway gets an entry; with a default route without gateway
// every destination gets one, all with the gateway's (proxy-ARP) MAC.
//
// In kernel mode the router's kernel sends one real UDP datagram to each.
func (r *Router) InjectTraffic(dsts ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range dsts {
		a, err := netip.ParseAddr(d)
		if err != nil || a.Is4In6() {
			return fmt.Errorf("routersim: bad destination %q", d)
		}
		if r.nk == nil {
			r.inject(a)
		}
	}
	if r.nk != nil {
		return netns.SendUDP(r.nk.router, dsts...)
	}
	return nil
}

// InjectForwarded makes a LAN host at src send one packet to each
// destination through the router: the router learns src from its ARP
// request (a STALE entry) and forwards the packets, resolving next hops as
// for its own traffic.
func (r *Router) InjectForwarded(src string, dsts ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nk != nil {
		return errors.New("routersim: forwarded traffic is not modelled in kernel mode (no LAN namespace)")
	}
	a, err := netip.ParseAddr(src)
	if err != nil || !a.Is4() {
		return fmt.Errorf("routersim: bad source %q", src)
	}
	rt, ok := r.lookup(a)
	if !ok || rt.gw != "" || rt.dev == "" {
		return fmt.Errorf("routersim: %s is not on a connected network", src)
	}
	r.learn(a, rt.dev)
	for _, d := range dsts {
		a, err := netip.ParseAddr(d)
		if err != nil || !a.Is4() {
			return fmt.Errorf("routersim: bad destination %q", d)
		}
		r.inject(a)
	}
	return nil
}

// AgeNeighbours lets reachable_time pass with no traffic: REACHABLE
// entries become STALE (net/core/neighbour.c neigh_timer_handler, with
// the entry not used within delay_first_probe_time).
func (r *Router) AgeNeighbours() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nk != nil {
		return // the kernel's own business in kernel mode
	}
	for i := range r.neigh {
		if r.neigh[i].state == nudReachable {
			r.neigh[i].state = nudStale
		}
	}
}

// FailUnanswered lets the ARP probes of unanswered entries run out
// (mcast_solicit requests, retrans_time apart): INCOMPLETE becomes FAILED.
func (r *Router) FailUnanswered() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nk != nil {
		return // the kernel's own business in kernel mode
	}
	for i := range r.neigh {
		if r.neigh[i].state == nudIncomplete {
			r.neigh[i].state = nudFailed
		}
	}
}

// SetCarrier plugs (up) or unplugs a NIC's cable: routes through it are
// kept and flagged linkdown, as the kernel does.
func (r *Router) SetCarrier(dev string, up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nk != nil {
		return // the kernel's own business in kernel mode
	}
	if r.noCarrier == nil {
		r.noCarrier = map[string]bool{}
	}
	r.noCarrier[dev] = !up
}

// RunIP runs `ip ARGS` as root, as a human at the console would, and
// returns what it printed and its exit status.
func (r *Router) RunIP(args ...string) (string, int) {
	sh := newShell(r, true)
	code := sh.ip(args)
	out, errOut := sh.output()
	return out + errOut, code
}

// SetConfig applies set commands to the active configuration and commits
// them, as a human at the console would — without saving.
func (r *Router) SetConfig(lines ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	paths, err := parseSetLines(strings.Join(lines, "\n"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := r.active.set(p); err != nil {
			return fmt.Errorf("routersim: %s: %s", strings.Join(p, " "), strings.TrimSpace(err.Error()))
		}
	}
	r.syncRoutes()
	return nil
}

// DeleteConfig deletes a path from the active configuration and commits,
// without saving.
func (r *Router) DeleteConfig(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	words, err := splitShellWords(path)
	if err != nil {
		return err
	}
	if _, err := r.active.del(words); err != nil {
		return fmt.Errorf("routersim: %s", strings.TrimSpace(err.Error()))
	}
	r.syncRoutes()
	return nil
}

// DeleteRoute removes kernel routes to dst ("default" or a prefix/address),
// as `ip route del` by hand would. It reports whether one was removed.
func (r *Router) DeleteRoute(dst string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nk != nil {
		removed := false
		for r.nk.must("route", "del", dst) == nil {
			removed = true
		}
		return removed
	}
	var p netip.Prefix
	if dst == "default" {
		p = netip.MustParsePrefix("0.0.0.0/0")
	} else {
		var err error
		if p, err = parsePrefixOrAddr(dst); err != nil {
			return false
		}
	}
	var keep []kroute
	for _, rt := range r.routes {
		if rt.dst == p.Masked() {
			continue
		}
		keep = append(keep, rt)
	}
	removed := len(keep) != len(r.routes)
	r.routes = keep
	return removed
}

// AddRoute runs `ip route replace <spec>` as root.
func (r *Router) AddRoute(spec string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	out, code := r.ipRouteModify(strings.Fields(spec), true)
	if code != 0 {
		return errors.New(strings.TrimSpace(out))
	}
	return nil
}

// FlushNeighbours empties dev's neighbour cache ("" for all).
func (r *Router) FlushNeighbours(dev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushNeigh(dev, famAll)
}

// WriteBootScript replaces the boot script out of band.
func (r *Router) WriteBootScript(content string, executable bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mode := uint32(0o644)
	if executable {
		mode = 0o755
	}
	r.files[r.bootScriptPath()] = &file{content: content, mode: mode}
}

// DeleteBootScript removes the boot script.
func (r *Router) DeleteBootScript() {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.files, r.bootScriptPath())
}

// Reboot drops everything unsaved: the active configuration is reloaded from
// config.boot, manual routes and the neighbour cache vanish, open
// connections are cut, and the boot script runs if it is executable.
//
// config.boot is read by the platform's boot loader (bootLoad). When that
// loader rejects the file, the router still comes up, without any
// configuration: Vyatta 6.5's scripts/vyatta-boot-config-loader (vyatta-cfg,
// pacifica) logs the failed `cli-shell-api loadFile` and commits the
// untouched, empty session; VyOS 1.3's src/helpers/vyos-boot-config-loader.py
// (vyos-1x, equuleus) exits on the ConfigSessionError before committing.
// The post-config boot script runs either way (VyOS 1.3: scripts/init/vyos-router
// run_postconfig_scripts after load_bootfile, vyatta-cfg equuleus; Vyatta:
// called from /etc/rc.local, which runs after the router's init script —
// from Vyatta's documentation, not its sources). Reboot then returns a
// *BootLoadError with what the loader printed. A real router in that state
// has no addresses and no SSH service; the simulator keeps answering on its
// listeners (a simplification).
func (r *Router) Reboot() error {
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	t := r.emptyTree()
	var loadErr error
	if f := r.files[ConfigBootPath]; f != nil {
		paths, err := r.bootLoad(f.content)
		if err != nil {
			loadErr = &BootLoadError{Profile: r.profile, Output: err.Error()}
		}
		for _, p := range paths {
			if err := t.set(p); err != nil {
				r.mu.Unlock()
				return fmt.Errorf("routersim: config.boot does not load: %s: %s", strings.Join(p, " "), strings.TrimSpace(err.Error()))
			}
		}
	}
	r.active = t
	r.routes = nil
	r.neigh = nil
	r.proxy6, r.proxyApplied = nil, ""
	var flushErr error
	if r.nk != nil {
		flushErr = r.nk.reboot(r)
	}
	r.syncRoutes()
	if flushErr != nil {
		r.kernelErr = errors.Join(flushErr, r.kernelErr)
	}
	r.boots++
	script, run := "", false
	if f := r.files[r.bootScriptPath()]; f != nil && f.mode&0o111 != 0 {
		script, run = f.content, true
	}
	r.mu.Unlock()
	if run {
		sh := newShell(r, true)
		sh.exec(script)
	}
	return loadErr
}

// BootLoadError is a reboot whose config.boot the platform's boot loader
// rejected: the router is up with an empty configuration.
type BootLoadError struct {
	Profile Profile
	// Output is what the loader printed.
	Output string
}

func (e *BootLoadError) Error() string {
	return fmt.Sprintf("routersim: %s rebooted without its configuration: the boot loader rejected config.boot: %s",
		e.Profile, strings.ReplaceAll(e.Output, "\n", "; "))
}

// bootLoad parses config.boot as the platform's boot loader does. Up to 1.3
// that is vyatta-cfg cparse (cparse.go). VyOS 1.4+ boots through the same
// `cli-shell-api loadFile` (vyos-1x src/helpers/vyos-boot-config-loader.py
// and python/vyos/configsession.py, branches sagitta and circinus), but this
// model reads its escaped file with vyos1x-config's rules (parseCurly), a
// simplification: cparse would keep escaping backslashes as they are.
func (r *Router) bootLoad(text string) ([][]string, error) {
	switch r.profile {
	case Vyatta65:
		return parseCparse(text, false)
	case VyOS13:
		return parseCparse(text, true)
	}
	return parseConfigText(text)
}

// Save writes the active configuration to config.boot, as `save` at the
// console would.
func (r *Router) Save() {
	r.mu.Lock()
	defer r.mu.Unlock()
	content := r.configBoot(r.active)
	r.files[ConfigBootPath] = &file{content: content, mode: 0o660}
}

// ---- faults ----

// FailCommit makes the next commit that changes anything under prefix
// (words of a configuration path, e.g. "nat source") fail with text, the way
// a rejected node fails: other subtrees of the same commit still go through
// (a partial commit). The failure fires once; FailCommits keeps failing.
func (r *Router) FailCommit(prefix, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.failCommit = append(r.faults.failCommit, commitFailure{strings.Fields(prefix), text, false})
}

// ClearFaults removes every injected fault.
func (r *Router) ClearFaults() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = faults{}
}

// DropNextCommit cuts the connection (SSH) or aborts the request (HTTP) of
// the next commit without an answer; applied says whether the commit took
// effect before the cut.
func (r *Router) DropNextCommit(applied bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.dropCommit = &dropFault{applied: applied}
}

// HoldLock makes commits fail as if another commit held the lock.
func (r *Router) HoldLock(held bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.lockHeld = held
}

// SetLatency delays every SSH command and HTTP reply.
func (r *Router) SetLatency(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.latency = d
}

func (r *Router) latency() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.faults.latency
}

func (r *Router) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-r.closed:
	}
}

// ---- configuration engine ----

const lockedMessage = "Configuration system temporarily locked due to another commit in progress"

// errDrop tells a transport to cut the connection without an answer.
var errDrop = errors.New("routersim: connection dropped by fault injection")

// commitOrder is the order top-level nodes commit in (their priority).
var commitOrder = map[string]int{"interfaces": 1, "system": 2, "service": 3, "protocols": 4, "firewall": 5, "nat": 6}

// commit applies a session's working tree to the active one, subtree by
// subtree as the Vyatta commit engine does: a rejected subtree stays as it
// was while the others are committed. Callers hold r.mu. It returns the
// text printed, whether everything committed, and errDrop when a fault cuts
// the connection.
func (r *Router) commit(work *tree) (string, bool, error) {
	before := r.active.key()
	out, ok, err := r.runCommit(work)
	r.recordCommit(before, out, ok, err)
	return out, ok, err
}

func (r *Router) runCommit(work *tree) (string, bool, error) {
	r.count("commit")
	if drop := r.faults.dropCommit; drop != nil {
		r.faults.dropCommit = nil
		if drop.applied {
			r.active = work.clone()
			r.syncRoutes()
		}
		return "", false, errDrop
	}
	if r.faults.lockHeld {
		return lockedMessage + "\n", false, nil
	}
	if work.equal(r.active) {
		return "No configuration changes to commit\n", true, nil
	}
	tops := map[string]bool{}
	for k := range work.root.kids {
		tops[k] = true
	}
	for k := range r.active.root.kids {
		tops[k] = true
	}
	var order []string
	for k := range tops {
		order = append(order, k)
	}
	sort.Slice(order, func(i, j int) bool {
		oi, oj := commitOrder[order[i]], commitOrder[order[j]]
		if oi != oj {
			return oi < oj
		}
		return order[i] < order[j]
	})
	var out strings.Builder
	failed := false
	for _, top := range order {
		if work.subtreeCommands(top) == r.active.subtreeCommands(top) {
			continue
		}
		if msg, where := r.checkSubtree(work, top); msg != "" {
			fmt.Fprintf(&out, "\n[ %s ]\n%s\n\n[[%s]] failed\n", where, strings.TrimSpace(msg), top)
			failed = true
			continue
		}
		if c, ok := work.root.kids[top]; ok {
			r.active.root.kids[top] = c.clone()
		} else {
			delete(r.active.root.kids, top)
		}
	}
	r.syncRoutes()
	if failed {
		out.WriteString("Commit failed\n")
		return out.String(), false, nil
	}
	return out.String(), true, nil
}

// checkSubtree runs the commit-time checks of one top-level node: injected
// failures, and the NAT rule checks the real templates perform.
func (r *Router) checkSubtree(work *tree, top string) (msg, where string) {
	changed := diffStatements(r.active, work, top)
	for i, f := range r.faults.failCommit {
		for _, st := range changed {
			if hasPrefix(st, f.prefix) {
				if !f.sticky {
					r.faults.failCommit = append(r.faults.failCommit[:i], r.faults.failCommit[i+1:]...)
				}
				return f.text, strings.Join(f.prefix, " ")
			}
		}
	}
	if top != "nat" {
		return "", ""
	}
	for _, kind := range []string{"source", "destination"} {
		rules := map[string]map[string]bool{}
		for _, st := range work.statements() {
			w := st.words
			if len(w) >= 5 && w[0] == "nat" && w[1] == kind && w[2] == "rule" {
				if rules[w[3]] == nil {
					rules[w[3]] = map[string]bool{}
				}
				rules[w[3]][w[4]] = true
				if len(w) >= 6 {
					rules[w[3]][w[4]+" "+w[5]] = true
				}
			}
		}
		for n, has := range rules {
			iface := "outbound-interface"
			label := "Source"
			if kind == "destination" {
				iface, label = "inbound-interface", "Destination"
			}
			if has["exclude"] {
				continue
			}
			if !has["translation address"] {
				return fmt.Sprintf("%s NAT configuration error in rule %s: translation requires address and/or port", label, n), "nat " + kind + " rule " + n
			}
			if !has[iface] && !has[iface+" name"] {
				return fmt.Sprintf("%s NAT configuration error in rule %s: %s not specified", label, n, iface), "nat " + kind + " rule " + n
			}
		}
	}
	return "", ""
}

// diffStatements lists statements of top that differ between two trees.
func diffStatements(a, b *tree, top string) [][]string {
	in := func(t *tree) map[string][]string {
		m := map[string][]string{}
		for _, st := range t.statements() {
			if st.words[0] == top {
				m[strings.Join(st.words, "\x00")] = st.words
			}
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out [][]string
	for k, w := range ma {
		if _, ok := mb[k]; !ok {
			out = append(out, w)
		}
	}
	for k, w := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, w)
		}
	}
	return out
}

// save writes the active configuration to config.boot. Callers hold r.mu.
// It returns errDrop when a fault cuts the connection before the write.
func (r *Router) save(path string) (string, error) {
	r.count("save")
	if r.faults.dropSave {
		r.faults.dropSave = false
		return "", errDrop
	}
	if path == "" {
		path = ConfigBootPath
	}
	content := r.configBoot(r.active)
	r.files[path] = &file{content: content, mode: 0o660}
	r.saveLog = append(r.saveLog, SaveRecord{Path: path, Active: r.active.commands(), Saved: content})
	return fmt.Sprintf("Saving configuration to '%s'...\nDone\n", path), nil
}

func (r *Router) hasNIC(dev string) bool { return contains(r.opts.NICs, dev) }

// apiKeys are the keys the active configuration accepts.
func (r *Router) apiKeys() []string {
	var keys []string
	for _, st := range r.active.statements() {
		w := st.words
		if len(w) == 8 && w[0] == "service" && w[1] == "https" && w[2] == "api" && w[3] == "keys" && w[6] == "key" {
			keys = append(keys, w[7])
		}
	}
	return keys
}

func (r *Router) restEnabled() bool {
	if r.profile != VyOS15 {
		return true
	}
	return r.active.exists([]string{"service", "https", "api", "rest"})
}
