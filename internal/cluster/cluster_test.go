package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// newStore returns a portal store in a directory of its own, with the
// account of client's developer, created at t0.
func newStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.AddDeveloper(store.Developer{Email: client("").Developer, Created: t0}); err != nil {
		t.Fatal(err)
	}
	return s
}

func client(id string) store.Client {
	return store.Client{
		ClientID: id, ClientSecret: "secret-of-" + id, ClientName: "app " + id, Developer: "dev@example.com",
		Catalogue: []string{"orders"}, Policy: "gold", Provider: "idp", TokenEndpoint: "https://idp/token",
		RegistrationAccessToken: "rat-of-" + id, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
}

func startPublisher(t testing.TB, c rueidis.Client, src Source, opts PublisherOptions) *Publisher {
	t.Helper()
	p := NewPublisher(c, src, opts)
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// startPublishing starts a Redis, a state file and a Publisher of the
// file's bindings to that Redis with opts.
func startPublishing(t testing.TB, opts PublisherOptions) (*testutil.Redis, *store.Store, *Publisher) {
	t.Helper()
	srv := testutil.StartRedis(t)
	st := newStore(t)
	return srv, st, startPublisher(t, srv.Client(t), st, opts)
}

// startFollower starts a follower of srv, on a client of its own as on a
// node of its own, keeping its snapshot in file ("" for none), stopped
// when the test ends, and returns it with its log.
func startFollower(t testing.TB, srv *testutil.Redis, file string) (*Follower, *testutil.SyncBuffer) {
	t.Helper()
	log := &testutil.SyncBuffer{}
	f, err := NewFollower(srv.Client(t), FollowerOptions{File: file, Timeout: 200 * time.Millisecond, Logger: zerolog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(f.Stop)
	return f, log
}

// revoked reports whether f refuses id as deleted in a snapshot (a
// follower not ready refuses every client).
func revoked(f *Follower, id string) bool {
	bnd, found := f.Binding(id)
	rev := bnd.Revoked
	return f.Ready() && found && rev
}

func bound(f *Follower, id string) bool {
	bnd, found := f.Binding(id)
	rev := bnd.Revoked
	return found && !rev
}

// waitSubscribers waits until n clients listen on the channel, so that a
// test of the notification's delay does not measure the subscription's.
func waitSubscribers(t *testing.T, c rueidis.Client, n int64) {
	t.Helper()
	ch := newKeys("").channel
	testutil.Eventually(t, "the followers to subscribe", func() bool {
		m, err := c.Do(context.Background(), c.B().PubsubNumsub().Channel(ch).Build()).AsIntMap()
		return err == nil && m[ch] >= n
	})
}

// within waits for cond, and fails t when it held later than d after
// start.
func within(t *testing.T, start time.Time, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, what, cond)
	took := time.Since(start)
	if took > d {
		t.Errorf("%s took %v, more than %v", what, took, d)
	}
	t.Logf("%s took %v", what, took)
}

func TestAddAndDeleteReachEveryFollowerWithinASecond(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	c := srv.Client(t)
	st := newStore(t)
	if err := st.AddClient(client("before-start"), t0); err != nil {
		t.Fatal(err)
	}
	p := startPublisher(t, c, st, PublisherOptions{})
	dir := t.TempDir()
	f1, _ := startFollower(t, srv, filepath.Join(dir, "f1.json"))
	f2, _ := startFollower(t, srv, filepath.Join(dir, "f2.json"))
	followers := []*Follower{f1, f2}
	for _, f := range followers {
		testutil.Eventually(t, "a follower to take the first snapshot", func() bool { return bound(f, "before-start") })
	}
	waitSubscribers(t, c, 2)

	// The gateway asks all along.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, f := range followers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					f.Binding("c1")
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	start := time.Now()
	if err := st.AddClient(client("c1"), t0); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		within(t, start, time.Second, "a follower to see c1 registered", func() bool { return bound(f, "c1") })
		bnd, _ := f.Binding("c1")
		pol, exp, cat := bnd.Policy, bnd.ExpiresAt, bnd.Catalogue
		if pol != "gold" || !exp.Equal(t0.Add(24*time.Hour)) || !slices.Equal(cat, []string{"orders"}) {
			t.Errorf("Binding(c1) = %q, %v, %q; want the store's", pol, exp, cat)
		}
	}
	start = time.Now()
	if _, err := st.DeleteClient("c1", t0); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		within(t, start, time.Second, "a follower to see c1 deleted", func() bool { return revoked(f, "c1") })
		// The publisher records its version once Redis has answered, which
		// may be after a follower has read it.
		testutil.Eventually(t, "the follower ready at the publisher's version", func() bool {
			return f.Ready() && f.Version() == p.Version()
		})
		if _, found := f.Binding("stranger"); found {
			t.Error("a client the portal never registered is found")
		}
	}

	// Neither Redis nor the files hold secrets or developers.
	snap, err := srv.Do("HGET", newKeys("").hash, "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{snap}
	for _, name := range []string{"f1.json", "f2.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, string(b))
	}
	for i, s := range files {
		for _, secret := range []string{"secret-of-", "rat-of-", "dev@example.com", "app c1"} {
			if strings.Contains(s, secret) {
				t.Errorf("copy %d of the bindings holds %q: %s", i, secret, s)
			}
		}
	}
}

func TestBindingDoesNotAllocate(t *testing.T) {
	f, err := NewFollower(nil, FollowerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.cur.Store(newIndex(newSnapshot(1, []store.ClientBinding{{ClientID: "c1", Binding: table.Binding{Policy: "gold"}}})))
	if allocs := testing.AllocsPerRun(100, func() { f.Binding("c1"); f.Binding("stranger") }); allocs != 0 {
		t.Errorf("Binding allocates %v times", allocs)
	}
}

// deleted registers and deletes id in st and waits until every follower
// refuses it.
func deleted(t *testing.T, st *store.Store, id string, followers ...*Follower) {
	t.Helper()
	if err := st.AddClient(client(id), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteClient(id, t0); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		testutil.Eventually(t, "a follower to see "+id+" deleted", func() bool { return revoked(f, id) })
	}
}

func TestFollowerRestartedWhileRedisIsDownStartsFromItsFile(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{Timeout: 100 * time.Millisecond})
	file := filepath.Join(t.TempDir(), "bindings.json")
	f, _ := startFollower(t, srv, file)
	deleted(t, st, "gone", f)
	f.Stop()
	v := f.Version()
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bindings file: %v, %v; want mode 0600", fi, err)
	}

	c := srv.Client(t) // rueidis dials at NewClient: make it while Redis is up
	srv.Kill()
	// The portal deletes another client meanwhile: no node can learn of it
	// until Redis is back, and none forgets the first.
	if err := st.AddClient(client("later"), t0); err != nil {
		t.Fatal(err)
	}
	g, err := NewFollower(c, FollowerOptions{File: file, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Ready() || g.Version() != v || !revoked(g, "gone") {
		t.Fatalf("restarted follower: ready %v, version %d (want %d), gone revoked %v", g.Ready(), g.Version(), v, revoked(g, "gone"))
	}
	g.Start()
	defer g.Stop()
	if !revoked(g, "gone") {
		t.Error("the follower forgot the deletion while Redis is down")
	}

	srv.Restart()
	testutil.Eventually(t, "the publisher to write its snapshot to the new Redis", func() bool {
		held, err := srv.Do("HGET", newKeys("").hash, "version")
		return err == nil && held != "" && p.Version() > v
	})
	testutil.Eventually(t, "the restarted follower to take it", func() bool { return bound(g, "later") })
	if !revoked(g, "gone") {
		t.Error("the follower forgot the deletion when Redis came back")
	}
}

func TestFollowerWithNeitherRedisNorFileIsNotReadyAndRefuses(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	f, log := startFollower(t, srv, filepath.Join(t.TempDir(), "none.json"))
	srv.Kill()
	testutil.Eventually(t, "the follower to find Redis down", func() bool { return strings.Contains(log.String(), "cannot read Redis") })
	for _, id := range []string{"any", ""} {
		bnd, found := f.Binding(id)
		pol, rev, cat := bnd.Policy, bnd.Revoked, bnd.Catalogue
		if f.Ready() || !found || !rev || pol != "" || cat != nil {
			t.Errorf("not loaded: Ready %v, Binding(%q) = %q, revoked %v, %q, found %v; want not ready, found and revoked", f.Ready(), id, pol, rev, cat, found)
		}
	}

	srv.Restart()
	testutil.Eventually(t, "the follower to read Redis again", func() bool { return strings.Contains(log.String(), "reading Redis again") })
	if f.Ready() {
		t.Error("ready with nothing published")
	}

	st := newStore(t)
	if err := st.AddClient(client("c1"), t0); err != nil {
		t.Fatal(err)
	}
	startPublisher(t, srv.Client(t), st, PublisherOptions{})
	testutil.Eventually(t, "the follower to be ready", f.Ready)
	if !bound(f, "c1") {
		t.Error("c1 not bound")
	}
	if _, found := f.Binding("any"); found {
		t.Error("an unknown client is found once ready")
	}
}

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
	if reply, err := publish(t, srv.Client(t), stale); err != nil || reply != stale.Version {
		t.Fatalf("writing the stale snapshot: %d, %v", reply, err)
	}
	testutil.Eventually(t, "a follower to see the older version", func() bool {
		return strings.Contains(log1.String(), "Redis holds an older version")
	})
	for _, f := range []*Follower{f1, f2} {
		if f.Version() != v || !revoked(f, "gone") {
			t.Errorf("follower at version %d (want %d), gone revoked %v", f.Version(), v, revoked(f, "gone"))
		}
	}

	// The publisher writes its snapshot again, with a newer version.
	p.Start()
	testutil.Eventually(t, "the publisher to write its snapshot again", func() bool { return p.Version() > v })
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
		held, err := srv.Do("HGET", newKeys("").hash, "version")
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
func publish(t *testing.T, c rueidis.Client, s *Snapshot) (int64, error) {
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
		b, err := srv.Do("HGET", newKeys("").hash, "snapshot")
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
	if err := st.AddClient(client("c1"), t0); err != nil {
		t.Fatal(err)
	}
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

func TestPausedRedisDoesNotHoldUpBindingOrStop(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{Timeout: 100 * time.Millisecond})
	f, _ := startFollower(t, srv, "")
	deleted(t, st, "gone", f)

	srv.Pause()
	if err := st.AddClient(client("during"), t0); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100_000 {
			if !revoked(f, "gone") {
				t.Error("gone accepted while Redis is paused")
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Binding waits for the paused Redis")
	}
	srv.Resume()
	testutil.Eventually(t, "the change made during the pause to arrive", func() bool { return bound(f, "during") })

	srv.Pause()
	defer srv.Resume()
	stopped := make(chan struct{})
	go func() { p.Stop(); f.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waits for the paused Redis")
	}
}

func TestInvalidSnapshotInRedisIsRefused(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{})
	f, log := startFollower(t, srv, "")
	deleted(t, st, "gone", f)
	p.Stop()
	v := f.Version()
	for i, bad := range []string{
		`{"version":%d,"bindings":[{"client_id":"gone","suspended":true}]}`,
		`{"version":%d,"bindings":[{"client_id":""}]}`,
		`not json %d`,
		`{"version":1,"bindings":[{"client_id":"gone","policy":"gold"}]}`, // not the hash's version
	} {
		next := v + 1 + int64(i)
		if strings.Contains(bad, "%d") {
			bad = fmt.Sprintf(bad, next)
		}
		if _, err := srv.Do("HSET", newKeys("").hash, "version", strconv.FormatInt(next, 10), "snapshot", bad); err != nil {
			t.Fatal(err)
		}
		f.poke()
		testutil.Eventually(t, "the follower to refuse "+bad, func() bool { return strings.Count(log.String(), "is not valid") == i+1 })
		if f.Version() != v || !revoked(f, "gone") {
			t.Errorf("after %s: version %d (want %d), gone revoked %v", bad, f.Version(), v, revoked(f, "gone"))
		}
	}
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
	if err := st.AddClient(client("c1"), t0); err != nil {
		t.Fatal(err)
	}
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
