package deadline

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a net.Conn whose Read and Write return at once and which
// records the deadlines set on it.
type recorder struct {
	net.Conn
	reads, writes []time.Time
}

func (r *recorder) Read(p []byte) (int, error)  { return len(p), nil }
func (r *recorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *recorder) SetReadDeadline(t time.Time) error {
	r.reads = append(r.reads, t)
	return nil
}
func (r *recorder) SetWriteDeadline(t time.Time) error {
	r.writes = append(r.writes, t)
	return nil
}

// TestArming: which deadlines reach the connection, for the patterns
// fasthttp sets them in; on the clock of a testing/synctest bubble, which
// moves only when a step waits.
func TestArming(t *testing.T) {
	t.Parallel()
	type step struct {
		set  bool          // set the read deadline: now + in, or none
		none bool          // with set: none
		in   time.Duration //
		read bool          // Read
		wait time.Duration // let this much time pass
	}
	set := func(d time.Duration) step { return step{set: true, in: d} }
	none := step{set: true, none: true}
	read := step{read: true}
	wait := func(d time.Duration) step { return step{wait: d} }
	tests := []struct {
		name  string
		steps []step
		armed int // deadlines set on the connection
	}{
		{"set, never read", []step{set(30 * time.Second), set(31 * time.Second)}, 0},
		{"one deadline, read", []step{set(30 * time.Second), read, read}, 1},
		{"steady requests", []step{
			set(30 * time.Second), read,
			wait(time.Millisecond), set(30 * time.Second), read,
			wait(time.Millisecond), set(30 * time.Second), read,
		}, 1},
		{"idle then read deadline, header already buffered", []step{
			set(90 * time.Second), read, set(30 * time.Second),
			wait(time.Millisecond), set(90 * time.Second), read, set(30 * time.Second),
		}, 1},
		{"a shorter deadline is armed before a read", []step{
			set(90 * time.Second), read, set(30 * time.Second), read,
		}, 2},
		{"a read deadline inside the armed idle one's slack", []step{
			set(90 * time.Second), read, set(90*time.Second + 500*time.Millisecond), read,
		}, 1},
		{"past the slack", []step{set(16 * time.Second), read, set(18 * time.Second), read}, 2},
		{"none after one", []step{set(time.Second), read, none, read, read}, 2},
		{"none from the start", []step{read, none, read}, 0},
		{"a deadline passed when set is armed at once, exactly", []step{
			set(time.Second), read, wait(2 * time.Second), set(0), read,
		}, 2},
		{"an armed deadline that has passed is replaced", []step{
			set(time.Second), read, wait(2 * time.Second), set(time.Second), read,
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{}
				c := New(rec)
				var want time.Time
				for _, s := range tt.steps {
					time.Sleep(s.wait)
					if s.set {
						want = time.Time{}
						if !s.none {
							want = time.Now().Add(s.in)
						}
						if err := c.SetReadDeadline(want); err != nil {
							t.Fatal(err)
						}
					}
					if s.read {
						if _, err := c.Read(make([]byte, 1)); err != nil {
							t.Fatal(err)
						}
						// The Read ran under the last deadline armed: never
						// before the one asked for, at most a second after.
						var armed time.Time
						if n := len(rec.reads); n > 0 {
							armed = rec.reads[n-1]
						}
						if armed.IsZero() != want.IsZero() || armed.Before(want) || armed.Sub(want) > time.Second {
							t.Errorf("read under %v, asked for %v", armed, want)
						}
					}
				}
				if len(rec.reads) != tt.armed {
					t.Errorf("armed %d deadlines (%v), want %d", len(rec.reads), rec.reads, tt.armed)
				}
			})
		})
	}
}

// TestNeverEarly: an armed deadline is not before the one asked for and
// 1/16 of its distance after it, at most a second.
func TestNeverEarly(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		c := New(rec)
		for _, d := range []time.Duration{time.Millisecond, time.Second, 30 * time.Second, 90 * time.Second} {
			rec.writes = nil
			want := time.Now().Add(d)
			c.SetWriteDeadline(want) //nolint:errcheck // recorder
			c.Write(nil)             //nolint:errcheck // recorder
			if len(rec.writes) != 1 {
				t.Fatalf("%v: armed %d deadlines, want 1", d, len(rec.writes))
			}
			if got, wantArmed := rec.writes[0], want.Add(min(d/16, time.Second)); !got.Equal(wantArmed) {
				t.Errorf("%v: armed %v for %v, want %v", d, got, want, wantArmed)
			}
			time.Sleep(d) // past it: the next one is armed anew
		}
	})
}

