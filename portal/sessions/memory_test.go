package sessions

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestMemorySweepsExpiredSessionsOnceMany(t *testing.T) {
	t.Parallel()
	now := t0
	m := NewMemory(func() time.Time { return now })
	ctx := context.Background()
	m.Create(ctx, "long", bob, time.Hour)
	for i := range memorySweepMin - 2 {
		m.Create(ctx, fmt.Sprint("short", i), Session{Email: fmt.Sprint(i, "@example.com")}, time.Minute)
	}
	now = now.Add(time.Minute + time.Nanosecond)
	m.Create(ctx, "new", alice, time.Hour)
	if len(m.sessions) != memorySweepMin || len(m.accounts) != memorySweepMin {
		t.Fatalf("below the sweep's threshold, %d sessions and %d accounts; want every one kept", len(m.sessions), len(m.accounts))
	}
	m.Create(ctx, "newer", alice, time.Hour)
	if len(m.sessions) != 3 || len(m.accounts) != 2 {
		t.Errorf("after a sweep, the sessions are %v, the accounts %v", m.sessions, m.accounts)
	}
	if m.sweepAt != memorySweepMin {
		t.Errorf("next sweep at %d sessions, want %d", m.sweepAt, memorySweepMin)
	}
}
