package portal

import (
	"context"
	"time"
)

// workSlots bounds costly work (bcrypt) in flight at once: at most
// cap(running) pieces run, and at most cap(admitted) run or wait for a
// slot, each waiting at most wait. Work beyond that is refused rather than
// queued, so that a flood of requests costs a bounded share of the CPU and
// a bounded number of waiting requests. It is safe for concurrent use.
type workSlots struct {
	running  chan struct{} // a token for each piece running
	admitted chan struct{} // a token for each piece running or waiting
	wait     time.Duration
}

// newWorkSlots lets run pieces of work run at once and queue more wait
// for a slot, each for at most wait.
func newWorkSlots(run, queue int, wait time.Duration) *workSlots {
	return &workSlots{running: make(chan struct{}, run), admitted: make(chan struct{}, run+queue), wait: wait}
}

// acquire takes a slot and returns true, or returns false when the queue
// is full, or no slot comes free within the wait or before ctx ends. A
// slot taken must be given back with release.
func (w *workSlots) acquire(ctx context.Context) bool {
	select {
	case w.admitted <- struct{}{}:
	default:
		return false
	}
	t := time.NewTimer(w.wait)
	defer t.Stop()
	select {
	case w.running <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	<-w.admitted
	return false
}

// release gives back a slot taken by acquire.
func (w *workSlots) release() {
	<-w.running
	<-w.admitted
}
