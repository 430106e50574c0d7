// Package logwriter batches log lines on their way to a slow destination
// (a terminal, a pipe, a file), so that a busy gateway makes one write(2)
// for many lines and never waits for the destination while it serves a
// request.
package logwriter

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// logBuffers is how many buffers a Writer has besides the one each
// shard is filling: those waiting for, or in, a write to w.
const logBuffers = 3

// Writer passes log lines on to w in batches: one write(2) for many
// access-log lines instead of one per request, and never on the caller's
// goroutine while it holds up other callers.
//
// A line (zerolog writes one event per Write) is appended to the buffer of
// a shard under the shard's short lock. Write's lines all go to one shard
// and keep their order. Spread's lines go to one of several shards, handed
// out through a sync.Pool so that a goroutine mostly gets back the shard
// its processor used last: the cores serving requests then rarely take
// turns at one lock and one buffer for every access line. Lines keep their
// order within a shard only: a line of one shard may reach w before or
// after a line of another shard written earlier, Write's lines included,
// by about one period (more when w falls behind).
//
// A full buffer is handed to the writer goroutine, which writes it to w
// and returns it for reuse; the period ticker hands over whatever is
// buffered so a line waits at most about one period. When w falls behind
// so far that all buffers wait for it, a line waits until one is free:
// lines are never dropped. A line is never split across two writes to w,
// so a reader of w sees whole lines; a line larger than a buffer is
// written on its own, after what its shard buffered. Safe for concurrent
// use.
type Writer struct {
	w    io.Writer
	size int

	// shards[0] is Write's, the others Spread's; they are locked in this
	// order.
	shards []logShard
	pick   sync.Pool     // a *logShard of Spread's, kept per processor
	picked atomic.Uint32 // pick.New hands Spread's shards out round robin

	direct sync.Mutex // serialises writes to w after Close

	free    chan []byte   // empty buffers of cap size
	queue   chan logBatch // to the writer goroutine, in order
	stop    chan struct{} // ends the ticker
	ticking chan struct{} // closed when the ticker has ended
	writing chan struct{} // closed when the writer has ended
	once    sync.Once
}

// logShard is a buffer being filled. Shards are padded apart so that the
// fields two cores write for every line of two shards are not on one
// 64-byte cache line.
type logShard struct {
	mu     sync.Mutex
	cur    []byte
	closed bool
	_      [64]byte
}

// logBatch is one write for the writer goroutine, or, with flushed set, a
// marker: the writer reports on flushed the first error since the previous
// marker once everything queued before it is written.
type logBatch struct {
	buf     []byte
	flushed chan error
}

// New returns a Writer to w with buffers of size bytes, handed over to
// the writer at least every period until Close, and spread shards (at
// least one) for Spread. It starts two goroutines, which Close ends: the
// caller owns the Writer and closes it. w stays the caller's: it is never
// closed, and it is written from one goroutine at a time.
func New(w io.Writer, size, spread int, period time.Duration) *Writer {
	b := &Writer{
		w:       w,
		size:    size,
		shards:  make([]logShard, 1+max(spread, 1)),
		stop:    make(chan struct{}),
		ticking: make(chan struct{}),
		writing: make(chan struct{}),
	}
	n := len(b.shards) + logBuffers
	b.free = make(chan []byte, n)
	b.queue = make(chan logBatch, n+1)
	for i := range b.shards {
		b.shards[i].cur = make([]byte, 0, size)
	}
	for range logBuffers {
		b.free <- make([]byte, 0, size)
	}
	spreadN := uint32(len(b.shards) - 1)
	b.pick.New = func() any { return &b.shards[1+b.picked.Add(1)%spreadN] }
	go b.write()
	go b.tick(period)
	return b
}

