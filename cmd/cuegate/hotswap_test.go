package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/runtime"
)

// The hot-swap tests run a `cuegate serve` node in process (startServe:
// gateway, admin endpoints, config watcher feeding Gateway.Reload) against a configuration directory they edit the ways people
// and tools do, while clients call through the gateway.

// hotConfig is the state of the configuration the tests write.
type hotConfig struct {
	issuer, jwks string
	upstreams    [2]string // "A" and "B" echo servers
	dyn          []int     // dynamic APIs present: /dyn<N>
	switchTo     int       // which upstream the "switch" API proxies to
	tierRate     int       // requests per hour of policy "tier"
	stable       int       // keyless APIs /s0.. present in every version
}

// files renders the configuration: one file per concern, so that edits
// touch one file.
func (c *hotConfig) files() map[string]string {
	f := map[string]string{}
	f["main.cue"] = fmt.Sprintf(`package hot

gateway: {
	listen:       "127.0.0.1:0"
	admin_listen: "127.0.0.1:0"
	// the counters are read from X-RateLimit-* on answers that pass
	rate_limit_headers: true
}
idps: dev: {
	issuer:   %q
	jwks_uri: %q
}
portal: {}
`, c.issuer, c.jwks)
	var b strings.Builder
	b.WriteString("package hot\n\napis: {\n")
	for i := range c.stable {
		fmt.Fprintf(&b, "\ts%d: {name: \"S%d\", listen_path: \"/s%d\", upstream: targets: [%q], auth: keyless: true}\n", i, i, i, c.upstreams[0])
	}
	fmt.Fprintf(&b, "\tcounted: {name: \"Counted\", listen_path: \"/counted\", upstream: targets: [%q], auth: jwt: {idp: \"dev\", default_policies: [\"pc\"]}}\n", c.upstreams[0])
	fmt.Fprintf(&b, "\tmetered: {name: \"Metered\", listen_path: \"/metered\", upstream: targets: [%q], auth: jwt: {idp: \"dev\", default_policies: [\"pm\"]}}\n", c.upstreams[0])
	fmt.Fprintf(&b, "\ttiered: {name: \"Tiered\", listen_path: \"/tiered\", upstream: targets: [%q], auth: jwt: {idp: \"dev\", default_policies: [\"tier\"]}}\n", c.upstreams[0])
	b.WriteString("}\n")
	f["stable.cue"] = b.String()
	f["switch.cue"] = fmt.Sprintf("package hot\n\napis: switch: {name: \"Switch\", listen_path: \"/switch\", upstream: targets: [%q], auth: keyless: true}\n", c.upstreams[c.switchTo])
	f["policies.cue"] = fmt.Sprintf(`package hot

policies: {
	pc: {name: "Counted", access: counted: {}, rate: {requests: 1000, per: "1000h"}, quota: {max: 2000, period: "24h"}}
	pm: {name: "Metered", access: metered: {}, quota: {max: 1000, period: "24h"}}
	tier: {name: "Tier", access: tiered: {}, rate: {requests: %d, per: "1h"}}
}
`, c.tierRate)
	for _, n := range c.dyn {
		f[fmt.Sprintf("dyn%d.cue", n)] = fmt.Sprintf("package hot\n\napis: dyn%d: {name: \"Dyn %d\", listen_path: \"/dyn%d\", upstream: targets: [%q], auth: keyless: true}\n", n, n, n, c.upstreams[0])
	}
	return f
}

// layout writes configurations into a directory the way they are deployed:
// path is a symlink to a real directory (replaced atomically for a whole new
// version), and policies.cue is a ConfigMap-style symlink through "..data".
type layout struct {
	root string
	path string // the configuration directory given to the gateway
	seq  int
}

func newLayout(t testing.TB, files map[string]string) *layout {
	l := &layout{root: t.TempDir()}
	l.path = filepath.Join(l.root, "cfg")
	l.swapDir(t, files)
	return l
}

