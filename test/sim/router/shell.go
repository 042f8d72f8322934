package routersim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// shell is a small interpreter for the scripts the drivers send: simple
// commands joined by ;, && and || (with bash's left-to-right semantics),
// quoting, backslash-newline continuations, `$?`, heredocs, and the
// redirections >, >>, 2>, 2>&1. Everything else is refused as a real shell
// would refuse an unknown command, so a driver that relies on more fails its
// tests instead of passing by accident.
type shell struct {
	r     *Router
	root  bool // running under sudo (or at boot)
	group bool // running under `sg vyattacfg`
	stdin func() string

	status  int
	exited  bool
	dropped bool
	depth   int

	// opMode: the shell has the op-mode commands (an interactive vbash,
	// `vbash -ic`), and tty is its terminal.
	opMode bool
	tty    ttyState

	// Configuration session of this shell: Vyatta's wrapper keys it on the
	// parent shell, VyOS's script-template on the shell itself.
	templateLoaded bool
	configuring    bool
	sess           *tree

	outStack []*outputs
	// garbled: a command of this shell had its output garbled (GarbleOutput),
	// so the session as a whole is not garbled again.
	garbled bool
}

func newShell(r *Router, root bool) *shell {
	return &shell{r: r, root: root, stdin: func() string { return "" }, outStack: []*outputs{{}}}
}

// output returns what the script printed on stdout and stderr.
func (sh *shell) output() (string, string) {
	return sh.outStack[0].out.String(), sh.outStack[0].err.String()
}

type tokKind int

const (
	tWord tokKind = iota
	tOp
	tRedir
	tHeredoc
)

type token struct {
	kind tokKind
	text string
}

// statusMark stands for an unexpanded $? inside a word.
const statusMark = "\x00?\x00"

func lexLine(line string) ([]token, error) {
	var toks []token
	var b strings.Builder
	inWord := false
	end := func() {
		if inWord {
			toks = append(toks, token{tWord, b.String()})
			b.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			end()
		case c == '#' && !inWord:
			end()
			return toks, nil
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unexpected EOF while looking for matching `''")
			}
			b.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				switch {
				case line[j] == '\\' && j+1 < len(line) && strings.ContainsRune(`"\$`+"`", rune(line[j+1])):
					j++
					b.WriteByte(line[j])
				case line[j] == '$' && j+1 < len(line) && line[j+1] == '?':
					b.WriteString(statusMark)
					j++
				default:
					b.WriteByte(line[j])
				}
			}
			if j >= len(line) {
				return nil, fmt.Errorf("unexpected EOF while looking for matching `\"'")
			}
			i = j
			inWord = true
		case c == '\\':
			if i+1 < len(line) {
				i++
				b.WriteByte(line[i])
			}
			inWord = true
		case c == '$' && i+1 < len(line) && line[i+1] == '?':
			b.WriteString(statusMark)
			i++
			inWord = true
		case c == '&':
			if i+1 < len(line) && line[i+1] == '&' {
				end()
				toks = append(toks, token{tOp, "&&"})
				i++
				continue
			}
			return nil, fmt.Errorf("background jobs are not supported")
		case c == '|':
			if i+1 < len(line) && line[i+1] == '|' {
				end()
				toks = append(toks, token{tOp, "||"})
				i++
				continue
			}
			return nil, fmt.Errorf("pipelines are not supported")
		case c == ';':
			end()
			toks = append(toks, token{tOp, ";"})
		case c == '>':
			fd := "1"
			if inWord && b.String() == "2" {
				fd = "2"
				b.Reset()
				inWord = false
			}
			end()
			op := fd + ">"
			if i+1 < len(line) && line[i+1] == '>' {
				op = fd + ">>"
				i++
			} else if i+1 < len(line) && line[i+1] == '&' {
				op = fd + ">&"
				i++
			}
			toks = append(toks, token{tRedir, op})
		case c == '<':
			end()
			if i+1 < len(line) && line[i+1] == '<' {
				i += 2
				for i < len(line) && line[i] == ' ' {
					i++
				}
				j := i
				for j < len(line) && line[j] != ' ' && line[j] != ';' {
					j++
				}
				delim := strings.Trim(line[i:j], `'"`)
				if delim == "" {
					return nil, fmt.Errorf("syntax error near unexpected token `newline'")
				}
				toks = append(toks, token{tHeredoc, delim})
				i = j - 1
				continue
			}
			toks = append(toks, token{tRedir, "<"})
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	end()
	return toks, nil
}

