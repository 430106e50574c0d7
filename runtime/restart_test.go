package runtime

import (
	"slices"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestReloadReportsRestartNeeded: a reload that changes a setting read only
// at start-up says so, and which.
func TestReloadReportsRestartNeeded(t *testing.T) {
	t.Parallel()
	tlsFiles := func(e *env) string {
		testutil.WriteCert(t, e.dir)
		return `{cert_file: "tls/cert.pem", key_file: "tls/key.pem"}`
	}
	tests := []struct {
		name string
		edit func(e *env)
		want []string
	}{
		{"listen", func(e *env) { e.editConfig(`listen:       "127.0.0.1:0"`, `listen:       "127.0.0.1:1"`) }, []string{"listen"}},
		{"admin_listen", func(e *env) { e.editConfig(`admin_listen: "127.0.0.1:0"`, `admin_listen: "127.0.0.1:1"`) }, []string{"admin_listen"}},
		{"portal_listen", func(e *env) { e.writeConfig(`gateway: portal_listen: "127.0.0.1:1"`) }, []string{"portal_listen"}},
		{"tls", func(e *env) { e.writeConfig("gateway: tls: " + tlsFiles(e)) }, []string{"tls"}},
		{"portal_tls", func(e *env) { e.writeConfig("gateway: portal_tls: " + tlsFiles(e)) }, []string{"portal_tls"}},
		{"read_timeout", func(e *env) { e.writeConfig(`gateway: read_timeout: "7s"`) }, []string{"read_timeout"}},
		{"write_timeout", func(e *env) { e.writeConfig(`gateway: write_timeout: "7s"`) }, []string{"write_timeout"}},
		{"idle_timeout", func(e *env) { e.writeConfig(`gateway: idle_timeout: "7s"`) }, []string{"idle_timeout"}},
		{"max_header_bytes", func(e *env) { e.writeConfig(`gateway: max_header_bytes: 4096`) }, []string{"max_header_bytes"}},
		{"shutdown_grace", func(e *env) { e.writeConfig(`gateway: shutdown_grace: "7s"`) }, []string{"shutdown_grace"}},
		{"max_conns_per_client", func(e *env) { e.writeConfig(`gateway: max_conns_per_client: 7`) }, []string{"max_conns_per_client"}},
		{"conns_exempt", func(e *env) { e.writeConfig(`gateway: conns_exempt: ["10.0.0.0/8"]`) }, []string{"conns_exempt"}},
		{"two at once", func(e *env) { e.writeConfig("gateway: {idle_timeout: \"7s\", max_header_bytes: 4096}") }, []string{"idle_timeout", "max_header_bytes"}},
		{"max_body_bytes follows reloads", func(e *env) { e.writeConfig(`gateway: max_body_bytes: 4096`) }, nil},
		{"an API", func(e *env) { e.editConfig(`listen_path: "/public"`, `listen_path: "/open"`) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var line struct {
				Message          string
				RestartNeeded    bool     `json:"restart_needed"`
				RestartNeededFor []string `json:"restart_needed_for"`
			}
			reloadLogged(t, tt.edit, &line)
			if line.RestartNeeded != (tt.want != nil) || !slices.Equal(line.RestartNeededFor, tt.want) {
				t.Errorf("restart_needed %v for %v, want for %v", line.RestartNeeded, line.RestartNeededFor, tt.want)
			}
		})
	}
}