// swapDir writes files into a new directory and points path at it by
// renaming a new symlink over it.
func (l *layout) swapDir(t testing.TB, files map[string]string) {
	t.Helper()
	l.seq++
	dir := filepath.Join(l.root, fmt.Sprintf("v%d", l.seq))
	hotMust(t, os.Mkdir(dir, 0o755))
	for name, content := range files {
		if name != "policies.cue" {
			hotMust(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
		}
	}
	l.publishData(t, dir, files["policies.cue"])
	hotMust(t, os.Symlink(filepath.Join("..data", "policies.cue"), filepath.Join(dir, "policies.cue")))
	tmp := l.path + ".tmp"
	hotMust(t, os.Symlink(filepath.Base(dir), tmp))
	hotMust(t, os.Rename(tmp, l.path))
}

// publishData is the kubelet's ConfigMap update: a new timestamped
// directory, a "..data_tmp" symlink renamed over "..data", the old
// directory removed.
func (l *layout) publishData(t testing.TB, dir, policies string) {
	t.Helper()
	l.seq++
	ts := fmt.Sprintf("..2026_11_27_08_%02d_00.%d", l.seq%60, l.seq)
	hotMust(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
	hotMust(t, os.WriteFile(filepath.Join(dir, ts, "policies.cue"), []byte(policies), 0o644))
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	hotMust(t, os.Symlink(ts, filepath.Join(dir, "..data_tmp")))
	hotMust(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	if old != "" {
		hotMust(t, os.RemoveAll(filepath.Join(dir, old)))
	}
}

// write replaces one file in place.
func (l *layout) write(t testing.TB, name, content string) {
	t.Helper()
	hotMust(t, os.WriteFile(filepath.Join(l.path, name), []byte(content), 0o644))
}

// renameSave saves name as an editor does: a temporary file renamed over it.
func (l *layout) renameSave(t testing.TB, name, content string) {
	t.Helper()
	tmp := filepath.Join(l.path, "."+name+".swp")
	hotMust(t, os.WriteFile(tmp, []byte(content), 0o644))
	hotMust(t, os.Rename(tmp, filepath.Join(l.path, name)))
}

func (l *layout) remove(t testing.TB, name string) {
	t.Helper()
	hotMust(t, os.Remove(filepath.Join(l.path, name)))
}

func hotMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// hotNode is a running `cuegate serve` node (startServe, watching its
// configuration directory) and a client for it.
type hotNode struct {
	*node
	url    string // the gateway listener
	admin  string // the admin listener
	client *http.Client
}

func startNode(t testing.TB, dir string, log zerolog.Logger, watch bool) *hotNode {
	t.Helper()
	n, err := startServe(context.Background(), serveOptions{
		ConfigDir: dir, Logger: log, Watch: watch,
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() }) //nolint:errcheck
	h := &hotNode{node: n, url: "http://" + n.GatewayAddr(), admin: "http://" + n.AdminAddr(),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(h.client.CloseIdleConnections)
	for end := time.Now().Add(20 * time.Second); !n.Gateway().Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("gateway not ready: IdP keys not fetched")
		}
	}
	return h
}

type hotResponse struct {
	status int
	header http.Header
	body   string
}

func (n *hotNode) get(path, token string) (hotResponse, error) {
	req, err := http.NewRequest("GET", n.url+path, nil)
	if err != nil {
		return hotResponse{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return hotResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return hotResponse{}, err
	}
	return hotResponse{resp.StatusCode, resp.Header, string(b)}, nil
}

func (n *hotNode) status(t testing.TB) runtime.Status {
	t.Helper()
	resp, err := n.client.Get(n.admin + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s runtime.Status
	hotMust(t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// reloads returns cuegate_reloads_total by result, from /metrics.
func (n *hotNode) reloads(t testing.TB) map[string]float64 {
	t.Helper()
	resp, err := n.client.Get(n.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	hotMust(t, err)
	m := map[string]float64{}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, `cuegate_reloads_total{result="`)
		if !ok {
			continue
		}
		outcome, value, _ := strings.Cut(rest, `"} `)
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		hotMust(t, err)
		m[outcome] = v
	}
	return m
}

// echo answers every request with its marker and the request URI; paths
// ending in /slow take 50 ms, so that requests are in flight across swaps.
func echo(t testing.TB, marker string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			time.Sleep(50 * time.Millisecond)
		}
		io.WriteString(w, marker+" "+r.RequestURI) //nolint:errcheck
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newIdP(t testing.TB) *devidp.Provider {
	idp, err := devidp.Listen("127.0.0.1:0", devidp.Options{InitialAccessToken: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	return idp
}

func token(t testing.TB, idp *devidp.Provider, clientID string) string {
	t.Helper()
	now := time.Now()
	tok, err := idp.Sign(map[string]any{
		"iss": idp.Issuer(), "sub": clientID, "client_id": clientID,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// failure is a request on a route present in every table that did not
// succeed.
type failure struct {
	at     time.Time
	path   string
	status int
	err    error
}

// load runs clients calling routes that exist in every configuration
// version until stop is closed, and records every failure.
type load struct {
	mu       sync.Mutex
	failures []failure
	ok       atomic.Int64
	wg       sync.WaitGroup
	stop     chan struct{}
}

func startLoad(n *hotNode, clients int, paths []string, tokens []string) *load {
	l := &load{stop: make(chan struct{})}
	for c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := c; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				p := paths[i%len(paths)]
				r, err := n.get(p, tokens[c%len(tokens)])
				if err != nil || r.status != http.StatusOK {
					l.mu.Lock()
					l.failures = append(l.failures, failure{time.Now(), p, r.status, err})
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *load) finish() []failure {
	close(l.stop)
	l.wg.Wait()
	return l.failures
}

// visible polls until check passes and returns how long that took; it
// fails the test when the change is not visible within a generous
// deadline.
func visible(t testing.TB, what string, since time.Time, check func() (bool, string)) time.Duration {
	t.Helper()
	last := ""
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		ok, state := check()
		if ok {
			return time.Since(since)
		}
		last = state
	}
	t.Fatalf("%s: not visible after 20s; last seen: %s", what, last)
	return 0
}

// TestHotSwapUnderLoad makes more than 50 configuration changes of every
// kind while clients call through the gateway, and checks that no request
// on a route present before and after a change fails, that each change
// becomes visible, that a broken edit keeps the last good table serving and
// is reported with file and line, and that rate-limit and quota counters
// survive the swaps. CUEGATE_HOTSWAP_BUDGET (a duration) additionally fails
// the test when a change takes longer than that to become visible; without
// it the latencies are only logged (the machine running tests may be slow).
func TestHotSwapUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for tens of seconds")
	}
	var budget time.Duration
	if s := os.Getenv("CUEGATE_HOTSWAP_BUDGET"); s != "" {
		d, err := time.ParseDuration(s)
		hotMust(t, err)
		budget = d
	}
	idp := newIdP(t)
	cfg := &hotConfig{
		issuer: idp.Issuer(), jwks: idp.JWKSURL(),
		upstreams: [2]string{echo(t, "A"), echo(t, "B")},
		tierRate:  100000, stable: 4,
	}
	lay := newLayout(t, cfg.files())
	n := startNode(t, lay.path, zerolog.New(io.Discard), true)

	// The counter identity: its counters are checked across all swaps.
	counted := token(t, idp, "counted-client")
	// /counted has a rate limit nearer to refusing than its quota, /metered
	// a quota alone: X-RateLimit-Remaining is the rate's on one, the
	// quota's on the other.
	remaining := func() (rate, quota int) {
		t.Helper()
		for _, c := range []struct {
			path string
			n    *int
		}{{"/counted/x", &rate}, {"/metered/x", &quota}} {
			r, err := n.get(c.path, counted)
			if err != nil || r.status != http.StatusOK {
				t.Fatalf("GET %s: %v %d %s", c.path, err, r.status, r.body)
			}
			*c.n, _ = strconv.Atoi(r.header.Get("X-RateLimit-Remaining"))
		}
		return rate, quota
	}
	calls := 0
	for range 5 {
		remaining()
		calls++
	}
	checkCounters := func(when string) {
		t.Helper()
		rate, quota := remaining()
		calls++
		if want := 1000 - calls; rate != want || quota != want {
			t.Errorf("%s: after %d calls rate remaining %d, quota remaining %d; want %d for both (a swap reset the counters)", when, calls, rate, quota, want)
		}
	}
	checkCounters("before any swap")

	// Every route here is in every version of the table; /switch changes
	// upstream (its old pool is closed) while slow requests are in flight.
	paths := []string{"/s0/a", "/s1/b", "/switch/slow", "/s2/c", "/s3/d", "/switch/x", "/tiered/y", "/s0/slow"}
	var tokens []string
	for c := range 8 {
		tokens = append(tokens, token(t, idp, fmt.Sprintf("load-%d", c)))
	}
	ld := startLoad(n, 8, paths, tokens)
	defer func() {
		if ld != nil {
			ld.finish()
		}
	}()

	probe := func(path string, want func(hotResponse) bool) func() (bool, string) {
		return func() (bool, string) {
			r, err := n.get(path, tokens[0])
			if err != nil {
				return false, err.Error()
			}
			return want(r), fmt.Sprintf("%d %s %s", r.status, r.header.Get("X-RateLimit-Limit"), r.body)
		}
	}
	marker := func(m string) func(hotResponse) bool {
		return func(r hotResponse) bool { return r.status == 200 && strings.HasPrefix(r.body, m+" ") }
	}
	statusIs := func(code int) func(hotResponse) bool {
		return func(r hotResponse) bool { return r.status == code }
	}

	type result struct {
		kind    string
		latency time.Duration
	}
	var results []result
	record := func(kind string, since time.Time, check func() (bool, string)) {
		t.Helper()
		d := visible(t, kind, since, check)
		results = append(results, result{kind, d})
		if budget > 0 && d > budget {
			t.Errorf("%s: visible after %v, budget %v", kind, d, budget)
		}
	}

	reloadsBefore := n.reloads(t)
	nextDyn := 0
	for round := range 8 {
		// Add an API in a new file.
		cfg.dyn = append(cfg.dyn, nextDyn)
		name := fmt.Sprintf("dyn%d", nextDyn)
		nextDyn++
		start := time.Now()
		lay.write(t, name+".cue", cfg.files()[name+".cue"])
		record("add API", start, probe("/"+name+"/", marker("A")))

		// Remove one (the oldest while there are two).
		if len(cfg.dyn) > 1 {
			gone := fmt.Sprintf("dyn%d", cfg.dyn[0])
			cfg.dyn = cfg.dyn[1:]
			start = time.Now()
			lay.remove(t, gone+".cue")
			record("remove API", start, probe("/"+gone+"/", statusIs(http.StatusNotFound)))
		}

		// Change an upstream, saved as an editor does.
		cfg.switchTo = 1 - cfg.switchTo
		start = time.Now()
		lay.renameSave(t, "switch.cue", cfg.files()["switch.cue"])
		record("change upstream (editor rename)", start, probe("/switch/", marker("AB"[cfg.switchTo:cfg.switchTo+1])))

		// Change a policy's rate limit through a ConfigMap ..data swap.
		cfg.tierRate += 1000
		start = time.Now()
		lay.publishData(t, lay.path, cfg.files()["policies.cue"])
		want := strconv.Itoa(cfg.tierRate)
		record("change rate limit (..data swap)", start, probe("/tiered/", func(r hotResponse) bool {
			return r.status == 200 && r.header.Get("X-RateLimit-Limit") == want
		}))

		// A broken edit: the last good table keeps serving, /status says
		// where the error is.
		gen := n.status(t).Generation
		broken, line := brokenFile(round)
		start = time.Now()
		lay.write(t, "zz_broken.cue", broken)
		var st runtime.Status
		record("broken edit reported", start, func() (bool, string) {
			st = n.status(t)
			if st.LastError == nil {
				return false, "no last_error"
			}
			for _, d := range st.LastError.Diagnostics {
				if strings.HasSuffix(d.File, "zz_broken.cue") && d.Line == line {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%+v", st.LastError)
		})
		if st.Generation != gen {
			t.Errorf("broken edit: generation %d serving, want %d (the last good one)", st.Generation, gen)
		}
		if r, err := n.get("/switch/", ""); err != nil || r.status != 200 {
			t.Errorf("broken edit: the last good table does not serve: %v %d", err, r.status)
		}

		// Fix it: the file becomes a valid API.
		start = time.Now()
		lay.renameSave(t, "zz_broken.cue", fmt.Sprintf("package hot\n\napis: fixed%d: {name: \"Fixed\", listen_path: \"/fixed%d\", upstream: targets: [%q], auth: keyless: true}\n", round, round, cfg.upstreams[1]))
		record("fix broken edit", start, probe(fmt.Sprintf("/fixed%d/", round), marker("B")))
		if st := n.status(t); st.LastError != nil {
			t.Errorf("after the fix /status still reports %+v", st.LastError)
		}
		lay.remove(t, "zz_broken.cue")

		// Replace the whole directory: a new version behind the symlink.
		cfg.switchTo = 1 - cfg.switchTo
		start = time.Now()
		lay.swapDir(t, cfg.files())
		record("replace directory symlink", start, probe("/switch/", marker("AB"[cfg.switchTo:cfg.switchTo+1])))

		checkCounters(fmt.Sprintf("round %d", round))
	}

	failures := ld.finish()
	served := ld.ok.Load()
	ld = nil
	for i, f := range failures {
		if i == 20 {
			t.Errorf("... %d failures in all", len(failures))
			break
		}
		t.Errorf("failed request %s at %s: status %d, err %v", f.path, f.at.Format("15:04:05.000"), f.status, f.err)
	}
	reloads := n.reloads(t)
	if d := reloads["error"] - reloadsBefore["error"]; d < 8 {
		t.Errorf("/metrics counted %v failed reloads, want at least 8 (one per broken edit)", d)
	}
	if d := reloads["ok"] - reloadsBefore["ok"]; d < float64(len(results)-8) {
		t.Errorf("/metrics counted %v good reloads for %d changes", d, len(results))
	}
	t.Logf("reloads by outcome during the test: ok %v, error %v, unchanged %v", reloads["ok"]-reloadsBefore["ok"],
		reloads["error"]-reloadsBefore["error"], reloads["unchanged"]-reloadsBefore["unchanged"])
	if len(results) < 50 {
		t.Errorf("%d changes made, want at least 50", len(results))
	}
	byKind := map[string][]time.Duration{}
	var all []time.Duration
	for _, r := range results {
		byKind[r.kind] = append(byKind[r.kind], r.latency)
		all = append(all, r.latency)
	}
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		ds := byKind[k]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("%-34s n=%d median %v max %v", k, len(ds), ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	slices.Sort(all)
	t.Logf("%d changes visible: median %v, max %v; %d requests served under load, %d failed",
		len(all), all[len(all)/2].Round(time.Millisecond), all[len(all)-1].Round(time.Millisecond), served, len(failures))
}

// brokenFile returns an invalid file and the line of its error: a syntax
// error, a schema violation and a dangling reference in turn.
func brokenFile(round int) (string, int) {
	switch round % 3 {
	case 0:
		return "package hot\n\napis: broken: {\n\tname: \"Broken\"\n\tlisten_path: \"/broken\"\n\tupstream: targets: [\n", 6
	case 1:
		return "package hot\n\napis: broken: {\n\tname:        \"Broken\"\n\tlisten_path: 42\n\tupstream: targets: [\"http://127.0.0.1:1\"]\n\tauth: keyless: true\n}\n", 5
	default:
		return "package hot\n\npolicies: broken: {\n\tname: \"Broken\"\n\taccess: nosuchapi: {}\n}\n", 5
	}
}

// benchFiles is a configuration of apis keyless APIs on /api<i> and a
// /probe API proxied to probe; bump changes the table without touching the
// routes the load uses.
func benchFiles(apis int, upstream, probe string, bump int) map[string]string {
	var b strings.Builder
	fmt.Fprintf(&b, "package bench\n\ngateway: {}\nidps: {}\npolicies: {}\nportal: {}\napis: {\n")
	for i := range apis {
		fmt.Fprintf(&b, "\tapi%d: {name: \"API %d\", listen_path: \"/api%d\", upstream: targets: [%q], auth: keyless: true}\n", i, i, i, upstream)
	}
	b.WriteString("}\n")
	return map[string]string{
		"apis.cue":  b.String(),
		"probe.cue": fmt.Sprintf("package bench\n\napis: probe: {name: \"Probe %d\", listen_path: \"/probe\", upstream: targets: [%q], auth: keyless: true}\n", bump, probe),
	}
}

func writeFiles(b testing.TB, dir string, files map[string]string) {
	for name, content := range files {
		tmp := filepath.Join(dir, "."+name+".tmp")
		hotMust(b, os.WriteFile(tmp, []byte(content), 0o644))
		hotMust(b, os.Rename(tmp, filepath.Join(dir, name)))
	}
}

// BenchmarkReloadLatency measures the time from a configuration file being
// saved (editor-style rename) to the first request served by the new table,
// for 10 and 1,000 APIs: "watch" goes through the directory watcher (and
// its debounce) as `cuegate serve` does, "reload" calls Gateway.Reload
// right after the write (compile and swap only). ns/op is that latency.
func BenchmarkReloadLatency(b *testing.B) {
	for _, apis := range []int{10, 1000} {
		for _, viaWatch := range []bool{true, false} {
			mode := map[bool]string{true: "watch", false: "reload"}[viaWatch]
			b.Run(fmt.Sprintf("apis=%d/%s", apis, mode), func(b *testing.B) {
				up := [2]string{echo(b, "A"), echo(b, "B")}
				dir := b.TempDir()
				writeFiles(b, dir, benchFiles(apis, up[0], up[0], 0))
				n := startNode(b, dir, zerolog.Nop(), viaWatch)
				var worst time.Duration
				b.ResetTimer()
				for i := range b.N {
					to := (i + 1) % 2
					start := time.Now()
					hotMust(b, os.WriteFile(filepath.Join(dir, ".probe.tmp"), []byte(benchFiles(0, "", up[to], 0)["probe.cue"]), 0o644))
					hotMust(b, os.Rename(filepath.Join(dir, ".probe.tmp"), filepath.Join(dir, "probe.cue")))
					if !viaWatch {
						hotMust(b, n.reload())
					}
					d := visible(b, "probe upstream", start, func() (bool, string) {
						r, err := n.get("/probe/", "")
						if err == nil && r.status == 200 && strings.HasPrefix(r.body, "AB"[to:to+1]) {
							return true, ""
						}
						return false, fmt.Sprint(r.status, err)
					})
					worst = max(worst, d)
				}
				b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
			})
		}
	}
}

// BenchmarkReloadUnderLoad runs closed-loop load (8 clients over 10 APIs)
// through the gateway in alternating phases: without reloads, and with a
// configuration change and Gateway.Reload every 100 ms. It reports the
// throughput and p99 latency of each and their ratios (with / without).
// Each run takes about 4×phase; run it with -benchtime=1x.
func BenchmarkReloadUnderLoad(b *testing.B) {
	const (
		clients = 8
		apis    = 10
		phase   = 2 * time.Second
		every   = 100 * time.Millisecond
	)
	upstream := fastEcho(b)
	dir := b.TempDir()
	writeFiles(b, dir, benchFiles(apis, upstream, upstream, 0))
	n := startNode(b, dir, zerolog.Nop(), false)
	hc := &fasthttp.HostClient{Addr: n.GatewayAddr(), MaxConns: 2 * clients}
	b.Cleanup(hc.CloseIdleConnections)

	type stats struct {
		reqs, errs int
		lat        []time.Duration
		took       time.Duration
		reloads    int
	}
	run := func(reload bool) stats {
		var (
			mu   sync.Mutex
			st   stats
			wg   sync.WaitGroup
			stop = make(chan struct{})
		)
		if reload {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(every)
				defer tick.Stop()
				for bump := 1; ; bump++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					writeFiles(b, dir, map[string]string{"probe.cue": benchFiles(0, "", upstream, bump)["probe.cue"]})
					if err := n.reload(); err != nil {
						b.Error(err)
					}
					mu.Lock()
					st.reloads++
					mu.Unlock()
				}
			}()
		}
		start := time.Now()
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				var lat []time.Duration
				errs := 0
				for i := c; ; i++ {
					select {
					case <-stop:
						mu.Lock()
						st.lat = append(st.lat, lat...)
						st.errs += errs
						mu.Unlock()
						return
					default:
					}
					req.SetRequestURI(fmt.Sprintf("http://%s/api%d/x", hc.Addr, i%apis))
					t0 := time.Now()
					err := hc.Do(req, resp)
					lat = append(lat, time.Since(t0))
					if err != nil || resp.StatusCode() != 200 {
						errs++
					}
				}
			}()
		}
		time.Sleep(phase)
		close(stop)
		wg.Wait()
		st.took = time.Since(start)
		st.reqs = len(st.lat)
		slices.Sort(st.lat)
		return st
	}
	p99 := func(s stats) time.Duration { return s.lat[len(s.lat)*99/100] }
	rps := func(s stats) float64 { return float64(s.reqs) / s.took.Seconds() }

	b.ResetTimer()
	var base, with []stats
	for range b.N {
		for range 2 { // interleaved, so drift affects both alike
			base = append(base, run(false))
			with = append(with, run(true))
		}
	}
	b.StopTimer()
	sum := func(ss []stats) (r float64, p time.Duration, errs, reloads int) {
		for _, s := range ss {
			r += rps(s) / float64(len(ss))
			p += p99(s) / time.Duration(len(ss))
			errs += s.errs
			reloads += s.reloads
		}
		return
	}
	br, bp, be, _ := sum(base)
	wr, wp, we, reloads := sum(with)
	if be+we > 0 {
		b.Errorf("%d failed requests without reloads, %d with", be, we)
	}
	b.ReportMetric(br, "rps-base")
	b.ReportMetric(wr, "rps-reload")
	b.ReportMetric(wr/br, "rps-ratio")
	b.ReportMetric(float64(bp.Microseconds())/1000, "p99-ms-base")
	b.ReportMetric(float64(wp.Microseconds())/1000, "p99-ms-reload")
	b.ReportMetric(float64(wp)/float64(bp), "p99-ratio")
	b.ReportMetric(float64(reloads)/(float64(len(with))*phase.Seconds()), "reloads/s")
}

// fastEcho is a fasthttp upstream, cheap enough not to dominate the load.
func fastEcho(b testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	hotMust(b, err)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.WriteString("ok") }} //nolint:errcheck
	go srv.Serve(ln)                                                                           //nolint:errcheck
	b.Cleanup(func() { srv.Shutdown() })                                                       //nolint:errcheck
	return "http://" + ln.Addr().String()
}

// logLines collects JSON log lines written to it, for tests that read
// what `cuegate serve` logs.
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
	buf   []byte
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		line, rest, ok := strings.Cut(string(l.buf), "\n")
		if !ok {
			return len(p), nil
		}
		l.buf = []byte(rest)
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			l.lines = append(l.lines, m)
		}
	}
}

// find returns the first line after index from whose message is msg.
func (l *logLines) find(from int, msg string) (map[string]any, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; i < len(l.lines); i++ {
		if l.lines[i]["message"] == msg {
			return l.lines[i], i
		}
	}
	return nil, -1
}

func (l *logLines) wait(t *testing.T, from int, msg string) (map[string]any, int) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if m, i := l.find(from, msg); m != nil {
			return m, i
		}
	}
	t.Fatalf("no log line %q", msg)
	return nil, -1
}

