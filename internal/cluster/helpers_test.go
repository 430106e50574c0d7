package cluster

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

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
	return follow(t, srv, FollowerOptions{File: file, Timeout: 200 * time.Millisecond, Logger: zerolog.New(log)}), log
}

// follow starts a follower of srv with opts, on a client of its own,
// stopped when the test ends.
func follow(t testing.TB, srv *testutil.Redis, opts FollowerOptions) *Follower {
	t.Helper()
	f := newFollower(t, srv.Client(t), opts)
	f.Start()
	t.Cleanup(f.Stop)
	return f
}

// newFollower returns a follower through c with opts, not started: a
// test reads Redis through it by calling refresh.
func newFollower(t testing.TB, c rueidis.Client, opts FollowerOptions) *Follower {
	t.Helper()
	f, err := NewFollower(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// emptyRedis stops p and empties srv, as a Redis restarted without its
// data while the portal node is down.
func emptyRedis(t testing.TB, srv *testutil.Redis, p *Publisher) {
	t.Helper()
	p.Stop()
	if _, err := srv.Do("FLUSHALL"); err != nil {
		t.Fatal(err)
	}
}

// hashField returns the field of the bindings hash in srv ("" for none).
func hashField(srv *testutil.Redis, field string) (string, error) {
	return srv.Do("HGET", newKeys("").hash, field)
}

// add registers the clients ids in st.
func add(t testing.TB, st *store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := st.AddClient(client(id), t0); err != nil {
			t.Fatal(err)
		}
	}
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

// deleted registers and deletes id in st and waits until every follower
// refuses it.
func deleted(t *testing.T, st *store.Store, id string, followers ...*Follower) {
	t.Helper()
	add(t, st, id)
	if _, err := st.DeleteClient(id, t0); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		testutil.Eventually(t, "a follower to see "+id+" deleted", func() bool { return revoked(f, id) })
	}
}
