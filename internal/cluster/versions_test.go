package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
)

func TestEmptiedRedisDoesNotMakeFollowersGoBack(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{Timeout: 100 * time.Millisecond})
	f1, log1 := startFollower(t, srv, "")
	f2, _ := startFollower(t, srv, filepath.Join(t.TempDir(), "f2.json"))
	deleted(t, st, "gone", f1, f2)
	v := p.Version()
	testutil.Eventually(t, "the followers to reach the publisher's version", func() bool { return f1.Version() == v && f2.Version() == v })

	// Redis restarts empty, and a stale snapshot (no tombstone) is written
	// to it under an older version before the publisher writes its own.
	p.Stop()
	srv.Restart()
	stale := newSnapshot(v-1, []store.ClientBinding{{ClientID: "gone", Binding: table.Binding{Policy: "gold", Catalogue: []string{"orders"}}}})
	reply, err := publish(t, srv.Client(t), stale)
	switch {
	case err != nil:
		t.Fatalf("writing the stale snapshot: %v", err)
	case reply == stale.Version:
		testutil.Eventually(t, "a follower to see the older version", func() bool {
			return strings.Contains(log1.String(), "Redis holds an older version")
		})
	case reply > stale.Version:
		// A follower saw the emptied Redis first and raised the floor above
		// the stale version, so the script stored nothing below it.
		t.Logf("the stale snapshot was refused below the floor %d", reply)
	default:
		t.Fatalf("writing the stale snapshot: the script answered %d", reply)
	}
	for _, f := range []*Follower{f1, f2} {
		if f.Version() != v || !revoked(f, "gone") {
			t.Errorf("follower at version %d (want %d), gone revoked %v", f.Version(), v, revoked(f, "gone"))
		}
	}

	// The publisher writes its snapshot again: its version, unchanged
	// bindings taking none newer, or one above a floor a follower raised.
	p.Start()
	testutil.Eventually(t, "the publisher to write its snapshot again", func() bool {
		held, err := hashField(srv, "version")
		n, _ := strconv.ParseInt(held, 10, 64)
		return err == nil && n >= v && p.Version() >= v
	})
	for _, f := range []*Follower{f1, f2} {
		testutil.Eventually(t, "a follower to take it", func() bool { return f.Version() == p.Version() })
		if !revoked(f, "gone") {
			t.Error("the deletion is lost")
		}
	}

	// Redis restarts empty under a running publisher: it writes its
	// snapshot again (under a newer version when a follower raised the
	// floor first), and the followers never go back.
	v = p.Version()
	srv.Restart()
	testutil.Eventually(t, "the publisher to write its snapshot to the emptied Redis", func() bool {
		held, err := hashField(srv, "version")
		return err == nil && held != ""
	})
	for _, f := range []*Follower{f1, f2} {
		testutil.Eventually(t, "a follower to take it", func() bool { return f.Version() == p.Version() })
	}
	if p.Version() < v {
		t.Errorf("version after the restart: %d; want at least %d", p.Version(), v)
	}
	// The followers subscribed again: a deletion takes well under a second.
	waitSubscribers(t, srv.Client(t), 2)
	start := time.Now()
	deleted(t, st, "gone-after", f1, f2)
	if took := time.Since(start); took > time.Second {
		t.Errorf("a registration and deletion after Redis restarted took %v to reach the followers", took)
	}
}

// publish runs the publishing script with s and returns the version Redis
// holds afterwards.
func publish(t *testing.T, c rueidis.Client, s *snapshot) (int64, error) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	k := newKeys("")
	return publishScript.Exec(context.Background(), c, []string{k.hash},
		[]string{strconv.FormatInt(s.Version, 10), string(b), k.channel}).AsInt64()
}

func TestOlderVersionNeverReplacesNewer(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	c := srv.Client(t)
	tests := []struct {
		version, held int64
	}{
		{9, 9},
		{10, 10}, // longer, so greater, though "10" < "9" as strings
		{9, 10},
		{10, 10}, // the same version again changes nothing
		{1_000_000_000_000_000, 1_000_000_000_000_000},
		{999_999_999_999_999, 1_000_000_000_000_000},
		{1<<62 + 1, 1<<62 + 1}, // beyond Lua's exact doubles
		{1 << 62, 1<<62 + 1},
	}
	for _, tt := range tests {
		s := newSnapshot(tt.version, []store.ClientBinding{{ClientID: strconv.FormatInt(tt.version, 10)}})
		held, err := publish(t, c, s)
		if err != nil || held != tt.held {
			t.Errorf("publishing %d: Redis holds %d (%v), want %d", tt.version, held, err, tt.held)
		}
		b, err := hashField(srv, "snapshot")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeSnapshot([]byte(b)); err != nil || got.Version != tt.held {
			t.Errorf("after publishing %d the snapshot is %s (%v); want version %d", tt.version, b, err, tt.held)
		}
	}
}

func TestPublisherOutrunsANewerVersionWhenItsClockIsBehind(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	c := srv.Client(t)
	ahead := t0.Add(time.Hour).UnixMicro()
	if _, err := publish(t, c, newSnapshot(ahead, nil)); err != nil {
		t.Fatal(err)
	}
	st := newStore(t)
	add(t, st, "c1")
	p := NewPublisher(c, st, PublisherOptions{})
	p.now = func() time.Time { return t0 }
	p.Start()
	defer p.Stop()
	testutil.Eventually(t, "the publisher to publish", func() bool { return p.Version() != 0 })
	if p.Version() != ahead+1 {
		t.Errorf("published version %d, want %d (one more than Redis held)", p.Version(), ahead+1)
	}
	f, _ := startFollower(t, srv, "")
	testutil.Eventually(t, "the follower to take it", func() bool { return bound(f, "c1") })
}

