package cluster

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestMaxAgeMakesACutOffFollowerUnready: with MaxAge, a follower that
// cannot check its snapshot against Redis for longer is not ready and
// refuses every client, and is ready again once it reads Redis; one
// started from its file while Redis is down is not ready at all. Without
// MaxAge it keeps serving (TestPausedRedisDoesNotHoldUpBindingOrStop).
func TestMaxAgeMakesACutOffFollowerUnready(t *testing.T) {
	t.Parallel()
	srv, st, _ := startPublishing(t, PublisherOptions{})
	add(t, st, "kept")
	file := filepath.Join(t.TempDir(), "bindings.json")
	log := &testutil.SyncBuffer{}
	opts := FollowerOptions{File: file, Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, MaxAge: 600 * time.Millisecond, Logger: zerolog.New(log)}
	f := follow(t, srv, opts)
	testutil.Eventually(t, "the follower to bind kept", func() bool { return f.Ready() && bound(f, "kept") })

	c := srv.Client(t)
	srv.Pause()
	testutil.Eventually(t, "the follower cut off to be unready, and say so", func() bool {
		return !f.Ready() && strings.Contains(log.String(), "not checked against Redis within max_bindings_age")
	})
	if bnd, found := f.Binding("kept"); !found || !bnd.Revoked {
		t.Error("an unready follower still binds kept")
	}
	srv.Resume()
	testutil.Eventually(t, "the follower to be ready again, and say so", func() bool {
		return f.Ready() && bound(f, "kept") && strings.Contains(log.String(), "checked against Redis again")
	})

	srv.Kill()
	g := newFollower(t, c, opts)
	if _, err := g.refresh(context.Background()); err == nil {
		t.Fatal("a read of a killed Redis succeeded")
	}
	if g.Version() != f.Version() || g.Ready() {
		t.Errorf("follower started from its file with Redis down: version %d (want %d), ready %v; want not ready", g.Version(), f.Version(), g.Ready())
	}
}

// TestMaxAgeDoesNotConfirmASnapshotAnotherNodeOutran: a follower
// restarted from an older file finds Redis emptied (restarted without
// its data) while the publisher is down, and another follower holding a
// newer snapshot raises the floor, before or after the restarted one
// reads: the restarted one's snapshot is stale, and with MaxAge it is not
// ready (it would bind a client deleted meanwhile), nor is it when it
// reads first (an emptied Redis confirms nothing it has not confirmed
// already). The same holds for a Redis restored from an older copy that
// holds the restarted one's version, once the floor is raised. Once the
// publisher publishes again the restarted one takes the newer snapshot
// and is ready.
func TestMaxAgeDoesNotConfirmASnapshotAnotherNodeOutran(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name           string
		restartedFirst bool // the restarted follower reads before the floor is raised
		restored       bool // Redis comes back from an older copy, holding
		newer          bool // the restarted one's version, or one newer but older than the floor
	}{
		{name: "newer floor first"},
		{name: "stale follower first", restartedFirst: true},
		{name: "Redis restored from an older copy", restored: true},
		{name: "Redis restored, stale follower first", restartedFirst: true, restored: true},
		{name: "Redis restored newer than the follower", restored: true, newer: true},
		{name: "Redis restored newer, stale follower first", restartedFirst: true, restored: true, newer: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, p, ahead, restarted := outrun(t)
			ctx := context.Background()
			if tt.restored {
				v := restarted.Version()
				if tt.newer {
					v++
				}
				if _, err := publish(t, srv.Client(t), newSnapshot(v, nil)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.restartedFirst {
				// A Redis restored holding its version confirms it until a
				// node says otherwise; an emptied one confirms nothing.
				if _, err := restarted.refresh(ctx); err != nil || restarted.Ready() != tt.restored {
					t.Fatalf("the restarted follower's read, before any newer floor: %v, ready %v; want %v", err, restarted.Ready(), tt.restored)
				}
			}
			if _, err := ahead.refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if floor, err := hashField(srv, "floor"); err != nil || floor != strconv.FormatInt(ahead.Version(), 10) {
				t.Fatalf("floor %q (%v), want the follower ahead's version %d", floor, err, ahead.Version())
			}
			if _, err := restarted.refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if restarted.Version() >= ahead.Version() || restarted.Ready() || bound(restarted, "kept") {
				t.Fatalf("restarted at version %d behind the floor %d: ready %v, kept bound %v; want not ready", restarted.Version(), ahead.Version(), restarted.Ready(), bound(restarted, "kept"))
			}
			p.Start()
			testutil.Eventually(t, "the publisher to publish above the floor", func() bool {
				_, err := restarted.refresh(ctx)
				return err == nil && restarted.Ready()
			})
			if !revoked(restarted, "kept") {
				t.Error("the restarted follower binds kept after taking the newer snapshot")
			}
		})
	}
}

