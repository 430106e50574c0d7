package runtime

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestClientOfConnection(t *testing.T) {
	t.Parallel()
	l := newClientConns(nil, 1, 0, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48"), netip.MustParsePrefix("fe80:0:0:1::/64")},
		metrics.NewSet().NewCounter("refused"), zerolog.Nop())
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	for _, tt := range []struct {
		addr    net.Addr
		want    string // "": not counted
		comment string
	}{
		{tcp("192.0.2.7:4000"), "192.0.2.7/32", "IPv4: the address"},
		{tcp("[::ffff:192.0.2.7]:4000"), "192.0.2.7/32", "IPv4-mapped: the IPv4 address"},
		{tcp("[2001:db8:2:3:4:5:6:7]:4000"), "2001:db8:2:3::/64", "IPv6: its /64"},
		{tcp("[2001:db8:2:3:ffff::1]:4000"), "2001:db8:2:3::/64", "another address of the same /64"},
		{tcp("[fe80::1%eth0]:4000"), "fe80::/64", "a zone does not make another client"},
		{tcp("10.1.2.3:4000"), "", "exempt"},
		{tcp("[2001:db8:1:9::1]:4000"), "", "exempt IPv6"},
		{tcp("[fe80:0:0:1::7%eth0]:4000"), "", "exempt whatever its zone"},
		{&net.UnixAddr{Name: "@", Net: "unix"}, "", "not an IP address"},
	} {
		got, counted := l.client(tt.addr)
		if s := got.String(); counted != (tt.want != "") || counted && s != tt.want {
			t.Errorf("%s: client(%v) = %s, %v; want %q", tt.comment, tt.addr, s, counted, tt.want)
		}
	}
}

// TestConnectionsBeyondMaxConnsPerClient: with max_conns_per_client 2, a
// client's two kept-alive connections are served and a third is closed
// unanswered; once one of the two closes, a new one is served again. With
// the client's address in conns_exempt, the third is served.
func TestConnectionsBeyondMaxConnsPerClient(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, config string
		thirdServed  bool
	}{
		{"capped", "gateway: max_conns_per_client: 2\n", false},
		{"exempt", "gateway: {max_conns_per_client: 2, conns_exempt: [\"127.0.0.0/8\"]}\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{extra: tt.config})
			first, second := servedConn(e), servedConn(e)
			defer second.Close()
			if third, err := getOn(e); (err == nil) != tt.thirdServed {
				t.Fatalf("a third connection: served %v (%v), want %v", err == nil, err, tt.thirdServed)
			} else if err == nil {
				third.Close()
			}
			first.Close()
			testutil.Eventually(t, "a connection after one of the client's two closed is served", func() bool {
				c, err := getOn(e)
				if err == nil {
					c.Close()
				}
				return err == nil
			})
		})
	}
}

// keptGet is a request the tests of connection caps send on a
// connection they keep alive.
const keptGet = "GET /public/x HTTP/1.1\r\nHost: gw\r\n\r\n"

// servedConn opens a connection to e's gateway and has one request
// served on it.
func servedConn(e *env) net.Conn {
	e.t.Helper()
	c, err := getOn(e)
	if err != nil {
		e.t.Fatalf("a connection within the cap: %v", err)
	}
	return c
}

// getOn opens a connection to e's gateway and has keptGet answered 200 on
// it; it returns the connection, kept alive, or the error that ended it.
func getOn(e *env) (net.Conn, error) {
	e.t.Helper()
	c, r, err := e.exchange(keptGet)
	if err == nil && r.status != http.StatusOK {
		e.t.Fatalf("status %d, want 200", r.status)
	}
	return c, err
}

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
	ln := acceptAll(t, newClientConns(listenLoopback(t), 2, 3, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		metrics.NewSet().NewCounter("refused"), zerolog.Nop()))
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
	ln.closeFrom("127.0.0.3") // gives its place back to the total
	if ln.closedByServer(t, ln.dial(t, "127.0.0.3")) {
		t.Error("a connection after one closed: refused, want served")
	}
}

// TestSideListenerSettings: the caps and exemptions each side listener
// takes from the table.
func TestSideListenerSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{extra: `gateway: conns_exempt: ["10.0.0.0/8"]
portal: trusted_proxies: ["192.0.2.7/32"]
`})
	for _, tt := range []struct {
		name             string
		perClient, total int
		exempt           []string
	}{
		{"admin", adminConnsPerClient, adminConns, []string{"10.0.0.0/8"}},
		{"portal", portalConnsPerClient, max(e.gw.listenerCap/8, minPortalConns), []string{"10.0.0.0/8", "192.0.2.7/32"}},
	} {
		cc := e.gw.SideListener(listenLoopback(t), tt.name).(*clientConns)
		t.Cleanup(func() { cc.Close() })
		var exempt []string
		for _, p := range cc.exempt {
			exempt = append(exempt, p.String())
		}
		if cc.max != tt.perClient || cc.total != tt.total || !slices.Equal(exempt, tt.exempt) {
			t.Errorf("%s: per client %d, total %d, exempt %v; want %d, %d, %v", tt.name, cc.max, cc.total, exempt, tt.perClient, tt.total, tt.exempt)
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

// closeFrom closes the accepted connections from the address from.
func (a *accepting) closeFrom(from string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.open {
		if c.RemoteAddr().(*net.TCPAddr).IP.String() == from {
			c.Close()
		}
	}
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
