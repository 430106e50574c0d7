// Package deadline makes net.Conn deadlines cheap to set on every request.
//
// fasthttp sets a connection's deadlines several times per request: the
// server an idle, a read and a write deadline, the client a write and a read
// deadline for each upstream exchange. Each is a change to a runtime timer
// under a lock; in the load benchmark they cost the gateway about 9 % of its
// CPU per request. Almost none of them matters: a deadline only acts on a
// Read or Write that has to wait, and most of them are replaced before that.
//
// A Conn records a deadline when it is set and arms it on the connection
// only when a Read (or Write) starts and the armed one does not fit: it is
// armed a little later than asked, by 1/16 of its distance from the time it
// is armed, so that the next deadlines of a steady stream of requests
// (each "now + timeout", a little later than the last) fit the one armed
// and are not armed at all. A timeout therefore fires up to 1/16 of its
// length late (a 30 s read timeout within 32 s), never early.
package deadline

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a net.Conn whose deadlines are armed lazily (see the package
// doc). A deadline set while a Read or Write of its direction is in
// progress is armed at once, so it reaches that call as with a plain
// net.Conn. Safe for concurrent use as net.Conn is.
type Conn struct {
	net.Conn
	read, write side
}

// side is the deadline of one direction.
type side struct {
	want  atomic.Int64 // deadline asked for, Unix nanoseconds; 0: none
	busy  atomic.Int32 // Reads (Writes) in progress
	armed atomic.Int64 // deadline set on the connection; 0: none
	slack atomic.Int64 // how much later than asked armed may be
	mu    sync.Mutex   // serialises arming
}

// New wraps c.
func New(c net.Conn) *Conn { return &Conn{Conn: c} }

// Read reads from the connection, under the read deadline last set.
func (c *Conn) Read(p []byte) (int, error) {
	s := &c.read
	s.busy.Add(1)
	if !s.fits() {
		if err := s.arm(c.Conn, net.Conn.SetReadDeadline); err != nil {
			s.busy.Add(-1)
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	s.busy.Add(-1)
	return n, err
}

// Write writes to the connection, under the write deadline last set.
func (c *Conn) Write(p []byte) (int, error) {
	s := &c.write
	s.busy.Add(1)
	if !s.fits() {
		if err := s.arm(c.Conn, net.Conn.SetWriteDeadline); err != nil {
			s.busy.Add(-1)
			return 0, err
		}
	}
	n, err := c.Conn.Write(p)
	s.busy.Add(-1)
	return n, err
}

// SetReadDeadline records t as the deadline of the next Reads; a zero t
// means none.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.read.set(t, c.Conn, net.Conn.SetReadDeadline)
}

// SetWriteDeadline records t as the deadline of the next Writes; a zero t
// means none.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.write.set(t, c.Conn, net.Conn.SetWriteDeadline)
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

type setter func(net.Conn, time.Time) error

func (s *side) set(t time.Time, c net.Conn, arm setter) error {
	var ns int64
	if !t.IsZero() {
		ns = max(t.UnixNano(), 1) // 0 is "none"
	}
	s.want.Store(ns)
	if s.busy.Load() > 0 {
		return s.arm(c, arm)
	}
	return nil
}

// fits reports whether the armed deadline serves the one asked for: none
// for none, else not before it and at most slack after it.
func (s *side) fits() bool {
	want, armed := s.want.Load(), s.armed.Load()
	if want == 0 || armed == 0 {
		return want == armed
	}
	return armed >= want && armed-want <= s.slack.Load()
}

// arm sets the deadline asked for on c, plus 1/16 of its distance from now.
func (s *side) arm(c net.Conn, set setter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fits() {
		return nil
	}
	want := s.want.Load()
	if want == 0 {
		s.armed.Store(0)
		return set(c, time.Time{})
	}
	slack := max(want-time.Now().UnixNano(), 0) / 16
	s.armed.Store(want + slack)
	s.slack.Store(slack)
	return set(c, time.Unix(0, want+slack))
}

// Listener wraps the connections ln accepts in Conns.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return New(c), nil
}
