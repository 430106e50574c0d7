package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
)

// dcrPortalConfig has a catalogue entry whose initial access token is in
// $CUEGATE_TEST_IAT.
const dcrPortalConfig = `package t

apis: open: {
	name:        "Open"
	listen_path: "/open"
	upstream: targets: ["http://127.0.0.1:1"]
	auth: keyless: true
}
policies: basic: {name: "Basic", access: open: {}}
portal: catalogue: open: {
	name:   "Open"
	api:    "open"
	policy: "basic"
	dcr: {
		provider: "other"
		grant_types: ["client_credentials"]
		registration_endpoint: "http://127.0.0.1:1/register"
		token_endpoint:        "http://127.0.0.1:1/token"
		initial_access_token: env: "CUEGATE_TEST_IAT"
	}
}
`

// TestUnreadableSecretIsWarnedAtStartAndReload: a node whose catalogue
// cannot register clients says so at start and after each reload, naming
// the variable.
func TestUnreadableSecretIsWarnedAtStartAndReload(t *testing.T) {
	t.Setenv("CUEGATE_TEST_IAT", "")
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "c.cue"), dcrPortalConfig, 0o644)
	var logs testutil.SyncBuffer
	n, err := Start(context.Background(), Options{ConfigDir: dir, StatePath: filepath.Join(t.TempDir(), "state.json"),
		Logger: zerolog.New(&logs), Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", PortalListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	const warning = `"level":"warn","error":"portal: catalogue entry \"open\" cannot register clients: ` +
		`dcr: the registration settings are not usable: initial_access_token: secret: environment variable CUEGATE_TEST_IAT is not set"`
	if got := strings.Count(logs.String(), warning); got != 1 {
		t.Fatalf("%d warnings at start, want 1:\n%s", got, logs.String())
	}
	n.Reload()
	if got := strings.Count(logs.String(), warning); got != 2 {
		t.Fatalf("%d warnings after a reload, want 2:\n%s", got, logs.String())
	}
	t.Setenv("CUEGATE_TEST_IAT", "iat")
	n.Reload()
	if got := strings.Count(logs.String(), warning); got != 2 {
		t.Errorf("%d warnings after the variable was set, want still 2:\n%s", got, logs.String())
	}
}