type simpleCmd struct {
	args    []string
	redirs  [][2]string // op, target
	heredoc *string
	next    string // connector to the following command: ";", "&&", "||" or ""
}

// exec runs a whole script and returns its exit status.
func (sh *shell) exec(script string) int {
	lines := strings.Split(script, "\n")
	for i := 0; i < len(lines) && !sh.exited && !sh.dropped; {
		logical := lines[i]
		i++
		for strings.HasSuffix(logical, "\\") && i < len(lines) {
			logical = logical[:len(logical)-1] + lines[i]
			i++
		}
		toks, err := lexLine(logical)
		if err != nil {
			sh.errf("vbash: %v\n", err)
			sh.status = 2
			continue
		}
		var cmds []simpleCmd
		cur := simpleCmd{}
		for k := 0; k < len(toks); k++ {
			t := toks[k]
			switch t.kind {
			case tWord:
				cur.args = append(cur.args, t.text)
			case tOp:
				cur.next = t.text
				cmds = append(cmds, cur)
				cur = simpleCmd{}
			case tRedir:
				if k+1 >= len(toks) || toks[k+1].kind != tWord {
					sh.errf("vbash: syntax error near unexpected token `newline'\n")
					sh.status = 2
					cmds, cur = nil, simpleCmd{}
					k = len(toks)
					continue
				}
				cur.redirs = append(cur.redirs, [2]string{t.text, toks[k+1].text})
				k++
			case tHeredoc:
				var body strings.Builder
				for i < len(lines) && lines[i] != t.text {
					body.WriteString(lines[i] + "\n")
					i++
				}
				i++ // the delimiter line
				s := body.String()
				cur.heredoc = &s
			}
		}
		if len(cur.args) > 0 || cur.heredoc != nil {
			cmds = append(cmds, cur)
		}
		run := true
		for k, c := range cmds {
			if k > 0 {
				switch cmds[k-1].next {
				case "&&":
					run = sh.status == 0
				case "||":
					run = sh.status != 0
				default:
					run = true
				}
			}
			if !run || len(c.args) == 0 {
				continue
			}
			sh.status = sh.runCmd(c)
			if sh.exited || sh.dropped {
				break
			}
		}
	}
	return sh.status
}

// Output of the running command goes to these buffers; runCmd routes them
// according to redirections.
type outputs struct{ out, err strings.Builder }

func (sh *shell) errf(format string, a ...any) { sh.cur().err.WriteString(fmt.Sprintf(format, a...)) }
func (sh *shell) outf(format string, a ...any) { sh.cur().out.WriteString(fmt.Sprintf(format, a...)) }

func (sh *shell) cur() *outputs { return sh.outStack[len(sh.outStack)-1] }

func (sh *shell) runCmd(c simpleCmd) int {
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = strings.ReplaceAll(a, statusMark, strconv.Itoa(sh.status))
	}
	o := &outputs{}
	sh.outStack = append(sh.outStack, o)
	stdin := sh.stdin
	if c.heredoc != nil {
		h := *c.heredoc
		stdin = func() string { return h }
	}
	code := sh.dispatch(args, stdin)
	sh.outStack = sh.outStack[:len(sh.outStack)-1]
	stdout, stderr := o.out.String(), o.err.String()
	if g := sh.r.garblerFor(strings.Join(args, " "), false); g != nil {
		// One command misbehaving inside a script (a health check runs
		// several in one session): only its output is garbled.
		stdout = g(stdout)
		sh.garbled = true
	}
	for _, rd := range c.redirs {
		switch rd[0] {
		case "1>", "1>>":
			if rd[1] != "/dev/null" {
				if msg := sh.writeFile(rd[1], stdout, rd[0] == "1>>"); msg != "" {
					stderr += msg
					code = 1
				}
			}
			stdout = ""
		case "2>", "2>>":
			stderr = ""
		case "2>&":
			if rd[1] == "1" {
				stdout += stderr
				stderr = ""
			}
		}
	}
	parent := sh.cur()
	parent.out.WriteString(stdout)
	parent.err.WriteString(stderr)
	return code
}

