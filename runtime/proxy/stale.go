package proxy

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cuegate/cuegate/runtime/deadline"
)

// errStale is what an exchange on a pooled connection fails with when the
// target closed that connection while it sat idle: found out before a byte
// of the request was written or read from the client, so the request can
// be sent again on another connection whatever its method.
var errStale = errors.New("proxy: the target closed the idle connection")

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
// carry a request.
type upstreamConn struct {
	*deadline.Conn
	raw  syscall.RawConn // nil when the socket cannot be peeked at
	used atomic.Bool     // a request was written: the next exchange reuses it
	// closed is the result of the last peek, set by peekFD; peek is its
	// method value, made once so that a check does not allocate.
	closed bool
	peek   func(fd uintptr) bool
	buf    [1]byte
}

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
	if c.raw != nil && c.used.Load() {
		if err := c.raw.Read(c.peek); err != nil || c.closed {
			return errStale
		}
	}
	return c.Conn.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline and marks the connection used.
func (c *upstreamConn) SetReadDeadline(t time.Time) error {
	if !c.used.Load() {
		c.used.Store(true)
	}
	return c.Conn.SetReadDeadline(t)
}
