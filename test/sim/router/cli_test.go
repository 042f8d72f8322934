package routersim

import (
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Prompt patterns of the network-automation clients that drive VyOS over
// an interactive shell, restated from their sources:
//   - Ansible vyos.vyos plugins/terminal/vyos.py: terminal_stdout_re (the
//     prompts), terminal_stderr_re (errors), terminal_config_prompt.
//   - netmiko netmiko/vyos/vyos_ssh.py: "$" and "#" prompt terminators,
//     configure mode entered when "[edit]" appears, "#" in the prompt means
//     configure mode, "Cannot exit: configuration modified" answered with
//     "exit discard", commit errors "Commit failed" / "Failed to generate
//     committed config", the base prompt is the prompt minus its last two
//     characters before the terminator (user@host).
var (
	ansiblePrompt = []*regexp.Regexp{
		regexp.MustCompile(`[\r\n]?[\w+\-\.:\/\[\]]+(?:\([^\)]+\)){0,3}(?:>|#) ?$`),
		regexp.MustCompile(`\@[\w\-\.]+:\S+?[>#\$] ?$`),
	}
	ansibleError = []*regexp.Regexp{
		regexp.MustCompile(`\n\s*Invalid command:`),
		regexp.MustCompile(`\nCommit failed`),
		regexp.MustCompile(`\n\s+Set failed`),
		regexp.MustCompile(`\n\s+Delete failed`),
	}
	ansibleConfigPrompt = regexp.MustCompile(`^.+#$`)
	netmikoConfigMode   = regexp.MustCompile(`\[edit\]`)
)

// console drives an interactive session over a real pty request, reading
// what the router prints as an expect-style client does.
type console struct {
	t     *testing.T
	in    io.Writer
	mu    sync.Mutex
	cond  *sync.Cond
	buf   []byte
	pos   int
	eof   bool
	sess  *ssh.Session
	alarm bool
}

func openConsole(t *testing.T, r *Router, rows int) *console {
	t.Helper()
	c, err := ssh.Dial("tcp", r.SSHAddr(), &ssh.ClientConfig{
		User: r.Username(), Auth: []ssh.AuthMethod{ssh.Password(r.Password())},
		HostKeyCallback: ssh.FixedHostKey(r.HostPublicKey()),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", rows, 200, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		t.Fatalf("pty-req refused: %v", err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatalf("shell refused: %v", err)
	}
	k := &console{t: t, in: in, sess: sess}
	k.cond = sync.NewCond(&k.mu)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := out.Read(b)
			k.mu.Lock()
			k.buf = append(k.buf, b[:n]...)
			if err != nil {
				k.eof = true
			}
			k.cond.Broadcast()
			k.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return k
}

// expect waits for re to match what arrived since the last match, and
// returns that text (up to the end of the match). The deadline only turns a
// router that never prints it into a failure.
func (k *console) expect(re *regexp.Regexp) string {
	k.t.Helper()
	timer := time.AfterFunc(10*time.Second, func() {
		k.mu.Lock()
		k.alarm = true
		k.cond.Broadcast()
		k.mu.Unlock()
	})
	defer timer.Stop()
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		pending := k.buf[k.pos:]
		if loc := re.FindIndex(pending); loc != nil {
			got := string(pending[:loc[1]])
			k.pos += loc[1]
			return got
		}
		if k.eof || k.alarm {
			k.t.Fatalf("never saw %q; the router printed:\n%q", re, string(pending))
		}
		k.cond.Wait()
	}
}

func (k *console) send(line string) {
	k.t.Helper()
	if _, err := io.WriteString(k.in, line+"\r"); err != nil {
		k.t.Fatal(err)
	}
}

// cmd sends a line and returns what came back before the next prompt
// (Ansible's prompt patterns), without the echoed command.
func (k *console) cmd(line string, prompt *regexp.Regexp) string {
	k.t.Helper()
	k.send(line)
	out := strings.ReplaceAll(k.expect(prompt), "\r\n", "\n")
	out = strings.TrimPrefix(out, line+"\n")
	// without the prompt (and configure mode's [edit] line above it)
	out = out[:strings.LastIndex(out, "\n")+1]
	return strings.TrimSuffix(out, "[edit]\n")
}

func noErrors(t *testing.T, out string) {
	t.Helper()
	for _, re := range ansibleError {
		if re.MatchString(out) {
			t.Fatalf("error pattern %q matches:\n%s", re, out)
		}
	}
}

func TestInteractiveCLIAsAutomationClientsSeeIt(t *testing.T) {
	for _, c := range []struct {
		p      Profile
		seed   string
		user   string
		config string // an op-mode command showing the configuration as commands
	}{
		{Vyatta65, SeedVyatta2013, "vyatta", "set interfaces ethernet eth1 description 'LAN'"},
		{VyOS14, "", "vyos", "set interfaces ethernet eth1 hw-id '00:0c:29:00:00:01'"},
	} {
		t.Run(string(c.p), func(t *testing.T) {
			r := start(t, c.p, Options{Seed: c.seed})
			if c.seed == "" {
				for _, rt := range []string{"198.51.100.254 dev eth2 scope link", "default via 198.51.100.254 dev eth2"} {
					if err := r.AddRoute(rt); err != nil {
						t.Fatal(err)
					}
				}
			}
			k := openConsole(t, r, 24)
			opPrompt := regexp.MustCompile(regexp.QuoteMeta(c.user+"@"+c.user+":~$ ") + "$")
			cfgPrompt := regexp.MustCompile(`\[edit\]\r\n` + regexp.QuoteMeta(c.user+"@"+c.user+"# ") + "$")
			banner := k.expect(opPrompt)
			// What Ansible and netmiko wait for after login.
			last := banner[strings.LastIndex(banner, "\n")+1:]
			if !ansiblePrompt[1].MatchString(last) {
				t.Fatalf("Ansible does not see a prompt in %q", last)
			}
			if base := strings.TrimSuffix(last, "$ "); base[:len(base)-2] != c.user+"@"+c.user {
				t.Fatalf("netmiko's base prompt would be %q", base[:len(base)-2])
			}
			// Both clients' session preparation.
			for _, l := range []string{"set terminal length 0", "set terminal width 512"} {
				noErrors(t, k.cmd(l, opPrompt))
			}
			if out := k.cmd("show configuration commands", opPrompt); !strings.Contains(out, c.config) {
				t.Fatalf("show configuration commands:\n%s", out)
			}
			if out := k.cmd("show configuration", opPrompt); !strings.Contains(out, "encrypted-password ****************") {
				t.Fatalf("show configuration shows secrets or nothing:\n%s", out)
			}
			if out := k.cmd("show version", opPrompt); !strings.Contains(out, "Version:") {
				t.Fatalf("show version:\n%s", out)
			}
			if out := k.cmd("show interfaces", opPrompt); !strings.Contains(out, "Interface        IP Address") {
				t.Fatalf("show interfaces:\n%s", out)
			}
			if out := k.cmd("show ip route", opPrompt); !strings.Contains(out, "Codes: K - kernel route") {
				t.Fatalf("show ip route:\n%s", out)
			}
			if out := k.cmd("show frobnicate", opPrompt); !ansibleError[0].MatchString(out) {
				t.Fatalf("an invalid command is not reported as Ansible expects:\n%q", out)
			}

			// Configure mode as netmiko enters it: "configure", then [edit].
			k.send("configure")
			last = k.expect(cfgPrompt)
			if !netmikoConfigMode.MatchString(last) {
				t.Fatalf("netmiko waits for [edit] after configure: %q", last)
			}
			if p := strings.TrimSuffix(last[strings.LastIndex(last, "\n")+1:], " "); !ansibleConfigPrompt.MatchString(p) || !strings.Contains(p, "#") {
				t.Fatalf("configure-mode prompt %q", p)
			}
			noErrors(t, k.cmd(`set interfaces ethernet eth1 description "Bob's \"LAN\""`, cfgPrompt))
			if out := k.cmd("set interfaces ethernet eth1 frobnicate x", cfgPrompt); !ansibleError[2].MatchString(out) {
				t.Fatalf("a bad path is not reported as Ansible expects:\n%q", out)
			}
			// A changed single value is ">" (PFX_DIFF_UPD), a new one "+".
			want := "[edit interfaces ethernet eth1]\n+description \"Bob's \"LAN\"\"\n"
			if c.p == Vyatta65 {
				want = "[edit interfaces ethernet eth1]\n>description \"Bob's \"LAN\"\"\n"
			}
			if out := k.cmd("compare", cfgPrompt); !strings.Contains(out, want) {
				t.Fatalf("compare:\n%s", out)
			}
			// netmiko's exit_config_mode: refused while modified, then
			// "exit discard".
			if out := k.cmd("exit", cfgPrompt); !strings.Contains(out, "Cannot exit: configuration modified") {
				t.Fatalf("exit with changes:\n%s", out)
			}
			if out := k.cmd("run show version", cfgPrompt); !strings.Contains(out, "Version:") {
				t.Fatalf("run show version:\n%s", out)
			}
			out := k.cmd("commit", cfgPrompt)
			for _, marker := range []string{"Commit failed", "Failed to generate committed config"} {
				if strings.Contains(out, marker) {
					t.Fatalf("commit:\n%s", out)
				}
			}
			if !strings.Contains(r.CLIShellAPICommands(), `'description' 'Bob's "LAN"'`) {
				t.Fatalf("not committed:\n%s", r.CLIShellAPICommands())
			}
			if out := k.cmd("commit", cfgPrompt); !strings.Contains(out, "No configuration changes to commit") {
				t.Fatalf("second commit:\n%s", out)
			}
			if out := k.cmd("compare", cfgPrompt); !strings.Contains(out, "No changes between working and active configurations.") {
				t.Fatalf("compare after commit:\n%s", out)
			}
			if out := k.cmd("exit", opPrompt); !strings.Contains(out, "Warning: configuration changes have not been saved.\nexit\n") {
				t.Fatalf("exit after an unsaved commit:\n%q", out)
			}
			k.send("configure")
			k.expect(cfgPrompt)
			k.cmd("delete interfaces ethernet eth1 description", cfgPrompt)
			if out := k.cmd("exit discard", opPrompt); !strings.Contains(out, "exit") {
				t.Fatalf("exit discard:\n%s", out)
			}
			k.send("configure")
			k.expect(cfgPrompt)
			if out := k.cmd("save", cfgPrompt); !strings.Contains(out, "Saving configuration to '/config/config.boot'...\nDone") {
				t.Fatalf("save:\n%s", out)
			}
			k.cmd("exit", opPrompt)
			if !strings.Contains(r.SavedConfig(), "Bob's") {
				t.Fatalf("not saved:\n%s", r.SavedConfig())
			}

			// Repairs by hand, as the seed's write-up did them.
			if out := k.cmd("sudo ip route del default", opPrompt); strings.TrimSpace(out) != "" {
				t.Fatalf("sudo ip route del default:\n%s", out)
			}
			if strings.Contains(r.RoutesText(), "default") {
				t.Fatalf("default route still there:\n%s", r.RoutesText())
			}
			if out := k.cmd("sudo ip neigh flush dev eth2", opPrompt); strings.TrimSpace(out) != "" {
				t.Fatalf("sudo ip neigh flush:\n%s", out)
			}
			rootPrompt := regexp.MustCompile(regexp.QuoteMeta("root@"+c.user+":~# ") + "$")
			k.send("su -")
			k.expect(regexp.MustCompile(`Password: $`))
			k.send(r.Password())
			k.expect(rootPrompt)
			k.cmd("route add 198.51.100.254 dev eth2", rootPrompt)
			k.cmd("route add default gw 198.51.100.254", rootPrompt)
			if out := k.cmd("show version", rootPrompt); !strings.Contains(out, "command not found") {
				t.Fatalf("op-mode commands in root's shell:\n%s", out)
			}
			k.cmd("exit", opPrompt)
			if !strings.Contains(r.RoutesText(), "default via 198.51.100.254 dev eth2") {
				t.Fatalf("route add as root:\n%s", r.RoutesText())
			}

			// The pager: `set terminal length 0` set VYATTA_PAGER=cat, and
			// only `set terminal pager` brings it back (vyatta-op
			// templates/set/terminal, pacifica); then a small screen.
			k.cmd("set terminal length 4", opPrompt)
			if out := k.cmd("show configuration", opPrompt); strings.Contains(out, "\n:") {
				t.Fatalf("paged after length 0 without set terminal pager:\n%s", out)
			}
			k.cmd("set terminal pager", opPrompt)
			k.send("show configuration")
			k.expect(regexp.MustCompile(`\r\n:$`))
			k.send("q")
			k.expect(opPrompt)

			k.send("exit")
			k.expect(regexp.MustCompile("logout\r\n"))
			err := k.sess.Wait()
			var ee *ssh.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("session end: %v", err)
			}
			if ee != nil && ee.ExitStatus() != 0 {
				t.Fatalf("exit status %d", ee.ExitStatus())
			}
		})
	}
}

func TestOpModeWithoutATerminal(t *testing.T) {
	r := start(t, VyOS14, Options{})
	cases := []struct {
		cmd  string
		want string
		code int
	}{
		{"/opt/vyatta/bin/vyatta-op-cmd-wrapper show version", "Version:          VyOS 1.4.0", 0},
		{"vbash -ic 'show interfaces'", "Interface        IP Address", 0},
		{"/bin/vbash -ic 'show configuration commands'", "set service ssh port '22'", 0},
		{"/opt/vyatta/bin/vyatta-op-cmd-wrapper show frobnicate", "", 1},
		// Without the interactive shell's functions, show is no command.
		{"show version", "", 127},
		{"sudo ip route add 192.0.2.0/24 via 10.0.10.1", "", 2},
	}
	for _, c := range cases {
		out, errOut, code := run(t, r, c.cmd, "")
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%s: %d %q %q", c.cmd, code, out, errOut)
		}
	}
	// run inside a script-template session
	out, _, code := run(t, r, "/bin/vbash -s", "source /opt/vyatta/etc/functions/script-template\nrun show version\n")
	if code != 0 || !strings.Contains(out, "VyOS 1.4.0") {
		t.Errorf("run in a script: %d %q", code, out)
	}
}
