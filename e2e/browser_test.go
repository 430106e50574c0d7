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
	names := []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	if p := os.Getenv("CUEGATE_CHROMIUM"); p != "" {
		names = []string{p}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	need(t, "Chromium", "install Debian's chromium (`sudo apt-get install chromium`) or set CUEGATE_CHROMIUM to a Chromium binary, then run `just e2e`; `bash .ci/run` installs it")
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

// shotWidths are the viewport widths of each screenshot: a desktop and
// a phone.
var shotWidths = []int64{1280, 390}

// shot saves a full-page screenshot named after the step at each of
// shotWidths, when recording, and leaves the page at the first.
func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	if b.shots == "" {
		return
	}
	n := b.n.Add(1)
	for i := len(shotWidths) - 1; i >= 0; i-- {
		w := shotWidths[i]
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 900))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 gives PNG, less JPEG
		}
		cancel()
		if err != nil {
			t.Logf("screenshot %s at %d px: %v", name, w, err)
			continue
		}
		file := filepath.Join(b.shots, fmt.Sprintf("%02d-%s-%d.png", n, strings.ReplaceAll(name, " ", "-"), w))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Logf("screenshot %s: %v", name, err)
		}
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

// credentialsJS reads the credentials list of the created-client page as
// {"Client ID": "...", "Client secret": "...", ...}.
const credentialsJS = `(() => {
	const m = {};
	document.querySelectorAll('dl.credentials dt').forEach(dt => {
		const dd = dt.nextElementSibling;
		const code = dd && dd.querySelector('code'); // not the copy button
		m[dt.textContent.trim()] = (code || dd || {textContent: ''}).textContent.trim();
	});
	return m;
})()`

