package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
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
// remaining. While the exchange fails with errStale (the pooled
// connection could not carry another request, and nothing was sent) it
// sends again, on another connection or a new one, until deadline: then
// it returns ErrTimeout.
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
// (package deadline), TLS over them for an https target (its handshake
// made when it is dialled: see dialUpstream), that is not reused once its
// request and response may be out of step.
//
// fasthttp's HostClient sets the write deadline of a connection first
// thing in an exchange, before it writes the request or reads its body
// from the client, and closes the connection when that fails: the checks
// are made there, on every exchange but a connection's first. The read
// deadline is set once the request is written, which starts reading the
// response. The connection is refused for a new exchange:
//   - unless its last response began, in its first bytes, with a final
//     status as finalStatus spells it: after an interim 1xx, a 101
//     (Switching Protocols: the target then speaks another protocol on
//     it, perhaps only once spoken to) or a status line spelled otherwise
//     the connection's state is not what a response's framing says;
//   - when bytes the target sent unasked (a body after a response framed
//     without one, such as a 204's or a 304's, or more than its
//     Content-Length), end of stream or an error are waiting, for they
//     would be read as the response to the new request: in the TLS
//     layer's buffer (it reads ahead), by a read of it that does not wait,
//     and on the socket, by a peek that does not block (on an https
//     target's connection any TLS record there refuses it).
//
// Bytes a target sends after the peek, while the next request is under
// way, are beyond what a pooled connection can tell from a response.
type upstreamConn struct {
	net.Conn                 // a *deadline.Conn, or tls over one
	tls      *tls.Conn       // for an https target; nil for an http one
	raw      syscall.RawConn // the socket, to peek at; nil when it cannot be
	// used is set once a request has been written; reading is set while
	// the first bytes of its response are awaited; final records whether
	// they showed a final status (finalStatus).
	used, reading, final bool
	// closed is the result of the last peek, set by peekFD; peek is its
	// method value, made once so that a check does not allocate.
	closed bool
	peek   func(fd uintptr)
	buf    [1]byte
}

var (
	_ net.Conn                       = (*upstreamConn)(nil)
	_ interface{ Handshake() error } = (*upstreamConn)(nil)
)

// dialUpstream wraps c, just dialled, and, with cfg, makes its TLS
// handshake by the time by, closing c when that fails.
func dialUpstream(c net.Conn, cfg *tls.Config, by time.Time) (*upstreamConn, error) {
	dc := deadline.New(c)
	uc := &upstreamConn{Conn: dc}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			uc.raw = raw
			uc.peek = uc.peekFD
		}
	}
	if cfg != nil {
		tc := tls.Client(dc, cfg)
		ctx, cancel := context.WithDeadline(context.Background(), by)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		uc.Conn, uc.tls = tc, tc
	}
	return uc, nil
}

// Handshake tells fasthttp that a connection to an https target speaks
// TLS already (dialUpstream made its handshake), so that it does not wrap
// it again, and the checks see the response's bytes in the clear.
func (c *upstreamConn) Handshake() error { return nil }

// SetWriteDeadline sets the write deadline; on a connection used before,
// it then fails with errStale when the connection must not carry another
// request (fasthttp closes it). The deadline is set first, so that what
// the TLS layer may write while it is read (the answer to a key update)
// has the new exchange's. The peek goes around the read deadline, which
// the last exchange left and may have passed while the connection idled.
func (c *upstreamConn) SetWriteDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil || !c.used {
		return err
	}
	if !c.final || c.tlsPending() {
		return errStale
	}
	if c.raw != nil {
		if err := c.raw.Control(c.peek); err != nil || c.closed {
			return errStale
		}
	}
	return nil
}

// longAgo is a deadline that has passed: a read with it does not wait.
var longAgo = time.Unix(1, 0)

// tlsPending reports whether the TLS layer of an https target's
// connection holds what the target sent unasked, or has failed: a read
// that does not wait finds its buffered plaintext or records without
// touching the socket (a message of TLS's own, such as a session ticket,
// it takes quietly). A timeout leaves a TLS connection usable; the read
// deadline is the next exchange's to set.
func (c *upstreamConn) tlsPending() bool {
	if c.tls == nil {
		return false
	}
	if err := c.tls.SetReadDeadline(longAgo); err != nil {
		return true
	}
	n, err := c.tls.Read(c.buf[:])
	return n > 0 || !errors.Is(err, os.ErrDeadlineExceeded)
}

// SetReadDeadline sets the read deadline: the request is written, and
// its response's first bytes are next.
func (c *upstreamConn) SetReadDeadline(t time.Time) error {
	c.used, c.reading, c.final = true, true, false
	return c.Conn.SetReadDeadline(t)
}

// Read reads from the connection, noting from a response's first bytes
// whether it has a final status.
func (c *upstreamConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.reading && n > 0 {
		c.reading, c.final = false, finalStatus(b[:n])
	}
	return n, err
}

// finalStatus reports whether a response beginning with start has a final
// status after which its connection may carry another exchange, spelled
// exactly: "HTTP/1.0 " or "HTTP/1.1 ", a status from 200 to 599, and a
// space or CR. An interim 1xx first (which fasthttp skips, to a status the
// bytes do not show), a 101, blank lines or other spacing the parser also
// takes, or too few bytes to tell, are not.
func finalStatus(start []byte) bool {
	const at = len("HTTP/1.1 ")
	if len(start) < at+4 || string(start[:7]) != "HTTP/1." || (start[7] != '0' && start[7] != '1') || start[8] != ' ' {
		return false
	}
	c, after := start[at:at+3], start[at+3]
	return '2' <= c[0] && c[0] <= '5' && '0' <= c[1] && c[1] <= '9' && '0' <= c[2] && c[2] <= '9' && (after == ' ' || after == '\r')
}
