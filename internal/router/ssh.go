package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/metrics"
)

// Commands the SSH driver sends. Configuration changes go through ONE vbash
// script per transaction, fed on stdin to a shell in the vyattacfg group:
// Vyatta's cfg-cmd-wrapper keys its session on the parent shell, and
// VyOS's script-template functions only work inside one shell.
const (
	cfgShell          = "sg vyattacfg -c '/bin/vbash -s'"
	plainShell        = "/bin/vbash -s"
	vyattaWrapper     = "/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper"
	vyosTemplate      = "source /opt/vyatta/etc/functions/script-template"
	cmdProbe          = "cat /usr/share/vyos/version.json 2>/dev/null || cat /opt/vyatta/etc/version"
	cmdActiveCommands = "cli-shell-api showConfig --show-active-only --show-commands"
	cmdSavedConfig    = "cat /config/config.boot"
	cmdRoutesJSON     = "ip -j -4 route show table main"
	cmdRoutesText     = "ip -4 route show table main"
	cmdProcARP        = "cat /proc/net/arp"

	// Markers the scripts echo so that the outcome does not depend on exit
	// codes alone (VyOS's commit can exit 0 after failing).
	markCommitStatus  = "ovhbridge-commit-status "
	markSessionChange = "ovhbridge-session-changed"
	markSaveStatus    = "ovhbridge-save-status "
	markPresent       = "ovhbridge-present"
	markExecutable    = "ovhbridge-executable"
	markContent       = "ovhbridge-content"
	markStatus        = "ovhbridge-status "
	bootScriptEOF     = "OVHBRIDGE_BOOT_SCRIPT_EOF"
)

