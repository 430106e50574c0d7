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
