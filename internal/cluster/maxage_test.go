package cluster

import (
	"path/filepath"
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
	if err := st.AddClient(client("kept"), t0); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "bindings.json")
	log := &testutil.SyncBuffer{}
	opts := FollowerOptions{File: file, Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, MaxAge: 600 * time.Millisecond, Logger: zerolog.New(log)}
	f, err := NewFollower(srv.Client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(f.Stop)
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
	g, err := NewFollower(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if g.Version() != f.Version() || g.Ready() {
		t.Errorf("follower started from its file with Redis down: version %d (want %d), ready %v; want not ready", g.Version(), f.Version(), g.Ready())
	}
}
