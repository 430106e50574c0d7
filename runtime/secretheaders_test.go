package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestSecretHeaders: a secret header reaches the upstream with the value
// of its reference, replacing the client's own; the table holds the
// reference, never the value; a reload reads the value again, also when
// the table is unchanged (and reports it unchanged); and one that cannot be read fails the reload,
// naming the header and the reference, and keeps the value in force.
func TestSecretHeaders(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "upstream.key")
	writeKey := func(v string) { testutil.WriteFile(t, keyFile, v+"\n", 0o600) }
	writeKey("sk_live_1")
	e := newEnv(t, envOptions{extra: `
apis: keyed: {name: "Keyed", listen_path: "/keyed", upstream: {targets: apis.public.upstream.targets, secret_headers: "X-Api-Key": file: "` + keyFile + `"}, auth: keyless: true}
`})
	sent := func(want string) {
		t.Helper()
		if r := e.do("GET", "/keyed/x", "", map[string]string{"X-Api-Key": "forged"}); r.status != 200 {
			t.Fatalf("GET /keyed/x: %d %s", r.status, r.body)
		}
		if got := e.lastHit().Header.Values("X-Api-Key"); len(got) != 1 || got[0] != want {
			t.Errorf("the upstream got X-Api-Key %q, want %q", got, want)
		}
	}
	sent("sk_live_1")
	if js := string(e.gw.Current().JSON()); strings.Contains(js, "sk_live") || !strings.Contains(js, keyFile) {
		t.Errorf("the table holds the value, or not its reference:\n%s", js)
	}

	writeKey("sk_live_2") // rotated; the configuration unchanged
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	sent("sk_live_2")
	if st := e.gw.Status(); st.LastReload == nil || st.LastReload.Outcome != "unchanged" {
		t.Errorf("a reload that read the secret again: %+v, want the outcome unchanged", st.LastReload)
	}

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	err := reload(e.gw)
	if err == nil || !strings.Contains(err.Error(), "secret_headers.X-Api-Key") || !strings.Contains(err.Error(), keyFile) || strings.Contains(err.Error(), "sk_live") {
		t.Errorf("reload without the key file: %v, want an error naming the header and the file", err)
	}
	sent("sk_live_2")
}
