package sessions

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestRedisShorterTTLEndsTheOldest: after session_ttl is shortened, the
// cap still ends the oldest session, not the one just created (it
// expires first, but it is the newest).
func TestRedisShorterTTLEndsTheOldest(t *testing.T) {
	t.Parallel()
	_, st := newRedisStore(t, RedisOptions{})
	ctx := context.Background()
	for i := range MaxPerAccount {
		if err := st.Create(ctx, fmt.Sprint("old-", i), alice, 12*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Create(ctx, "new", alice, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.Get(ctx, "new"); err != nil || !ok {
		t.Errorf("the session just created is gone (%v, %v)", ok, err)
	}
	if _, ok, _ := st.Get(ctx, "old-0"); ok {
		t.Error("old-0, the oldest session, still lives")
	}
	if _, ok, _ := st.Get(ctx, "old-1"); !ok {
		t.Error("old-1 ended: more than one session ended for one over the cap")
	}
}
