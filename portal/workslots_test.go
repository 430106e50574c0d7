package portal

import (
	"context"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestWorkSlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("run, queue, refuse", func(t *testing.T) {
		t.Parallel()
		w := newWorkSlots(2, 1, time.Hour)
		for i := range 2 {
			if !w.acquire(ctx) {
				t.Fatalf("free slot %d was refused", i)
			}
		}
		queued := make(chan bool)
		go func() { queued <- w.acquire(ctx) }()
		testutil.Eventually(t, "the third piece waits", func() bool { return len(w.admitted) == 3 })
		if w.acquire(ctx) {
			t.Fatal("a fourth piece was let in past the queue")
		}
		w.release()
		if !<-queued {
			t.Fatal("the waiting piece did not get the slot given back")
		}
		w.release()
		w.release()
		if len(w.running) != 0 || len(w.admitted) != 0 {
			t.Errorf("slots left taken: %d running, %d admitted", len(w.running), len(w.admitted))
		}
	})
	t.Run("the wait is bounded", func(t *testing.T) {
		t.Parallel()
		w := newWorkSlots(1, 1, 10*time.Millisecond)
		w.acquire(ctx)
		if w.acquire(ctx) {
			t.Fatal("a piece got a slot that was taken")
		}
		if len(w.admitted) != 1 {
			t.Errorf("a piece that gave up stays admitted: %d", len(w.admitted))
		}
	})
	t.Run("the request's end ends the wait", func(t *testing.T) {
		t.Parallel()
		w := newWorkSlots(1, 1, time.Hour)
		w.acquire(ctx)
		done, cancel := context.WithCancel(ctx)
		cancel()
		if w.acquire(done) {
			t.Fatal("a piece whose request ended got a slot")
		}
	})
}
