package store

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestMigrateV1(t *testing.T) {
	t.Parallel()
	path := statePath(t)
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