// outrun sets up TestMaxAgeDoesNotConfirmASnapshotAnotherNodeOutran: a
// Redis emptied while its publisher is stopped, a follower ahead that
// took the deletion of "kept", and, not started, a follower with MaxAge
// restarted from a file written before the deletion; each is read by
// calling refresh.
func outrun(t *testing.T) (srv *testutil.Redis, p *Publisher, ahead, restarted *Follower) {
	t.Helper()
	srv, st, p := startPublishing(t, PublisherOptions{})
	add(t, st, "kept")
	opts := FollowerOptions{File: filepath.Join(t.TempDir(), "bindings.json"), Timeout: time.Second, MaxAge: 3 * time.Second}
	behind := newFollower(t, srv.Client(t), opts)
	testutil.Eventually(t, "a read to bind kept", func() bool {
		_, err := behind.refresh(context.Background())
		return err == nil && bound(behind, "kept")
	})
	ahead, _ = startFollower(t, srv, "")
	if _, err := st.DeleteClient("kept", t0); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "a follower to see kept deleted", func() bool { return revoked(ahead, "kept") })
	ahead.Stop()
	emptyRedis(t, srv, p)
	restarted = newFollower(t, srv.Client(t), opts)
	return srv, p, ahead, restarted
}

// TestStaleByEitherClock: a snapshot confirmed within MaxAge on the
// monotonic clock is still stale when the wall clock says MaxAge has
// passed (the system was suspended, which the monotonic clock does not
// count), and the other way round.
func TestStaleByEitherClock(t *testing.T) {
	t.Parallel()
	const maxAge = time.Minute
	for _, tt := range []struct {
		name             string
		monoAgo, wallAgo time.Duration
		stale            bool
	}{
		{"fresh", 0, 0, false},
		{"suspended", 0, 2 * maxAge, true},
		{"wall clock stepped back", 2 * maxAge, -time.Hour, true},
		{"both past", 2 * maxAge, 2 * maxAge, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &Follower{maxAge: maxAge}
			now := time.Now()
			f.checked.Store(&confirmation{mono: now.Add(-tt.monoAgo), wall: now.Round(0).Add(-tt.wallAgo)})
			if got := f.stale(); got != tt.stale {
				t.Errorf("stale() = %v, want %v", got, tt.stale)
			}
		})
	}
}

// TestEmptiedRedisKeepsALiveConfirmation: a follower confirmed within
// MaxAge stays ready through Redis losing its data while the publisher
// is down (it raises the floor to its version), until MaxAge has passed
// since (TestEmptiedRedisLetsAConfirmationLapse); and a floor another node
// raises above it is published, so that it withdraws at once, not at its
// next poll.
func TestEmptiedRedisKeepsALiveConfirmation(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{})
	add(t, st, "kept")
	f := follow(t, srv, FollowerOptions{Interval: time.Hour, Timeout: time.Second, MaxAge: time.Hour})
	// Its first read may come before kept's version, whose notification
	// it may miss while it subscribes: once subscribed, it reads again.
	waitSubscribers(t, srv.Client(t), 1)
	f.poke()
	testutil.Eventually(t, "the follower to bind kept", func() bool { return f.Ready() && bound(f, "kept") })
	emptyRedis(t, srv, p)
	f.poke()
	testutil.Eventually(t, "the follower to raise the floor to its version", func() bool {
		floor, _ := hashField(srv, "floor")
		return floor == strconv.FormatInt(f.Version(), 10)
	})
	if !f.Ready() {
		t.Fatal("a live follower that read the emptied Redis is not ready")
	}
	other := newFollower(t, srv.Client(t), FollowerOptions{Timeout: time.Second})
	if _, err := other.raiseFloor(context.Background(), f.Version()+1); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the follower to withdraw on the published floor, with its poll an hour away", func() bool { return !f.Ready() })
}

