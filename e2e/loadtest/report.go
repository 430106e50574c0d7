package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// ScenarioResult is every figure of one scenario.
type ScenarioResult struct {
	ID           string
	Title        string
	Pool         int // tokens in the pool the targets walk through; 0: none
	Targets      []*TargetResult
	Skipped      []string // what was not measured, and why
	Rewrites     int      // (e) config rewrites made
	Profiles     []string
	ProfileNotes []string
}

// TargetResult aggregates a target's windows over the rounds.
type TargetResult struct {
	Name      string
	Requests  uint64
	Errors    uint64
	Elapsed   time.Duration
	RPS       float64
	RoundRPS  []float64
	P50, P99  time.Duration
	P999, Max time.Duration
	PeakRSS   int64
	CPU       time.Duration // the gateway's, over all windows
	SysCPU    time.Duration // the part of CPU in the kernel
	SelfCPU   time.Duration // the load generator's
	CPUPerReq time.Duration
	SysPerReq time.Duration // the part of CPUPerReq in the kernel
	ErrKinds  map[string]uint64
	Metrics   map[string]float64
	Redis     *RedisUse `json:",omitempty"` // what Redis did in the windows, for a target using it
	hist      Hist
}

func (tr *TargetResult) add(w *Window) {
	tr.Requests += w.Requests
	tr.Errors += w.Errors
	tr.Elapsed += w.Elapsed
	tr.CPU += w.CPU
	tr.SysCPU += w.SysCPU
	tr.SelfCPU += w.SelfCPU
	tr.PeakRSS = max(tr.PeakRSS, w.PeakRSS)
	tr.RoundRPS = append(tr.RoundRPS, w.RPS())
	tr.hist.Merge(&w.Hist)
	tr.RPS = float64(tr.Requests) / tr.Elapsed.Seconds()
	tr.P50, tr.P99, tr.P999, tr.Max = tr.hist.Quantile(0.5), tr.hist.Quantile(0.99), tr.hist.Quantile(0.999), tr.hist.Max()
	if tr.Requests > 0 {
		tr.CPUPerReq = tr.CPU / time.Duration(tr.Requests)
		tr.SysPerReq = tr.SysCPU / time.Duration(tr.Requests)
	}
	if tr.ErrKinds == nil {
		tr.ErrKinds, tr.Metrics = map[string]uint64{}, map[string]float64{}
	}
	for k, n := range w.ErrKinds {
		tr.ErrKinds[k] += n
	}
	for k, v := range w.Metrics {
		tr.Metrics[k] += v
	}
	if w.Redis != nil {
		if tr.Redis == nil {
			tr.Redis = &RedisUse{Calls: map[string]uint64{}}
		}
		tr.Redis.add(w.Redis)
	}
}

func (s *ScenarioResult) target(name string) *TargetResult {
	for _, t := range s.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}

