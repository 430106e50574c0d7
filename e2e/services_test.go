package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lookBinary returns the path of a Debian package's program, or fails
// (CI) or skips the test saying how to install it.
func lookBinary(t *testing.T, name, pkg string, dirs ...string) string {
	t.Helper()
	for _, d := range dirs {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	need(t, name, "install it with `apt-get install "+pkg+"`")
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// redisServer is a redis-server the test started, with its own directory,
// on a port of its own.
type redisServer struct {
	Addr string
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	log  *syncBuffer
}

// startRedis starts Debian's redis-server on a free loopback port; it is
// stopped by PID when the test ends. A port taken between its choice and
// the server's bind is replaced by another (up to three tries).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{
		bin: lookBinary(t, "redis-server", "redis-server", "/usr/bin", "/usr/sbin"),
		dir: t.TempDir(),
	}
	t.Cleanup(func() {
		r.kill()
		if t.Failed() && r.log != nil {
			t.Logf("redis-server output (last 2 KB):\n%s", tail(r.log.String(), 2048))
		}
	})
	for try := 1; try <= 3; try++ {
		r.port = freePort(t)
		r.Addr = fmt.Sprintf("127.0.0.1:%d", r.port)
		if r.tryStart(t) {
			return r
		}
	}
	t.Fatalf("redis-server: three ports were taken before it could bind them")
	return nil
}

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	if !r.tryStart(t) {
		t.Fatalf("redis-server could not bind %s", r.Addr)
	}
}

// tryStart starts the server and waits until it answers PING as itself
// (INFO's process_id: a server of another test on the port does not
// count); false when it exited because its port was taken.
func (r *redisServer) tryStart(t *testing.T) bool {
	t.Helper()
	r.log = &syncBuffer{} // this process's output only
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "no", "--daemonize", "no")
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	taken := false
	eventually(t, "redis-server answers PING", func() string {
		if taken = strings.Contains(r.log.String(), "Address already in use"); taken {
			return ""
		}
		if err := redisPing(r.Addr); err != nil {
			return err.Error()
		}
		if !redisIs(r.Addr, r.cmd.Process.Pid) {
			return "another process answers on " + r.Addr
		}
		return ""
	})
	if taken {
		r.kill()
	}
	return !taken
}

// signal sends sig to the server (SIGSTOP freezes it, SIGCONT thaws it).
func (r *redisServer) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("redis-server: %v: %v", sig, err)
	}
}

// restart kills the server and starts a new one on the same port.
func (r *redisServer) restart(t *testing.T) {
	t.Helper()
	r.kill()
	r.start(t)
}

func (r *redisServer) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGCONT)
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// redisPing sends PING in the inline protocol and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	b := make([]byte, 16)
	n, err := c.Read(b)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(b[:n]), "+PONG") {
		return fmt.Errorf("PING answered %q", b[:n])
	}
	return nil
}

// redisIs reports whether the server at addr is process pid (INFO
// server's process_id).
func redisIs(addr string, pid int) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return false
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n') // "$" and the reply's length
	n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
	if err != nil || n <= 0 || n > 64<<10 {
		return false
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return false
	}
	return strings.Contains(string(b), "\nprocess_id:"+strconv.Itoa(pid)+"\r\n")
}

// nginxBalancer is Debian's nginx as a round-robin load balancer in front
// of several gateway nodes.
type nginxBalancer struct {
	URL string
	cmd *exec.Cmd
	dir string
}

// startNginx runs nginx in the foreground with a configuration of its own
// that balances port listen over upstreams (host:port) round robin,
// passing on to the next node on a connection error, as an operator's
// nginx in front of cuegate nodes would.
func startNginx(t *testing.T, upstreams []string) *nginxBalancer {
	t.Helper()
	bin := lookBinary(t, "nginx", "nginx-light", "/usr/sbin")
	dir := t.TempDir()
	port := freePort(t)
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "\t\tserver %s max_fails=1 fail_timeout=2s;\n", u)
	}
	conf := fmt.Sprintf(nginxConf, dir, dir, servers.String(), port, dir, dir)
	if os.Geteuid() == 0 {
		conf = "user root;\n" + conf
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &nginxBalancer{URL: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	log := &syncBuffer{}
	n.cmd = exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	n.cmd.Stdout, n.cmd.Stderr = log, log
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log (last 4 KB):\n%s", log, tail(string(errLog), 4096))
		}
	})
	eventually(t, "nginx listens", func() string {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return err.Error()
		}
		c.Close()
		return ""
	})
	return n
}

// nginxConf is the balancer's configuration: the directory (pid, temp
// paths), the upstream servers, the port, and the directory again for the
// logs. Keep-alive to the nodes, as a production balancer would.
const nginxConf = `daemon off;
worker_processes 1;
pid %s/nginx.pid;
events { worker_connections 1024; }
http {
	client_body_temp_path %s/body;
	upstream cuegate {
%s		keepalive 64;
	}
	server {
		listen 127.0.0.1:%d;
		access_log off;
		location / {
			proxy_pass http://cuegate;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
			proxy_next_upstream error timeout;
			proxy_connect_timeout 1s;
		}
	}
	proxy_temp_path %s/proxy;
	error_log %s/error.log warn;
}
`
