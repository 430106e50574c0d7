package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Target names.
const (
	tUpstream = "upstream"
	tBare     = "bare-proxy"
	tJWT      = "golang-jwt"
	tCuegate  = "cuegate"
	tCuegateB = "cuegate-b" // -against
	tReload   = "cuegate+reload"
	tRedis    = "cuegate-redis" // (f): the Redis limiter
)

type scenarioSpec struct {
	Title    string
	Path     string // request path (cuegate's route; baselines ignore it)
	BodySize int
	Stream   bool
	// Tokens: "" none, "repeat" the (a) tokens, "RS256"/"ES256" a fresh pool.
	Tokens  string
	Targets []string
	// Rivals: the -rivals gateways join Targets.
	Rivals bool
}

// needsRedis reports whether sc has a target that needs a redis-server.
func (sc scenarioSpec) needsRedis() bool { return slices.Contains(sc.Targets, tRedis) }

var scenarioOrder = []string{"a", "b-rs256", "b-es256", "c", "d", "e", "f"}

var scenarios = map[string]scenarioSpec{
	"a": withRivals(repeatHello.on("(a) repeat tokens: 100 identities reuse their RS256 tokens (cached path)",
		tUpstream, tBare, tCuegate)),
	"b-rs256": freshHello("RS256"),
	"b-es256": freshHello("ES256"),
	"c": {Title: "(c) keyless route",
		Path: openPrefix + "hello", BodySize: len(smallBody),
		Targets: []string{tBare, tCuegate}},
	"d": {Title: "(d) 1 MB responses (streamed), repeat tokens",
		Path: jwtPrefix + "big", BodySize: bigSize, Stream: true, Tokens: "repeat",
		Targets: []string{tBare, tCuegate}},
	"e": repeatHello.on("(e) hot swap: policies.cue rewritten every -reload-every during (a)",
		tCuegate, tReload),
	"f": repeatHello.on("(f) (a) with the Redis limiter (redis-server on the same cores) against the memory limiter",
		tCuegate, tRedis),
}

// repeatHello is the request of (a), which (e) and (f) send too: a small
// response on the JWT route with one of (a)'s repeat tokens.
var repeatHello = scenarioSpec{Path: jwtPrefix + "hello", BodySize: len(smallBody), Tokens: "repeat"}

// freshHello is (b) for one signing algorithm: the request of (a) with a
// fresh token of alg.
func freshHello(alg string) scenarioSpec {
	sc := repeatHello
	sc.Tokens = alg
	return sc.on("(b) fresh tokens, "+alg+": 10,000 identities, a signature check on most requests", tJWT, tCuegate)
}

// on returns sc titled title, run against targets.
func (sc scenarioSpec) on(title string, targets ...string) scenarioSpec {
	sc.Title, sc.Targets = title, targets
	return sc
}

// withRivals returns sc with the -rivals gateways among its targets.
func withRivals(sc scenarioSpec) scenarioSpec {
	sc.Rivals = true
	return sc
}

// pools caches the fresh token pools by algorithm (minting RS256 is slow).
var pools = map[string][][]byte{}

func (b *bench) tokens(kind string) ([][]byte, error) {
	switch kind {
	case "":
		return nil, nil
	case "repeat":
		return b.repeat, nil
	}
	if p, ok := pools[kind]; ok {
		return p, nil
	}
	n := b.o.RSPool
	if kind == "ES256" {
		n = b.o.ESPool
	}
	start := time.Now()
	p, err := b.idp.MintPool(kind, b.o.FreshIdentities, n)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%d %s tokens for %d identities ready in %v (token cache: %q)\n", n, kind, b.o.FreshIdentities, time.Since(start).Round(time.Millisecond), b.o.TokenCache)
	pools[kind] = p
	return p, nil
}