// TestFarFuture: a deadline centuries away is armed as far as a Conn can
// keep (some 292 years), not wrapped around into the past.
func TestFarFuture(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		c := New(rec)
		c.SetReadDeadline(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)) //nolint:errcheck // recorder
		c.Read(nil)                                                    //nolint:errcheck // recorder
		if len(rec.reads) != 1 || rec.reads[0].Before(time.Now().AddDate(200, 0, 0)) {
			t.Errorf("armed %v", rec.reads)
		}
	})
}

// TestTimeoutOnTheClock: a Read that waits fails at its deadline plus the
// slack, never before, on a synchronous in-memory connection.
func TestTimeoutOnTheClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := New(a)
		defer c.Close()
		start := time.Now()
		c.SetReadDeadline(start.Add(160 * time.Millisecond)) //nolint:errcheck // checked by Read
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read: %v, want a deadline error", err)
		}
		if waited := time.Since(start); waited != 170*time.Millisecond {
			t.Errorf("timed out after %v, want the deadline plus 1/16 of it, 170ms", waited)
		}
	})
}

func pipe(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := Listener(ln).Accept()
		accepted <- c
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := (<-accepted).(*Conn)
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c, peer
}

// TestTimeout: a Read that waits past its deadline fails as on a plain
// connection, not before the deadline.
func TestTimeout(t *testing.T) {
	t.Parallel()
	c, _ := pipe(t)
	start := time.Now()
	c.SetReadDeadline(start.Add(100 * time.Millisecond)) //nolint:errcheck // checked by Read
	timesOut(t, readInBackground(c), "the deadline was not armed")
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("timed out after %v, before the deadline", waited)
	}
}

// TestConcurrentUse: deadlines set from several goroutines while others
// read and write (for the race detector), and every call still served.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c, peer := pipe(t)
	go io.Copy(peer, peer) //nolint:errcheck // echoes until the test closes it
	const n = 2000
	errs := make(chan error, 3)
	go func() {
		for range n {
			c.SetWriteDeadline(time.Now().Add(time.Hour)) //nolint:errcheck // checked by Write
			if _, err := c.Write([]byte("x")); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		buf := make([]byte, 64)
		for got := 0; got < n; {
			c.SetReadDeadline(time.Now().Add(time.Hour)) //nolint:errcheck // checked by Read
			m, err := c.Read(buf)
			if err != nil {
				errs <- err
				return
			}
			got += m
		}
		errs <- nil
	}()
	go func() {
		for i := range n {
			c.SetDeadline(time.Now().Add(time.Hour + time.Duration(i))) //nolint:errcheck // checked by Read and Write
		}
		errs <- nil
	}()
	for range 3 {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a Read or Write hangs")
		}
	}
}

// TestInterrupt: a deadline that has passed when it is set interrupts a
// Read that waits, as on a net.Conn.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	c, _ := pipe(t)
	reading := make(chan struct{})
	c.Conn = &readSignal{Conn: c.Conn, reading: reading}
	c.SetReadDeadline(time.Now().Add(time.Hour)) //nolint:errcheck // checked by Read
	done := readInBackground(c)
	<-reading                     // the Conn has armed the hour and reads on the socket
	c.SetReadDeadline(time.Now()) //nolint:errcheck // checked by Read
	timesOut(t, done, "the Read did not see the deadline set while it waited")
}

// readSignal closes reading when a Read on the connection starts.
type readSignal struct {
	net.Conn
	reading chan struct{}
	once    sync.Once
}

func (r *readSignal) Read(p []byte) (int, error) {
	r.once.Do(func() { close(r.reading) })
	return r.Conn.Read(p)
}

// readInBackground reads a byte from c on another goroutine and reports
// the error.
func readInBackground(c net.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	return done
}

// timesOut fails t unless done reports a deadline error within 10 s;
// stuck says what it means when none comes.
func timesOut(t *testing.T, done <-chan error, stuck string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read: %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(stuck + ": the Read still waits")
	}
}

// BenchmarkDeadlineWrite is what fasthttp does per response: set a write
// deadline of now plus the timeout, then write; on a plain connection,
// through a Conn, and (the floor) writing without a deadline.
func BenchmarkDeadlineWrite(b *testing.B) {
	for _, mode := range []string{"plain", "lazy", "none"} {
		b.Run(mode, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err == nil {
					io.Copy(io.Discard, c) //nolint:errcheck
				}
			}()
			var c net.Conn
			if c, err = net.Dial("tcp", ln.Addr().String()); err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if mode == "lazy" {
				c = New(c)
			}
			p := []byte("x")
			for b.Loop() {
				if mode != "none" {
					c.SetWriteDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // checked by Write
				}
				if _, err := c.Write(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
