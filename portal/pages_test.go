package portal

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/runtime/limit"
)

var update = flag.Bool("update", false, "rewrite the pages under testdata/pages")

// varying is what differs between two renderings of a page: the CSP
// nonce and the CSRF token.
var varying = regexp.MustCompile(`(nonce|value)="[A-Za-z0-9_-]{20,}"`)

// The golden layout holds these marks where a page has its title and
// its <main> element.
const (
	titleMark = "{{title}}"
	mainMark  = "{{main}}"
)

// pageMain is a page's <main> element; its <h1> is the page's title.
var pageMain = regexp.MustCompile(`(?s)<main>\n  <h1>([^<]*)</h1>.*</main>`)

// assemble is the page that layout (with its marks) and main make: main
// in place of mainMark, and the text of main's <h1> in place of titleMark.
func assemble(layout, main string) string {
	title := ""
	if m := pageMain.FindStringSubmatch(main); m != nil {
		title = m[1]
	}
	return strings.Replace(strings.Replace(layout, mainMark, main, 1), titleMark, title, 1)
}

// cut is the inverse of assemble: the page's layout with the marks and
// its <main> element. A page assemble would not give back is an error.
func cut(page string) (layout, main string, err error) {
	m := pageMain.FindStringSubmatchIndex(page)
	if m == nil {
		return "", "", errors.New("no <main> that starts with an <h1>")
	}
	main = page[m[0]:m[1]]
	head := strings.Replace(page[:m[0]], "<title>"+page[m[2]:m[3]]+" ·", "<title>"+titleMark+" ·", 1)
	layout = head + mainMark + page[m[1]:]
	if assemble(layout, main) != page {
		return "", "", errors.New("its <title> does not start with the text of its <h1>")
	}
	return layout, main, nil
}

// TestPagesGolden renders the pages a developer sees and compares every
// byte with testdata/pages: NAME.html holds a page's <main>, layout.html
// what every page has around it (-update rewrites them).
func TestPagesGolden(t *testing.T) {
	t.Parallel()
	mem := limit.NewMemory(limit.MemoryOptions{})
	e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Usage: mem})
	tb := withReference(e, ordersReference(""))
	dev := e.developer("a@example.com")
	c := e.create(dev, "Shop backend", "orders")
	p := tb.Policies["gold"]
	k := counterKey(tb, "orders", c.ClientID)
	for range 42 {
		mem.Take(context.Background(), limit.Request{RateKey: k, Rate: p.Rate, QuotaKey: k, Quota: p.Quota}, *e.now.Load())
	}
	pages := map[string]string{"catalogue": "/catalogue", "entry": "/catalogue/orders", "clients": "/clients",
		"client": "/clients/" + c.ClientID, "new": "/clients/new"}
	dir := filepath.Join("testdata", "pages")
	layoutFile := filepath.Join(dir, "layout.html")
	if *update {
		updatePages(t, e, dev, pages, dir, layoutFile)
		return
	}
	layout := string(testutil.ReadFile(t, layoutFile))
	for name, path := range pages {
		file := filepath.Join(dir, name+".html")
		if got := renderPage(e, dev, path); got != assemble(layout, string(testutil.ReadFile(t, file))) {
			t.Errorf("%s differs from %s in %s (run with -update and review the diff):\n%s", path, file, layoutFile, got)
		}
	}
}

// renderPage is the page at path as dev sees it, with what varies
// between renderings replaced.
func renderPage(e *env, dev *http.Client, path string) string {
	_, body, _ := e.page(dev, path)
	return strings.ReplaceAll(varying.ReplaceAllString(body, `$1="VARIES"`), e.idp.URL, "https://idp.example")
}

// updatePages rewrites the golden files: each page's <main>, and the
// layout, which every page must share.
func updatePages(t *testing.T, e *env, dev *http.Client, pages map[string]string, dir, layoutFile string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shared := ""
	for name, path := range pages {
		layout, main, err := cut(renderPage(e, dev, path))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if shared != "" && layout != shared {
			t.Fatalf("%s has another layout than the other pages:\n%s", path, layout)
		}
		shared = layout
		testutil.WriteFile(t, filepath.Join(dir, name+".html"), main, 0o644)
	}
	testutil.WriteFile(t, layoutFile, shared, 0o644)
}