// TestRestartedPublisherOutrunsFollowersAfterRedisEmptied: the followers
// hold a version from a publisher's clock that was ahead; Redis restarts
// empty, and a publisher whose clock is behind starts (the same host after
// an NTP step back, or another one). The followers raise the floor, the
// publisher publishes above it, and a deletion made then reaches them.
func TestRestartedPublisherOutrunsFollowersAfterRedisEmptied(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	st := newStore(t)
	add(t, st, "c1")
	p := NewPublisher(srv.Client(t), st, PublisherOptions{Interval: 100 * time.Millisecond})
	p.now = func() time.Time { return t0.Add(10 * time.Minute) }
	p.Start()
	testutil.Eventually(t, "the first publisher to publish", func() bool { return p.Version() != 0 })
	f, log := startFollower(t, srv, filepath.Join(t.TempDir(), "f.json"))
	testutil.Eventually(t, "the follower to bind c1", func() bool { return bound(f, "c1") })
	p.Stop()
	ahead := f.Version()

	srv.Restart()
	p2 := NewPublisher(srv.Client(t), st, PublisherOptions{Interval: 100 * time.Millisecond})
	p2.now = func() time.Time { return t0 }
	p2.Start()
	t.Cleanup(p2.Stop)
	testutil.Eventually(t, "the restarted publisher to publish above the follower", func() bool { return p2.Version() > ahead })
	if _, err := st.DeleteClient("c1", t0); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the deletion to reach the follower", func() bool { return revoked(f, "c1") })
	if !strings.Contains(log.String(), "Redis holds an older version") {
		t.Errorf("the follower did not log the older version in Redis: %s", log)
	}
}

// TestPublishStaysAboveTheFloor: the publishing script stores no version
// below the floor a follower raised (it answers the floor, for the
// publisher to publish above), so that a snapshot published between the
// publisher's read of the floor and a raise still reaches the followers.
func TestPublishStaysAboveTheFloor(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	c := srv.Client(t)
	if _, err := srv.Do("HSET", newKeys("").hash, "floor", "100"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		version, reply int64
		stored         bool
	}{
		{99, 100, false},
		{100, 100, true}, // the floor's own version: what the follower holds
		{150, 150, true},
	} {
		reply, err := publish(t, c, newSnapshot(tt.version, nil))
		held, _ := hashField(srv, "version")
		if err != nil || reply != tt.reply || (held == strconv.FormatInt(tt.version, 10)) != tt.stored {
			t.Errorf("publishing %d over the floor 100: reply %d (%v), hash holds %q; want reply %d, stored %v", tt.version, reply, err, held, tt.reply, tt.stored)
		}
	}
}

// TestVersionsBeyondMaxAreRefused: a snapshot, or a version or floor in
// Redis, at or beyond maxVersion (a follower's file from elsewhere, say)
// is refused, and a publisher refuses to publish there, saying what to
// do, instead of overflowing or publishing what every node refuses.
func TestVersionsBeyondMaxAreRefused(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{maxVersion, math.MaxInt64} {
		if _, err := decodeSnapshot(fmt.Appendf(nil, `{"version":%d,"bindings":[]}`, v)); err == nil {
			t.Errorf("a snapshot at version %d decoded", v)
		}
	}
	for _, floor := range []int64{maxVersion - 1, maxVersion, math.MaxInt64} {
		srv, _, p := startPublishing(t, PublisherOptions{Timeout: time.Second})
		if _, err := srv.Do("HSET", newKeys("").hash, "floor", strconv.FormatInt(floor, 10)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Revoke(context.Background(), []string{"c"}); err == nil || !strings.Contains(err.Error(), "DEL "+newKeys("").hash) {
			t.Errorf("Revoke under the floor %d: %v; want an error saying to delete the hash", floor, err)
		}
		held, _ := hashField(srv, "version")
		if v, _ := strconv.ParseInt(held, 10, 64); v >= maxVersion {
			t.Errorf("under the floor %d the publisher published %s", floor, held)
		}
	}
}

// TestVersionFollowsTheBindings: a change of the Source that leaves every
// binding as it was (a rename, a rotated secret or registration access
// token) takes no new version, so nothing is published again; a change of
// a binding does.
func TestVersionFollowsTheBindings(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	add(t, st, "c1")
	p := NewPublisher(nil, st, PublisherOptions{}) // not started: take alone
	clock := t0
	p.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	p.take()
	first := p.cur.version
	for _, tt := range []struct {
		name   string
		change func(c *store.Client)
		newer  bool
	}{
		{"rename", func(c *store.Client) { c.ClientName = "renamed" }, false},
		{"credentials", func(c *store.Client) { c.ClientSecret, c.RegistrationAccessToken = "s2", "rat2" }, false},
		{"policy", func(c *store.Client) { c.Policy = "silver" }, true},
		{"expiry", func(c *store.Client) { c.ExpiresAt = c.ExpiresAt.Add(time.Hour) }, true},
		{"catalogue", func(c *store.Client) { c.Catalogue = append(c.Catalogue, "more") }, true},
	} {
		before := p.cur.version
		if _, err := st.UpdateClient("c1", tt.change); err != nil {
			t.Fatal(err)
		}
		p.take()
		if newer := p.cur.version > before; newer != tt.newer {
			t.Errorf("%s: version %d after %d, want a newer one %v", tt.name, p.cur.version, before, tt.newer)
		}
	}
	if p.cur.version == first {
		t.Error("the binding changes took no version")
	}
}
