package limit

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestDeadlinesShareATick: calls within a sixteenth of the timeout share
// one context, which ends the timeout after it was made; a call after the
// tick gets a new one.
func TestDeadlinesShareATick(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const timeout = 160 * time.Millisecond
		d := newDeadlines(timeout)
		start := time.Now()
		first := d.at(time.Now())
		time.Sleep(timeout/16 - time.Millisecond)
		if d.at(time.Now()) != first {
			t.Error("a call within the tick got a context of its own")
		}
		time.Sleep(time.Millisecond)
		second := d.at(time.Now())
		if second == first {
			t.Error("a call after the tick shares the first context")
		}
		<-first.Done()
		if got := time.Since(start); got != timeout {
			t.Errorf("the first context ended after %v, want %v", got, timeout)
		}
		if second.Err() != nil {
			t.Error("the second context ended with the first")
		}
		<-second.Done()
		if got := time.Since(start); got != timeout+timeout/16 {
			t.Errorf("the second context ended after %v, want %v", got, timeout+timeout/16)
		}
		if first.Err() != context.DeadlineExceeded {
			t.Errorf("first context: %v, want the deadline", first.Err())
		}
	})
}
