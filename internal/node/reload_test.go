package node

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestServeEditDuringStartup: an edit made after the first compile, while
// the node is still starting (a ConfigMap update racing the pod's start),
// is reloaded without waiting for another edit.
func TestServeEditDuringStartup(t *testing.T) {
	t.Parallel()
	dir, upURL := nodetest.Dir(t, nil)
	late := "package t\n\napis: late: {name: \"Late\", listen_path: \"/late\", upstream: targets: [\"" + upURL + "\"], auth: keyless: true}\n"
	n, err := Start(context.Background(), Options{ConfigDir: dir, Logger: zerolog.Nop(), Watch: true,
		compiled: func() {
			if err := os.WriteFile(filepath.Join(dir, "late.cue"), []byte(late), 0o644); err != nil {
				t.Error(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown() //nolint:errcheck
	if n.Gateway().Current().APIs["late"] != nil {
		t.Fatal("the first compile read the edit: it was not made during start-up")
	}
	testutil.Eventually(t, "the reload of the edit made during start-up", func() bool { return n.Gateway().Current().APIs["late"] != nil })
	resp, err := http.Get("http://" + n.GatewayAddr() + "/late/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /late/x after the reload: %d", resp.StatusCode)
	}
}
