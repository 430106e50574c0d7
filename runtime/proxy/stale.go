package proxy

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/deadline"
)

// peekAfterIdle is how long a pooled connection must have been idle
// before an exchange checks whether the target closed it: far below the
// keep-alive timeout of any target (a second and more).
const peekAfterIdle = 100 * time.Millisecond

// errStale is what an exchange on a pooled connection fails with when the
// target closed that connection while it sat idle: found out before a byte
// of the request was written or read from the client, so the request can
// be sent again on another connection whatever its method.
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
// (package deadline), that checks before each exchange but its first
// whether the target has closed it meanwhile.
//
// fasthttp's HostClient sets the write deadline of a connection first
// thing in an exchange, before it writes the request or reads its body
// from the client, and closes the connection when that fails: the check is
// made there. The read deadline is set once the request is written, which
// marks the connection as used. (A TLS handshake sets both through
// SetDeadline, which neither checks nor marks.) The check peeks at the
// socket without blocking: end of stream, an error, or bytes the target
// sent unasked (no exchange is under way) all mean the connection cannot
// carry a request. A connection used within peekAfterIdle is not checked:
// no target closes a connection for idleness that soon, and a busy pool
// makes no system call for the check.
type upstreamConn struct {
	*deadline.Conn
	raw      syscall.RawConn // nil when the socket cannot be peeked at
	lastUsed atomic.Int64    // Unix ns when the last request was written; 0: none yet
	// closed is the result of the last peek, set by peekFD; peek is its
	// method value, made once so that a check does not allocate.
	closed bool
	peek   func(fd uintptr) bool
	buf    [1]byte
}

var _ net.Conn = (*upstreamConn)(nil)

// newUpstreamConn wraps c, just dialled.
func newUpstreamConn(c net.Conn) *upstreamConn {
	uc := &upstreamConn{Conn: deadline.New(c)}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			uc.raw = raw
			uc.peek = uc.peekFD
		}
	}
	return uc
}

// SetWriteDeadline sets the write deadline; on a connection used before,
// it first fails with errStale (and sets nothing) when the target has
// closed it.
func (c *upstreamConn) SetWriteDeadline(t time.Time) error {
	if last := c.lastUsed.Load(); c.raw != nil && last != 0 && time.Now().UnixNano()-last >= int64(peekAfterIdle) {
		if err := c.raw.Read(c.peek); err != nil || c.closed {
			return errStale
		}
	}
	return c.Conn.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline and marks the connection used,
// now.
func (c *upstreamConn) SetReadDeadline(t time.Time) error {
	c.lastUsed.Store(time.Now().UnixNano())
	return c.Conn.SetReadDeadline(t)
}
