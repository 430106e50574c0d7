package proxy

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// fullBacklog returns the address of a loopback socket that listens with
// a backlog of 0 and never accepts, its queue already full: a connection
// attempt to it hangs until the connect timeout (Linux drops the SYN).
func fullBacklog(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skip("raw sockets unavailable:", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skip(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Skip(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue.
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
		c.Close()
		t.Skip("the kernel accepts past the backlog here")
	}
	return "http://" + addr
}

func TestConnectTimeoutIs504(t *testing.T) {
	t.Parallel()
	p, err := New(Options{Targets: []string{fullBacklog(t)}, ConnectTimeout: 200 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	if resp, _ := get(t, gw+"/", nil); resp.StatusCode != 504 {
		t.Fatalf("connect timeout: %d, want 504", resp.StatusCode)
	}
	if p.targets[0].downUntil.Load() == 0 {
		t.Fatal("a target that does not connect is not cooled down")
	}
}
