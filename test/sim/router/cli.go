package routersim

import (
	"crypto/subtle"
	"io"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// The interactive CLI: what `ssh vyos@router` gives a person or an
// expect-style client (netmiko's vyos driver, Ansible's vyos.vyos terminal
// plugin) once a pty and a shell are granted. Prompts are the real ones:
// op mode is bash's PS1 `\u@\h:\w\$ ` ("vyos@vyos:~$ ", vyos-1x
// src/etc/skel/.bashrc, sagitta; the Debian default on Vyatta), configure
// mode vyatta-cfg's "[edit]\n\u@\h# " (src/cstore/cstore.cpp
// get_shell_prompt, pacifica and sagitta), root's "root@vyatta:~# " after
// `su -`. Configure-mode texts are vyatta-cfg
// functions/interpreter/vyatta-cfg-run (sagitta).

// ptyRequest is the payload of an SSH "pty-req" (RFC 4254 6.2).
type ptyRequest struct {
	Term          string
	Columns, Rows uint32
	Width, Height uint32
	Modes         string
}

// cliSession is one interactive login.
type cliSession struct {
	r    *Router
	ch   ssh.Channel
	t    *term.Terminal
	sh   *shell // the login vbash
	root *shell // the root shell after `su -`, nil otherwise
	// unsaved: a commit of this configure session has not been saved.
	unsaved bool
}

// serveCLI runs an interactive session until the user logs out or the
// connection goes; it returns the exit status.
func (r *Router) serveCLI(ch ssh.Channel, rows, cols int, resize <-chan [2]int) int {
	s := &cliSession{r: r, ch: ch, t: term.NewTerminal(ch, ""), sh: newShell(r, false)}
	s.sh.opMode = true
	s.sh.tty = ttyState{rows: rows, cols: cols, pager: true}
	_ = s.t.SetSize(cols, rows)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case sz := <-resize:
				_ = s.t.SetSize(sz[0], sz[1])
			case <-stop:
				return
			}
		}
	}()
	// The login banner (/etc/motd), abbreviated: a guess at its wording.
	if r.profile == Vyatta65 {
		s.write("Welcome to Vyatta\n")
	} else {
		s.write("Welcome to VyOS!\n\n")
	}
	for {
		s.t.SetPrompt(s.prompt())
		if s.root == nil && s.sh.configuring {
			s.write("[edit]\n")
		}
		line, err := s.t.ReadLine()
		if err != nil {
			return 0
		}
		r.mu.Lock()
		r.count("cli.line")
		r.mu.Unlock()
		if done := s.handle(line); done {
			return 0
		}
	}
}

func (s *cliSession) write(text string) { _, _ = io.WriteString(s.t, text) }

func (s *cliSession) prompt() string {
	host := s.r.opts.Hostname
	switch {
	case s.root != nil:
		return "root@" + host + ":~# "
	case s.sh.configuring:
		return s.r.opts.Username + "@" + host + "# "
	}
	return s.r.opts.Username + "@" + host + ":~$ "
}

// run executes fn with the shell's output captured, and prints it.
func (s *cliSession) run(sh *shell, fn func(), paged bool) {
	sh.outStack = []*outputs{{}}
	fn()
	out, errOut := sh.output()
	text := out + errOut
	if paged && sh.tty.pager {
		s.page(text)
		return
	}
	s.write(text)
}

// page shows text through the pager as vyatta-op does for `show` commands
// (`(cmd) | ${VYATTA_PAGER}`, functions/interpreter/vyatta-op-run,
// pacifica): less, which quits by itself when the text fits the screen and
// at its end, and waits at its ":" prompt otherwise — space for the next
// page, q to quit. The pager's exact keys and prompt are a simplified
// guess at less's.
func (s *cliSession) page(text string) {
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	per := s.sh.tty.rows - 1
	if per < 1 {
		per = 1
	}
	for start := 0; start < len(lines); start += per {
		end := min(start+per, len(lines))
		s.write(strings.Join(lines[start:end], ""))
		if end == len(lines) {
			return
		}
		_, _ = io.WriteString(s.ch, ":")
		key := make([]byte, 1)
		if _, err := s.ch.Read(key); err != nil {
			return
		}
		_, _ = io.WriteString(s.ch, "\r\x1b[K")
		if key[0] == 'q' || key[0] == 'Q' {
			return
		}
	}
}

