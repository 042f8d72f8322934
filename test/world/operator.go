package world

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// BuildOperator builds the operator from the repository at root into dir
// and returns the binary's path.
func BuildOperator(root, dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the operator: %v\n%s", err, out)
	}
	return bin, nil
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
	// Appended to, not truncated: a test that restarts the operator in the
	// same directory keeps the log of every run.
	log, err := os.OpenFile(filepath.Join(dir, "operator.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig", kubeconfig,
		"--metrics-bind-address", metrics, "--health-probe-bind-address", probes,
		"--task-poll-interval", "500ms", "--retry-base-delay", "200ms", "--retry-max-delay", "5s",
		// The simulator asks no fair use of its clients; a suite measuring
		// the default budget passes its own --ovh-requests-per-second (the
		// last one given wins).
		"--ovh-requests-per-second", "1000",
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
	_ = o.Stop()
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

// Kill sends SIGKILL to the operator's process group, as a node crash or
// the OOM killer would: no deferred cleanup, no Lease release. It returns
// once the process is gone.
func (o *Operator) Kill() error {
	if o == nil || o.cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-o.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	select {
	case err := <-o.done:
		o.done <- err
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the operator (pid %d) did not die within 10s of SIGKILL", o.cmd.Process.Pid)
	}
}

// Exited reports whether the process has ended (killed, stopped or crashed).
func (o *Operator) Exited() bool {
	select {
	case err := <-o.done:
		o.done <- err
		return true
	default:
		return false
	}
}

// Metrics scrapes the operator's /metrics endpoint (plain HTTP) and sums
// every sample of each metric family whose labels include all of match:
// Metrics("controller_runtime_reconcile_total", nil) is the reconciles of
// every controller, whatever their result.
func (o *Operator) Metrics(ctx context.Context) (Samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+o.MetricsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return ParseSamples(resp.Body)
}

// ParseSamples reads the Prometheus text format (an operator's /metrics,
// the API server's).
func ParseSamples(r io.Reader) (Samples, error) {
	var out Samples
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if s, ok := parseSample(sc.Text()); ok {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

// Sample is one line of the Prometheus text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Samples is a scrape.
type Samples []Sample

// Sum adds the values of the samples of a metric whose labels include
// every pair of match.
func (ss Samples) Sum(name string, match map[string]string) float64 {
	total := 0.0
next:
	for _, s := range ss {
		if s.Name != name {
			continue
		}
		for k, v := range match {
			if s.Labels[k] != v {
				continue next
			}
		}
		total += s.Value
	}
	return total
}

// Filter returns the samples of a metric whose labels pass keep.
func (ss Samples) Filter(name string, keep func(labels map[string]string) bool) Samples {
	var out Samples
	for _, s := range ss {
		if s.Name == name && keep(s.Labels) {
			out = append(out, s)
		}
	}
	return out
}

// parseSample reads one `name{k="v",...} value [timestamp]` line.
func parseSample(line string) (Sample, bool) {
	if line == "" || strings.HasPrefix(line, "#") {
		return Sample{}, false
	}
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return Sample{}, false
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, ", ")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			k, rest, ok := strings.Cut(line, `="`)
			if !ok {
				return Sample{}, false
			}
			var v strings.Builder
			j := 0
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
				}
				v.WriteByte(rest[j])
			}
			if j == len(rest) {
				return Sample{}, false
			}
			s.Labels[k] = v.String()
			line = rest[j+1:]
		}
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return Sample{}, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return Sample{}, false
	}
	s.Value = v
	return s, true
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
