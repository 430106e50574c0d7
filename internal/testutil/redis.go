package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/redis/rueidis"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server process a test started: Debian's binary on a
// loopback port of its own, with its own directory and no persistence.
// The process is killed when the test ends. Its methods are safe for
// concurrent use.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	log    *SyncBuffer
}

// StartRedis starts redis-server and returns once it answers PING. A
// missing binary skips t, or fails it under CI (see NeedOrSkip).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		NeedOrSkip(t, "redis-server", "install it with `apt-get install redis-server` (Debian's package)")
	}
	r := &Redis{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(r.Kill)
	// A port found free may be taken before the server binds it (tests
	// run in parallel): the server then exits, and it starts again on
	// another port.
	for try := 1; ; try++ {
		r.port = freePort(t)
		err := r.start()
		if err == nil {
			return r
		}
		if !errors.Is(err, errPortTaken) || try == 3 {
			t.Fatal(err)
		}
	}
}

// errPortTaken is what start returns when the server could not bind its
// port.
var errPortTaken = errors.New("redis-server: port taken")

// NeedOrSkip reports that what is missing: under CI (CI set to anything
// but "", "0" and "false") it fails t, elsewhere it skips t, saying how to
// get it.
func NeedOrSkip(t testing.TB, what, howto string) {
	t.Helper()
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatalf("%s is missing and CI is set, so this is a failure, not a skip: %s", what, howto)
	}
	t.Skipf("%s is missing: %s (CI=true turns this skip into a failure)", what, howto)
}

// Client returns a client of r (no client-side cache), closed when t
// ends.
func (r *Redis) Client(t testing.TB) rueidis.Client {
	t.Helper()
	return RedisClient(t, r.Addr())
}

// RedisClient returns a client of the Redis at addr (a Redis's, or a
// Proxy's to it), closed when t ends.
func RedisClient(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Addr returns the server's host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Restart starts the server on its port, after Kill if it is running,
// and returns once it answers PING. Its data is gone (no persistence).
func (r *Redis) Restart() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatal(err)
	}
}

// start starts the server on r.port, after Kill if it is running, and
// returns once it answers PING; an error when it exits first (errPortTaken
// when it could not bind the port) or does not answer in 10 s.
func (r *Redis) start() error {
	r.Kill()
	r.mu.Lock()
	r.log = &SyncBuffer{}
	r.cmd = exec.Command(r.bin,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	err := r.cmd.Start()
	cmd, log, exited := r.cmd, r.log, make(chan struct{})
	r.exited = exited
	if err != nil {
		r.cmd = nil
	}
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.answers(cmd.Process.Pid)
		select {
		case <-exited:
			if strings.Contains(log.String(), "Address already in use") {
				return fmt.Errorf("%w: %d", errPortTaken, r.port)
			}
			return fmt.Errorf("redis-server on %s exited; its output:\n%s", r.Addr(), log)
		default:
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s does not answer PING: %v; its output:\n%s", r.Addr(), err, log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// answers reports whether the server on r's port is process pid and
// answers: another one (that took the port first) does not count.
func (r *Redis) answers(pid int) error {
	info, err := r.Do("INFO", "server")
	if err != nil {
		return err
	}
	if !strings.Contains(info, "\nprocess_id:"+strconv.Itoa(pid)+"\r\n") {
		return fmt.Errorf("another process answers on %s", r.Addr())
	}
	return nil
}

// Kill ends the server with SIGKILL (after SIGCONT, should it be stopped)
// and waits for it; it does nothing when the server is not running.
func (r *Redis) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGCONT)
	r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// Pause freezes the server (SIGSTOP): connections stay open and nothing
// answers, as with a server stuck or a network black hole.
func (r *Redis) Pause() { r.signal(syscall.SIGSTOP) }

// Resume undoes Pause (SIGCONT).
func (r *Redis) Resume() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		r.t.Fatalf("redis-server is not running: cannot send %v", sig)
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("redis-server: %v: %v", sig, err)
	}
}

// Ping sends PING on a new connection and reports whether PONG came back
// within a second.
func (r *Redis) Ping() error {
	_, err := r.Do("PING")
	return err
}

// Do sends one command on a new connection and returns its reply's first
// line, or for a bulk string its contents (an error reply is an error);
// for tests that inspect the server (INFO, DBSIZE, KEYS), not for load.
func (r *Redis) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '-':
		return "", errors.New(line[1:])
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
