package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestReadOnlyReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	w := open(t, path)
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddClient(client("x", "a")); err == nil {
		t.Error("read-only store accepted a write")
	}
	if err := w.AddClient(client("c1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	if _, found := r.Binding("c1"); found {
		t.Error("reader saw the write before Reload")
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if bnd, found := r.Binding("c1"); !found || bnd.Policy != "gold" {
		t.Errorf("after Reload Binding(c1) = %+v, %v", bnd, found)
	}
}

func TestFollowSeesTheWritersChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	w := open(t, path)
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 10)
	if err := r.Follow(ctx, func(err error) { errs <- err }); err != nil {
		t.Fatal(err)
	}
	if err := w.AddClient(client("c1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the follower to see c1", func() bool { _, found := r.Binding("c1"); return found })
	if _, err := w.DeleteClient("c1", t0); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the follower to see c1 revoked", func() bool {
		bnd, _ := r.Binding("c1")
		revoked := bnd.Revoked
		return revoked
	})

	// A corrupt file is reported and the last good content kept.
	os.WriteFile(path, []byte("{broken"), 0o600)
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "not a valid state file") {
			t.Errorf("reported %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("corrupt file not reported")
	}
	if bnd, _ := r.Binding("c1"); !bnd.Revoked {
		t.Error("follower lost its last good state")
	}
}
