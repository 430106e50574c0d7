package table

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestUnavailableEntries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "empty"), "", 0o600)
	testutil.WriteFile(t, filepath.Join(dir, "tok"), "s3cret\n", 0o600)
	entry := func(sec *Secret) *CatalogueEntry { return &CatalogueEntry{DCR: &DCR{InitialAccessToken: sec}} }
	p := Portal{Catalogue: map[string]*CatalogueEntry{
		"open":    entry(nil),
		"file":    entry(&Secret{File: "tok"}),
		"empty":   entry(&Secret{File: "empty"}),
		"missing": entry(&Secret{File: "missing"}),
		"unset":   entry(&Secret{Env: "CUEGATE_TEST_NEVER_SET"}),
		"nodcr":   {},
	}}
	got := p.UnavailableEntries(dir)
	want := map[string]string{
		"empty":   "initial_access_token file:empty is empty",
		"missing": "initial_access_token: secret: open " + filepath.Join(dir, "missing") + ": no such file or directory",
		"unset":   "initial_access_token: secret: environment variable CUEGATE_TEST_NEVER_SET is not set",
	}
	if !maps.Equal(got, want) {
		t.Errorf("UnavailableEntries = %q, want %q", got, want)
	}
	for _, reason := range got {
		if strings.Contains(reason, "s3cret") {
			t.Error("a reason holds a secret")
		}
	}
	if got := (&Portal{}).UnavailableEntries(dir); got != nil {
		t.Errorf("empty catalogue: %v", got)
	}
}
