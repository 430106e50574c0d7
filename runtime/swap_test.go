package runtime

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestSwapKeepsCountersAndInflight: a request in flight finishes on the
// generation it started with although its API is gone from the new one,
// and rate-limit counters survive the swap.
func TestSwapKeepsCountersAndInflight(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	lim := e.token("swap", map[string]any{"pol": "limited"})
	if r := e.do("GET", "/users/x", lim, nil); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}

	done := make(chan response, 1)
	go func() { done <- e.do("GET", "/half/block", "", nil) }()
	testutil.Eventually(t, "the slow request in flight", func() bool { return e.gw.cur.Load().apis[e.gw.Current().APIs["half"]].pool.Inflight() == 1 })
	oldGen := e.gw.Generation()
	oldPool := e.gw.cur.Load().apis[e.gw.Current().APIs["half"]].pool

	// Remove "half", add "extra".
	e.editConfig("\thalf: {", "\textra: {", `listen_path: "/half"`, `listen_path: "/extra"`)
	if err := reload(e.gw); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if e.gw.Generation() != oldGen+1 {
		t.Fatalf("generation %d, want %d", e.gw.Generation(), oldGen+1)
	}
	if r := e.do("GET", "/half/x", "", nil); r.status != 404 {
		t.Fatalf("removed API answers %d", r.status)
	}
	if r := e.do("GET", "/extra/x", "", nil); r.status != 200 {
		t.Fatalf("added API answers %d", r.status)
	}
	// The pool of the unchanged upstream (public, private) is reused; the
	// removed one is closed but still finishes its request.
	close(e.release)
	if r := <-done; r.status != 200 || r.body != "ok /block" {
		t.Fatalf("in-flight request: %d %q", r.status, r.body)
	}
	if n := oldPool.Inflight(); n != 0 {
		t.Fatalf("old pool still has %d in flight", n)
	}

	if r := e.do("GET", "/users/x", lim, nil); r.status != 200 {
		t.Fatalf("second: %d", r.status)
	}
	if r := e.do("GET", "/users/x", lim, nil); r.status != 429 {
		t.Fatalf("third request after the swap: %d, want 429 (counter reset by the swap?)", r.status)
	}
}

func TestSwapReusesPools(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	before := e.gw.cur.Load()
	pub := before.apis[before.table.APIs["public"]].pool
	e.writeConfig(`policies: basic: rate: {requests: 5, per: "1s"}` + "\n")
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	after := e.gw.cur.Load()
	if after.apis[after.table.APIs["public"]].pool != pub {
		t.Fatal("the pool of an unchanged upstream was not reused")
	}
	if after.apis[after.table.APIs["private"]].pool != pub {
		t.Fatal("two APIs with the same upstream do not share a pool")
	}
}

// TestFailedSwapChangesNothing: a table one of whose upstreams cannot be
// served is refused whole: the table served stays, and no API of the
// refused table shows series on /metrics.
func TestFailedSwapChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := httptest.NewServer(e.gw.AdminHandler())
	defer admin.Close()
	before := e.gw.cur.Load()
	refused := *before.table
	refused.APIs = maps.Clone(refused.APIs)
	good := *refused.APIs["public"]
	good.ID, good.ListenPath = "aaa_new", "/aaa"
	bad := good
	bad.ID, bad.ListenPath = "zzz_bad", "/zzz"
	bad.Upstream.Targets = []string{"ftp://127.0.0.1:21"}
	refused.APIs["aaa_new"], refused.APIs["zzz_bad"] = &good, &bad
	if err := e.gw.swap(&refused); err == nil {
		t.Fatal("swap of a table with an ftp upstream succeeded")
	}
	if e.gw.cur.Load() != before {
		t.Error("a failed swap changed the generation served")
	}
	if body := scrape(t, admin.URL); strings.Contains(body, `api="aaa_new"`) {
		t.Errorf("/metrics has series of an API of the refused table:\n%s", body)
	}
}

