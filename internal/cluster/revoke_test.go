package cluster

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestRevokeReachesRedisBeforeTheStore: a client revoked ahead is refused
// by a follower before the store deletes it, stays refused through the
// store's other changes until released, and is bound again when released
// without the store deleting it (the deletion failed).
func TestRevokeReachesRedisBeforeTheStore(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{})
	f, _ := startFollower(t, srv, "")
	add(t, st, "kept", "other")
	testutil.Eventually(t, "the follower to bind kept", func() bool { return bound(f, "kept") })

	release, err := p.Revoke(context.Background(), []string{"kept", "never-registered"})
	if err != nil {
		t.Fatal(err)
	}
	// Redis confirmed: a follower reading it now (one of its own: refresh
	// is the poller's, and f's runs) refuses both.
	reader := newFollower(t, srv.Client(t), FollowerOptions{Timeout: time.Second})
	if _, err := reader.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !revoked(reader, "kept") || !revoked(reader, "never-registered") {
		t.Fatal("after Revoke returned, the follower still binds the clients revoked ahead")
	}
	add(t, st, "later")
	testutil.Eventually(t, "the store's next change to arrive", func() bool { return bound(f, "later") })
	if !revoked(f, "kept") {
		t.Fatal("a change of the store published kept bound again before release")
	}

	release()
	release() // a second call does nothing
	testutil.Eventually(t, "kept bound again after release without a deletion", func() bool { return bound(f, "kept") })
	if _, found := f.Binding("never-registered"); found {
		t.Error("a client revoked ahead and never registered is still in the snapshot after release")
	}
}

// TestRevokeFailsWhileRedisIsDown: Revoke answers the error within its
// timeout while Redis does not answer, and nothing stays revoked: once
// Redis is back the follower binds the client (the store never deleted
// it).
func TestRevokeFailsWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{Timeout: 200 * time.Millisecond})
	f, _ := startFollower(t, srv, "")
	add(t, st, "kept")
	testutil.Eventually(t, "the follower to bind kept", func() bool { return bound(f, "kept") })

	srv.Pause()
	start := time.Now()
	release, err := p.Revoke(context.Background(), []string{"kept"})
	took := time.Since(start)
	srv.Resume()
	if err == nil || release != nil {
		t.Fatalf("Revoke with Redis paused: release %v, error %v; want an error", release != nil, err)
	}
	if took > 5*time.Second {
		t.Errorf("Revoke with Redis paused took %v", took)
	}
	add(t, st, "after")
	testutil.Eventually(t, "the store's next change to arrive", func() bool { return bound(f, "after") })
	if !bound(f, "kept") {
		t.Error("a failed Revoke left kept revoked")
	}
}

// TestRevokesWaitingOnAStuckRedisEndInTime: while a paused Redis holds a
// publish, concurrent Revokes each give up within twice the timeout
// instead of queueing behind one another (ten in a queue would take ten
// timeouts; the slack allows for a loaded machine's scheduling).
func TestRevokesWaitingOnAStuckRedisEndInTime(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	srv, st, p := startPublishing(t, PublisherOptions{Timeout: timeout})
	add(t, st, "kept")
	srv.Pause()
	defer srv.Resume()
	var wg sync.WaitGroup
	took := make([]time.Duration, 10)
	for i := range took {
		wg.Go(func() {
			start := time.Now()
			if release, err := p.Revoke(context.Background(), []string{"kept"}); err == nil {
				release()
				t.Error("Revoke succeeded with Redis paused")
			}
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	if longest := slices.Max(took); longest > 2*timeout+2*time.Second {
		t.Errorf("10 Revokes with Redis paused: the longest took %v, want about twice the timeout (%v)", longest, 2*timeout)
	}
}

// TestRevokeRightAfterRedisRestarts: a Revoke made as soon as Redis
// answers again after a restart succeeds: the publisher's connection to
// the old server is replaced.
func TestRevokeRightAfterRedisRestarts(t *testing.T) {
	t.Parallel()
	srv, st, p := startPublishing(t, PublisherOptions{Timeout: time.Second})
	add(t, st, "kept")
	for i := range 10 {
		srv.Restart()
		release, err := p.Revoke(context.Background(), []string{"kept"})
		if err != nil {
			t.Fatalf("Revoke %d right after a restart: %v", i, err)
		}
		release()
	}
}

// TestRevokeWhenTheAnswerIsLost: a Revoke whose publish reached Redis but
// whose connection ended before the answer came back succeeds on the
// connection that replaces it (the script run again finds its own version
// stored), and the followers refuse the client.
func TestRevokeWhenTheAnswerIsLost(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	st := newStore(t)
	add(t, st, "kept")
	var cut atomic.Bool // then the next publish loses its answer
	proxy := testutil.Proxy(t, srv.Addr(), func(chunk []byte) testutil.ProxyAction {
		if bytes.Contains(bytes.ToUpper(chunk), []byte("EVALSHA")) && cut.CompareAndSwap(true, false) {
			return testutil.Cut
		}
		return testutil.Pass
	})
	p := startPublisher(t, testutil.RedisClient(t, proxy), st, PublisherOptions{Timeout: time.Second})
	f, _ := startFollower(t, srv, "")
	testutil.Eventually(t, "the follower to bind kept", func() bool { return bound(f, "kept") })

	cut.Store(true)
	release, err := p.Revoke(context.Background(), []string{"kept"})
	if err != nil {
		t.Fatalf("Revoke after a lost answer: %v", err)
	}
	defer release()
	if cut.Load() {
		t.Fatal("the publish went to Redis without passing the proxy")
	}
	testutil.Eventually(t, "the follower to refuse kept", func() bool { return revoked(f, "kept") })
}
