package logwriter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// recordWriter keeps each Write it gets separately.
type recordWriter struct {
	mu     sync.Mutex
	writes []string
}

func (r *recordWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recordWriter) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func TestWriterWholeLines(t *testing.T) {
	t.Parallel()
	var rec recordWriter
	b := New(&rec, 256, 2, time.Hour) // no periodic flush in this test
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(b, `{"g":%d,"i":%d,"pad":"%s"}`+"\n", g, i, strings.Repeat("x", i%50))
			}
		})
	}
	wg.Wait()
	big := `{"big":"` + strings.Repeat("y", 1000) + `"}` + "\n"
	b.Write([]byte(big)) //nolint:errcheck
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b.Write([]byte("{\"after\":1}\n")) //nolint:errcheck
	writes := rec.all()
	if len(writes) >= 800 {
		t.Errorf("%d writes for 802 lines: not batched", len(writes))
	}
	n := 0
	for _, w := range writes {
		if !strings.HasSuffix(w, "\n") {
			t.Fatalf("a write ends inside a line: %q", w)
		}
		for _, l := range strings.Split(strings.TrimSuffix(w, "\n"), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			n++
		}
	}
	if n != 802 {
		t.Errorf("%d lines written, want 802 (none lost at Close, none after it)", n)
	}
}

// Lines through Spread from many goroutines, with lines through Write
// among them: every line arrives whole and once, none is lost at Close, and
// Write's lines keep their order.
func TestWriterSpread(t *testing.T) {
	t.Parallel()
	var rec recordWriter
	b := New(&rec, 512, 3, time.Hour)
	access := b.Spread()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				fmt.Fprintf(access, "{\"g\":%d,\"i\":%d}\n", g, i)
			}
		})
	}
	for i := range 100 {
		fmt.Fprintf(b, "{\"ordered\":%d}\n", i)
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(access, "{\"after\":1}\n")
	seen := map[string]bool{}
	next := 0
	for _, w := range rec.all() {
		if !strings.HasSuffix(w, "\n") {
			t.Fatalf("a write ends inside a line: %q", w)
		}
		for _, l := range strings.Split(strings.TrimSuffix(w, "\n"), "\n") {
			var v struct{ G, I, Ordered, After *int }
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if seen[l] {
				t.Errorf("line %s written twice", l)
			}
			seen[l] = true
			if v.Ordered != nil {
				if *v.Ordered != next {
					t.Errorf("ordered line %d after %d", *v.Ordered, next-1)
				}
				next = *v.Ordered + 1
			}
		}
	}
	if want := 8*300 + 100 + 1; len(seen) != want {
		t.Errorf("%d lines written, want %d", len(seen), want)
	}
}

// Close while lines keep coming through Write and Spread: every line whose
// write returned is written once, before Close returns or straight to w
// after it.
func TestWriterCloseRacesWriters(t *testing.T) {
	t.Parallel()
	const writers, lines = 6, 100
	var rec recordWriter
	b := New(&rec, 256, 2, time.Millisecond)
	var wg, warm, after sync.WaitGroup // after: lines written once Close returned
	var written atomic.Int64
	stop, closed := make(chan struct{}), make(chan struct{})
	warm.Add(writers)
	after.Add(writers)
	for g := range writers {
		w := io.Writer(b)
		if g%2 == 1 {
			w = b.Spread()
		}
		wg.Go(func() {
			sinceClose := 0
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				fmt.Fprintf(w, "{\"g\":%d,\"i\":%d}\n", g, i)
				written.Add(1)
				if i == lines {
					warm.Done()
				}
				select {
				case <-closed:
					if sinceClose++; sinceClose == lines {
						after.Done()
					}
				default:
				}
			}
		})
	}
	warm.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	close(closed)
	after.Wait()
	close(stop)
	wg.Wait()
	n := 0
	for _, w := range rec.all() {
		n += strings.Count(w, "\n")
	}
	if int64(n) != written.Load() {
		t.Errorf("%d lines reached w, %d writes returned", n, written.Load())
	}
}

// A buffered line reaches w once the period has passed, not before.
func TestWriterFlushesPeriodically(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const period = time.Second
		var out testutil.SyncBuffer
		b := New(&out, 64<<10, 2, period)
		defer b.Close()
		b.Write([]byte("{\"a\":1}\n")) //nolint:errcheck
		time.Sleep(period - time.Nanosecond)
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("written before the period: %q", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := out.String(); got != "{\"a\":1}\n" {
			t.Errorf("after the period w holds %q, want the line", got)
		}
	})
}

// gateWriter blocks every Write until open is closed, then records it.
type gateWriter struct {
	open chan struct{}
	recordWriter
}

func (g *gateWriter) Write(p []byte) (int, error) {
	<-g.open
	return g.recordWriter.Write(p)
}

// A slow log destination must not hold up the callers while buffers are
// free (a request's access line would otherwise wait for write(2)), and
// when it falls behind nothing is lost or reordered.
func TestWriterDoesNotWaitForSlowWriter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		g := &gateWriter{open: make(chan struct{})}
		b := New(g, 100, 2, time.Hour) // two lines a buffer
		line := func(i int) []byte {
			return fmt.Appendf(nil, "{\"i\":%03d,\"pad\":\"%s\"}\n", i, strings.Repeat("x", 20))
		}

		// Three buffers' worth of the ordered shard's four (its own and
		// the three spare): the writer is stuck on the first.
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			for i := range 6 {
				b.Write(line(i)) //nolint:errcheck
			}
		}()
		synctest.Wait()
		select {
		case <-wrote:
		default:
			close(g.open) // lets the bubble's goroutines end
			b.Close()     //nolint:errcheck
			t.Fatal("Write waited for a blocked destination although buffers were free")
		}

		// Far more than the buffers hold: Write must wait (not drop)
		// until the destination moves again.
		more := make(chan struct{})
		go func() {
			defer close(more)
			for i := 6; i < 100; i++ {
				b.Write(line(i)) //nolint:errcheck
			}
		}()
		synctest.Wait()
		select {
		case <-more:
			close(g.open)
			b.Close() //nolint:errcheck
			t.Fatal("94 more lines were taken while the destination was blocked: lines were dropped")
		default:
		}
		close(g.open)
		<-more
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for _, w := range g.all() {
			got.WriteString(w)
		}
		var want strings.Builder
		for i := range 100 {
			want.Write(line(i))
		}
		if got.String() != want.String() {
			t.Errorf("written:\n%s\nwant the 100 lines in order", got.String())
		}
	})
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterFlushReportsWriteError(t *testing.T) {
	t.Parallel()
	b := New(failWriter{}, 64, 2, time.Hour)
	defer b.Close()
	if _, err := b.Write([]byte("{\"a\":1}\n")); err != nil {
		t.Fatalf("Write: %v (errors belong to Flush)", err)
	}
	if err := b.Flush(); err == nil || err.Error() != "disk full" {
		t.Errorf("Flush = %v, want the destination's error", err)
	}
	if err := b.Flush(); err != nil {
		t.Errorf("second Flush = %v, want nil: nothing was written since", err)
	}
}
