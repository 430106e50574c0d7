package sessions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/sessions/sessionstest"
)

// newRedisStore is a Redis store with opts on a Redis of the test's own,
// and a client of that Redis.
func newRedisStore(t *testing.T, opts RedisOptions) (rueidis.Client, *Redis) {
	t.Helper()
	client := testutil.StartRedis(t).Client(t)
	return client, NewRedis(client, opts)
}

func TestRedisKeepsNoToken(t *testing.T) {
	t.Parallel()
	client, st := newRedisStore(t, RedisOptions{KeyPrefix: "portal-a:"})
	ctx := context.Background()
	const token = "dG9rZW4tdG9rZW4tdG9rZW4tdG9rZW4tdG9rZW4tdG9r"
	if err := st.Create(ctx, token, alice, time.Hour); err != nil {
		t.Fatal(err)
	}
	_, v := sessionstest.StoredSession(t, client, "portal-a:", token)
	if !strings.Contains(v, `"email":"alice@example.com"`) {
		t.Errorf("value %q is not the session's JSON", v)
	}
}

func TestRedisTimeToLive(t *testing.T) {
	t.Parallel()
	client, st := newRedisStore(t, RedisOptions{})
	ctx := context.Background()
	pttl := func() time.Duration {
		t.Helper()
		ms, err := client.Do(ctx, client.B().Pttl().Key(st.key("a")).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(ms) * time.Millisecond
	}
	const ttl = 12 * time.Hour
	if err := st.Create(ctx, "a", alice, ttl); err != nil {
		t.Fatal(err)
	}
	if got := pttl(); got <= ttl-time.Minute || got > ttl {
		t.Errorf("after create, PTTL %v, want about %v", got, ttl)
	}
	if err := st.Update(ctx, "a", alice2); err != nil {
		t.Fatal(err)
	}
	if got := pttl(); got <= ttl-time.Minute || got > ttl {
		t.Errorf("after update, PTTL %v, want the create's %v kept", got, ttl)
	}
	// A time to live below a millisecond is a millisecond, not an error
	// or a key without expiry.
	if err := st.Create(ctx, "a", alice, time.Microsecond); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "a sub-millisecond session to expire", func() bool {
		_, ok, err := st.Get(ctx, "a")
		return err == nil && !ok
	})
}

func TestRedisValueThatIsNoSession(t *testing.T) {
	t.Parallel()
	client, st := newRedisStore(t, RedisOptions{})
	ctx := context.Background()
	if err := client.Do(ctx, client.B().Set().Key(st.key("a")).Value("not json").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if s, ok, err := st.Get(ctx, "a"); ok || err != nil {
		t.Errorf("a value that is no session: %+v, %v, %v; want none", s, ok, err)
	}
}

func TestRedisPausedFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	const timeout = 100 * time.Millisecond
	st := NewRedis(client, RedisOptions{Timeout: timeout})
	ctx := context.Background()
	if err := st.Create(ctx, "a", alice, time.Hour); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	calls := []struct {
		name string
		call func() error
	}{
		{"create", func() error { return st.Create(ctx, "b", bob, time.Hour) }},
		{"get", func() error {
			s, ok, err := st.Get(ctx, "a")
			if ok {
				t.Errorf("get while Redis is paused: %+v", s)
			}
			return err
		}},
		{"update", func() error { return st.Update(ctx, "a", alice2) }},
		{"delete", func() error { return st.Delete(ctx, "a") }},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		if took := time.Since(start); took > timeout+time.Second {
			t.Errorf("%s took %v with a timeout of %v", c.name, took, timeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "sessions: redis: "+c.name) {
			t.Errorf("%s while Redis is paused: %v, want a timeout", c.name, err)
		}
	}
}

func TestRedisAccountSet(t *testing.T) {
	t.Parallel()
	client, st := newRedisStore(t, RedisOptions{KeyPrefix: "p:"})
	ctx := context.Background()
	for i := range MaxPerAccount + 3 {
		if err := st.Create(ctx, fmt.Sprint("token-", i), alice, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete(ctx, "token-5"); err != nil {
		t.Fatal(err)
	}
	account := st.accountKey(alice.Email)
	if !strings.HasPrefix(account, "p:v1:account:") || strings.Contains(account, alice.Email) {
		t.Errorf("account key %q", account)
	}
	members, err := client.Do(ctx, client.B().Zrange().Key(account).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	sessionKeys, err := client.Do(ctx, client.B().Keys().Pattern("p:v1:session:*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != MaxPerAccount-1 || len(sessionKeys) != MaxPerAccount-1 {
		t.Errorf("%d members and %d session keys, want %d of each", len(members), len(sessionKeys), MaxPerAccount-1)
	}
	for _, m := range members {
		if !slices.Contains(sessionKeys, "p:v1:session:"+m) {
			t.Errorf("member %q has no session", m)
		}
	}
	if ms, err := client.Do(ctx, client.B().Pttl().Key(account).Build()).AsInt64(); err != nil || ms <= int64((time.Hour-time.Minute)/time.Millisecond) {
		t.Errorf("the account set's PTTL %d ms, %v; want about an hour", ms, err)
	}
}

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