func (sh *shell) count(kind string) {
	sh.r.mu.Lock()
	sh.r.count(kind)
	sh.r.mu.Unlock()
}

func (sh *shell) dispatch(args []string, stdin func() string) int {
	name := args[0]
	if sh.opMode && !sh.configuring {
		if ok, code := sh.opCommand(args); ok {
			return code
		}
	}
	switch name {
	case "/opt/vyatta/bin/vyatta-op-cmd-wrapper":
		// The op-mode command runner scripts use (vyatta-op
		// scripts/vyatta-op-cmd-wrapper; script-template's `run`).
		if ok, code := sh.opCommand(args[1:]); ok {
			return code
		}
		if len(args) == 1 {
			return sh.incomplete(nil)
		}
		return sh.invalid(nil, args[1])
	case "run":
		if !sh.templateLoaded && !sh.configuring {
			return sh.notFound(name)
		}
		if ok, code := sh.opCommand(args[1:]); ok {
			return code
		}
		if len(args) == 1 {
			sh.errf("\n  Incomplete command: run\n\n")
			return 1
		}
		return sh.invalid(nil, args[1])
	case "route", "/sbin/route", "/usr/sbin/route":
		if !sh.root {
			sh.errf("SIOCADDRT: Operation not permitted\n")
			return 7
		}
		sh.r.mu.Lock()
		msg, code := sh.r.routeCommand(args[1:])
		sh.r.mu.Unlock()
		sh.errf("%s", msg)
		return code
	case "sudo":
		if len(args) < 2 {
			sh.errf("usage: sudo command\n")
			return 1
		}
		was := sh.root
		sh.root = true
		code := sh.dispatch(args[1:], stdin)
		sh.root = was
		return code
	case "sg":
		if len(args) != 4 || args[2] != "-c" {
			sh.errf("usage: sg group -c command\n")
			return 1
		}
		if args[1] != "vyattacfg" {
			sh.errf("sg: group '%s' does not exist\n", args[1])
			return 1
		}
		sub := sh.sub()
		sub.group = true
		sub.stdin = stdin
		return sh.finishSub(sub, sub.exec(args[3]))
	case "/bin/vbash", "vbash", "/bin/bash", "bash", "/bin/sh", "sh":
		sub := sh.sub()
		switch {
		case len(args) == 2 && args[1] == "-s":
			return sh.finishSub(sub, sub.exec(stdin()))
		case len(args) == 3 && args[1] == "-c":
			sub.stdin = stdin
			return sh.finishSub(sub, sub.exec(args[2]))
		case len(args) == 3 && args[1] == "-ic" && (name == "vbash" || name == "/bin/vbash"):
			// An interactive vbash reads the op-mode functions from its
			// bashrc: `vbash -ic 'show version'` is how scripts run
			// op-mode commands over a plain exec.
			sub.stdin = stdin
			sub.opMode = true
			return sh.finishSub(sub, sub.exec(args[2]))
		case len(args) == 2:
			content, ok := sh.readFile(args[1])
			if !ok {
				sh.errf("%s: %s: No such file or directory\n", name, args[1])
				return 127
			}
			return sh.finishSub(sub, sub.exec(content))
		}
		sh.errf("%s: unsupported invocation\n", name)
		return 2
	case "echo":
		sh.outf("%s\n", strings.Join(args[1:], " "))
		return 0
	case "true":
		return 0
	case "false":
		return 1
	case "exit":
		return sh.exit(args[1:])
	case "source", ".":
		if len(args) < 2 {
			sh.errf("vbash: source: filename argument required\n")
			return 2
		}
		if _, ok := sh.readFile(args[1]); !ok {
			sh.errf("vbash: %s: No such file or directory\n", args[1])
			return 1
		}
		if args[1] == scriptTemplatePath {
			sh.templateLoaded = true
		}
		return 0
	case "configure":
		if !sh.templateLoaded {
			return sh.notFound(name)
		}
		sh.count("configure")
		sh.configuring = true
		sh.r.mu.Lock()
		sh.sess = sh.r.active.clone()
		sh.r.mu.Unlock()
		return 0
	case "set":
		if !sh.configuring {
			// Outside a session this is bash's own `set`: it silently
			// sets positional parameters and succeeds.
			return 0
		}
		return sh.cfgSet(args[1:])
	case "delete":
		if !sh.configuring {
			return sh.notFound(name)
		}
		return sh.cfgDelete(args[1:])
	case "commit":
		if !sh.configuring {
			return sh.notFound(name)
		}
		sh.cfgCommit()
		// VyOS's commit function can return 0 after a failure: callers
		// must read its output.
		return 0
	case "save":
		if !sh.configuring {
			return sh.notFound(name)
		}
		return sh.cfgSave(args[1:])
	case "discard":
		if !sh.configuring {
			return sh.notFound(name)
		}
		sh.r.mu.Lock()
		sh.sess = sh.r.active.clone()
		sh.r.mu.Unlock()
		return 0
	case "/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper":
		return sh.wrapper(args[1:])
	case "cli-shell-api", "/bin/cli-shell-api", "/opt/vyatta/bin/cli-shell-api":
		return sh.cliShellAPI(args[1:])
	case "ip", "/sbin/ip", "/usr/sbin/ip", "/bin/ip":
		return sh.ip(args[1:])
	case "cat":
		return sh.cat(args[1:])
	case "arp", "/usr/sbin/arp", "/sbin/arp":
		return sh.arp(args[1:])
	case "test":
		return sh.test(args[1:])
	case "tee":
		return sh.tee(args[1:], stdin)
	case "chmod":
		return sh.chmod(args[1:])
	case "mv":
		return sh.mv(args[1:])
	case "rm":
		return sh.rm(args[1:])
	}
	sh.r.mu.Lock()
	f := sh.r.files[name]
	sh.r.mu.Unlock()
	if f != nil && strings.HasPrefix(name, "/") {
		if f.mode&0o111 == 0 {
			sh.errf("vbash: %s: Permission denied\n", name)
			return 126
		}
		sub := sh.sub()
		return sh.finishSub(sub, sub.exec(f.content))
	}
	return sh.notFound(name)
}

