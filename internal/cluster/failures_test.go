package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

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
	add(t, st, "later")
	g := newFollower(t, c, FollowerOptions{File: file, Timeout: 100 * time.Millisecond})
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
		held, err := hashField(srv, "version")
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
	add(t, st, "c1")
	startPublisher(t, srv.Client(t), st, PublisherOptions{})
	testutil.Eventually(t, "the follower to be ready", f.Ready)
	if !bound(f, "c1") {
		t.Error("c1 not bound")
	}
	if _, found := f.Binding("any"); found {
		t.Error("an unknown client is found once ready")
	}
}

func TestPausedRedisDoesNotHoldUpBindingOrStop(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{Timeout: 100 * time.Millisecond})
	f, _ := startFollower(t, srv, "")
	deleted(t, st, "gone", f)

	srv.Pause()
	add(t, st, "during")
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