// handle runs one line; it reports whether the session ends.
func (s *cliSession) handle(line string) bool {
	words, err := splitShellWords(line)
	if err != nil {
		s.write("-vbash: " + err.Error() + "\n")
		return false
	}
	if len(words) == 0 {
		return false
	}
	switch {
	case s.root != nil:
		return s.handleRoot(line, words)
	case s.sh.configuring:
		s.handleConfigure(words)
		return false
	}
	switch words[0] {
	case "configure":
		s.r.mu.Lock()
		s.r.count("configure")
		s.sh.sess = s.r.active.clone()
		s.r.mu.Unlock()
		s.sh.configuring, s.unsaved = true, false
		return false
	case "exit", "logout":
		s.write("logout\n")
		return true
	case "su":
		if len(words) > 1 && words[1] != "-" && words[1] != "root" && !(len(words) == 3 && words[1] == "-" && words[2] == "root") {
			s.write("su: user " + words[len(words)-1] + " does not exist\n")
			return false
		}
		pw, err := s.t.ReadPassword("Password: ")
		if err != nil {
			return true
		}
		want := s.r.opts.RootPassword
		if want == "" {
			want = s.r.opts.Password
		}
		if subtle.ConstantTimeCompare([]byte(pw), []byte(want)) != 1 {
			// util-linux su's message.
			s.write("su: Authentication failure\n")
			return false
		}
		s.root = newShell(s.r, true)
		return false
	}
	s.run(s.sh, func() { s.sh.status = s.sh.exec(line) }, words[0] == "show")
	return false
}

// handleRoot runs a line in root's plain bash (no op-mode commands there:
// "celles de Vyatta ne sont accessibles que depuis l'user vyatta", the
// seed's write-up).
func (s *cliSession) handleRoot(line string, words []string) bool {
	if words[0] == "exit" || words[0] == "logout" {
		s.write("logout\n")
		s.root = nil
		return false
	}
	s.run(s.root, func() { s.root.status = s.root.exec(line) }, false)
	return false
}

// handleConfigure runs one configure-mode command (vyatta-cfg-run).
func (s *cliSession) handleConfigure(w []string) {
	sh := s.sh
	changed := func() bool {
		s.r.mu.Lock()
		defer s.r.mu.Unlock()
		return !sh.sess.equal(s.r.active)
	}
	switch w[0] {
	case "set":
		s.run(sh, func() { sh.cfgSet(w[1:]) }, false)
	case "delete":
		s.run(sh, func() { sh.cfgDelete(w[1:]) }, false)
	case "commit":
		if !changed() {
			s.write("No configuration changes to commit\n")
			return
		}
		ok := false
		s.run(sh, func() { ok = sh.cfgCommit() }, false)
		if sh.dropped {
			_ = s.ch.Close()
			return
		}
		if ok {
			s.unsaved = true
		}
		s.r.mu.Lock()
		// What committed is active now; the rest stays in the session.
		if ok {
			sh.sess = s.r.active.clone()
		}
		s.r.mu.Unlock()
	case "compare":
		s.r.mu.Lock()
		text := compareTrees(s.r.active, sh.sess)
		s.r.mu.Unlock()
		s.write(text)
	case "save":
		s.run(sh, func() { sh.cfgSave(w[1:]) }, false)
		s.unsaved = false
	case "discard":
		s.r.mu.Lock()
		sh.sess = s.r.active.clone()
		s.r.mu.Unlock()
	case "show":
		s.r.mu.Lock()
		text := sh.sess.subtree(w[1:]).curly(s.r.showDialect())
		s.r.mu.Unlock()
		if sh.tty.pager {
			s.page(text)
		} else {
			s.write(text)
		}
	case "run":
		s.run(sh, func() {
			if ok, code := sh.opCommand(w[1:]); ok {
				sh.status = code
				return
			}
			if len(w) == 1 {
				sh.errf("\n  Incomplete command: run\n\n")
				return
			}
			// vyatta_config_run: a path runs as is, anything else
			// through vyatta-op-cmd-wrapper.
			sh.status = sh.exec(strings.Join(quoteAll(w[1:]), " "))
		}, len(w) > 1 && w[1] == "show")
	case "exit":
		// "exit disc" is "exit discard": the CLI takes any prefix of a word.
		discard := len(w) == 2 && strings.HasPrefix("discard", w[1]) && w[1] != "" //nolint:gocritic // argOrder: w[1] is the prefix

		if len(w) > 1 && !discard {
			s.write("Invalid argument \"" + strings.Join(w[1:], " ") + "\" for 'exit'\n")
			return
		}
		if changed() && !discard {
			s.write("Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\n")
			return
		}
		if s.unsaved {
			s.write("Warning: configuration changes have not been saved.\n")
		}
		// bash's own word when an interactive shell exits
		s.write("exit\n")
		sh.configuring, sh.sess, s.unsaved = false, nil, false
	default:
		s.write("\n  Invalid command: [" + w[0] + "]\n\n")
	}
}

func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return out
}

// subtree keeps the statements below path (the whole tree for none).
func (t *tree) subtree(path []string) *tree {
	if len(path) == 0 {
		return t
	}
	c := &tree{schema: t.schema, root: newNode(), normaliseNAT: t.normaliseNAT}
	for _, st := range t.statements() {
		if hasPrefix(st.words, path) {
			_ = c.set(st.words)
		}
	}
	return c
}
