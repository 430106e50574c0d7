// Package nodetest holds what the tests of the node and of the commands
// that run one share: a configuration directory to serve.
package nodetest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// config is a configuration with one keyless API, /open, proxied to the
// upstream %q, a portal, and the gateway and admin listeners on ports the
// system picks.
const config = `package t

gateway: {
	listen:         "127.0.0.1:0"
	admin_listen:   "127.0.0.1:0"
	shutdown_grace: "20s"
}
apis: open: {
	name:        "Open"
	listen_path: "/open"
	upstream: targets: [%q]
	auth: keyless: true
}
portal: {}
`

// Dir writes a configuration of one keyless API, /open, proxied to an
// upstream running handler (nil: answering "ok"), with a portal and the
// gateway and admin listeners on ports the system picks, into c.cue of a
// new directory (package t), and returns the directory and the upstream's
// URL. The upstream is closed when the test ends.
func Dir(t testing.TB, handler http.HandlerFunc) (dir, upstream string) {
	t.Helper()
	if handler == nil {
		handler = func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") } //nolint:errcheck
	}
	up := httptest.NewServer(handler)
	t.Cleanup(up.Close)
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.cue"), fmt.Appendf(nil, config, up.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, up.URL
}
