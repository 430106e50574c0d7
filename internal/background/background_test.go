package background

import (
	"context"
	"sync/atomic"
	"testing"
)

// TestLoop: Start runs every function until Stop, which waits for them; a
// second Start while they run and a Stop of a stopped Loop do nothing; a
// stopped Loop starts again.
func TestLoop(t *testing.T) {
	t.Parallel()
	var l Loop
	l.Stop()
	var running, runs atomic.Int64
	started := make(chan struct{}, 4)
	fn := func(ctx context.Context) {
		running.Add(1)
		runs.Add(1)
		started <- struct{}{}
		<-ctx.Done()
		running.Add(-1)
	}
	for round := range 2 {
		l.Start(fn, fn)
		l.Start(fn)
		<-started
		<-started
		l.Stop()
		if n := running.Load(); n != 0 {
			t.Fatalf("round %d: %d still running after Stop", round, n)
		}
		l.Stop()
	}
	if n := runs.Load(); n != 4 {
		t.Errorf("%d runs, want 4 (two a Start, the Start while running ignored)", n)
	}
}