// TestServeSIGHUPReloads runs the serve command itself: SIGHUP makes it
// reload (here an unchanged configuration, so the watcher plays no part),
// and SIGTERM stops it cleanly.
func TestServeSIGHUPReloads(t *testing.T) {
	dir := t.TempDir()
	up := echo(t, "A")
	writeFiles(t, dir, benchFiles(1, up, up, 0))
	hotMust(t, os.WriteFile(filepath.Join(dir, "listen.cue"), []byte("package bench\n\ngateway: {listen: \"127.0.0.1:0\", admin_listen: \"127.0.0.1:0\"}\n"), 0o644))

	logs := &logLines{}
	done := make(chan int, 1)
	go func() { done <- runServe([]string{"--config", dir}, io.Discard, logs) }()
	var serving map[string]any
	for end := time.Now().Add(20 * time.Second); serving == nil; time.Sleep(5 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %v", code, logs.lines)
		default:
		}
		if time.Now().After(end) {
			t.Fatal("serve did not start")
		}
		serving, _ = logs.find(0, "cuegate serving")
	}
	gwURL, _ := serving["gateway"].(string)
	if resp, err := http.Get(gwURL + "/api0/x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET through serve: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	hotMust(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	_, i := logs.wait(t, 0, "SIGHUP: reloading")
	logs.wait(t, i, "reload: configuration unchanged")

	hotMust(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("serve exited with %d after SIGTERM", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	logs.wait(t, i, "stopped")
}