var devName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$`)

type sshDriver struct {
	ep    Endpoint
	addr  string
	creds SSHCredentials

	mu     sync.Mutex
	client *ssh.Client
	info   PlatformInfo
}

// NewSSH returns a driver that speaks to the router over SSH. No connection
// is made until the first call.
func NewSSH(ep Endpoint, creds SSHCredentials) (Driver, error) {
	addr := ep.Address
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	if len(creds.HostKeys) == 0 && !creds.InsecureSkipHostKey {
		return nil, invalid("Connect", "no pinned host key", nil)
	}
	d := &sshDriver{ep: ep, addr: addr, creds: creds}
	if ep.Platform != "" {
		d.info = PlatformInfo{Platform: ep.Platform}
	}
	return d, nil
}

// hostKeyMismatch carries the presented key's fingerprint — public data that
// lets a human compare it with the router's console.
type hostKeyMismatch struct{ presented, keyType string }

func (e *hostKeyMismatch) Error() string {
	return fmt.Sprintf("host key mismatch: the router presented %s key %s, which is not the hostKey pinned in the Secret", e.keyType, e.presented)
}

func (d *sshDriver) clientConfig() *ssh.ClientConfig {
	cfg := &ssh.ClientConfig{User: d.creds.Username}
	if d.creds.Signer != nil {
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(d.creds.Signer))
	}
	if d.creds.Password != "" {
		pw := d.creds.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			// Some VyOS images only offer keyboard-interactive; answer
			// every prompt with the password.
			ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
				ans := make([]string, len(qs))
				for i := range ans {
					ans[i] = pw
				}
				return ans, nil
			}))
	}
	if d.creds.InsecureSkipHostKey {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() // explicit opt-out in the Secret
		return cfg
	}
	pinned := d.creds.HostKeys
	cfg.HostKeyCallback = func(_ string, _ net.Addr, key ssh.PublicKey) error {
		for _, k := range pinned {
			if bytes.Equal(k.Marshal(), key.Marshal()) {
				return nil
			}
		}
		return &hostKeyMismatch{presented: ssh.FingerprintSHA256(key), keyType: key.Type()}
	}
	// Ask for the key types we pinned, so that a router with several host
	// keys presents the one we can check instead of failing on another.
	seen := map[string]bool{}
	for _, k := range pinned {
		algos := []string{k.Type()}
		if k.Type() == ssh.KeyAlgoRSA {
			algos = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range algos {
			if !seen[a] {
				seen[a] = true
				cfg.HostKeyAlgorithms = append(cfg.HostKeyAlgorithms, a)
			}
		}
	}
	return cfg
}

func (d *sshDriver) connect(ctx context.Context, op string) (*ssh.Client, error) {
	c, _, err := d.connectReuse(ctx, op)
	return c, err
}

// connectReuse returns the cached connection (reused true) or a new one.
func (d *sshDriver) connectReuse(ctx context.Context, op string) (*ssh.Client, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		return d.client, true, nil
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(d.ep.timeout())
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", d.addr)
	if err != nil {
		return nil, false, networkError(ctx, op, err)
	}
	_ = conn.SetDeadline(deadline)
	c, chans, reqs, err := ssh.NewClientConn(conn, d.addr, d.clientConfig())
	if err != nil {
		conn.Close()
		var mismatch *hostKeyMismatch
		switch {
		case errors.As(err, &mismatch):
			return nil, false, cause.New(cause.TrustFailure, system, op, mismatch.Error(), nil)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, false, cause.New(cause.CredentialsInvalid, system, op,
				fmt.Sprintf("the router refused the credentials of user %q", d.creds.Username), nil)
		}
		return nil, false, networkError(ctx, op, err)
	}
	_ = conn.SetDeadline(time.Time{})
	d.client = ssh.NewClient(c, chans, reqs)
	return d.client, false, nil
}

// drop forgets a connection that failed, so the next call dials again.
func (d *sshDriver) drop(c *ssh.Client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client == c {
		d.client.Close()
		d.client = nil
	}
}

// result is what one remote command produced.
type result struct {
	stdout, stderr string
	exit           int
}

func (r result) output() string { return strings.TrimSpace(r.stdout + "\n" + r.stderr) }

// run executes cmd (with stdin, if any) in a new session and waits for it
// or for ctx.
func (d *sshDriver) run(ctx context.Context, op, cmd, stdin string) (result, error) {
	ctx, cancel := d.ep.callContext(ctx)
	defer cancel()
	c, reused, err := d.connectReuse(ctx, op)
	if err != nil {
		return result{}, err
	}
	sess, err := c.NewSession()
	if err != nil && reused {
		// The cached connection died (router rebooted, idle timeout):
		// nothing was sent yet, so dial once more.
		d.drop(c)
		if c, err = d.connect(ctx, op); err != nil {
			return result{}, err
		}
		sess, err = c.NewSession()
	}
	if err != nil {
		d.drop(c)
		return result{}, networkError(ctx, op, err)
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errb
	if stdin != "" {
		sess.Stdin = strings.NewReader(stdin)
	}
	if err := sess.Start(cmd); err != nil {
		d.drop(c)
		return result{}, networkError(ctx, op, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case <-ctx.Done():
		// The command may still complete on the router; the connection
		// is dropped so nothing else waits behind it.
		d.drop(c)
		return result{}, cause.New(cause.Unreachable, system, op, "timed out waiting for the router: "+ctx.Err().Error(), ctx.Err())
	case err = <-done:
	}
	res := result{stdout: out.String(), stderr: errb.String()}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.exit = exitErr.ExitStatus()
	default:
		// ExitMissingError or EOF: the connection went away before the
		// command reported how it ended.
		d.drop(c)
		return res, cause.New(cause.Unreachable, system, op, "connection lost before the command finished; its outcome is unknown", err)
	}
	return res, nil
}

// read runs a read-only command that must succeed.
func (d *sshDriver) read(ctx context.Context, op, cmd string) (string, error) {
	res, err := d.run(ctx, op, cmd, "")
	if err != nil {
		return "", err
	}
	if res.exit != 0 {
		return "", invalid(op, fmt.Sprintf("%s: exit status %d: %s", strings.Fields(cmd)[0], res.exit, sanitize(res.output())), nil)
	}
	return res.stdout, nil
}

// readLines is read for line-oriented tools (showConfig, ip, /proc/net/arp),
// which always end their output with a newline: output cut inside a line is
// refused rather than parsed, since the part that parses would look like a
// router with less configuration, fewer routes or fewer neighbours.
func (d *sshDriver) readLines(ctx context.Context, op, cmd string) (string, error) {
	out, err := d.read(ctx, op, cmd)
	if err == nil && out != "" && !strings.HasSuffix(out, "\n") {
		return "", unexpected(op, "the output of `"+cmd+"` ends inside a line (cut short)", lastLine(out), nil)
	}
	return out, err
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func observe(op string, start time.Time, err *error) { metrics.ObserveCall(system, op, start, *err) }

// observeTask records how long a router task (a commit) took.
func observeTask(function, result string, start time.Time) {
	metrics.TaskDuration.WithLabelValues(system, function, result).Observe(time.Since(start).Seconds())
}

func (d *sshDriver) Probe(ctx context.Context) (info PlatformInfo, err error) {
	d.mu.Lock()
	known := d.info
	d.mu.Unlock()
	if known.Platform != "" {
		return known, nil
	}
	defer observe("Probe", time.Now(), &err)
	out, err := d.read(ctx, "Probe", cmdProbe)
	if err != nil {
		return PlatformInfo{}, err
	}
	info, err = PlatformFromVersionFile(out)
	if err != nil {
		if cause.KindOf(err) == cause.Invalid {
			return PlatformInfo{}, unexpected("Probe", "no release in the version file", out, err)
		}
		return PlatformInfo{}, err
	}
	d.mu.Lock()
	d.info = info
	d.mu.Unlock()
	return info, nil
}

func (d *sshDriver) platform(ctx context.Context) (Platform, error) {
	info, err := d.Probe(ctx)
	return info.Platform, err
}

func (d *sshDriver) ReadConfig(ctx context.Context, owned []Path) (_ Config, err error) {
	defer observe("ReadConfig", time.Now(), &err)
	out, err := d.readLines(ctx, "ReadConfig", cmdActiveCommands)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseCommands(out)
	if err != nil {
		return nil, unexpected("ReadConfig", "unparsable configuration commands", out, err)
	}
	if len(cfg) == 0 {
		// Every router has some configuration (at least its interfaces and
		// login): an output without a single set command is not an empty
		// router but something else, and acting on it would re-apply (or
		// delete) everything.
		return nil, unexpected("ReadConfig", "no set command in the configuration listing", out, nil)
	}
	return cfg.Owned(owned), nil
}

func (d *sshDriver) ReadSavedConfig(ctx context.Context, owned []Path) (_ Config, err error) {
	defer observe("ReadSavedConfig", time.Now(), &err)
	p, err := d.platform(ctx)
	if err != nil {
		return nil, err
	}
	out, err := d.read(ctx, "ReadSavedConfig", cmdSavedConfig)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfigBootFor(p, out)
	if err != nil {
		return nil, unexpected("ReadSavedConfig", "unparsable /config/config.boot", out, err)
	}
	return cfg.Owned(owned), nil
}

// shellLine renders a command with each word quoted for the shell.
func shellLine(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = quoteWord(w)
	}
	return strings.Join(q, " ")
}

// applyScript renders tx as one vbash script. The operations and the commit
// form a single && chain: if any set or delete is refused, commit never
// runs and nothing is applied.
func applyScript(p Platform, tx Transaction) string {
	var b strings.Builder
	var steps []string
	if p == Vyatta6 {
		steps = append(steps, vyattaWrapper+" begin")
		for _, op := range tx {
			steps = append(steps, vyattaWrapper+" "+string(op.Kind)+" "+shellLine(op.Path...))
		}
		// Plain "commit" writes its errors to a log file; this one prints them.
		steps = append(steps, vyattaWrapper+" commit_with_error")
		b.WriteString(strings.Join(steps, " && \\\n") + "\n")
		b.WriteString(`echo "` + markCommitStatus + `$?"` + "\n")
		b.WriteString(vyattaWrapper + " end\n")
		return b.String()
	}
	b.WriteString(vyosTemplate + "\nconfigure\n")
	for _, op := range tx {
		steps = append(steps, string(op.Kind)+" "+shellLine(op.Path...))
	}
	steps = append(steps, "commit")
	b.WriteString(strings.Join(steps, " && \\\n") + "\n")
	b.WriteString(`echo "` + markCommitStatus + `$?"` + "\n")
	// commit can exit 0 after failing; a session that still differs from
	// the active configuration is the reliable sign.
	b.WriteString("cli-shell-api sessionChanged && echo " + markSessionChange + "\n")
	b.WriteString("exit discard\n")
	return b.String()
}

// stripMarkers removes marker lines and reports the commit status and whether
// the session still had changes.
func stripMarkers(out, statusMark string) (text string, status int, sawStatus, changed bool) {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, statusMark):
			if n, err := strconv.Atoi(strings.TrimPrefix(t, statusMark)); err == nil {
				status, sawStatus = n, true
			}
		case t == markSessionChange:
			changed = true
		default:
			keep = append(keep, l)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n")), status, sawStatus, changed
}

// commitFailed recognises failure texts printed by commit and set even when
// the exit status says success.
func commitFailed(text string) bool {
	return strings.Contains(text, "Commit failed") || strings.Contains(text, "Set failed") ||
		strings.Contains(text, "Delete failed") || strings.Contains(text, lockedText)
}

func (d *sshDriver) Apply(ctx context.Context, tx Transaction) (err error) {
	if len(tx) == 0 {
		return nil
	}
	if err := tx.Validate(); err != nil {
		return err
	}
	defer observe("Apply", time.Now(), &err)
	p, err := d.platform(ctx)
	if err != nil {
		return err
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.addr), "Apply")
	if err != nil {
		return err
	}
	defer unlock()
	start := time.Now()
	res, err := d.run(ctx, "Apply", cfgShell, applyScript(p, tx))
	if err != nil {
		if cause.KindOf(err) == cause.Unreachable {
			return cause.New(cause.Unreachable, system, "Apply",
				"connection lost during the commit: it may or may not have been applied; re-read before retrying", err)
		}
		return err
	}
	text, status, saw, changed := stripMarkers(res.stdout+"\n"+res.stderr, markCommitStatus)
	result := "ok"
	defer func() { observeTask("commit", result, start) }()
	if !saw {
		// The outcome is unknown: not a refusal (Invalid) but a reason to
		// re-read before anything else is done.
		result = "error"
		return unexpected("Apply", "the commit script ended before reporting a result; the commit may or may not have been applied", text, nil)
	}
	if status != 0 || changed || commitFailed(text) {
		result = "error"
		msg := text
		if changed && status == 0 {
			msg += "\n(commit reported success but the session still holds uncommitted changes: part of the transaction may be committed; re-read)"
		}
		return commitError("Apply", sanitize(msg))
	}
	return nil
}

func (d *sshDriver) Save(ctx context.Context) (err error) {
	defer observe("Save", time.Now(), &err)
	p, err := d.platform(ctx)
	if err != nil {
		return err
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.addr), "Save")
	if err != nil {
		return err
	}
	defer unlock()
	var script string
	if p == Vyatta6 {
		script = vyattaWrapper + " begin && " + vyattaWrapper + " save\n" +
			`echo "` + markSaveStatus + `$?"` + "\n" + vyattaWrapper + " end\n"
	} else {
		script = vyosTemplate + "\nconfigure\nsave\n" + `echo "` + markSaveStatus + `$?"` + "\nexit discard\n"
	}
	res, err := d.run(ctx, "Save", cfgShell, script)
	if err != nil {
		return err
	}
	text, status, saw, _ := stripMarkers(res.stdout+"\n"+res.stderr, markSaveStatus)
	if !saw {
		return unexpected("Save", "the save script ended before reporting a result", text, nil)
	}
	if status != 0 || strings.Contains(text, "Save failed") {
		return invalid("Save", "saving the configuration failed: "+sanitize(text), nil)
	}
	return nil
}

func (d *sshDriver) Routes(ctx context.Context) (_ []Route, err error) {
	defer observe("Routes", time.Now(), &err)
	p, err := d.platform(ctx)
	if err != nil {
		return nil, err
	}
	if p.HasJSONIproute() {
		out, err := d.readLines(ctx, "Routes", cmdRoutesJSON)
		if err != nil {
			return nil, err
		}
		rs, err := ParseRoutesJSON([]byte(out))
		if err != nil {
			return nil, unexpected("Routes", "unparsable ip -j route output", out, err)
		}
		return rs, nil
	}
	out, err := d.readLines(ctx, "Routes", cmdRoutesText)
	if err != nil {
		return nil, err
	}
	rs, err := ParseRoutesText(out)
	if err != nil {
		return nil, unexpected("Routes", "unparsable ip route output", out, err)
	}
	return rs, nil
}

func (d *sshDriver) Neighbours(ctx context.Context, dev string) (_ []Neighbour, err error) {
	defer observe("Neighbours", time.Now(), &err)
	if dev != "" && !devName.MatchString(dev) {
		return nil, invalid("Neighbours", fmt.Sprintf("bad interface name %q", dev), nil)
	}
	p, err := d.platform(ctx)
	if err != nil {
		return nil, err
	}
	if p.HasJSONIproute() {
		cmd := "ip -j -4 neigh show"
		if dev != "" {
			cmd += " dev " + dev
		}
		out, err := d.readLines(ctx, "Neighbours", cmd)
		if err != nil {
			return nil, err
		}
		ns, err := ParseNeighboursJSON([]byte(out), dev)
		if err != nil {
			return nil, unexpected("Neighbours", "unparsable ip -j neigh output", out, err)
		}
		return ns, nil
	}
	out, err := d.readLines(ctx, "Neighbours", cmdProcARP)
	if err != nil {
		return nil, err
	}
	ns, err := ParseProcNetARP(out, dev)
	if err != nil {
		return nil, unexpected("Neighbours", "unparsable /proc/net/arp", out, err)
	}
	return ns, nil
}

func (d *sshDriver) BootScript(ctx context.Context) (_ BootScript, err error) {
	defer observe("BootScript", time.Now(), &err)
	p, err := d.platform(ctx)
	if err != nil {
		return BootScript{}, err
	}
	path := p.BootScriptPath()
	cmd := "test -e " + path + " && echo " + markPresent + "\n" +
		"test -x " + path + " && echo " + markExecutable + "\n" +
		"echo " + markContent + "\n" +
		"cat " + path + " 2>/dev/null\n"
	res, err := d.run(ctx, "BootScript", cmd, "")
	if err != nil {
		return BootScript{}, err
	}
	return parseBootScriptOutput(path, res.stdout)
}

// parseBootScriptOutput reads what the BootScript command printed: marker
// lines for presence and mode, then the content after markContent.
func parseBootScriptOutput(path, stdout string) (BootScript, error) {
	head, content, ok := strings.Cut(stdout, markContent+"\n")
	if !ok {
		return BootScript{}, unexpected("BootScript", "no content marker while reading the boot script", stdout, nil)
	}
	bs := BootScript{Path: path}
	for _, l := range strings.Split(head, "\n") {
		switch strings.TrimSpace(l) {
		case markPresent:
			bs.Present = true
		case markExecutable:
			bs.Executable = true
		}
	}
	if bs.Present {
		bs.Content = content
	}
	return bs, nil
}

func (d *sshDriver) WriteBootScript(ctx context.Context, content string) (err error) {
	defer observe("WriteBootScript", time.Now(), &err)
	if len(content) > 64<<10 {
		return invalid("WriteBootScript", "boot script larger than 64 KiB", nil)
	}
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	for _, l := range strings.Split(content, "\n") {
		if l == bootScriptEOF {
			return invalid("WriteBootScript", "boot script contains the line "+bootScriptEOF, nil)
		}
	}
	p, err := d.platform(ctx)
	if err != nil {
		return err
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.addr), "WriteBootScript")
	if err != nil {
		return err
	}
	defer unlock()
	path := p.BootScriptPath()
	tmp := path + ".ovhbridge-new"
	// Write a temporary file and rename it: a dropped connection leaves the
	// old script intact instead of a truncated one.
	script := "sudo tee " + tmp + " >/dev/null <<'" + bootScriptEOF + "'\n" + content + bootScriptEOF + "\n" +
		"sudo chmod 0755 " + tmp + " && sudo mv -f " + tmp + " " + path + "\n" +
		`echo "` + markStatus + `$?"` + "\n"
	res, err := d.run(ctx, "WriteBootScript", plainShell, script)
	if err != nil {
		return err
	}
	text, status, saw, _ := stripMarkers(res.stdout+"\n"+res.stderr, markStatus)
	if !saw || status != 0 {
		return invalid("WriteBootScript", "writing "+path+" failed: "+sanitize(text), nil)
	}
	return nil
}

func (d *sshDriver) ReplaceRoutes(ctx context.Context, routes []Route) (err error) {
	if len(routes) == 0 {
		return nil
	}
	defer observe("ReplaceRoutes", time.Now(), &err)
	var steps []string
	for _, r := range routes {
		if err := checkRoute(r); err != nil {
			return err
		}
		steps = append(steps, "sudo "+shellLine(append([]string{"ip"}, RouteReplaceArgs(r)...)...))
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.addr), "ReplaceRoutes")
	if err != nil {
		return err
	}
	defer unlock()
	script := strings.Join(steps, " && \\\n") + "\n" + `echo "` + markStatus + `$?"` + "\n"
	res, err := d.run(ctx, "ReplaceRoutes", plainShell, script)
	if err != nil {
		return err
	}
	text, status, saw, _ := stripMarkers(res.stdout+"\n"+res.stderr, markStatus)
	if !saw || status != 0 {
		return invalid("ReplaceRoutes", "ip route replace failed: "+sanitize(text), nil)
	}
	return nil
}

func checkRoute(r Route) error {
	if r.Dst != "default" {
		if _, err := parseAddrOrPrefix(r.Dst); err != nil {
			return invalid("ReplaceRoutes", fmt.Sprintf("bad destination %q", r.Dst), nil)
		}
	}
	if r.Gateway != "" {
		if _, err := parseAddrOrPrefix(r.Gateway); err != nil || strings.Contains(r.Gateway, "/") {
			return invalid("ReplaceRoutes", fmt.Sprintf("bad gateway %q", r.Gateway), nil)
		}
	}
	if !devName.MatchString(r.Dev) {
		return invalid("ReplaceRoutes", fmt.Sprintf("bad interface name %q", r.Dev), nil)
	}
	switch r.Scope {
	case "", "link", "host", "global":
	default:
		return invalid("ReplaceRoutes", fmt.Sprintf("bad scope %q", r.Scope), nil)
	}
	return nil
}

func (d *sshDriver) FlushNeighbours(ctx context.Context, dev string) (err error) {
	defer observe("FlushNeighbours", time.Now(), &err)
	if !devName.MatchString(dev) {
		return invalid("FlushNeighbours", fmt.Sprintf("bad interface name %q", dev), nil)
	}
	unlock, err := routerLocks.lock(ctx, lockKey(d.addr), "FlushNeighbours")
	if err != nil {
		return err
	}
	defer unlock()
	res, err := d.run(ctx, "FlushNeighbours", "sudo ip neigh flush dev "+dev, "")
	if err != nil {
		return err
	}
	if res.exit != 0 {
		return invalid("FlushNeighbours", "ip neigh flush failed: "+sanitize(res.output()), nil)
	}
	return nil
}

func (d *sshDriver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client == nil {
		return nil
	}
	err := d.client.Close()
	d.client = nil
	return err
}

// lockKey is the router's identity for serialising writes: the host, so the
// SSH and HTTP API drivers of one router share a lock.
func lockKey(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
