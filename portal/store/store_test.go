package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func client(id, dev string) Client {
	return Client{
		ClientID: id, ClientSecret: "secret-" + id, ClientName: "app " + id, Developer: dev,
		Catalogue: []string{"gluu_api"}, Policy: "gold", Provider: "gluu",
		TokenEndpoint: "https://idp/token", CreatedAt: t0,
	}
}

func TestOpenCreatesFileWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := open(t, path)
	if err := s.AddDeveloper(Developer{Email: "a@example.com", PasswordHash: "h", Created: t0}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("lock file mode = %v (%v), want none for group and others", fi.Mode().Perm(), err)
	}
	var head struct{ Version int }
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &head); err != nil || head.Version != Version {
		t.Errorf("file version = %d (%v), want %d", head.Version, err, Version)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := open(t, path)
	c := client("c1", "a@example.com")
	c.ExpiresAt = t0.Add(time.Hour)
	c.RedirectURIs = []string{"https://app/cb"}
	steps := []error{
		s.AddDeveloper(Developer{Email: "a@example.com", PasswordHash: "h", Created: t0}),
		s.AddClient(c),
		s.AddClient(client("c2", "a@example.com")),
	}
	if _, err := s.DeleteClient("c2", t0); err != nil {
		steps = append(steps, err)
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, path)
	got, ok := s.Client("c1")
	if !ok || got.ClientSecret != "secret-c1" || !got.ExpiresAt.Equal(c.ExpiresAt) || got.RedirectURIs[0] != "https://app/cb" {
		t.Errorf("Client(c1) = %+v, %v", got, ok)
	}
	if _, ok := s.Client("c2"); ok {
		t.Error("deleted client c2 is back")
	}
	if bnd, found := s.Binding("c2"); !bnd.Revoked || !found {
		t.Errorf("Binding(c2) revoked=%v found=%v, want a tombstone", bnd.Revoked, found)
	}
	if d, ok := s.Developer("a@example.com"); !ok || d.PasswordHash != "h" {
		t.Errorf("Developer = %+v, %v", d, ok)
	}
}

