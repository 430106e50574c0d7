// Package deadline makes net.Conn deadlines cheap to set on every request.
//
// fasthttp sets a connection's deadlines several times per request: the
// server an idle, a read and a write deadline, the client a write and a read
// deadline for each upstream exchange. Each is a change to a runtime timer
// under a lock (BenchmarkDeadlineWrite). Almost none of them matters: a deadline only acts on a Read or Write that
// has to wait, and most of them are replaced before that.
//
// A Conn records a deadline when it is set and arms it on the connection
// only when a Read (or Write) starts and the armed one does not fit: it is
// armed a little later than asked, by 1/16 of its distance from the time it
// is armed but at most a second, so that the next deadlines of a steady
// stream of requests (each "now + timeout", a little later than the last)
// fit the one armed and are not armed at all. A timeout therefore fires
// late by at most a second and at most 1/16 of the longest timeout that
// bounds the same direction of the connection, never early: with one
// timeout, 1/16 of its length (a 30 s write timeout within 31 s); fasthttp's
// idle and read timeouts both bound reads, so a read deadline set while an
// idle one is armed may be served by it, late by 1/16 of the idle timeout
// (at most a second); and just after a reload, a new shorter timeout may be
// served by the deadline the previous one armed.
package deadline

import (
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a net.Conn whose deadlines are armed lazily (see the package
// doc). A deadline that has passed when it is set interrupts a Read or
// Write that waits, as on a net.Conn: it is armed at once and exactly,
// unless the armed deadline fits it (which then fires within its slack, at
// most a second later). Any other change reaches the next Read or Write,
// not one already waiting; fasthttp only sets a deadline before the call it
// bounds. Safe for concurrent use as net.Conn is.
type Conn struct {
	net.Conn
	// base is the origin of the times the sides keep: New's time, so that
	// a Conn made in a testing/synctest bubble counts on the bubble's
	// clock; durations since it are monotonic, so that a step of the wall
	// clock moves no deadline.
	base        time.Time
	read, write side
}

var _ net.Conn = (*Conn)(nil)

// side is the deadline of one direction. Its hot paths take no lock: a Set
// the armed deadline already serves stores one word, and a Read or Write
// under it only loads. armed and slack are two words: a reader may pair
// one's new value with the other's old one, which misjudges a fit by at
// most maxSlack.
type side struct {
	want  atomic.Int64 // deadline asked for, nanoseconds since Conn.base; 0: none
	armed atomic.Int64 // deadline set on the connection, since Conn.base; 0: none
	slack atomic.Int64 // how much later than asked armed may be
	mu    sync.Mutex   // serialises arming
}

// New wraps c, which must have no deadline set; its deadlines must then be
// set through the Conn only.
func New(c net.Conn) *Conn { return &Conn{Conn: c, base: time.Now()} }

// Read reads from the connection, under the read deadline last set.
func (c *Conn) Read(p []byte) (int, error) {
	if s := &c.read; !s.fits(s.want.Load()) {
		if err := s.arm(c.Conn, c.base, net.Conn.SetReadDeadline); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

// Write writes to the connection, under the write deadline last set.
func (c *Conn) Write(p []byte) (int, error) {
	if s := &c.write; !s.fits(s.want.Load()) {
		if err := s.arm(c.Conn, c.base, net.Conn.SetWriteDeadline); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

// SetReadDeadline sets the deadline of the next Reads; a zero t means none.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.read.set(t, c.Conn, c.base, net.Conn.SetReadDeadline)
}

// SetWriteDeadline sets the deadline of the next Writes; a zero t means
// none.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.write.set(t, c.Conn, c.base, net.Conn.SetWriteDeadline)
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// setter sets one direction's deadline on a net.Conn: SetReadDeadline or
// SetWriteDeadline, as method expressions (no closure per call).
type setter func(net.Conn, time.Time) error

// maxSlack bounds how late a deadline is armed, whatever its distance.
const maxSlack = int64(time.Second)

// since is now as a side keeps times: nanoseconds since base.
func since(base time.Time) int64 { return int64(time.Since(base)) }

// set records t (zero: none) as the deadline asked for, in nanoseconds
// since base.
func (s *side) set(t time.Time, c net.Conn, base time.Time, apply setter) error {
	var ns int64
	if !t.IsZero() {
		// 0 is "none"; the cap keeps ns plus its slack from overflowing
		// (a deadline some 292 years away is as good as none).
		ns = min(max(int64(t.Sub(base)), 1), math.MaxInt64-maxSlack)
	}
	// Stored even when it fits: a Read arming an earlier Set's deadline
	// at this moment would otherwise leave that one in place.
	s.want.Store(ns)
	if !s.fits(ns) && ns != 0 && ns <= since(base) {
		return s.arm(c, base, apply) // it may be meant to interrupt a wait; armed exactly
	}
	return nil
}

// fits reports whether the armed deadline serves want: none for none,
// else not before it and at most slack after it.
func (s *side) fits(want int64) bool {
	armed := s.armed.Load()
	if want == 0 || armed == 0 {
		return want == armed
	}
	return armed >= want && armed-want <= s.slack.Load()
}

// arm sets the deadline asked for on c, plus 1/16 of its distance from now
// (at most maxSlack; none for one that has passed), unless the armed one
// fits it.
func (s *side) arm(c net.Conn, base time.Time, apply setter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := s.want.Load()
	if s.fits(want) {
		return nil
	}
	var at time.Time // none, for want 0
	var slack int64
	if want != 0 {
		slack = min(max(want-since(base), 0)/16, maxSlack)
		at = base.Add(time.Duration(want + slack))
	}
	if err := apply(c, at); err != nil {
		return err
	}
	s.slack.Store(slack)
	s.armed.Store(want + slack)
	return nil
}

// Listener wraps the connections ln accepts in Conns.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

var _ net.Listener = listener{}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return New(c), nil
}
