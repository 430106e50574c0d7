package limit

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines hands the calls to Redis contexts that end a timeout after
// they were made, one context for all the calls begun within a sixteenth
// of the timeout: a call is bounded by between 15/16 of the timeout and
// the timeout, and a busy node makes one timer per tick instead of one a
// call. Safe for concurrent use.
type deadlines struct {
	timeout time.Duration
	tick    int64 // ns
	cur     atomic.Pointer[deadline]
}

// deadline is one shared context and when it was made (Unix ns). Its
// cancel is left to the timer, which fires when the timeout passes.
type deadline struct {
	ctx    context.Context
	cancel context.CancelFunc
	made   int64
}

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, tick: max(int64(timeout)/16, 1)}
}

// at returns a context that ends between 15/16 of the timeout and the
// timeout after now. It carries no values.
func (d *deadlines) at(now time.Time) context.Context {
	t := now.UnixNano()
	if c := d.cur.Load(); c != nil && t-c.made >= 0 && t-c.made < d.tick {
		return c.ctx
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	d.cur.Store(&deadline{ctx: ctx, cancel: cancel, made: t})
	return ctx
}
