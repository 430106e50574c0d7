package proxy

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/deadline"
)

// errStale is what an exchange on a pooled connection fails with when that
// connection cannot carry another request (see upstreamConn): found out
// before a byte of the request was written or read from the client, so the
// request can be sent again on another connection whatever its method.
var errStale = errors.New("proxy: the target closed the idle connection")

// retryIfErr is the targets' HostClient.RetryIfErr: a failed exchange is
// retried on the same target when nothing of it was sent (errStale), or
// when it has no body and is idempotent. fasthttp calls it only for a
// request without a body stream; target.do resends the others.
func retryIfErr(req *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	return false, errors.Is(err, errStale) || (!req.IsBodyStream() && (req.Header.IsGet() || req.Header.IsHead()))
}

// do sends out to t and reads the response header into resp within
// remaining. While the exchange fails with errStale (the target had closed
// the pooled connection, and nothing was sent) it sends again, on another
// connection or a new one, until deadline: then it returns ErrTimeout.
func (t *target) do(out *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, remaining time.Duration) error {
	err := t.hc.DoTimeout(out, resp, remaining)
	for errors.Is(err, errStale) {
		if remaining = time.Until(deadline); remaining <= 0 {
			return ErrTimeout
		}
		err = t.hc.DoTimeout(out, resp, remaining)
	}
	return err
}

// upstreamConn is a connection to a target, deadlines armed lazily
// (package deadline), that is not reused once its request and response
// may be out of step.
//
// fasthttp's HostClient sets the write deadline of a connection first
// thing in an exchange, before it writes the request or reads its body
// from the client, and closes the connection when that fails: the checks
// are made there, on every exchange but a connection's first. The read
// deadline is set once the request is written, which starts reading the
// response. (A TLS handshake sets both through SetDeadline, which neither
// checks nor starts.) The connection is refused for a new exchange:
//   - when a peek at the socket, which does not block, finds end of
//     stream, an error, or bytes the target sent unasked (a body after a
//     response framed without one, such as a 204's or a 304's, or more
//     than its Content-Length): they would be read as the response to the
//     new request;
//   - when its last response was a 101 (Switching Protocols), as the
//     response's first bytes show it: the target then speaks another
//     protocol on it, perhaps only once spoken to. A connection to an
//     https target carries TLS records, whose bytes show no status: it
//     has the peek only.
//
// Bytes a target sends after the peek, while the next request is under
// way, are beyond what a pooled connection can tell from a response.
type upstreamConn struct {
	*deadline.Conn
	raw syscall.RawConn // nil when the socket cannot be peeked at
	// used is set once a request has been written; reading is set while
	// the first bytes of a response are awaited, on a connection whose
	// bytes are HTTP's (sniff); switched records what they showed.
	used, sniff, reading, switched bool
	// closed is the result of the last peek, set by peekFD; peek is its
	// method value, made once so that a check does not allocate.
	closed bool
	peek   func(fd uintptr) bool
	buf    [1]byte
}

var _ net.Conn = (*upstreamConn)(nil)

// newUpstreamConn wraps c, just dialled; isTLS says that TLS will run
// over it.
func newUpstreamConn(c net.Conn, isTLS bool) *upstreamConn {
	uc := &upstreamConn{Conn: deadline.New(c), sniff: !isTLS}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			uc.raw = raw
			uc.peek = uc.peekFD
		}
	}
	return uc
}

// SetWriteDeadline sets the write deadline; on a connection used before,
// it first fails with errStale (and sets nothing) when the connection must
// not carry another request.
func (c *upstreamConn) SetWriteDeadline(t time.Time) error {
	if c.used {
		if c.switched {
			return errStale
		}
		if c.raw != nil {
			if err := c.raw.Read(c.peek); err != nil || c.closed {
				return errStale
			}
		}
	}
	return c.Conn.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline: the request is written, and
// its response's first bytes are next.
func (c *upstreamConn) SetReadDeadline(t time.Time) error {
	c.used, c.reading = true, c.sniff
	return c.Conn.SetReadDeadline(t)
}

// Read reads from the connection, noting from a response's first bytes
// whether its status is 101.
func (c *upstreamConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.reading && n > 0 {
		c.reading, c.switched = false, switchedProtocols(b[:n])
	}
	return n, err
}

// switchedProtocols reports whether a response beginning with start has
// status 101, or may have: start too short to show the status counts as
// one.
func switchedProtocols(start []byte) bool {
	const at = len("HTTP/1.1 ")
	return len(start) < at+3 || string(start[at:at+3]) == "101"
}