func (sh *shell) notFound(name string) int {
	sh.errf("vbash: %s: command not found\n", name)
	return 127
}

// sub starts a child shell: same privileges and output, its own session.
func (sh *shell) sub() *shell {
	c := &shell{r: sh.r, root: sh.root, group: sh.group, stdin: func() string { return "" }, depth: sh.depth + 1}
	c.outStack = []*outputs{sh.cur()}
	return c
}

func (sh *shell) finishSub(sub *shell, code int) int {
	if sub.dropped {
		sh.dropped = true
	}
	if sub.depth > 8 {
		return 1
	}
	return code
}

func (sh *shell) exit(args []string) int {
	if sh.configuring {
		if len(args) > 0 && args[0] == "discard" {
			sh.configuring, sh.sess = false, nil
			return 0
		}
		sh.r.mu.Lock()
		changed := sh.sess != nil && !sh.sess.equal(sh.r.active)
		sh.r.mu.Unlock()
		if changed {
			sh.outf("Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\n")
			return 1
		}
		sh.configuring, sh.sess = false, nil
		return 0
	}
	code := sh.status
	if len(args) > 0 {
		if n, err := strconv.Atoi(args[0]); err == nil {
			code = n & 0xff
		}
	}
	sh.exited = true
	return code
}

// ---- configuration commands ----

