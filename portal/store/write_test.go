package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cuegate/cuegate/internal/atomicfile"
	"github.com/cuegate/cuegate/internal/testutil"
)

func TestCrashBeforeRenameKeepsPreviousFile(t *testing.T) {
	t.Parallel()
	s, path := openWithClient(t)
	before, _ := os.ReadFile(path)
	crash := errors.New("simulated crash")
	var tmpContent []byte
	s.commit = func(f *atomicfile.File) error {
		tmpContent, _ = os.ReadFile(f.Name())
		return crash
	}
	if err := s.AddClient(client("c2", "a@example.com"), t0); !errors.Is(err, crash) {
		t.Fatalf("AddClient = %v, want the crash", err)
	}
	if !bytes.Contains(tmpContent, []byte(`"c2"`)) {
		t.Errorf("temporary file did not hold the new state: %s", tmpContent)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("state file changed:\n%s\nwant\n%s", after, before)
	}
	if _, ok := s.Client("c2"); ok {
		t.Error("failed write is visible in memory")
	}
	if _, found := s.Binding("c2"); found {
		t.Error("failed write is visible to Binding")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	s.Close()
	// A real crash leaves the temporary file behind: the next Open removes it.
	leftover := filepath.Join(filepath.Dir(path), ".state.json.tmp-123")
	os.WriteFile(leftover, tmpContent, 0o600)
	s = open(t, path)
	if _, ok := s.Client("c1"); !ok {
		t.Error("previous state lost")
	}
	if _, err := os.Stat(leftover); err == nil {
		t.Error("stale temporary file not removed")
	}
}

func TestConcurrentAddClientPersistsEachOnce(t *testing.T) {
	t.Parallel()
	s, path := openNew(t)
	addDevelopers(t, s, "a@example.com")
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.AddClient(client(fmt.Sprintf("c%03d", i), "a@example.com"), t0)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	b := testutil.ReadFile(t, path)
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, c := range st.Clients {
		seen[c.ClientID]++
	}
	if len(st.Clients) != n || len(seen) != n {
		t.Errorf("file has %d clients, %d distinct; want %d", len(st.Clients), len(seen), n)
	}
}

func TestWritesAfterCloseChangeNothing(t *testing.T) {
	t.Parallel()
	s, path := openWithClient(t)
	before, _ := os.ReadFile(path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"AddDeveloper":    func() error { return s.AddDeveloper(Developer{Email: "b@example.com", PasswordHash: "h"}) },
		"AddClient":       func() error { return s.AddClient(client("c2", "a@example.com"), t0) },
		"DeleteClient":    func() error { _, err := s.DeleteClient("c1", t0); return err },
		"RemoveDeveloper": func() error { _, err := s.RemoveDeveloper("a@example.com", t0); return err },
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s after Close = %v, want ErrClosed naming the file", name, err)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("the file changed after Close:\n%s", after)
	}
	if _, ok := s.Client("c1"); !ok {
		t.Error("reads after Close lost the content")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	// The lock is released: another store opens the file.
	open(t, path)
}

func TestOnChangeRunsAfterEachChange(t *testing.T) {
	t.Parallel()
	w, _ := openNew(t)
	var mu sync.Mutex
	var seen []int // the number of bindings each hook call saw
	w.OnChange(func() {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, len(w.Bindings()))
	})
	addDevelopers(t, w, "a@example.com")
	addClients(t, w, "a@example.com", "c1")
	if err := w.AddClient(client("c1", "a@example.com"), t0); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate AddClient: %v", err)
	}
	if _, err := w.DeleteClient("c1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.RemoveDeveloper("a@example.com", t0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if want := []int{0, 1, 1, 1}; !slices.Equal(seen, want) {
		t.Errorf("hooks saw %v bindings, want %v (one call per successful write, after it)", seen, want)
	}
	mu.Unlock()
}

// TestWriteInPlaceButNotDurableIsMade: a write whose new content is in
// place but whose directory could not be synced (atomicfile.ErrNotDurable)
// is made: the change succeeds, readers and the OnChange hooks see it,
// the OnNotDurable hooks get the error, naming the file, and what the
// store holds is what the file holds, then and after the next write.
func TestWriteInPlaceButNotDurableIsMade(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		change func(s *Store) error
		made   func(s *Store) bool
	}{
		{
			name:   "AddClient",
			change: func(s *Store) error { return s.AddClient(client("c2", "a@example.com"), t0) },
			made: func(s *Store) bool {
				_, ok := s.Client("c2")
				b, found := s.Binding("c2")
				return ok && found && !b.Revoked
			},
		},
		{
			name: "UpdateClient rotating the secret",
			change: func(s *Store) error {
				_, err := s.UpdateClient("c1", func(c *Client) { c.ClientSecret = "rotated" })
				return err
			},
			made: func(s *Store) bool { c, _ := s.Client("c1"); return c.ClientSecret == "rotated" },
		},
		{
			name:   "DeleteClient",
			change: func(s *Store) error { _, err := s.DeleteClient("c1", t0); return err },
			made:   func(s *Store) bool { b, found := s.Binding("c1"); return found && b.Revoked },
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, path := openWithClient(t)
			failure := errors.New("simulated directory sync failure")
			s.commit = func(f *atomicfile.File) error {
				if err := f.Commit(); err != nil {
					return err
				}
				return fmt.Errorf("%w: %w", atomicfile.ErrNotDurable, failure)
			}
			var warned []error
			s.OnNotDurable(func(err error) { warned = append(warned, err) })
			changes := 0
			s.OnChange(func() { changes++ })
			if err := tt.change(s); err != nil {
				t.Fatalf("change = %v, want it made", err)
			}
			if !tt.made(s) || changes != 1 {
				t.Errorf("after the change: made %v, %d OnChange calls; want made, 1", tt.made(s), changes)
			}
			if len(warned) != 1 || !errors.Is(warned[0], failure) || !errors.Is(warned[0], atomicfile.ErrNotDurable) || !strings.Contains(warned[0].Error(), path) {
				t.Errorf("OnNotDurable got %v; want one error naming %s, wrapping ErrNotDurable and the failure", warned, path)
			}
			sameAsFile(t, s, path)

			s.commit = (*atomicfile.File).Commit
			addDevelopers(t, s, "b@example.com")
			if !tt.made(s) || len(warned) != 1 {
				t.Errorf("after the next write: made %v, %d OnNotDurable calls; want made, 1", tt.made(s), len(warned))
			}
			sameAsFile(t, s, path)
		})
	}
}

// sameAsFile fails t unless the state file at path holds what s would
// write of the state it serves.
func sameAsFile(t *testing.T, s *Store, path string) {
	t.Helper()
	want, err := json.MarshalIndent(s.cur.Load().st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ReadFile(t, path); !bytes.Equal(got, append(want, '\n')) {
		t.Errorf("the state file holds\n%s\nthe store serves\n%s", got, want)
	}
}
