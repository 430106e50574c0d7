package main

import (
	"io"
	"sync"
	"time"
)

// batchWriter passes log lines on to w in batches: one write(2) for many
// access-log lines instead of one per request. A line (zerolog writes one
// event per Write) is buffered and written out when the next one would not
// fit, every period, and at Flush and Close; it is never split across two
// writes to w, so a reader of w sees whole lines. A line larger than the
// buffer is written on its own. Safe for concurrent use.
type batchWriter struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// newBatchWriter returns a batchWriter with a buffer of size bytes,
// flushed every period until Close.
func newBatchWriter(w io.Writer, size int, period time.Duration) *batchWriter {
	b := &batchWriter{w: w, buf: make([]byte, 0, size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(period)
	return b
}

func (b *batchWriter) flushEvery(period time.Duration) {
	defer close(b.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.Flush() //nolint:errcheck // the next write reports it
		}
	}
}

// Write buffers p, one whole log line.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(b.buf) {
			return b.w.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out the buffered lines.
func (b *batchWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *batchWriter) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Close stops the periodic flush and writes out what is buffered. Lines
// written after Close go straight to w. It is safe to call more than once.
func (b *batchWriter) Close() error {
	b.once.Do(func() {
		close(b.stop)
		<-b.done
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.buf = b.buf[:0:0] // unbuffered from now on
	return err
}