func (sh *shell) cfgSet(path []string) int {
	sh.r.mu.Lock()
	defer sh.r.mu.Unlock()
	sh.r.count("set")
	if len(path) == 0 {
		sh.outf("\n  Configuration path: [] is not valid\n  Set failed\n\n")
		return 1
	}
	if err := sh.sess.set(path); err != nil {
		sh.outf("%s  Set failed\n\n", err.Error())
		return 1
	}
	return 0
}

func (sh *shell) cfgDelete(path []string) int {
	sh.r.mu.Lock()
	defer sh.r.mu.Unlock()
	sh.r.count("delete")
	if len(path) == 0 {
		sh.outf("\n  Configuration path: [] is not valid\n  Delete failed\n\n")
		return 1
	}
	ok, err := sh.sess.del(path)
	if err != nil {
		sh.outf("%s  Delete failed\n\n", err.Error())
		return 1
	}
	if !ok {
		sh.outf("\n  Nothing to delete (the specified node does not exist)\n\n")
	}
	return 0
}

// cfgCommit commits the session; it reports success.
func (sh *shell) cfgCommit() bool {
	sh.r.mu.Lock()
	out, ok, err := sh.r.commit(sh.sess)
	sh.r.mu.Unlock()
	if err == errDrop {
		sh.dropped = true
		return false
	}
	sh.outf("%s", out)
	return ok
}

func (sh *shell) cfgSave(args []string) int {
	sh.r.mu.Lock()
	defer sh.r.mu.Unlock()
	if sh.sess != nil && !sh.sess.equal(sh.r.active) {
		sh.outf("Warning: you have uncommitted changes that will not be saved.\n\n")
	}
	path := ""
	if len(args) > 0 {
		path = args[0]
	}
	out, err := sh.r.save(path)
	if err == errDrop {
		sh.dropped = true
		return 1
	}
	sh.outf("%s", out)
	return 0
}

// wrapper is /opt/vyatta/sbin/vyatta-cfg-cmd-wrapper.
func (sh *shell) wrapper(args []string) int {
	if len(args) == 0 {
		sh.outf("Invalid command \"\" for vyatta-cfg-cmd-wrapper\n")
		return 1
	}
	inSession := func() bool {
		if sh.sess == nil {
			sh.outf("Not in a configuration session\n")
			return false
		}
		return true
	}
	switch args[0] {
	case "begin":
		sh.count("wrapper begin")
		sh.r.mu.Lock()
		sh.sess = sh.r.active.clone()
		sh.r.mu.Unlock()
		return 0
	case "end":
		sh.sess = nil
		return 0
	case "cleanup", "discard":
		if !inSession() {
			return 1
		}
		sh.r.mu.Lock()
		sh.sess = sh.r.active.clone()
		sh.r.mu.Unlock()
		return 0
	case "set":
		if !inSession() {
			return 1
		}
		return sh.cfgSet(args[1:])
	case "delete":
		if !inSession() {
			return 1
		}
		return sh.cfgDelete(args[1:])
	case "commit_with_error":
		if !inSession() {
			return 1
		}
		if sh.cfgCommit() {
			return 0
		}
		return 1
	case "commit":
		if !inSession() {
			return 1
		}
		// Plain commit sends its output to a log file: only the exit
		// status tells.
		o := sh.cur()
		mark := o.out.Len()
		ok := sh.cfgCommit()
		s := o.out.String()[:mark]
		o.out.Reset()
		o.out.WriteString(s)
		if ok {
			return 0
		}
		return 1
	case "save":
		return sh.cfgSave(args[1:])
	}
	sh.outf("Invalid command \"%s\" for vyatta-cfg-cmd-wrapper\n", args[0])
	return 1
}

