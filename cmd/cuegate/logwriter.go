package main

import (
	"io"
	"sync"
	"time"
)

// logBuffers is how many buffers a batchWriter cycles through: one being
// filled while the others wait for, or are in, a write to w.
const logBuffers = 4

// batchWriter passes log lines on to w in batches: one write(2) for many
// access-log lines instead of one per request, and never on the caller's
// goroutine while it holds up other callers.
//
// A line (zerolog writes one event per Write) is appended to the current
// buffer under a short lock. A full buffer is handed to the writer
// goroutine, which writes it to w and returns it for reuse; the period
// ticker hands over whatever is buffered so a line waits at most about one
// period. When w falls behind so far that all buffers wait for it, Write
// blocks until one is free: lines are never dropped. A line is never split
// across two writes to w, so a reader of w sees whole lines; a line larger
// than a buffer is written on its own, in order. Safe for concurrent use.
type batchWriter struct {
	w    io.Writer
	size int

	mu     sync.Mutex
	cur    []byte
	closed bool

	free  chan []byte    // empty buffers of cap size
	queue chan logBatch  // to the writer goroutine, in order
	stop  chan struct{}  // ends the ticker
	done  sync.WaitGroup // ticker and writer goroutines
	once  sync.Once
}

// logBatch is one write for the writer goroutine, or, with flushed set, a
// marker: the writer reports on flushed the first error since the previous
// marker once everything queued before it is written.
type logBatch struct {
	buf     []byte
	flushed chan error
}

// newBatchWriter returns a batchWriter with buffers of size bytes, handed
// over to the writer at least every period until Close.
func newBatchWriter(w io.Writer, size int, period time.Duration) *batchWriter {
	b := &batchWriter{
		w:     w,
		size:  size,
		cur:   make([]byte, 0, size),
		free:  make(chan []byte, logBuffers),
		queue: make(chan logBatch, logBuffers+1),
		stop:  make(chan struct{}),
	}
	for range logBuffers - 1 {
		b.free <- make([]byte, 0, size)
	}
	b.done.Add(2)
	go b.write()
	go b.tick(period)
	return b
}

// write is the writer goroutine: it owns every buffer it has been handed
// until it puts it back on free.
func (b *batchWriter) write() {
	defer b.done.Done()
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

func (b *batchWriter) tick(period time.Duration) {
	defer b.done.Done()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.mu.Lock()
			b.handOffLocked()
			b.mu.Unlock()
		}
	}
}

// handOffLocked queues the current buffer, if it holds anything, and takes
// a free one, waiting for the writer when none is free. After Close there
// is no writer: it does nothing.
func (b *batchWriter) handOffLocked() {
	if len(b.cur) == 0 || b.closed {
		return
	}
	b.queue <- logBatch{buf: b.cur}
	b.cur = <-b.free
}

// Write buffers p, one whole log line. It does not report errors of w:
// Flush and Close do.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(b.cur)+len(p) > cap(b.cur) {
		b.handOffLocked()
		if len(p) > cap(b.cur) {
			b.queue <- logBatch{buf: append([]byte(nil), p...)}
			return len(p), nil
		}
	}
	b.cur = append(b.cur, p...)
	return len(p), nil
}

// Flush writes out the lines buffered so far and returns the first error w
// gave since the previous Flush.
func (b *batchWriter) Flush() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.handOffLocked()
	flushed := make(chan error, 1)
	b.queue <- logBatch{flushed: flushed}
	b.mu.Unlock()
	return <-flushed
}

// Close writes out what is buffered and stops the goroutines. Lines
// written after Close go straight to w. It is safe to call more than once.
func (b *batchWriter) Close() error {
	var err error
	b.once.Do(func() {
		close(b.stop)
		err = b.Flush()
		b.mu.Lock()
		b.closed = true
		close(b.queue)
		b.mu.Unlock()
		b.done.Wait()
	})
	return err
}