// write is the writer goroutine: it owns every buffer it has been handed
// until it puts it back on free.
func (b *Writer) write() {
	defer close(b.writing)
	var err error
	for batch := range b.queue {
		if batch.flushed != nil {
			batch.flushed <- err
			err = nil
			continue
		}
		if _, werr := b.w.Write(batch.buf); werr != nil && err == nil {
			err = werr
		}
		if cap(batch.buf) == b.size {
			b.free <- batch.buf[:0]
		}
	}
}

func (b *Writer) tick(period time.Duration) {
	defer close(b.ticking)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.handOffAll()
		}
	}
}

// handOffAll hands over every shard's buffer.
func (b *Writer) handOffAll() {
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		b.handOffLocked(s)
		s.mu.Unlock()
	}
}

// handOffLocked queues s's buffer, if it holds anything, and takes a free
// one, waiting for the writer when none is free. The caller holds s.mu,
// and s is not closed: Close hands every shard off before it closes it and
// stops the ticker first, add and Flush check.
func (b *Writer) handOffLocked(s *logShard) {
	if len(s.cur) == 0 {
		return
	}
	b.queue <- logBatch{buf: s.cur}
	s.cur = <-b.free
}

// Write buffers p, one whole log line, after the lines written before it.
// It does not report errors of w: Flush and Close do. After Close it writes
// p to w itself and returns w's answer.
func (b *Writer) Write(p []byte) (int, error) { return b.add(&b.shards[0], p) }

// Spread returns a writer of lines into the spread shards: for many lines
// from many goroutines whose order among themselves does not matter.
func (b *Writer) Spread() io.Writer { return spreadWriter{b} }

type spreadWriter struct{ b *Writer }

var (
	_ io.WriteCloser = (*Writer)(nil)
	_ io.Writer      = spreadWriter{}
)

func (sw spreadWriter) Write(p []byte) (int, error) {
	s := sw.b.pick.Get().(*logShard)
	n, err := sw.b.add(s, p)
	sw.b.pick.Put(s)
	return n, err
}

func (b *Writer) add(s *logShard, p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		b.direct.Lock()
		defer b.direct.Unlock()
		return b.w.Write(p)
	}
	if len(s.cur)+len(p) > cap(s.cur) {
		b.handOffLocked(s)
		if len(p) > cap(s.cur) {
			b.queue <- logBatch{buf: append([]byte(nil), p...)}
			return len(p), nil
		}
	}
	s.cur = append(s.cur, p...)
	return len(p), nil
}

// Flush writes out the lines buffered so far and returns the first error w
// gave since the previous Flush.
func (b *Writer) Flush() error {
	ordered := &b.shards[0]
	ordered.mu.Lock() // held until the marker is queued: Close waits for it
	if ordered.closed {
		ordered.mu.Unlock()
		return nil
	}
	for i := 1; i < len(b.shards); i++ {
		s := &b.shards[i]
		s.mu.Lock()
		b.handOffLocked(s)
		s.mu.Unlock()
	}
	b.handOffLocked(ordered)
	flushed := b.queueMarker()
	ordered.mu.Unlock()
	return <-flushed
}

// queueMarker queues a flush marker and returns where the writer answers
// it once everything queued before it is written.
func (b *Writer) queueMarker() <-chan error {
	flushed := make(chan error, 1)
	b.queue <- logBatch{flushed: flushed}
	return flushed
}

// Close writes out what is buffered and stops the goroutines. Lines
// written after Close go straight to w, one at a time, after everything
// buffered before. It is safe to call more than once.
func (b *Writer) Close() error {
	var err error
	b.once.Do(func() {
		close(b.stop)
		<-b.ticking
		for i := range b.shards { // held until the writer is done: no line overtakes
			s := &b.shards[i]
			s.mu.Lock()
			b.handOffLocked(s)
			s.closed = true
		}
		err = <-b.queueMarker()
		close(b.queue)
		<-b.writing
		for i := range b.shards {
			b.shards[i].mu.Unlock()
		}
	})
	return err
}
