package portal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cuegate/cuegate/compiler"
)

// TestDefaultsAsTheSchemaSays: what the portal falls back to for a
// setting left zero (a table built by hand) is the schema's default.
func TestDefaultsAsTheSchemaSays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := "package cfg\n\napis: a: {name: \"A\", listen_path: \"/a\", upstream: targets: [\"http://127.0.0.1:9000\"], auth: keyless: true}\n"
	if err := os.WriteFile(filepath.Join(dir, "cfg.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tab, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := tab.Portal
	for _, tt := range []struct {
		setting          string
		schema, fallback any
	}{
		{"portal.session_ttl", p.SessionTTL.D(), defaultSessionTTL},
		{"portal.tombstone_retention", p.TombstoneRetention.D(), defaultTombstoneRetention},
		{"portal.registrations_per_hour", p.RegistrationsPerHour, registrationsPerHour},
		{"portal.signups_per_hour", p.SignupsPerHour, signupsPerHour},
	} {
		if tt.schema != tt.fallback {
			t.Errorf("%s: the schema's default is %v, the fallback %v", tt.setting, tt.schema, tt.fallback)
		}
	}
}