func (sh *shell) cliShellAPI(args []string) int {
	if len(args) == 0 {
		sh.errf("Must specify command\n")
		return 1
	}
	switch args[0] {
	case "showConfig", "showCfg":
		sh.count("showConfig")
		activeOnly, commands := false, false
		var path []string
		for _, a := range args[1:] {
			switch a {
			case "--show-active-only":
				activeOnly = true
			case "--show-commands":
				commands = true
			case "--show-hide-secrets", "--show-show-defaults", "--show-working-only":
			default:
				if strings.HasPrefix(a, "--") {
					sh.errf("Invalid option \"%s\"\n", a)
					return 1
				}
				path = append(path, a)
			}
		}
		sh.r.mu.Lock()
		t := sh.r.active
		if !activeOnly && sh.sess != nil {
			t = sh.sess
		}
		var text string
		if commands {
			text = t.cliCommands(path)
		} else {
			text = t.curly(sh.r.showDialect())
		}
		sh.r.mu.Unlock()
		sh.outf("%s", text)
		return 0
	case "sessionChanged":
		sh.r.mu.Lock()
		changed := sh.sess != nil && !sh.sess.equal(sh.r.active)
		sh.r.mu.Unlock()
		if changed {
			return 0
		}
		return 1
	case "inSession":
		if sh.sess != nil {
			return 0
		}
		return 1
	}
	sh.errf("Invalid command \"%s\"\n", args[0])
	return 1
}

// ip implements the `ip route` and `ip neigh` forms the drivers use.
func (sh *shell) ip(args []string) int {
	jsonOut := false
	fam := famAll
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-j", "-json", "--json":
			if sh.r.profile == Vyatta65 {
				sh.errf("Option \"%s\" is unknown, try \"ip -help\".\n", args[0])
				return 255
			}
			jsonOut = true
		case "-4":
			fam = fam4
		case "-6":
			fam = fam6
		case "-f", "-family", "--family":
			// `ip -f inet6 route list` (VyOS's show ipv6 route forward),
			// `ip --family inet6 --json neighbor list` (neighbor.py).
			if len(args) < 2 || args[1] != "inet" && args[1] != "inet6" {
				sh.errf("Error: argument \"%s\" is wrong: invalid address family\n", strings.Join(args[1:min(2, len(args))], ""))
				return 255
			}
			fam = fam4
			if args[1] == "inet6" {
				fam = fam6
			}
			args = args[1:]
		default:
			sh.errf("Option \"%s\" is unknown, try \"ip -help\".\n", args[0])
			return 255
		}
		args = args[1:]
	}
	if len(args) == 0 {
		sh.errf("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n")
		return 255
	}
	obj, rest := args[0], args[1:]
	verb := "show"
	if len(rest) > 0 {
		verb, rest = rest[0], rest[1:]
	}
	switch obj {
	case "route", "r", "ro":
		switch verb {
		case "show", "list", "ls":
			sh.count("ip route")
			for i := 0; i < len(rest); i++ {
				if rest[i] == "table" && i+1 < len(rest) && rest[i+1] != "main" {
					return 0 // other tables are empty here
				}
			}
			sh.r.mu.Lock()
			var text string
			if jsonOut {
				text = sh.r.routesJSONFamily(fam)
			} else {
				text = sh.r.routesTextFamily(sh.r.profile == Vyatta65, fam)
			}
			sh.r.mu.Unlock()
			sh.outf("%s", text)
			return 0
		case "replace", "add", "del", "delete", "flush":
			if verb == "delete" {
				verb = "del"
			}
			sh.count("ip route " + verb)
			if !sh.root {
				sh.errf("RTNETLINK answers: Operation not permitted\n")
				return 2
			}
			sh.r.mu.Lock()
			var msg string
			var code int
			switch verb {
			case "del":
				msg, code = sh.r.ipRouteDelFamily(rest, fam)
			case "flush":
				msg, code = sh.r.ipRouteFlush(rest)
			default:
				msg, code = sh.r.ipRouteModifyFamily(rest, verb == "replace", fam)
			}
			sh.r.mu.Unlock()
			sh.errf("%s", msg)
			return code
		}
	case "neigh", "neighbor", "neighbour", "n":
		dev := ""
		for i := 0; i+1 < len(rest); i++ {
			if rest[i] == "dev" {
				dev = rest[i+1]
			}
		}
		if dev != "" && !sh.r.hasNIC(dev) {
			sh.errf("Cannot find device \"%s\"\n", dev)
			return 1
		}
		proxy := slices.Contains(rest, "proxy")
		switch {
		case proxy && (verb == "show" || verb == "list" || verb == "ls"):
			sh.count("ip neigh show proxy")
			if fam != fam6 || jsonOut {
				sh.errf("routersim: only `ip -6 neigh show proxy` is modelled\n")
				return 255
			}
			sh.r.mu.Lock()
			text := sh.r.proxyText(dev)
			sh.r.mu.Unlock()
			sh.outf("%s", text)
			return 0
		case proxy && (verb == "add" || verb == "replace" || verb == "del" || verb == "delete"):
			sh.count("ip neigh " + verb + " proxy")
			if !sh.root {
				sh.errf("RTNETLINK answers: Operation not permitted\n")
				return 2
			}
			if fam != fam6 {
				sh.errf("routersim: only IPv6 proxy entries are modelled\n")
				return 255
			}
			sh.r.mu.Lock()
			msg, code := sh.r.ipNeighProxy(verb, rest)
			sh.r.mu.Unlock()
			sh.errf("%s", msg)
			return code
		}
		switch verb {
		case "show", "list", "ls":
			sh.count("ip neigh")
			sh.r.mu.Lock()
			var text string
			if jsonOut {
				text = sh.r.neighJSONFamily(dev, fam)
			} else {
				text = sh.r.neighTextFamily(dev, fam)
			}
			sh.r.mu.Unlock()
			sh.outf("%s", text)
			return 0
		case "replace", "add", "change", "del", "delete":
			sh.count("ip neigh " + verb)
			if !sh.root {
				sh.errf("RTNETLINK answers: Operation not permitted\n")
				return 2
			}
			sh.r.mu.Lock()
			msg, code := sh.r.ipNeighModify(verb, rest)
			sh.r.mu.Unlock()
			sh.errf("%s", msg)
			return code
		case "flush":
			sh.count("ip neigh flush")
			if dev == "" {
				sh.errf("Flush requires arguments.\n")
				return 1
			}
			if !sh.root {
				sh.errf("Failed to send flush request: Operation not permitted\n")
				return 255
			}
			sh.r.mu.Lock()
			sh.r.flushNeigh(dev, fam)
			sh.r.mu.Unlock()
			return 0
		}
	}
	sh.errf("Command \"%s\" is unknown, try \"ip %s help\".\n", verb, obj)
	return 255
}

