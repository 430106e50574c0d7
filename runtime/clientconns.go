package runtime

import (
	"net"
	"net/netip"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"
)

// clientConns is a listener that caps the connections one client keeps
// open (gateway.max_conns_per_client), and, with a total, those all
// clients it counts keep open together: a connection that would take its
// client past max, or them past total, is closed as soon as it is
// accepted, and Accept goes on to the next one. A client is an IPv4
// address (an IPv4-mapped IPv6 address is one), or the /64 of an IPv6
// address; connections from exempt, and those whose remote address is
// not an IP one, are not counted, against either cap. It is safe for
// concurrent use as its Listener is; the connections it returns give
// their client's place back when closed.
type clientConns struct {
	net.Listener
	max     int
	total   int // 0: no cap on all clients together
	exempt  []netip.Prefix
	refused *metrics.Counter
	log     zerolog.Logger // sampled: at most one line per acceptLogEvery

	mu      sync.Mutex
	open    map[netip.Prefix]int // guarded by mu; clients with connections only
	counted int                  // guarded by mu; the sum of open
}

var _ net.Listener = (*clientConns)(nil)

// newClientConns returns ln capping each client, but those in exempt, at
// max connections, and those clients together at total (0: no cap),
// counting those it closes in refused and logging them to log at most
// once per acceptLogEvery.
func newClientConns(ln net.Listener, max, total int, exempt []netip.Prefix, refused *metrics.Counter, log zerolog.Logger) *clientConns {
	return &clientConns{
		Listener: ln, max: max, total: total, exempt: exempt, refused: refused,
		log:  everyAcceptLog(log),
		open: make(map[netip.Prefix]int),
	}
}

func (l *clientConns) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client, counted := l.client(c.RemoteAddr())
		if !counted {
			return c, nil
		}
		if l.take(client) {
			return &clientConn{Conn: c, l: l, client: client}, nil
		}
		c.Close()
		l.refused.Inc()
		if ev := l.log.Warn(); ev.Enabled() { // the client's text only for a line the sampler keeps
			ev.Str("client", client.String()).Int("per_client", l.max).Int("total", l.total).
				Msg("closed a connection: its client had as many open as the listener lets one keep, or the clients it counts all of theirs (a load balancer in front belongs in gateway.conns_exempt; logged at most every 30s)")
		}
	}
}

// client returns the client a connection from addr counts against, and
// false when it is not counted.
func (l *clientConns) client(addr net.Addr) (netip.Prefix, bool) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip := tcp.AddrPort().Addr().Unmap().WithZone("")
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return netip.Prefix{}, false
		}
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	client, err := ip.Prefix(bits)
	return client, err == nil
}

// take counts one more connection for client, unless it has max
// already, or the clients counted have total.
func (l *clientConns) take(client netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client] >= l.max || l.total > 0 && l.counted >= l.total {
		return false
	}
	l.open[client]++
	l.counted++
	return true
}

// give counts one connection of client fewer.
func (l *clientConns) give(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counted--
	if l.open[client] <= 1 {
		delete(l.open, client)
	} else {
		l.open[client]--
	}
}

// clientConn is a connection clientConns counts; its first Close gives
// its client's place back.
type clientConn struct {
	net.Conn
	l      *clientConns
	client netip.Prefix
	once   sync.Once
}

var _ net.Conn = (*clientConn)(nil)

func (c *clientConn) Close() error {
	c.once.Do(func() { c.l.give(c.client) })
	return c.Conn.Close()
}
