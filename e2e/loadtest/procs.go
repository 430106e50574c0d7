package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var selfPID = os.Getpid()

// Proc is a child process the harness started and will stop.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // its stdout and stderr
	done chan struct{}
}

// PID returns the child's process ID.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// startProc starts name with args, output to a log file in dir. The child is
// killed if the harness dies (Pdeathsig).
func startProc(dir, name string, env []string, bin string, args ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// startRole starts this program again in a child role (see runRole), with
// env added to the environment.
func startRole(dir, role, name string, env []string, args ...string) (*Proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startProc(dir, name, env, self, append([]string{"-role", role}, args...)...)
}

// Stop ends the child: SIGTERM, then SIGKILL after 5s.
func (p *Proc) Stop() {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last lines of the child's log, for error messages.
func (p *Proc) tail() string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// waitHTTP polls url until it answers 200 (any status with anyStatus),
// the process exits, or timeout.
func waitHTTP(p *Proc, url string, timeout time.Duration, anyStatus bool) error {
	c := &http.Client{Timeout: time.Second}
	end := time.Now().Add(timeout)
	var last string
	for time.Now().Before(end) {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if anyStatus || resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited:\n%s", p.Name, p.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: %s not ready after %v (last: %s); log:\n%s", p.Name, url, timeout, last, p.tail())
}

// freePort returns a loopback address nobody listens on right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// scrapeMetrics reads cuegate's admin /metrics and keeps the samples whose
// line matches re (Prometheus text: "name{labels} value").
func scrapeMetrics(admin, re string) map[string]float64 {
	out := map[string]float64{}
	if re == "" {
		return out
	}
	rx, err := regexp.Compile(re)
	if err != nil {
		return out
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + admin + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !rx.MatchString(line) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// deltaMetrics returns after − before for the samples that changed.
func deltaMetrics(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
