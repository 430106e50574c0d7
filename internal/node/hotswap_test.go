package node

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/runtime"
)

// The hot-swap tests run a node in process (Start: gateway, admin
// endpoints, the watcher feeding Reload) against a configuration directory
// they edit the ways people and tools do, while clients call through the
// gateway.

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

// TestHotSwapUnderLoad makes more than 50 configuration changes of every
// kind while clients call through the gateway, and checks that no request
// on a route present before and after a change fails, that each change
// becomes visible, that a broken edit keeps the last good table serving and
// is reported with file and line, and that rate-limit and quota counters
// survive the swaps. CUEGATE_HOTSWAP_BUDGET (a duration) additionally fails
// the test when a change takes longer than that to become visible; without
// it the latencies are only logged (the machine running tests may be slow).
// It counts reloads in /metrics, which is process-global: it runs alone,
// not in parallel.
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
