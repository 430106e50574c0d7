package table

import (
	"slices"
	"testing"
)

// TestWatchedFiles: every file a table is compiled from or served with
// besides the .cue files, once, sorted; secrets from the environment and
// settings left out name none.
func TestWatchedFiles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		table Table
		want  []string
	}{
		{"none", Table{}, nil},
		{"all", Table{
			Gateway: Gateway{
				TLS:            &TLS{CertFile: "tls/cert.pem", KeyFile: "tls/key.pem"},
				PortalTLS:      &TLS{CertFile: "tls/cert.pem", KeyFile: "portal/key.pem"},
				UpstreamCAFile: "/etc/ssl/ca.pem",
				AdminToken:     &Secret{File: "admin.token"},
				Tracing:        &Tracing{Headers: map[string]Secret{"X-Key": {File: "otlp.key"}, "X-Env": {Env: "OTLP"}}},
			},
			APIs: map[string]*API{
				"a": {Upstream: Upstream{SecretHeaders: []SecretHeader{{Name: "X-Api-Key", Secret: &Secret{File: "a.key"}}}}},
				"b": {Upstream: Upstream{SecretHeaders: []SecretHeader{{Name: "X-Api-Key", Secret: &Secret{Env: "B_KEY"}}}}},
			},
			Portal: Portal{Catalogue: map[string]*CatalogueEntry{
				"a": {Reference: &Reference{File: "openapi/a.yaml"}},
				"b": {Reference: &Reference{File: "openapi/a.yaml"}},
				"c": {},
			}},
		}, []string{"/etc/ssl/ca.pem", "a.key", "admin.token", "openapi/a.yaml", "otlp.key", "portal/key.pem", "tls/cert.pem", "tls/key.pem"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.table.WatchedFiles(); !slices.Equal(got, tt.want) {
				t.Errorf("WatchedFiles() = %q, want %q", got, tt.want)
			}
		})
	}
}
