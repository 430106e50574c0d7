package cluster

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// newClient returns a client of srv, closed when the test ends.
func newClient(t testing.TB, srv *testutil.Redis) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newStore returns a portal store in a directory of its own.
func newStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
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

// startFollower starts a follower of srv, on a client of its own as on a
// node of its own, keeping its snapshot in file ("" for none), stopped
// when the test ends, and returns it with its log.
func startFollower(t testing.TB, srv *testutil.Redis, file string) (*Follower, *testutil.SyncBuffer) {
	t.Helper()
	log := &testutil.SyncBuffer{}
	f, err := NewFollower(newClient(t, srv), FollowerOptions{File: file, Timeout: 200 * time.Millisecond, Logger: zerolog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(f.Stop)
	return f, log
}

func revoked(f *Follower, id string) bool {
	_, _, rev, _, found := f.Binding(id)
	return found && rev
}

func bound(f *Follower, id string) bool {
	_, _, rev, _, found := f.Binding(id)
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

// within waits for cond, and fails t when it took longer than d.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
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
	c := newClient(t, srv)
	st := newStore(t)
	if err := st.AddClient(client("before-start")); err != nil {
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

	if err := st.AddClient(client("c1")); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		within(t, time.Second, "a follower to see c1 registered", func() bool { return bound(f, "c1") })
		pol, exp, _, cat, _ := f.Binding("c1")
		if pol != "gold" || !exp.Equal(t0.Add(24*time.Hour)) || !slices.Equal(cat, []string{"orders"}) {
			t.Errorf("Binding(c1) = %q, %v, %q; want the store's", pol, exp, cat)
		}
	}
	if _, err := st.DeleteClient("c1", t0); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		within(t, time.Second, "a follower to see c1 deleted", func() bool { return revoked(f, "c1") })
		if !f.Ready() || f.Version() != p.Version() {
			t.Errorf("follower ready %v at version %d, publisher at %d", f.Ready(), f.Version(), p.Version())
		}
		if _, _, _, _, found := f.Binding("stranger"); found {
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
	f.cur.Store(newTable(newSnapshot(1, []store.ClientBinding{{ClientID: "c1", Policy: "gold"}})))
	if allocs := testing.AllocsPerRun(100, func() { f.Binding("c1"); f.Binding("stranger") }); allocs != 0 {
		t.Errorf("Binding allocates %v times", allocs)
	}
}