// targetNames returns the targets of sc in the order of a round: its own,
// then the rivals when it takes them, then, with against, cuegate-b where
// cuegate runs alone (not in (e), whose two targets are one process, nor
// in (f), which compares two limiters of one build).
func targetNames(sc scenarioSpec, rivals []string, against bool) []string {
	names := slices.Clone(sc.Targets)
	if sc.Rivals {
		names = append(names, rivals...)
	}
	if against && slices.Contains(names, tCuegate) && !slices.Contains(names, tReload) && !sc.needsRedis() {
		names = append(names, tCuegateB)
	}
	return names
}

func (b *bench) runScenario(id string, sc scenarioSpec) (*ScenarioResult, error) {
	defer b.stopProcs()
	res := &ScenarioResult{ID: id, Title: sc.Title}
	toks, err := b.tokens(sc.Tokens)
	if err != nil {
		return nil, err
	}
	if toks != nil {
		res.Pool = len(toks)
	}
	if sc.needsRedis() {
		if _, err := redisBinary(); err != nil {
			res.Skipped = append(res.Skipped, "scenario skipped: "+err.Error())
			return res, nil
		}
	}
	var targets []*Target
	var cg *cuegateProc
	for _, name := range targetNames(sc, slices.Sorted(maps.Keys(b.rivalBins)), b.against != "") {
		t := &Target{Name: name, Path: sc.Path, Tokens: toks, BodySize: sc.BodySize}
		switch name {
		case tUpstream:
			t.Addr, t.PID = b.upAddr, b.upstream.PID()
		case tBare, tJWT:
			role := map[string]string{tBare: "proxy", tJWT: "jwtproxy"}[name]
			p, addr, pprof, err := b.startBaseline(role)
			if err != nil {
				return nil, err
			}
			t.Addr, t.PID, t.pprof = addr, p.PID(), pprof
		case tKrakenD:
			p, addr, err := b.startKrakenD(sc.Path)
			if err != nil {
				return nil, err
			}
			t.Addr, t.PID = addr, p.PID()
		case tCuegateB:
			cb, err := b.startCuegate("cuegate-b-"+id, b.against, Redis{})
			if err != nil {
				return nil, err
			}
			t.Addr, t.PID, t.Admin = cb.ports.Gateway, cb.PID(), cb.ports.Admin // not profiled: built without the pprof overlay
		case tRedis:
			if b.o.NoCuegate {
				res.Skipped = append(res.Skipped, name+": skipped (-no-cuegate)")
				continue
			}
			rs, err := startRedis(b.dir, b.o.StartupTimeout)
			if err != nil {
				return nil, err
			}
			b.procs = append(b.procs, rs)
			cr, err := b.startCuegate("cuegate-redis-"+id, b.cuegate, Redis{Addr: rs.Addr, Timeout: b.o.RedisTimeout})
			if err != nil {
				return nil, err
			}
			t.Addr, t.PID, t.Admin, t.pprof, t.Redis = cr.ports.Gateway, cr.PID(), cr.ports.Admin, cr.pprof, rs
		case tCuegate, tReload:
			if b.o.NoCuegate {
				res.Skipped = append(res.Skipped, name+": skipped (-no-cuegate)")
				continue
			}
			if cg == nil {
				// One cuegate per scenario; in (e) both targets are the
				// same process, with and without the rewrites.
				if cg, err = b.startCuegate("cuegate-"+id, b.cuegate, Redis{}); err != nil {
					return nil, err
				}
			}
			t.Addr, t.PID, t.Admin, t.pprof = cg.ports.Gateway, cg.PID(), cg.ports.Admin, cg.pprof
			if name == tReload {
				hup := 0
				if b.o.ReloadVia == "sighup" {
					hup = cg.PID()
				}
				t.During = reloader(cg.dir, b.o.ReloadEvery, hup, res)
			}
		}
		if err := preflight(t); err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	lo := LoadOptions{Conns: b.o.Conns, Warmup: b.o.Warmup, Duration: b.o.Duration, Stream: sc.Stream, MetricsRe: b.o.Metrics, Generator: b.o.Generator, Dir: b.dir}
	byName := map[string]*TargetResult{}
	for _, t := range targets {
		tr := &TargetResult{Name: t.Name}
		byName[t.Name] = tr
		res.Targets = append(res.Targets, tr)
	}
	for r := range b.o.Rounds {
		for _, t := range orderFor(targets, r) {
			fmt.Fprintf(os.Stderr, "  %s round %d: %s ...", id, r+1, t.Name)
			w, err := Run(t, r+1, lo)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, " %.0f req/s, p99 %v, %d errors\n", w.RPS(), w.Hist.Quantile(0.99), w.Errors)
			byName[t.Name].add(w)
		}
	}
	if b.o.Profile != "" && contains(b.o.ProfileScenarios, id) {
		for _, t := range targets {
			if t.pprof != "" && t.Name != tReload {
				files, note := b.profile(id, t, lo)
				res.Profiles = append(res.Profiles, files...)
				res.ProfileNotes = append(res.ProfileNotes, t.Name+" "+note)
			}
		}
	}
	return res, nil
}