// arp is net-tools' arp, in the listing form VyOS 1.3's `show arp` uses:
// `arp -e -n [-i dev]`.
func (sh *shell) arp(args []string) int {
	dev, long := "", false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-e":
			long = true
		case "-n":
		case "-i":
			if i+1 >= len(args) {
				sh.errf("arp: option requires an argument -- 'i'\n")
				return 1
			}
			i++
			dev = args[i]
		default:
			sh.errf("arp: invalid option -- '%s'\n", strings.TrimLeft(args[i], "-"))
			return 1
		}
	}
	if !long {
		sh.errf("arp: only the -e listing is modelled\n")
		return 1
	}
	sh.count("arp")
	sh.r.mu.Lock()
	text := sh.r.arpEN(dev)
	sh.r.mu.Unlock()
	sh.outf("%s", text)
	return 0
}

func (sh *shell) readFile(path string) (string, bool) {
	sh.r.mu.Lock()
	defer sh.r.mu.Unlock()
	if path == "/proc/net/arp" {
		return sh.r.procNetARP(), true
	}
	f, ok := sh.r.files[path]
	if !ok {
		return "", false
	}
	return f.content, true
}

func (sh *shell) cat(args []string) int {
	sh.count("cat")
	code := 0
	for _, p := range args {
		content, ok := sh.readFile(p)
		if !ok {
			sh.errf("cat: %s: No such file or directory\n", p)
			code = 1
			continue
		}
		sh.outf("%s", content)
	}
	return code
}

