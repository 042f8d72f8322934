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

// handleSession serves one exec request: the command string is a script for
// the interpreter; `... -s` forms read the script from stdin.
func (r *Router) handleSession(conn net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "env":
			req.Reply(true, nil)
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
			if g := r.garbler(payload.Command); g != nil {
				out = g(out)
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
