package sessions

import (
	"context"
	"testing"
	"time"
)

func TestMemoryDropsExpiredSessionsOnCreate(t *testing.T) {
	t.Parallel()
	now := t0
	m := NewMemory(func() time.Time { return now })
	ctx := context.Background()
	m.Create(ctx, "short", alice, time.Minute)
	m.Create(ctx, "long", bob, time.Hour)
	now = now.Add(time.Minute)
	if _, ok, _ := m.Get(ctx, "short"); !ok {
		t.Error("a session ends before its deadline has passed")
	}
	now = now.Add(time.Nanosecond)
	m.Create(ctx, "new", alice, time.Hour)
	if _, kept := m.sessions["short"]; kept || len(m.sessions) != 2 {
		t.Errorf("after a create past a deadline, the sessions are %v", m.sessions)
	}
}