func (sh *shell) test(args []string) int {
	if len(args) != 2 {
		return 2
	}
	sh.r.mu.Lock()
	defer sh.r.mu.Unlock()
	f, ok := sh.r.files[args[1]]
	if args[1] == "/proc/net/arp" {
		f, ok = &file{mode: 0o444, content: "x"}, true
	}
	var res bool
	switch args[0] {
	case "-e", "-f":
		res = ok
	case "-x":
		res = ok && f.mode&0o111 != 0
	case "-s":
		res = ok && f.content != ""
	default:
		return 2
	}
	if res {
		return 0
	}
	return 1
}

// writable: /config belongs to root:vyattacfg, the rest to root.
func (sh *shell) writable(path string) bool {
	if sh.root {
		return true
	}
	return sh.group && strings.HasPrefix(path, "/config/") && path != ConfigBootPath
}

func (sh *shell) writeFile(path, content string, appendTo bool) string {
	if !sh.writable(path) {
		return fmt.Sprintf("vbash: %s: Permission denied\n", path)
	}
	sh.r.mu.Lock()
	defer sh.r.mu.Unlock()
	f, ok := sh.r.files[path]
	if !ok {
		f = &file{mode: 0o644}
		sh.r.files[path] = f
	}
	if appendTo {
		f.content += content
	} else {
		f.content = content
	}
	return ""
}

func (sh *shell) tee(args []string, stdin func() string) int {
	sh.count("tee")
	if len(args) != 1 {
		sh.errf("tee: only one file is supported\n")
		return 1
	}
	in := stdin()
	if msg := sh.writeFile(args[0], in, false); msg != "" {
		sh.errf("tee: %s: Permission denied\n", args[0])
		return 1
	}
	sh.outf("%s", in)
	return 0
}

func (sh *shell) chmod(args []string) int {
	sh.count("chmod")
	if len(args) != 2 {
		sh.errf("chmod: missing operand\n")
		return 1
	}
	mode, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		sh.errf("chmod: invalid mode: '%s'\n", args[0])
		return 1
	}
	if !sh.writable(args[1]) {
		sh.errf("chmod: changing permissions of '%s': Operation not permitted\n", args[1])
		return 1
	}
	sh.r.mu.Lock()
	defer sh.r.mu.Unlock()
	f, ok := sh.r.files[args[1]]
	if !ok {
		sh.errf("chmod: cannot access '%s': No such file or directory\n", args[1])
		return 1
	}
	f.mode = uint32(mode)
	return 0
}

func (sh *shell) mv(args []string) int {
	sh.count("mv")
	if len(args) > 0 && args[0] == "-f" {
		args = args[1:]
	}
	if len(args) != 2 {
		sh.errf("mv: missing file operand\n")
		return 1
	}
	if !sh.writable(args[0]) || !sh.writable(args[1]) {
		sh.errf("mv: cannot move '%s' to '%s': Permission denied\n", args[0], args[1])
		return 1
	}
	sh.r.mu.Lock()
	defer sh.r.mu.Unlock()
	f, ok := sh.r.files[args[0]]
	if !ok {
		sh.errf("mv: cannot stat '%s': No such file or directory\n", args[0])
		return 1
	}
	delete(sh.r.files, args[0])
	sh.r.files[args[1]] = f
	return 0
}

func (sh *shell) rm(args []string) int {
	force := false
	if len(args) > 0 && args[0] == "-f" {
		force, args = true, args[1:]
	}
	code := 0
	for _, p := range args {
		if !sh.writable(p) {
			sh.errf("rm: cannot remove '%s': Permission denied\n", p)
			code = 1
			continue
		}
		sh.r.mu.Lock()
		_, ok := sh.r.files[p]
		delete(sh.r.files, p)
		sh.r.mu.Unlock()
		if !ok && !force {
			sh.errf("rm: cannot remove '%s': No such file or directory\n", p)
			code = 1
		}
	}
	return code
}

// splitShellWords splits a set-command line (single and double quotes,
// backslash escapes).
func splitShellWords(line string) ([]string, error) {
	toks, err := lexLine(line)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range toks {
		if t.kind != tWord {
			return nil, fmt.Errorf("unexpected %q", t.text)
		}
		out = append(out, strings.ReplaceAll(t.text, statusMark, "$?"))
	}
	return out, nil
}
