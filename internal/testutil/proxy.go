package testutil

import (
	"net"
	"sync/atomic"
	"testing"
)

// ProxyAction is what a Proxy does with what its client sent and after.
type ProxyAction int

const (
	// Pass passes the bytes on.
	Pass ProxyAction = iota
	// Mute passes the bytes on and no reply from then on: to the client,
	// the server ran what it sent and the answers were lost.
	Mute
	// Cut passes the bytes on, then closes both connections: the server
	// runs what it was sent, and the client reads the end of the
	// connection instead of the answer.
	Cut
)

// Proxy is a TCP proxy on a loopback port to addr, closed when t ends; it
// returns its address. Each chunk a client sends is passed on as decide
// says; decide is called from several goroutines at once.
func Proxy(t testing.TB, addr string, decide func(chunk []byte) ProxyAction) string {
	t.Helper()
	ln := Loopback(t)
	ServeConns(ln, func(c net.Conn) {
		s, err := net.Dial("tcp", addr)
		if err != nil {
			c.Close()
			return
		}
		var mute atomic.Bool
		go func() {
			defer s.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					action := decide(buf[:n])
					if action == Mute {
						mute.Store(true)
					}
					s.Write(buf[:n]) //nolint:errcheck // the other side sees the failure
					if action == Cut {
						c.Close()
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		defer c.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 && !mute.Load() {
				c.Write(buf[:n]) //nolint:errcheck // the other side sees the failure
			}
			if err != nil {
				return
			}
		}
	})
	return ln.Addr().String()
}