// TestEmptiedRedisLetsAConfirmationLapse: a follower that missed a
// deletion, reading a Redis that lost its data while the portal node is
// down, raises the floor to its version, but no read of that Redis
// confirms it: it is not ready, and binds the deleted client no more,
// once MaxAge has passed since the portal node's snapshot last confirmed
// it.
func TestEmptiedRedisLetsAConfirmationLapse(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{})
	add(t, st, "doomed")
	log := &testutil.SyncBuffer{}
	opts := FollowerOptions{Interval: 50 * time.Millisecond, Timeout: time.Second, MaxAge: 600 * time.Millisecond, Logger: zerolog.New(log)}
	f := newFollower(t, srv.Client(t), opts)
	testutil.Eventually(t, "a read to bind doomed", func() bool {
		_, err := f.refresh(context.Background())
		return err == nil && f.Ready() && bound(f, "doomed")
	})
	// The portal node deletes doomed while the follower is not reading,
	// then stops; Redis restarts without its data.
	if _, err := st.DeleteClient("doomed", t0); err != nil {
		t.Fatal(err)
	}
	emptyRedis(t, srv, p)
	f.Start()
	t.Cleanup(f.Stop)
	testutil.Eventually(t, "the follower reading the emptied Redis to be unready, and say so", func() bool {
		return !f.Ready() && strings.Contains(log.String(), "not checked against Redis within max_bindings_age")
	})
	if bound(f, "doomed") {
		t.Error("an unready follower binds the deleted client")
	}
	if floor, err := hashField(srv, "floor"); err != nil || floor != strconv.FormatInt(f.Version(), 10) {
		t.Errorf("floor %q (%v), want the follower's version %d", floor, err, f.Version())
	}
}

// TestReadConfirmsOnlyThePublishersSnapshot: a read of Redis renews the
// follower's confirmation only when Redis holds the version in use or a
// newer one, with no floor above it; one that finds no version, or an
// older one, leaves the confirmation as it was (to run out at MaxAge),
// and a floor above the version in use withdraws it.
func TestReadConfirmsOnlyThePublishersSnapshot(t *testing.T) {
	t.Parallel()
	const v = 1000 // the follower's version
	srv := testutil.StartRedis(t)
	c := srv.Client(t)
	for i, tt := range []struct {
		name           string
		version, floor int64 // what Redis holds; 0 for nothing
		want           string
	}{
		{"emptied", 0, 0, "kept"},
		{"older version", v - 1, 0, "kept"},
		{"floor at the follower's version, no snapshot", 0, v, "kept"},
		{"the follower's version", v, 0, "renewed"},
		{"the follower's version, floor at it", v, v, "renewed"},
		{"a newer version", v + 1, 0, "renewed"},
		{"emptied, floor above", 0, v + 1, "withdrawn"},
		{"older version, floor above", v - 1, v + 1, "withdrawn"},
		{"the follower's version, floor above", v, v + 1, "withdrawn"},
		{"a newer version, floor above it", v + 1, v + 2, "withdrawn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prefix := "case" + strconv.Itoa(i) + ":"
			hash := newKeys(prefix).hash
			if tt.version != 0 {
				b, err := json.Marshal(newSnapshot(tt.version, nil))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := srv.Do("HSET", hash, "version", strconv.FormatInt(tt.version, 10), "snapshot", string(b)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.floor != 0 {
				if _, err := srv.Do("HSET", hash, "floor", strconv.FormatInt(tt.floor, 10)); err != nil {
					t.Fatal(err)
				}
			}
			f := newFollower(t, c, FollowerOptions{KeyPrefix: prefix, Timeout: time.Second, MaxAge: time.Hour})
			f.cur.Store(newIndex(newSnapshot(v, nil)))
			earlier := time.Now().Add(-time.Minute)
			old := &confirmation{mono: earlier, wall: earlier.Round(0)}
			f.checked.Store(old)
			began := time.Now()
			if _, err := f.refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := "kept"
			switch c := f.checked.Load(); {
			case c == nil:
				got = "withdrawn"
			case c != old && !c.mono.Before(began):
				got = "renewed"
			case c != old:
				got = "replaced by an older time"
			}
			if got != tt.want || f.Version() != max(v, tt.version) {
				t.Errorf("confirmation %s, version %d; want %s, version %d", got, f.Version(), tt.want, max(v, tt.version))
			}
		})
	}
}