func (s *ScenarioResult) print(w io.Writer) {
	fmt.Fprintf(w, "%s\n", s.Title)
	if s.Pool > 0 {
		fmt.Fprintf(w, "token pool: %d tokens, walked in order by each target\n", s.Pool)
	}
	if len(s.Targets) > 0 {
		fmt.Fprintf(w, "  %-15s %9s %-19s %8s %8s %8s %8s %7s %9s %8s %9s %8s %8s\n",
			"target", "req/s", "(per round)", "p50", "p99", "p99.9", "max", "errors", "peak RSS", "CPU/req", "of it sys", "gw cores", "lg cores")
	}
	for _, t := range s.Targets {
		rounds := make([]string, len(t.RoundRPS))
		for i, r := range t.RoundRPS {
			rounds[i] = fmt.Sprintf("%.0f", r)
		}
		fmt.Fprintf(w, "  %-15s %9.0f %-19s %8s %8s %8s %8s %7d %9s %8s %9s %8.2f %8.2f\n",
			t.Name, t.RPS, "("+strings.Join(rounds, " ")+")", ms(t.P50), ms(t.P99), ms(t.P999), ms(t.Max),
			t.Errors, mib(t.PeakRSS), fmt.Sprintf("%.1fµs", float64(t.CPUPerReq)/1e3), fmt.Sprintf("%.1fµs", float64(t.SysPerReq)/1e3),
			t.CPU.Seconds()/t.Elapsed.Seconds(), t.SelfCPU.Seconds()/t.Elapsed.Seconds())
	}
	for _, t := range s.Targets {
		for _, k := range slices.Sorted(maps.Keys(t.ErrKinds)) {
			fmt.Fprintf(w, "  %s error: %d × %s\n", t.Name, t.ErrKinds[k], k)
		}
	}
	for _, c := range s.Targets {
		if !strings.HasPrefix(c.Name, tCuegate) {
			continue
		}
		for _, base := range s.Targets {
			if base == c || base.RPS == 0 {
				continue
			}
			fmt.Fprintf(w, "  %s/%s: req/s %.3f%s, p50 %.2f, p99 %.2f, CPU/req %.2f (user %.2f, sys %.2f)\n", c.Name, base.Name,
				c.RPS/base.RPS, roundRatios(c, base), ratio(c.P50, base.P50), ratio(c.P99, base.P99), ratio(c.CPUPerReq, base.CPUPerReq),
				ratio(c.CPUPerReq-c.SysPerReq, base.CPUPerReq-base.SysPerReq), ratio(c.SysPerReq, base.SysPerReq))
		}
		for _, k := range slices.Sorted(maps.Keys(c.Metrics)) {
			fmt.Fprintf(w, "  %s metric Δ %s = %.0f (%.3f per request)\n", c.Name, k, c.Metrics[k], c.Metrics[k]/float64(c.Requests))
		}
		if c.Redis != nil {
			printRedis(w, c)
		}
	}
	if s.Rewrites > 0 {
		fmt.Fprintf(w, "  config rewrites during %s windows: %d\n", tReload, s.Rewrites)
	}
	for _, n := range s.Skipped {
		fmt.Fprintf(w, "  %s\n", n)
	}
	for _, n := range s.ProfileNotes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprintln(w)
}

// printRedis prints what Redis did per request of t: the script calls
// (one per call of the Redis limiter; a request counted from a lease makes
// none), the socket reads (round trips),
// the bytes in and out, redis-server's CPU time, and every command by
// name, those run inside scripts included.
func printRedis(w io.Writer, t *TargetResult) {
	u, n := t.Redis, float64(max(t.Requests, 1))
	fmt.Fprintf(w, "  %s Redis per request: %.3f script calls, %.3f round trips (socket reads; pipelined commands share one), %.1f B in, %.1f B out, redis-server CPU %.1fµs (gateway + Redis %.1fµs)\n",
		t.Name, float64(u.scripts())/n, float64(u.Reads)/n, float64(u.NetIn)/n, float64(u.NetOut)/n,
		float64(u.CPU.Nanoseconds())/1e3/n, float64((t.CPU+u.CPU).Nanoseconds())/1e3/n)
	calls := make([]string, 0, len(u.Calls))
	for _, name := range slices.Sorted(maps.Keys(u.Calls)) {
		calls = append(calls, fmt.Sprintf("%s %.3f", name, float64(u.Calls[name])/n))
	}
	fmt.Fprintf(w, "  %s Redis commands per request, those run by scripts included: %s\n", t.Name, strings.Join(calls, ", "))
}