// TestReloadBrokenEdit: a broken file keeps the last good table serving,
// /status shows the error with file and line, the next good edit recovers.
func TestReloadBrokenEdit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := httptest.NewServer(e.gw.AdminHandler())
	defer admin.Close()
	failed := e.gw.series.reloads(reloadFailed).Get()
	hash := e.gw.Current().Hash

	broken := filepath.Join(e.dir, "broken.cue")
	testutil.WriteFile(t, broken, "package test\n\napis: public: listen_path: 42\n", 0o644)
	if err := reload(e.gw); err == nil {
		t.Fatal("a broken configuration reloaded")
	}
	if e.gw.Current().Hash != hash {
		t.Fatal("the table changed after a failed reload")
	}
	if r := e.do("GET", "/public/x", "", nil); r.status != 200 {
		t.Fatalf("serving after a broken edit: %d", r.status)
	}
	var st Status
	getJSON(t, admin.URL+"/status", &st)
	if st.LastError == nil || len(st.LastError.Diagnostics) == 0 {
		t.Fatalf("status has no last error: %+v", st)
	}
	d := st.LastError.Diagnostics[0]
	if !strings.HasSuffix(d.File, "broken.cue") || d.Line != 3 {
		t.Fatalf("diagnostic position %s:%d", d.File, d.Line)
	}
	if st.Generation != 1 || st.TableHash != hash || st.LastReload.Outcome != "error" {
		t.Fatalf("status %+v", st)
	}
	if got := e.gw.series.reloads(reloadFailed).Get(); got != failed+1 {
		t.Fatalf("failed reloads counted %d, want %d", got, failed+1)
	}

	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	e.editConfig(`listen_path: "/public"`, `listen_path: "/open"`)
	if err := reload(e.gw); err != nil {
		t.Fatalf("fixed reload: %v", err)
	}
	if r := e.do("GET", "/open/x", "", nil); r.status != 200 {
		t.Fatalf("after the fix: %d", r.status)
	}
	st = Status{}
	getJSON(t, admin.URL+"/status", &st)
	if st.LastError != nil || st.Generation != 2 || st.LastReload.Outcome != "ok" {
		t.Fatalf("status after the fix: %+v", st)
	}
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := httptest.NewServer(e.gw.AdminHandler())
	defer admin.Close()
	e.do("GET", "/public/x", "", nil)
	e.do("GET", "/down/x", "", nil)
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/metrics": `cuegate_requests_total{api="public",status="200"}`,
		"/status":  `"table_hash"`,
		"/table":   string(e.gw.Current().JSON()),
	} {
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want %q in:\n%.2000s", path, resp.StatusCode, want, b)
		}
	}
	resp, _ := http.Get(admin.URL + "/metrics")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{
		`cuegate_upstream_errors_total{api="down",kind="unavailable"}`,
		`cuegate_request_duration_seconds_bucket{api="public"`,
	} {
		if !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	var st Status
	getJSON(t, admin.URL+"/status", &st)
	if ks, ok := st.IdPs["dev"]; !ok || !ks.Fetched || len(ks.KeyIDs) == 0 {
		t.Errorf("IdP key status %+v", st.IdPs)
	}
	if st.Portal.Unavailable == nil {
		t.Error(`status has no portal section ("unavailable": {})`)
	}
	if st.ConfigDir != e.dir || st.APIs != 9 || !st.Ready {
		t.Errorf("status %+v", st)
	}
}

// editConfig replaces old with new strings in config.cue, pairwise.
func (e *env) editConfig(oldnew ...string) {
	e.t.Helper()
	path := filepath.Join(e.dir, "config.cue")
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	s := strings.NewReplacer(oldnew...).Replace(string(b))
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestReloadRetiresMetricsOfRemovedAPIs: a reload that removes an API or
// changes its ID takes that ID's series off /metrics, also when a request
// on it finishes after the swap, and the APIs that stay keep counting
// from where they were.
func TestReloadRetiresMetricsOfRemovedAPIs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{extra: `apis: gone: {name: "Gone", listen_path: "/gone", upstream: targets: ["http://127.0.0.1:9"], auth: keyless: true}` + "\n"})
	admin := httptest.NewServer(e.gw.AdminHandler())
	defer admin.Close()
	const public = `cuegate_requests_total{api="public",status="200"}`
	e.do("GET", "/public/x", "", nil)
	e.do("GET", "/gone/x", "", nil)
	if body := scrape(t, admin.URL); !strings.Contains(body, `{api="gone"`) {
		t.Fatalf("/metrics has no series of gone before the reload:\n%s", body)
	}
	// A request on "half" is in flight across the swap; its status is the
	// first "half" sees, so it makes a series after the swap.
	done := make(chan response, 1)
	go func() { done <- e.do("GET", "/half/block", "", nil) }()
	testutil.Eventually(t, "the slow request in flight", func() bool { return e.gw.cur.Load().apis[e.gw.Current().APIs["half"]].pool.Inflight() == 1 })
	before := metricValue(t, scrape(t, admin.URL), public)

	e.writeConfig("")                              // removes gone
	e.editConfig("\thalf: {", "\thalf_renamed: {") // changes half's ID
	if err := reload(e.gw); err != nil {
		t.Fatalf("reload: %v", err)
	}
	close(e.release)
	if r := <-done; r.status != 200 {
		t.Fatalf("in-flight request: %d", r.status)
	}
	if r := e.do("GET", "/half/x", "", nil); r.status != 200 {
		t.Fatalf("renamed API answers %d", r.status)
	}

	body := scrape(t, admin.URL)
	for _, tt := range []struct {
		series string
		want   bool
	}{
		{`{api="gone"`, false},
		{`{api="half"`, false},
		{`cuegate_requests_total{api="half_renamed",status="200"}`, true},
		{`cuegate_request_duration_seconds_bucket{api="half_renamed"`, true},
		{public, true},
	} {
		if strings.Contains(body, tt.series) != tt.want {
			t.Errorf("/metrics has %s: %v, want %v", tt.series, !tt.want, tt.want)
		}
	}
	if got := metricValue(t, body, public); got != before {
		t.Errorf("%s = %v after the reload, want %v", public, got, before)
	}
	e.do("GET", "/public/x", "", nil)
	if got := metricValue(t, scrape(t, admin.URL), public); got != before+1 {
		t.Errorf("%s = %v after one more request, want %v", public, got, before+1)
	}
}

// scrape returns the admin server's /metrics.
func scrape(t *testing.T, adminURL string) string {
	t.Helper()
	_, metrics := testutil.Get(t, adminURL+"/metrics", "")
	return metrics
}

// metricValue returns the value of series in a /metrics body.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s:\n%s", series, body)
	return 0
}