// TestPortalInBrowser drives the portal's pages in headless Chromium: sign
// up, log out and in, the catalogue, the OAuth client wizard, the
// credentials read from the page, a token from Hydra, a call through the
// gateway, and deletion. Every step leaves a screenshot.
func TestPortalInBrowser(t *testing.T) {
	chromiumPath(t) // skip or fail before starting Hydra
	j := startJourney(t)
	b := newBrowser(t)
	b.recordScreenshots(t)
	p := j.gw.PortalURL
	const email, password = "browser@example.com", "a long enough password"
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// fill opens the form posting to path from the header's link and types
	// the credentials into it.
	fill := func(path, email, password string) []chromedp.Action[chromedp.Void] {
		form := `form[action="` + path + `"]`
		return []chromedp.Action[chromedp.Void]{
			chromedp.Click(css(`header a[href="` + path + `"]`)),
			chromedp.WaitVisible(css(form)),
			chromedp.SendKeys(css(form+` input[name=email]`), email),
			chromedp.SendKeys(css(form+` input[name=password]`), password),
		}
	}

	b.run(t, "open the portal", chromedp.Navigate(p+"/"), chromedp.WaitVisible(css(`a[href="/signup"]`)))
	b.shot(t, "portal home")

	b.run(t, "sign up", fill("/signup", email, password)...)
	b.shot(t, "sign up form")
	b.run(t, "submit sign up", chromedp.Click(css(`form[action="/signup"] button[type=submit]`)), chromedp.WaitNotPresent(css(`form[action="/signup"]`)), chromedp.WaitVisible(css(`main h1`)))
	b.shot(t, "signed up")

	// Log out when sign-up logged us in, then log in.
	if n := value(t, b, "look for log out", chromedp.Evaluate[int](`document.querySelectorAll('form[action="/logout"]').length`)); n > 0 {
		b.run(t, "log out", chromedp.Click(css(`form[action="/logout"] button`)), chromedp.WaitVisible(css(`header a[href="/login"]`)))
		b.shot(t, "logged out")
	}
	b.run(t, "wrong password", append(fill("/login", email, "not the password"),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`main .error`)),
	)...)
	b.shot(t, "wrong password")
	b.run(t, "log in", fill("/login", email, password)...)
	b.shot(t, "log in form")
	b.run(t, "submit log in", chromedp.Click(css(`form[action="/login"] button[type=submit]`)), chromedp.WaitVisible(css(`form[action="/logout"]`)))
	b.shot(t, "logged in")

	b.run(t, "catalogue", chromedp.Click(css(`header nav a[href="/catalogue"]`)), chromedp.WaitVisible(css(`.card h2`)))
	if text := value(t, b, "read the catalogue", chromedp.Text(css(`main`))); !strings.Contains(text, "Echo API") || !strings.Contains(text, "5 requests") {
		t.Errorf("the catalogue page does not show the Echo API and its limits:\n%s", text)
	}
	b.shot(t, "catalogue")
	b.run(t, "API reference", chromedp.Click(css(`.card a[href="/catalogue/echo"]`)), chromedp.WaitVisible(css(`article.operation`)))
	if text := value(t, b, "read the reference", chromedp.Text(css(`main`))); !strings.Contains(text, "Echo a GET") || !strings.Contains(text, j.gw.URL+"/echo/{path}") {
		t.Errorf("the API reference does not show the operations at the gateway:\n%s", text)
	}
	if n := value(t, b, "count copy buttons", chromedp.Evaluate[int](`document.querySelectorAll('pre.copy + button.copy-button').length`)); n < 2 {
		t.Errorf("%d copy buttons under the curl lines, want one each", n)
	}
	b.shot(t, "API reference")

	b.run(t, "OAuth clients", chromedp.Click(css(`header nav a[href="/clients"]`)), chromedp.WaitVisible(css(`a[href="/clients/new"]`)))
	b.shot(t, "no clients yet")
	b.run(t, "wizard step 1", chromedp.Click(css(`a[href="/clients/new"]`)), chromedp.WaitVisible(css(`input[name=catalogue][value=echo]`)))
	b.run(t, "choose the Echo API", chromedp.Click(css(`input[name=catalogue][value=echo]`)))
	b.shot(t, "wizard choose API")
	b.run(t, "wizard step 2", chromedp.Click(css(`form[action="/clients/new"] button[type=submit]`)), chromedp.WaitVisible(css(`input[name=client_name]`)),
		chromedp.SendKeys(css(`input[name=client_name]`), "browser app"))
	b.shot(t, "wizard name the client")
	b.run(t, "create", chromedp.Click(css(`form[action="/clients"] button[type=submit]`)), chromedp.WaitVisible(css(`dl.credentials`)))
	b.shot(t, "wizard credentials")

	// The copy script runs under the page's CSP nonce.
	// The button's label goes back to "Copy" after 2 s; data-copied stays.
	b.run(t, "copy the client ID", chromedp.Click(css(`dl.credentials .copy-button`)),
		chromedp.WaitReady(css(`dl.credentials .copy-button[data-copied]`)))
	creds := value(t, b, "read the credentials", chromedp.Evaluate[map[string]string](credentialsJS))
	id, secret, tokenURL := creds["Client ID"], creds["Client secret"], creds["Token endpoint"]
	if id == "" || secret == "" || tokenURL != j.hydra.PublicURL+"/oauth2/token" {
		t.Fatalf("credentials on the page: %v", creds)
	}
	tok := clientCredentials(t, tokenURL, id, secret)
	if r := call(t, "GET", j.gw.URL+"/echo/from-browser", tok); r.Status != 200 {
		t.Fatalf("gateway call with the browser-made client: %d %s", r.Status, r.Body)
	}

	for range 2 { // two more calls: three in all
		call(t, "GET", j.gw.URL+"/echo/from-browser", tok)
	}

	b.run(t, "client list", chromedp.Click(css(`a[href="/clients"]`)), chromedp.WaitVisible(css(`a[href="/clients/`+id+`"]`)))
	b.shot(t, "client list")
	b.run(t, "client page", chromedp.Click(css(`a[href="/clients/`+id+`"]`)), chromedp.WaitVisible(css(`a[href="/clients/`+id+`/delete"]`)))
	if text := value(t, b, "read the usage", chromedp.Text(css(`.usage`))); !strings.Contains(text, "Rate limit: 3 of 5 requests") || !strings.Contains(text, "Quota: 3 of 1,000 requests") {
		t.Errorf("the client's usage after three calls reads:\n%s", text)
	}
	b.shot(t, "client page with usage")
	b.run(t, "rename", chromedp.Clear(css(`form[action="/clients/`+id+`/edit"] input[name=client_name]`)),
		chromedp.SendKeys(css(`form[action="/clients/`+id+`/edit"] input[name=client_name]`), "renamed browser app"),
		chromedp.Click(css(`form[action="/clients/`+id+`/edit"] button[type=submit]`)), chromedp.WaitVisible(css(`main .flash`)))
	b.shot(t, "client renamed")
	if h1 := value(t, b, "read the title", chromedp.Text(css(`main h1`))); h1 != "renamed browser app" {
		t.Errorf("after the rename the page is titled %q", h1)
	}
	b.run(t, "rotate the secret", chromedp.Click(css(`form[action="/clients/`+id+`/rotate"] button[type=submit]`)), chromedp.WaitVisible(css(`main .error`)))
	b.shot(t, "secret rotation not supported")
	if msg := value(t, b, "read the rotation error", chromedp.Text(css(`main .error`))); !strings.Contains(msg, "not supported") {
		t.Errorf("rotation at Hydra says %q", msg)
	}
	b.run(t, "delete", chromedp.Click(css(`a[href="/clients/`+id+`/delete"]`)), chromedp.WaitVisible(css(`form[action="/clients/`+id+`/delete"] button`)))
	b.shot(t, "delete confirmation")
	b.run(t, "confirm delete", chromedp.Click(css(`form[action="/clients/`+id+`/delete"] button`)), chromedp.WaitNotPresent(css(`form[action="/clients/`+id+`/delete"]`)), chromedp.WaitVisible(css(`main h1`)))
	b.shot(t, "deleted")
	if n := value(t, b, "look for the deleted client", chromedp.Evaluate[int](`document.querySelectorAll('a[href="/clients/`+id+`"]').length`)); n != 0 {
		t.Errorf("the deleted client is still linked on the page")
	}
	if r := call(t, "GET", j.gw.URL+"/echo/from-browser", tok); r.Status != 403 {
		t.Errorf("after deletion in the browser the token gets %d %s, want 403", r.Status, r.Body)
	}

	// A registration Hydra refuses: the wizard shows Hydra's own words.
	b.run(t, "wizard for a refused entry", chromedp.Click(css(`a[href="/clients/new"]`)), chromedp.WaitVisible(css(`input[name=catalogue][value=echo_pkjwt]`)),
		chromedp.Click(css(`input[name=catalogue][value=echo_pkjwt]`)),
		chromedp.Click(css(`form[action="/clients/new"] button[type=submit]`)), chromedp.WaitVisible(css(`input[name=client_name]`)),
		chromedp.SendKeys(css(`input[name=client_name]`), "refused app"),
		chromedp.Click(css(`form[action="/clients"] button[type=submit]`)), chromedp.WaitVisible(css(`main .error`)))
	b.shot(t, "provider refusal")
	if msg := value(t, b, "read the error", chromedp.Text(css(`main .error`))); !strings.Contains(msg, "jwks") {
		t.Errorf("the refusal shown is %q; want Hydra's error_description", msg)
	}
}
