package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds headless-capable Chromium: $CUEGATE_CHROMIUM, then
// Debian's /usr/bin/chromium, then the PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CUEGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	need(t, "Chromium", "install Debian's chromium (`sudo apt-get install chromium`), set CUEGATE_CHROMIUM, or run `bash .ci/run`, which installs it")
	return ""
}

// browser is one headless Chromium with a fresh profile, and a directory
// collecting a screenshot of each step.
type browser struct {
	ctx   context.Context
	shots string
	n     atomic.Int32
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first action starts the browser; it must run without a timeout,
	// which would stop the browser with it. Steps have their own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{ctx: ctx}
}

// recordScreenshots makes shot save into $CUEGATE_E2E_SCREENSHOTS or a new
// temporary directory, which the test log names and nobody deletes.
func (b *browser) recordScreenshots(t *testing.T) {
	t.Helper()
	b.shots = os.Getenv("CUEGATE_E2E_SCREENSHOTS")
	if b.shots == "" {
		var err error
		if b.shots, err = os.MkdirTemp("", "cuegate-e2e-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", b.shots)
}

// run runs actions with a per-step timeout and fails the test on error,
// saving a screenshot of the page as it was.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(t, what, err)
	}
}

// value runs one action that returns a value, as run does.
func value[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(t, what, err)
	}
	return v
}

func (b *browser) fail(t *testing.T, what string, err error) {
	t.Helper()
	b.shot(t, "failed-"+what)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	t.Fatalf("%s (at %s): %v", what, url, err)
}

// shot saves a full-page screenshot named after the step, when recording.
func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	if b.shots == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n.Add(1), strings.ReplaceAll(name, " ", "-")))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// TestBrowserStarts checks that Chromium runs headless here with the
// flags the portal test uses.
func TestBrowserStarts(t *testing.T) {
	b := newBrowser(t)
	b.run(t, "load a page", chromedp.Navigate("data:text/html,<title>ok</title><h1>cuegate</h1>"))
	title := value(t, b, "read the title", chromedp.Title())
	if title != "ok" {
		t.Fatalf("title %q", title)
	}
}
