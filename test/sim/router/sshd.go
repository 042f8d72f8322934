package routersim

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"net"

	"golang.org/x/crypto/ssh"
)

func (r *Router) sshConfig() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == r.opts.Username && r.opts.Password != "" &&
				subtle.ConstantTimeCompare(pw, []byte(r.opts.Password)) == 1 {
				return nil, nil
			}
			return nil, errors.New("permission denied")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == r.opts.Username {
				for _, k := range r.opts.AuthorizedKeys {
					if bytes.Equal(k.Marshal(), key.Marshal()) {
						return nil, nil
					}
				}
			}
			return nil, errors.New("permission denied")
		},
	}
	cfg.AddHostKey(r.hostKey)
	return cfg
}

func (r *Router) serveSSH(ln net.Listener) {
	defer r.wg.Done()
	cfg := r.sshConfig()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.isClosed {
			r.mu.Unlock()
			conn.Close()
			return
		}
		r.conns[conn] = true
		r.count("ssh.connect")
		r.mu.Unlock()
		if r.takeFault(&r.faults.cutConns, "ssh.cut") {
			r.mu.Lock()
			delete(r.conns, conn)
			r.mu.Unlock()
			conn.Close()
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() {
				r.mu.Lock()
				delete(r.conns, conn)
				r.mu.Unlock()
				conn.Close()
			}()
			r.handleSSHConn(conn, cfg)
		}()
	}
}

func (r *Router) handleSSHConn(conn net.Conn, cfg *ssh.ServerConfig) {
	sconn, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sconn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels are served")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.handleSession(conn, ch, creqs)
		}()
	}
}

// handleSession serves one session channel: an exec request (the command
// string is a script for the interpreter; `... -s` forms read the script
// from stdin), or a pty and an interactive shell (cli.go).
func (r *Router) handleSession(conn net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var pty *ptyRequest
	var resize chan [2]int
	for req := range reqs {
		switch req.Type {
		case "env":
			req.Reply(true, nil)
		case "pty-req":
			var p ptyRequest
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				continue
			}
			pty = &p
			req.Reply(true, nil)
		case "window-change":
			var wc struct{ Columns, Rows, Width, Height uint32 }
			if resize != nil && ssh.Unmarshal(req.Payload, &wc) == nil {
				select {
				case resize <- [2]int{int(wc.Columns), int(wc.Rows)}:
				default:
				}
			}
			if req.WantReply {
				req.Reply(true, nil)
			}
		case "shell":
			req.Reply(true, nil)
			r.mu.Lock()
			r.count("ssh.shell")
			r.mu.Unlock()
			if pty == nil {
				// No terminal: the login shell reads its commands
				// from stdin, as `ssh router < script` does.
				sh := newShell(r, false)
				b, _ := io.ReadAll(ch)
				code := sh.exec(string(b))
				out, errOut := sh.output()
				io.WriteString(ch, out)
				io.WriteString(ch.Stderr(), errOut)
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
				return
			}
			resize = make(chan [2]int, 4)
			go func() {
				// Keep answering requests (window-change) while the
				// CLI runs.
				for req := range reqs {
					if req.Type == "window-change" {
						var wc struct{ Columns, Rows, Width, Height uint32 }
						if ssh.Unmarshal(req.Payload, &wc) == nil {
							select {
							case resize <- [2]int{int(wc.Columns), int(wc.Rows)}:
							default:
							}
						}
					}
					if req.WantReply {
						req.Reply(req.Type == "window-change", nil)
					}
				}
			}()
			rows, cols := int(pty.Rows), int(pty.Columns)
			if rows == 0 {
				rows = 24
			}
			if cols == 0 {
				cols = 80
			}
			code := r.serveCLI(ch, rows, cols, resize)
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			r.mu.Lock()
			r.count("ssh.exec")
			r.mu.Unlock()
			if r.takeFault(&r.faults.dropExecs, "ssh.exec.dropped") {
				conn.Close()
				return
			}
			sh := newShell(r, false)
			sh.stdin = func() string {
				b, _ := io.ReadAll(ch)
				return string(b)
			}
			code := sh.exec(payload.Command)
			r.sleep(r.latency())
			if sh.dropped {
				// Cut the connection mid-command: no output, no exit status.
				conn.Close()
				return
			}
			out, errOut := sh.output()
			if !sh.garbled {
				if g := r.garbler(payload.Command); g != nil {
					out = g(out)
				}
			}
			io.WriteString(ch, out)
			io.WriteString(ch.Stderr(), errOut)
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		default:
			req.Reply(false, nil)
		}
	}
}