// roundRatios returns c's req/s over base's round by round, " (rounds
// 0.84 0.86)", when both ran more than one round; "" otherwise. Their
// spread shows how far one run's ratio can be trusted.
func roundRatios(c, base *TargetResult) string {
	if len(c.RoundRPS) < 2 || len(c.RoundRPS) != len(base.RoundRPS) {
		return ""
	}
	rs := make([]string, len(c.RoundRPS))
	for i := range rs {
		rs[i] = fmt.Sprintf("%.2f", c.RoundRPS[i]/base.RoundRPS[i])
	}
	return " (rounds " + strings.Join(rs, " ") + ")"
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Verdict is one target of the issue, checked.
type Verdict struct {
	Name   string
	Status string // PASS, FAIL or SKIP
	Detail string
}

// evaluate checks the targets:
//   - (a) req/s ≥ 0.85 × bare proxy, p99 ≤ 1.3 × bare proxy p99;
//   - (a) peak RSS ≤ 48 MiB;
//   - (b) req/s ≥ 0.9 × golang-jwt without cache, per algorithm;
//   - (e) req/s with reloads ≥ 0.9 × without, same process, same run;
//   - (f) the Redis limiter: req/s ≥ 0.75 × the memory limiter's, p99 ≤
//     2 × its p99, same run.
//
// Errors in a target's windows fail its verdicts: throughput of error pages
// proves nothing.
func evaluate(rs []*ScenarioResult) []Verdict {
	by := map[string]*ScenarioResult{}
	for _, r := range rs {
		by[r.ID] = r
	}
	var out []Verdict
	pair := func(sc, name, cName, bName string, check func(c, b *TargetResult) (bool, string)) {
		s := by[sc]
		if s == nil {
			return
		}
		c, b := s.target(cName), s.target(bName)
		switch {
		case c == nil || b == nil:
			out = append(out, Verdict{name, "SKIP", "not measured"})
		case c.Errors+b.Errors > 0:
			out = append(out, Verdict{name, "FAIL", fmt.Sprintf("errors: %s %d, %s %d", cName, c.Errors, bName, b.Errors)})
		default:
			ok, d := check(c, b)
			out = append(out, Verdict{name, map[bool]string{true: "PASS", false: "FAIL"}[ok], d})
		}
	}
	rps := func(min float64) func(c, b *TargetResult) (bool, string) {
		return func(c, b *TargetResult) (bool, string) {
			return c.RPS >= min*b.RPS, fmt.Sprintf("%s %.0f req/s vs %s %.0f req/s: %.3f (need ≥ %.2f)", c.Name, c.RPS, b.Name, b.RPS, c.RPS/b.RPS, min)
		}
	}
	pair("a", "(a) throughput ≥ 0.90 × bare proxy", tCuegate, tBare, rps(0.90))
	p99 := func(most float64) func(c, b *TargetResult) (bool, string) {
		return func(c, b *TargetResult) (bool, string) {
			return float64(c.P99) <= most*float64(b.P99), fmt.Sprintf("%s p99 %s vs %s %s: %.2f (need ≤ %.2f)", c.Name, ms(c.P99), b.Name, ms(b.P99), ratio(c.P99, b.P99), most)
		}
	}
	pair("a", "(a) p99 ≤ 1.25 × bare proxy p99", tCuegate, tBare, p99(1.25))
	peak := func(most int64) func(c, _ *TargetResult) (bool, string) {
		return func(c, _ *TargetResult) (bool, string) {
			return c.PeakRSS > 0 && c.PeakRSS <= most, fmt.Sprintf("%s peak RSS %s", c.Name, mib(c.PeakRSS))
		}
	}
	pair("a", "(a) peak RSS ≤ 48 MiB", tCuegate, tCuegate, peak(48<<20))
	for _, alg := range []string{"RS256", "ES256"} {
		id := "b-" + strings.ToLower(alg)
		pair(id, "(b) "+alg+" throughput ≥ 1.0 × golang-jwt, no cache", tCuegate, tJWT, rps(1.0))
		pair(id, "(b) "+alg+" peak RSS ≤ 96 MiB", tCuegate, tCuegate, peak(96<<20))
	}
	pair("e", "(e) throughput with a swap every 100ms ≥ 0.9 × without", tReload, tCuegate, rps(0.9))
	pair("f", "(f) Redis limiter throughput ≥ 0.75 × memory limiter", tRedis, tCuegate, rps(0.75))
	pair("f", "(f) Redis limiter p99 ≤ 2 × memory limiter p99", tRedis, tCuegate, p99(2))
	return out
}

func printSummary(w io.Writer, rs []*ScenarioResult, vs []Verdict, o options) {
	fmt.Fprintf(w, "Summary — load average now %s\n", loadAvg())
	fmt.Fprintf(w, "  %-8s %-15s %9s %8s %8s %9s %8s\n", "scenario", "target", "req/s", "p50", "p99", "peak RSS", "CPU/req")
	for _, r := range rs {
		for _, t := range r.Targets {
			fmt.Fprintf(w, "  %-8s %-15s %9.0f %8s %8s %9s %8s\n", r.ID, t.Name, t.RPS, ms(t.P50), ms(t.P99), mib(t.PeakRSS), fmt.Sprintf("%.1fµs", float64(t.CPUPerReq)/1e3))
		}
	}
	fmt.Fprintln(w)
	for _, v := range vs {
		fmt.Fprintf(w, "%s %s: %s\n", v.Status, v.Name, v.Detail)
	}
	fmt.Fprintf(w, "\nnote: the load generator, the upstream and the gateways share the machine's cores (nothing pinned);\n"+
		"%s of %d rounds per target is short: rerun with a longer -duration on a quiet machine before trusting small differences.\n", o.Duration, o.Rounds)
}

// contains reports whether the comma-separated list has item.
func contains(list, item string) bool {
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == item {
			return true
		}
	}
	return false
}
