// Command loadtest is cuegate's load benchmark. It measures `cuegate serve`
// (the real binary) beside baselines on the same machine, in the same run:
//
//   - upstream: the fasthttp upstream itself, no gateway;
//   - bare-proxy: a bare fasthttp reverse proxy with cuegate's upstream client
//     settings and no auth;
//   - golang-jwt: the same proxy verifying every token with golang-jwt, no
//     cache (the floor of a signature check per request);
//   - with -rivals krakend, KrakenD CE in scenario (a), on a generated
//     config equivalent to cuegate's (see rivals.go).
//
// Scenarios: (a) 100 identities reusing RS256 tokens; (b) fresh tokens for
// 10,000 identities, RS256 and ES256; (c) a keyless route; (d) 1 MB
// responses; (e) a hot swap every 100 ms during (a); (f) (a) with the Redis
// limiter against the memory limiter, beside a redis-server the harness
// starts. Each target runs for -duration per round, in interleaved rounds
// (A B C, C B A, ...), driven by a closed-loop fasthttp client with -conns
// connections.
//
// Run it from this directory:
//
//	cd e2e/loadtest && go run . -duration 10s
//
// Every process — upstream, baselines, cuegate, this load generator — shares
// the machine's cores; nothing is pinned. It prints a table per scenario,
// the ratios cuegate/baseline, and PASS/FAIL lines for the targets.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	Duration, Warmup  time.Duration
	Rounds, Conns     int
	Scenarios         string
	Cuegate           string
	NoCuegate         bool
	Repo              string
	ServeArgs         string
	RSPool, ESPool    int
	FreshIdentities   int
	RepeatIdentities  int
	ReloadEvery       time.Duration
	Profile           string
	ProfileScenarios  string
	Metrics           string
	JSON              string
	Keep              bool
	TokenCache        string
	ReloadVia         string
	OverlayDir        string
	StartupTimeout    time.Duration
	ProfileWindowSecs int
	Rivals            string
	KrakenD           string
	Against           string
	RedisTimeout      time.Duration
	Generator         string
	Upstream          string
	GatewayTokenCache string
	BConfig           string
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-role" {
		if err := runRole(os.Args[2], os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per target per round")
	flag.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured load before each window")
	flag.IntVar(&o.Rounds, "rounds", 2, "interleaved rounds (A B C, C B A, ...)")
	flag.IntVar(&o.Conns, "conns", 64, "connections (closed loop: one request in flight each)")
	flag.StringVar(&o.Scenarios, "scenarios", "a,b-rs256,b-es256,c,d,e,f", "scenarios to run, comma-separated")
	flag.StringVar(&o.Cuegate, "cuegate", "", "cuegate binary; empty builds ./cmd/cuegate from -repo")
	flag.StringVar(&o.Against, "against", "", "a second cuegate binary, measured as target "+tCuegateB+" beside cuegate in the same interleaved rounds of every scenario but (e) and (f): two builds compared without the machine's drift between runs")
	flag.DurationVar(&o.RedisTimeout, "redis-timeout", 0, "(f) cluster.redis.timeout of the Redis limiter, per call; 0: the config's default (50ms)")
	flag.StringVar(&o.Generator, "generator", defaultGenerator(), "load generator: wrk (Debian's wrk, the default when it is installed) or go (fasthttp clients in this process)")
	flag.StringVar(&o.Upstream, "upstream", upFasthttp, "the upstream every target forwards to: fasthttp (a child process of this program) or nginx (Debian's nginx, one worker)")
	flag.StringVar(&o.GatewayTokenCache, "gateway-token-cache", "", "cuegate's gateway.token_cache (a size such as \"24MiB\"); empty: the schema's default")
	flag.StringVar(&o.BConfig, "b-config", "", "a CUE file added to the configuration of "+tCuegateB+" only (with -against, which may name the same binary as -cuegate): the cost of configured features in a same-run A/B")
	flag.BoolVar(&o.NoCuegate, "no-cuegate", false, "measure the baselines only (checks the harness)")
	flag.StringVar(&o.Repo, "repo", "../..", "repository root, for building cuegate")
	flag.StringVar(&o.ServeArgs, "serve-args", "", "extra arguments for cuegate serve, space-separated")
	flag.IntVar(&o.RepeatIdentities, "repeat-identities", 100, "(a) identities, one token each, reused")
	flag.IntVar(&o.FreshIdentities, "fresh-identities", 10000, "(b) identities")
	flag.IntVar(&o.RSPool, "rs-pool", 150000, "(b) RS256 tokens: more than cuegate's token cache holds (32MiB, some 75,000 such tokens) so most requests need a signature check; 30000 measures a pool the cache holds; minting costs ~1.2ms each, once (see -token-cache)")
	flag.IntVar(&o.ESPool, "es-pool", 150000, "(b) ES256 tokens minted")
	flag.DurationVar(&o.ReloadEvery, "reload-every", 100*time.Millisecond, "(e) config rewrite period")
	flag.StringVar(&o.ReloadVia, "reload-via", "sighup", "(e) how a rewrite reaches cuegate: sighup (rewrite, then SIGHUP: a swap every period) or file (rewrite only: the watcher's debounce decides)")
	flag.StringVar(&o.OverlayDir, "overlay-dir", "", "files replacing the repository's at the same relative paths in the cuegate build (go build -overlay), to measure a change before making it")
	flag.StringVar(&o.Profile, "profile", "", "directory for pprof profiles of cuegate, taken in an extra unmeasured window; cuegate is then built with net/http/pprof added by go build -overlay (the repository is not changed)")
	flag.StringVar(&o.ProfileScenarios, "profile-scenarios", "a,b-rs256", "scenarios to profile with -profile")
	flag.IntVar(&o.ProfileWindowSecs, "profile-seconds", 10, "length of the profiling window")
	flag.StringVar(&o.Metrics, "metrics", "^(cuegate_reloads_total|cuegate_jwks_refreshes_total|cuegate_upstream_errors_total|cuegate_rate_limited_total|cuegate_quota_exceeded_total|go_memstats_mallocs_total|go_memstats_alloc_bytes_total|go_gc_duration_seconds_count)", "cuegate admin metrics whose per-window deltas are reported")
	flag.StringVar(&o.JSON, "json", "", "also write every figure to this JSON file")
	cacheDir, _ := os.UserCacheDir()
	if cacheDir != "" {
		cacheDir = filepath.Join(cacheDir, "cuegate-loadtest")
	}
	flag.StringVar(&o.TokenCache, "token-cache", cacheDir, "directory keeping the signing keys and minted token pools between runs (outside the repository); empty: fresh keys, mint everything")
	flag.StringVar(&o.Rivals, "rivals", "", "other gateways to measure in scenario (a), comma-separated: krakend (KrakenD CE "+rivalSpecs[tKrakenD].Version+")")
	flag.StringVar(&o.KrakenD, "krakend", "", "KrakenD CE binary for -rivals krakend; empty: build "+rivalSpecs[tKrakenD].Module+"@"+rivalSpecs[tKrakenD].Version+" from the Go module proxy into the user cache directory, once")
	flag.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (configs, logs)")
	flag.DurationVar(&o.StartupTimeout, "startup-timeout", 60*time.Second, "how long a gateway may take to become ready")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// stopper is a process the harness started and stops.
type stopper interface{ Stop() }

var (
	_ stopper = (*Proc)(nil)
	_ stopper = (*redisServer)(nil)
)

// bench is the state of one run.
type bench struct {
	o        options
	dir      string
	idp      *IdP
	upstream *Proc
	upAddr   string
	cuegate  string
	against  string // -against's binary, or ""
	// rivalBins maps each -rivals name to its binary.
	rivalBins map[string]string
	repeat    [][]byte
	procs     []stopper // what the scenario started, stopped at its end
	results   []*ScenarioResult
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "cuegate-loadtest-")
	if err != nil {
		return err
	}
	b := &bench{o: o, dir: dir}
	defer b.cleanup()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		b.cleanup()
		os.Exit(130)
	}()

	rivals, err := parseRivals(o.Rivals, o.Scenarios)
	if err != nil {
		return err
	}
	if err := checkChoices(o); err != nil {
		return err
	}
	header(o)
	b.rivalBins = map[string]string{}
	binFlags := map[string]string{tKrakenD: o.KrakenD}
	for _, name := range rivals {
		if b.rivalBins[name], err = rivalBinary(name, binFlags[name], os.Stderr); err != nil {
			return err
		}
	}
	if !o.NoCuegate {
		if b.cuegate, err = b.buildCuegate(); err != nil {
			return err
		}
	}
	if o.Against != "" {
		if o.NoCuegate {
			return errors.New("-against compares with cuegate: it does not go with -no-cuegate")
		}
		if b.against, err = filepath.Abs(o.Against); err != nil {
			return err
		}
	}
	if b.idp, err = StartIdP(o.TokenCache); err != nil {
		return err
	}
	if b.upAddr, err = freePort(); err != nil {
		return err
	}
	if o.Upstream == upNginx {
		b.upstream, err = startNginx(dir, b.upAddr)
	} else {
		b.upstream, err = startRole(dir, "upstream", "upstream", nil, "-listen", b.upAddr)
	}
	if err != nil {
		return err
	}
	if err := waitHTTP(b.upstream, "http://"+b.upAddr+"/", o.StartupTimeout, false); err != nil {
		return err
	}
	if b.repeat, err = b.idp.MintPool("RS256", o.RepeatIdentities, o.RepeatIdentities); err != nil {
		return err
	}

	for _, id := range strings.Split(o.Scenarios, ",") {
		id = strings.TrimSpace(id)
		sc, ok := scenarios[id]
		if !ok {
			return fmt.Errorf("unknown scenario %q (have %s)", id, strings.Join(scenarioOrder, ", "))
		}
		r, err := b.runScenario(id, sc)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", id, err)
		}
		b.results = append(b.results, r)
		r.print(os.Stdout)
	}
	verdicts := evaluate(b.results)
	printSummary(os.Stdout, b.results, verdicts, o)
	if o.JSON != "" {
		out, _ := json.MarshalIndent(map[string]any{"options": o, "scenarios": b.results, "verdicts": verdicts}, "", "  ")
		if err := os.WriteFile(o.JSON, out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkChoices checks -generator and -upstream.
func checkChoices(o options) error {
	switch {
	case o.Generator != genGo && o.Generator != genWrk:
		return fmt.Errorf("-generator %q: want wrk or go", o.Generator)
	case o.Upstream != upFasthttp && o.Upstream != upNginx:
		return fmt.Errorf("-upstream %q: want fasthttp or nginx", o.Upstream)
	case o.Generator == genWrk:
		if _, err := exec.LookPath("wrk"); err != nil {
			return fmt.Errorf("-generator wrk: %w (apt-get install wrk, or -generator go)", err)
		}
	}
	return nil
}

func header(o options) {
	host, _ := os.Hostname()
	fmt.Printf("cuegate load benchmark — %s, %s, %d CPUs, GOMAXPROCS %d, load average %s\n",
		time.Now().UTC().Format(time.RFC3339), host, runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	fmt.Printf("%d connections, closed loop (generator %s, upstream %s); %v warm-up + %v measured per target per round; %d interleaved rounds\n",
		o.Conns, o.Generator, o.Upstream, o.Warmup, o.Duration, o.Rounds)
	fmt.Printf("note: the load generator, the upstream and the gateway under test share the %d cores; nothing is pinned\n\n", runtime.NumCPU())
}

func (b *bench) cleanup() {
	for _, p := range b.procs {
		p.Stop()
	}
	b.procs = nil
	if b.upstream != nil {
		b.upstream.Stop()
		b.upstream = nil
	}
	if b.idp != nil {
		b.idp.Close()
	}
	if b.o.Keep {
		fmt.Fprintln(os.Stderr, "loadtest: kept", b.dir)
	} else {
		os.RemoveAll(b.dir)
	}
}

// stopProcs stops the processes a scenario started.
func (b *bench) stopProcs() {
	for _, p := range b.procs {
		p.Stop()
	}
	b.procs = nil
}

// orderFor returns the target order of round r (0-based): forward on even
// rounds, reversed on odd ones.
func orderFor[T any](ts []T, r int) []T {
	out := slices.Clone(ts)
	if r%2 == 1 {
		slices.Reverse(out)
	}
	return out
}
