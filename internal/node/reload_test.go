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

// TestServeReloadsAChangedOpenAPIDocument: an edit of an OpenAPI document
// the catalogue names reloads the table, as an edit of a .cue file does.
func TestServeReloadsAChangedOpenAPIDocument(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	doc := func(title string) string {
		return "openapi: 3.0.3\ninfo: {title: " + title + ", version: \"1\"}\npaths: {}\n"
	}
	writeFiles(t, dir, map[string]string{
		"catalogue.cue": "package t\n\npolicies: p: {name: \"P\", access: open: {}}\nportal: catalogue: open: {name: \"Open\", api: \"open\", policy: \"p\", openapi: \"docs/open.yaml\"}\n",
	})
	if err := os.Mkdir(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(dir, "docs"), map[string]string{"open.yaml": doc("Before")})
	n, err := Start(context.Background(), Options{ConfigDir: dir, Logger: zerolog.Nop(), Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown() //nolint:errcheck
	title := func() string { return n.Gateway().Current().Portal.Catalogue["open"].Reference.Title }
	if got := title(); got != "Before" {
		t.Fatalf("title %q", got)
	}
	writeFiles(t, filepath.Join(dir, "docs"), map[string]string{"open.yaml": doc("After")})
	testutil.Eventually(t, "the reload of the edited document", func() bool { return title() == "After" })
}
