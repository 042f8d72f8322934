package world

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Operator is the operator binary running as its own process.
type Operator struct {
	cmd         *exec.Cmd
	done        chan error
	MetricsAddr string
	LogPath     string
}

// StartOperator runs binary against kubeconfig, logging to dir/operator.log.
func StartOperator(binary, kubeconfig, dir string, extraArgs ...string) (*Operator, error) {
	metrics, err := freePort()
	if err != nil {
		return nil, err
	}
	probes, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "operator.log"))
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig", kubeconfig,
		"--metrics-bind-address", metrics, "--health-probe-bind-address", probes,
		"--task-poll-interval", "500ms", "--retry-base-delay", "200ms", "--retry-max-delay", "5s",
	}, extraArgs...)
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting the operator: %w", err)
	}
	o := &Operator{cmd: cmd, done: make(chan error, 1), MetricsAddr: metrics, LogPath: log.Name()}
	go func() { o.done <- cmd.Wait(); log.Close() }()
	// Ready when the probe answers.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-o.done:
			return nil, fmt.Errorf("the operator exited at start (%v); see %s", err, o.LogPath)
		default:
		}
		if c, err := net.DialTimeout("tcp", probes, 200*time.Millisecond); err == nil {
			c.Close()
			return o, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	o.Stop()
	return nil, fmt.Errorf("the operator did not open its probe port within 30s; see %s", o.LogPath)
}

// Pid is the operator's process id, for reading its resource use from
// /proc (the benchmarks report its own RSS and CPU time).
func (o *Operator) Pid() int { return o.cmd.Process.Pid }

// Stop sends SIGTERM and waits for a clean exit (SIGKILL after 10 s).
func (o *Operator) Stop() error {
	if o == nil || o.cmd.Process == nil {
		return nil
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case err := <-o.done:
		o.done <- err
		return err
	case <-ctx.Done():
		_ = syscall.Kill(-o.cmd.Process.Pid, syscall.SIGKILL)
		return fmt.Errorf("the operator did not stop within 10s")
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