// reloader rewrites policies.cue every period until stop is closed and
// counts the rewrites in res. With hupPID, it also sends that process a
// SIGHUP after each rewrite, so that a swap happens every period whatever
// the watcher's debounce makes of a steady stream of changes.
func reloader(dir string, period time.Duration, hupPID int, res *ScenarioResult) func(<-chan struct{}) {
	gen := 0
	return func(stop <-chan struct{}) {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				gen++
				if err := writePolicies(dir, gen); err != nil {
					fmt.Fprintln(os.Stderr, "reload:", err)
					return
				}
				res.Rewrites++
				if hupPID != 0 {
					syscall.Kill(hupPID, syscall.SIGHUP)
				}
			}
		}
	}
}

// profile runs one extra, unmeasured window on t while fetching a CPU
// profile and two allocation profiles (before, after) from cuegate's
// net/http/pprof at addr (see pprofSource). It returns the files written,
// or a note saying why none were.
func (b *bench) profile(id string, t *Target, lo LoadOptions) ([]string, string) {
	if err := os.MkdirAll(b.o.Profile, 0o755); err != nil {
		return nil, err.Error()
	}
	base := "http://" + t.pprof + "/debug/pprof/"
	get := func(path, file string) error {
		resp, err := (&http.Client{Timeout: time.Duration(b.o.ProfileWindowSecs+30) * time.Second}).Get(base + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", base+path, resp.Status)
		}
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, resp.Body)
		return err
	}
	p := func(name string) string { return filepath.Join(b.o.Profile, id+"-"+t.Name+"-"+name+".pprof") }
	if err := get("allocs", p("allocs-before")); err != nil {
		return nil, "no profile: " + err.Error()
	}
	lo.Duration = time.Duration(b.o.ProfileWindowSecs) * time.Second
	cpuErr := make(chan error, 1)
	go func() {
		time.Sleep(lo.Warmup)
		cpuErr <- get(fmt.Sprintf("profile?seconds=%d", b.o.ProfileWindowSecs-1), p("cpu"))
	}()
	w, err := Run(t, 0, lo)
	if err != nil {
		return nil, err.Error()
	}
	if err := <-cpuErr; err != nil {
		return nil, "cpu profile: " + err.Error()
	}
	if err := get("allocs", p("allocs-after")); err != nil {
		return nil, err.Error()
	}
	note := fmt.Sprintf("profile window: %d requests, %.1f µs CPU/request; allocations: go tool pprof -sample_index=alloc_objects -base %s %s, divided by %d",
		w.Requests, float64(w.CPU.Microseconds())/float64(max(w.Requests, 1)), p("allocs-before"), p("allocs-after"), w.Requests)
	if m, ok := w.Metrics["go_memstats_mallocs_total"]; ok {
		note += fmt.Sprintf("; go_memstats_mallocs_total: %.2f per request", m/float64(max(w.Requests, 1)))
	}
	return []string{p("cpu"), p("allocs-before"), p("allocs-after")}, note
}
