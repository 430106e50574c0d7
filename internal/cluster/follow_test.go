package cluster

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
)

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
	add(t, st, "before-start")
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
	add(t, st, "c1")
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
	snap, err := hashField(srv, "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{snap}
	for _, name := range []string{"f1.json", "f2.json"} {
		b := testutil.ReadFile(t, filepath.Join(dir, name))
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
	f := newFollower(t, nil, FollowerOptions{})
	f.cur.Store(newIndex(newSnapshot(1, []store.ClientBinding{{ClientID: "c1", Binding: table.Binding{Policy: "gold"}}})))
	if allocs := testing.AllocsPerRun(100, func() { f.Binding("c1"); f.Binding("stranger") }); allocs != 0 {
		t.Errorf("Binding allocates %v times", allocs)
	}
}
