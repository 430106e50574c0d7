package runtime

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestSideListenerCaps: the admin listener closes a client's connections
// past adminConnsPerClient as they are accepted, but for a client in
// conns_exempt.
func TestSideListenerCaps(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, config string
		lastServed   bool
	}{
		{"capped", "", false},
		{"exempt", "gateway: conns_exempt: [\"127.0.0.1/32\"]\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{extra: tt.config})
			ln := acceptAll(t, e.gw.SideListener(listenLoopback(t), "admin"))
			for range adminConnsPerClient {
				ln.dial(t, "127.0.0.1")
			}
			if served := !ln.closedByServer(t, ln.dial(t, "127.0.0.1")); served != tt.lastServed {
				t.Errorf("connection %d of one client served: %v, want %v", adminConnsPerClient+1, served, tt.lastServed)
			}
		})
	}
}

// TestClientConnsTotal: with a total, the clients counted keep that many
// connections together; the exempt ones count against neither cap.
func TestClientConnsTotal(t *testing.T) {
	t.Parallel()
	cc := newClientConns(listenLoopback(t), 2, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		metrics.NewSet().NewCounter("refused"), zerolog.Nop())
	cc.total = 3
	ln := acceptAll(t, cc)
	for _, tt := range []struct {
		from   string
		served bool
	}{
		{"127.0.0.2", true},
		{"127.0.0.2", true},
		{"127.0.0.2", false}, // its client's cap
		{"127.0.0.3", true},
		{"127.0.0.3", false}, // the total
		{"127.0.0.1", true},  // exempt
		{"127.0.0.1", true},
		{"127.0.0.1", true},
	} {
		if served := !ln.closedByServer(t, ln.dial(t, tt.from)); served != tt.served {
			t.Errorf("a connection from %s served: %v, want %v", tt.from, served, tt.served)
		}
	}
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// accepting is a listener whose connections are accepted, and kept open,
// until the test ends.
type accepting struct {
	net.Listener
	mu   sync.Mutex
	open []net.Conn // guarded by mu
}

func acceptAll(t *testing.T, ln net.Listener) *accepting {
	a := &accepting{Listener: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.open = append(a.open, c)
			a.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, c := range a.open {
			c.Close()
		}
	})
	return a
}

// dial connects to a from the loopback address from, closed when the test
// ends.
func (a *accepting) dial(t *testing.T, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", a.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the listener closed c unanswered (it
// reads end of stream), rather than accepting it (it waits for bytes).
func (a *accepting) closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	var closed bool
	testutil.EventuallyState(t, "the connection accepted or closed", func() (bool, string) {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		if errors.Is(err, io.EOF) {
			closed = true
			return true, ""
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, s := range a.open {
			if s.RemoteAddr().String() == c.LocalAddr().String() {
				return true, ""
			}
		}
		return false, err.Error()
	})
	return closed
}
