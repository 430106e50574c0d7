package store

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// v1 is a state file of schema version 1.
const v1 = `{
  "version": 1,
  "developers": {"b@example.com": {"password_hash": "hb", "created": "2025-01-02T00:00:00Z"},
                 "a@example.com": {"password_hash": "ha", "created": "2025-01-01T00:00:00Z"}},
  "clients": {"c1": {"client_secret": "s1", "client_name": "one", "developer": "a@example.com",
                     "catalogue_entry": "gluu_api", "policy": "gold", "provider": "gluu",
                     "token_endpoint": "https://idp/token", "registered_at": "2025-02-01T00:00:00Z",
                     "expires_at": "2026-02-01T00:00:00Z"}},
  "revoked": ["old"]
}`

func TestMigrateV1(t *testing.T) {
	t.Parallel()
	path := statePath(t)
	testutil.WriteFile(t, path, v1, 0o600)
	testutil.WriteFile(t, path+".v1.bak", "an older backup", 0o644)
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

// TestOpenReadOnlyWritesNothing: a store opened read-only reads a version
// 1 file migrated, leaves the file, its directory and a crash's temporary
// file as they were (no lock file either), refuses every change, and does
// not create a file that is not there.
func TestOpenReadOnlyWritesNothing(t *testing.T) {
	t.Parallel()
	path := statePath(t)
	testutil.WriteFile(t, path, v1, 0o600)
	testutil.WriteFile(t, filepath.Join(filepath.Dir(path), ".state.json.tmp-0123456789abcdef"), "left by a crash", 0o600)
	s, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, ok := s.Client("c1"); !ok || c.ClientSecret != "s1" {
		t.Errorf("client c1 = %+v, %v", c, ok)
	}
	if err := s.AddDeveloper(Developer{Email: "c@example.com", PasswordHash: "h", Created: t0}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("AddDeveloper = %v, want ErrReadOnly", err)
	}
	if _, ok := s.Developer("c@example.com"); ok {
		t.Error("a refused change is visible")
	}
	if b, _ := os.ReadFile(path); string(b) != v1 {
		t.Errorf("file changed:\n%s", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{".state.json.tmp-0123456789abcdef", "state.json"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}

	missing := statePath(t)
	if _, err := OpenReadOnly(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of a missing file = %v, want ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(missing)); len(entries) != 0 {
		t.Errorf("a read-only open of a missing file left %v", entries)
	}
}

// TestOpenReadOnlyBesideAWriter: a store opened read-only takes no lock,
// so it neither stops nor waits for the one process that writes the file,
// and reads the file as that process last wrote it.
func TestOpenReadOnlyBesideAWriter(t *testing.T) {
	t.Parallel()
	w, path := openWithClient(t)
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly beside a writer: %v", err)
	}
	defer r.Close()
	if _, ok := r.Client("c1"); !ok {
		t.Error("the reader does not see the writer's client")
	}
	if err := w.AddDeveloper(Developer{Email: "b@example.com", PasswordHash: "h", Created: t0}); err != nil {
		t.Errorf("the writer, beside a reader: %v", err)
	}
}
