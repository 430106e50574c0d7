package node

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestAdminToken: with gateway.admin_token, the admin listener, the
// portal's operator endpoints included, answers only requests that carry
// the token, but for the probes; a token that cannot be read, or is
// empty, stops start-up naming its reference.
func TestAdminToken(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	write := func(name, content string) {
		testutil.WriteFile(t, filepath.Join(dir, name), content, 0o600)
	}
	write("token.cue", testAdminTokenCUE)
	start := func() (*Node, error) {
		return Start(context.Background(), Options{ConfigDir: dir, StatePath: filepath.Join(dir, "state.json"), Logger: zerolog.Nop(),
			Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", PortalListen: "127.0.0.1:0"})
	}
	for _, content := range []string{"", " \n"} {
		if content != "" {
			write("admin.token", content)
		}
		if _, err := start(); err == nil || !strings.Contains(err.Error(), "gateway.admin_token: ") || !strings.Contains(err.Error(), "admin.token") {
			t.Fatalf("token file %q: start-up error %v, want one naming gateway.admin_token and its file", content, err)
		}
	}
	write("admin.token", testAdminToken+"\n")
	n, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() }) //nolint:errcheck
	admin := "http://" + n.AdminAddr()
	for _, tt := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/status", "", 401},
		{"GET", "/metrics", "Bearer nope", 401},
		{"GET", "/portal/developers", "", 401},
		{"DELETE", "/portal/developers/a@example.com", "", 401},
		{"GET", "/status", "Bearer " + testAdminToken, 200},
		{"GET", "/portal/developers", "Bearer " + testAdminToken, 200},
	} {
		req, err := http.NewRequest(tt.method, admin+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s with %q: %d, want %d", tt.method, tt.path, tt.auth, resp.StatusCode, tt.want)
		}
	}
	// /metrics holds the gateway's series and the portal's.
	_, metrics := testutil.Get(t, admin+"/metrics", testAdminToken)
	for _, series := range []string{"cuegate_table_generation ", `cuegate_portal_logins_total{result="ok"} `} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s:\n%s", series, metrics)
		}
	}

	// A token rewritten under the same reference is taken on reload: the
	// old one no longer works. One that cannot be read keeps the new one.
	const rotated = "r0tated-t0ken"
	write("admin.token", rotated+"\n")
	if err := n.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		token string
		want  int
	}{{testAdminToken, 401}, {rotated, 200}} {
		if code, _ := testutil.Get(t, admin+"/status", tt.token); code != tt.want {
			t.Errorf("after rotation, /status with %q: %d, want %d", tt.token, code, tt.want)
		}
	}
	write("admin.token", "")
	if err := n.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := testutil.Get(t, admin+"/status", rotated); code != 200 {
		t.Errorf("after an empty token file, /status with the token in force: %d, want 200", code)
	}
}

// testAdminToken is the admin token of the tests that set one, from the file
// admin.token of the configuration directory, as testAdminTokenCUE says.
const (
	testAdminToken    = "0p3rator-t0ken"
	testAdminTokenCUE = "package t\n\ngateway: admin_token: file: \"admin.token\"\n"
)

// TestAdminWithoutTokenRefusesBrowsersAndOtherHosts: an admin listener on
// loopback without admin_token answers its clients (Host 127.0.0.1), but
// not a browser page whose host name was rebound to 127.0.0.1, on any
// path but the probes.
func TestAdminWithoutTokenRefusesBrowsersAndOtherHosts(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	n, err := Start(context.Background(), Options{ConfigDir: dir, StatePath: filepath.Join(dir, "state.json"), Logger: zerolog.Nop(),
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", PortalListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() }) //nolint:errcheck
	for _, tt := range []struct {
		name, host string
		browser    bool
		want       int
	}{
		{"its clients", "", false, 200},
		{"a rebound name", "rebind.attacker.example:9090", false, 403},
		{"a rebound browser page", "rebind.attacker.example:9090", true, 403},
		{"a browser on the loopback address", "", true, 403},
	} {
		for _, path := range []string{"/portal/developers", "/table", "/status", "/metrics", "/healthz"} {
			req, err := http.NewRequest("GET", "http://"+n.AdminAddr()+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.browser {
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				req.Header.Set("Sec-Fetch-Mode", "cors")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := tt.want
			if path == "/healthz" {
				want = 200
			}
			if resp.StatusCode != want {
				t.Errorf("%s: %s answered %d, want %d", tt.name, path, resp.StatusCode, want)
			}
		}
	}
}