func TestDuplicates(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.json"))
	d := Developer{Email: "a@example.com", PasswordHash: "h"}
	if err := s.AddDeveloper(d); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDeveloper(d); !errors.Is(err, ErrExists) {
		t.Errorf("second AddDeveloper = %v, want ErrExists", err)
	}
	if err := s.AddClient(client("c1", d.Email)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClient(client("c1", d.Email)); !errors.Is(err, ErrExists) {
		t.Errorf("second AddClient = %v, want ErrExists", err)
	}
	if _, err := s.DeleteClient("c1", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClient(client("c1", d.Email)); !errors.Is(err, ErrExists) {
		t.Errorf("AddClient of a deleted ID = %v, want ErrExists", err)
	}
	if _, err := s.DeleteClient("nope", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteClient(nope) = %v, want ErrNotFound", err)
	}
}

func TestCorruptFileStopsOpenAndIsNotOverwritten(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":        "{not json",
		"empty":          "",
		"no version":     `{"developers": []}`,
		"newer version":  `{"version": 99}`,
		"unknown field":  `{"version": 2, "clients": [], "surprise": 1}`,
		"duplicate id":   `{"version": 2, "clients": [{"client_id": "a"}, {"client_id": "a"}]}`,
		"trailing data":  `{"version": 2} {}`,
		"wrong type":     `{"version": 2, "clients": {"a": {}}}`,
		"bad v1 migrate": `{"version": 1, "clients": {"": {}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Errorf("file changed to %q", b)
			}
			// The lock was released: a fixed file opens.
			os.WriteFile(path, []byte(`{"version": 2}`), 0o600)
			open(t, path)
		})
	}
}

func TestUnreadableFileStopsOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.Mkdir(path, 0o700); err != nil { // reading a directory fails, even for root
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v, want an error naming %s", err, path)
	}
}

func TestSecondOpenerIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := open(t, path)
	_, err := Open(path)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open = %v, want ErrLocked naming the file", err)
	}

	// Another process is refused too.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpen$")
	cmd.Env = append(os.Environ(), "STORE_HELPER_PATH="+path)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another process") {
		t.Errorf("subprocess: err=%v output=%s", err, out)
	}

	s.Close()
	open(t, path) // released on Close
}

// TestHelperOpen is the subprocess of TestSecondOpenerIsRefused.
func TestHelperOpen(t *testing.T) {
	path := os.Getenv("STORE_HELPER_PATH")
	if path == "" {
		t.Skip("helper process only")
	}
	if _, err := Open(path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0)
}

func TestCrashBeforeRenameKeepsPreviousFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := open(t, path)
	if err := s.AddClient(client("c1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	crash := errors.New("simulated crash")
	var tmpContent []byte
	s.beforeRename = func(tmp string) error {
		tmpContent, _ = os.ReadFile(tmp)
		return crash
	}
	if err := s.AddClient(client("c2", "a@example.com")); !errors.Is(err, crash) {
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
	path := filepath.Join(t.TempDir(), "state.json")
	s := open(t, path)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.AddClient(client(fmt.Sprintf("c%03d", i), "a@example.com"))
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

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
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

func TestBinding(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.json"))
	bound := client("bound", "a@example.com")
	expiring := client("expiring", "a@example.com")
	expiring.ExpiresAt = t0.Add(24 * time.Hour)
	for _, c := range []Client{bound, expiring, client("gone", "a@example.com")} {
		if err := s.AddClient(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteClient("gone", t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id             string
		policy         string
		expiresAt      time.Time
		revoked, found bool
	}{
		{"bound", "gold", time.Time{}, false, true},
		{"expiring", "gold", t0.Add(24 * time.Hour), false, true},
		{"gone", "", time.Time{}, true, true},
		{"stranger", "", time.Time{}, false, false},
	}
	for _, tt := range tests {
		bnd, found := s.Binding(tt.id)
		policy, exp, revoked, catalogue := bnd.Policy, bnd.ExpiresAt, bnd.Revoked, bnd.Catalogue
		if found && !revoked && !slices.Equal(catalogue, []string{"gluu_api"}) {
			t.Errorf("Binding(%s) catalogue %q, want the client's", tt.id, catalogue)
		}
		if policy != tt.policy || !exp.Equal(tt.expiresAt) || revoked != tt.revoked || found != tt.found {
			t.Errorf("Binding(%s) = %q, %v, %v, %v; want %q, %v, %v, %v", tt.id,
				policy, exp, revoked, found, tt.policy, tt.expiresAt, tt.revoked, tt.found)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { s.Binding("expiring"); s.Binding("stranger") }); allocs != 0 {
		t.Errorf("Binding allocates %v times", allocs)
	}
}

func TestMigrateV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	v1 := `{
  "version": 1,
  "developers": {"b@example.com": {"password_hash": "hb", "created": "2025-01-02T00:00:00Z"},
                 "a@example.com": {"password_hash": "ha", "created": "2025-01-01T00:00:00Z"}},
  "clients": {"c1": {"client_secret": "s1", "client_name": "one", "developer": "a@example.com",
                     "catalogue_entry": "gluu_api", "policy": "gold", "provider": "gluu",
                     "token_endpoint": "https://idp/token", "registered_at": "2025-02-01T00:00:00Z",
                     "expires_at": "2026-02-01T00:00:00Z"}},
  "revoked": ["old"]
}`
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".v1.bak", []byte("an older backup"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	c, ok := s.Client("c1")
	want := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	if !ok || len(c.Catalogue) != 1 || c.Catalogue[0] != "gluu_api" || !c.CreatedAt.Equal(want) || c.ClientSecret != "s1" {
		t.Errorf("migrated client = %+v", c)
	}
	if devs := s.Developers(); len(devs) != 2 || devs[0].Email != "a@example.com" || devs[1].PasswordHash != "hb" {
		t.Errorf("migrated developers = %+v", devs)
	}
	if bnd, _ := s.Binding("old"); !bnd.Revoked {
		t.Error("revoked v1 client is not revoked")
	}
	if b, _ := os.ReadFile(path + ".v1.bak"); string(b) != v1 {
		t.Errorf("backup = %q", b)
	}
	if fi, err := os.Stat(path + ".v1.bak"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`"version": 2`)) {
		t.Errorf("file not rewritten as version 2:\n%s", b)
	}
}

func TestRemoveDeveloperRevokesClients(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.json"))
	for _, err := range []error{
		s.AddDeveloper(Developer{Email: "a@example.com"}),
		s.AddDeveloper(Developer{Email: "b@example.com"}),
		s.AddClient(client("ca", "a@example.com")),
		s.AddClient(client("cb", "b@example.com")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	revoked, err := s.RemoveDeveloper("a@example.com", t0)
	if err != nil || len(revoked) != 1 || revoked[0].ClientID != "ca" {
		t.Fatalf("RemoveDeveloper = %v, %v", revoked, err)
	}
	if bnd, _ := s.Binding("ca"); !bnd.Revoked {
		t.Error("client of removed developer is not revoked")
	}
	if got := s.Clients(""); len(got) != 1 || got[0].ClientID != "cb" {
		t.Errorf("Clients = %+v", got)
	}
	if _, err := s.RemoveDeveloper("a@example.com", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("second RemoveDeveloper = %v", err)
	}
}

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

func BenchmarkBinding(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "state.json"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 1000 {
		if err := s.AddClient(client(fmt.Sprintf("c%d", i), "a@example.com")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Binding("c500")
		}
	})
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

// The runtime's Bindings interface, which Store satisfies.
var _ interface {
	Binding(clientID string) (table.Binding, bool)
} = (*Store)(nil)

func TestWritesAfterCloseChangeNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := open(t, path)
	if err := s.AddDeveloper(Developer{Email: "a@example.com", PasswordHash: "h", Created: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClient(client("c1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"AddDeveloper":    func() error { return s.AddDeveloper(Developer{Email: "b@example.com", PasswordHash: "h"}) },
		"AddClient":       func() error { return s.AddClient(client("c2", "a@example.com")) },
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

func TestBindingsMatchBindingAndHoldNoSecrets(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.json"))
	expiring := client("b-expiring", "a@example.com")
	expiring.ExpiresAt = t0.Add(time.Hour)
	for _, c := range []Client{client("c-bound", "a@example.com"), expiring, client("a-gone", "b@example.com")} {
		if err := s.AddClient(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteClient("a-gone", t0); err != nil {
		t.Fatal(err)
	}
	got := s.Bindings()
	want := []ClientBinding{
		{ClientID: "a-gone", Binding: table.Binding{Revoked: true}},
		{ClientID: "b-expiring", Binding: table.Binding{Policy: "gold", ExpiresAt: t0.Add(time.Hour), Catalogue: []string{"gluu_api"}}},
		{ClientID: "c-bound", Binding: table.Binding{Policy: "gold", Catalogue: []string{"gluu_api"}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Bindings() = %+v\nwant %+v", got, want)
	}
	for _, b := range got {
		bnd, found := s.Binding(b.ClientID)
		p, exp, revoked, cat := bnd.Policy, bnd.ExpiresAt, bnd.Revoked, bnd.Catalogue
		if !found || p != b.Policy || !exp.Equal(b.ExpiresAt) || revoked != b.Revoked || !slices.Equal(cat, b.Catalogue) {
			t.Errorf("Bindings has %+v, Binding answers %q %v %v %q %v", b, p, exp, revoked, cat, found)
		}
	}
	got[1].Catalogue[0] = "changed by the caller"
	if bnd, _ := s.Binding("b-expiring"); bnd.Catalogue[0] != "gluu_api" {
		t.Error("the caller's copy shares the store's catalogue")
	}
}

func TestOnChangeRunsAfterEachChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	w := open(t, path)
	var mu sync.Mutex
	var seen []int // the number of bindings each hook call saw
	w.OnChange(func() {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, len(w.Bindings()))
	})
	if err := w.AddDeveloper(Developer{Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddClient(client("c1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := w.AddClient(client("c1", "a@example.com")); !errors.Is(err, ErrExists) {
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

	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	reloads := 0
	r.OnChange(func() { reloads++ })
	if err := r.Reload(); err != nil || reloads != 1 {
		t.Errorf("Reload: %v, hooks ran %d times, want 1", err, reloads)
	}
	os.WriteFile(path, []byte("{broken"), 0o600)
	if err := r.Reload(); err == nil || reloads != 1 {
		t.Errorf("failed Reload: %v, hooks ran %d times in all, want 1", err, reloads)
	}
}
