package main

import (
	"strings"
	"testing"
	"time"
)

func TestRoundRatios(t *testing.T) {
	tests := []struct {
		c, base []float64
		want    string
	}{
		{[]float64{850, 900}, []float64{1000, 1000}, " (rounds 0.85 0.90)"},
		{[]float64{850}, []float64{1000}, ""},      // one round: the ratio says it all
		{[]float64{850, 900}, []float64{1000}, ""}, // rounds that do not pair up
		{[]float64{1, 2, 3}, []float64{2, 2, 2}, " (rounds 0.50 1.00 1.50)"},
	}
	for _, tt := range tests {
		if got := roundRatios(&TargetResult{RoundRPS: tt.c}, &TargetResult{RoundRPS: tt.base}); got != tt.want {
			t.Errorf("roundRatios(%v, %v) = %q, want %q", tt.c, tt.base, got, tt.want)
		}
	}
}

// TestEvaluateRedis checks the verdicts of scenario (f): the Redis
// limiter's req/s against 0.75 × the memory limiter's, its p99 against
// 2 × its p99, and errors failing both.
func TestEvaluateRedis(t *testing.T) {
	t.Parallel()
	mem := &TargetResult{Name: tCuegate, RPS: 1000, P99: 10 * time.Millisecond}
	tests := []struct {
		name  string
		redis *TargetResult
		want  []string // throughput, p99
	}{
		{"within both", &TargetResult{Name: tRedis, RPS: 750, P99: 20 * time.Millisecond}, []string{"PASS", "PASS"}},
		{"too slow", &TargetResult{Name: tRedis, RPS: 749, P99: 21 * time.Millisecond}, []string{"FAIL", "FAIL"}},
		{"errors", &TargetResult{Name: tRedis, RPS: 1000, P99: 10 * time.Millisecond, Errors: 1}, []string{"FAIL", "FAIL"}},
		{"not measured", nil, []string{"SKIP", "SKIP"}},
	}
	for _, tt := range tests {
		res := &ScenarioResult{ID: "f", Targets: []*TargetResult{mem}}
		if tt.redis != nil {
			res.Targets = append(res.Targets, tt.redis)
		}
		vs := evaluate([]*ScenarioResult{res})
		if len(vs) != 2 {
			t.Fatalf("%s: %d verdicts, want 2: %+v", tt.name, len(vs), vs)
		}
		for i, v := range vs {
			if v.Status != tt.want[i] {
				t.Errorf("%s: %s: %s (%s), want %s", tt.name, v.Name, v.Status, v.Detail, tt.want[i])
			}
		}
	}
}

func TestPrintRedis(t *testing.T) {
	t.Parallel()
	tr := &TargetResult{Name: tRedis, Requests: 1000, CPU: 40 * time.Millisecond, Redis: &RedisUse{
		Calls: map[string]uint64{"evalsha": 1000, "time": 1000, "hmget": 2000, "zadd": 1},
		Reads: 400, NetIn: 250_000, NetOut: 30_000, CPU: 10 * time.Millisecond,
	}}
	var b strings.Builder
	printRedis(&b, tr)
	for _, want := range []string{
		"1.000 script calls, 0.400 round trips", "250.0 B in, 30.0 B out", "redis-server CPU 10.0µs (gateway + Redis 50.0µs)",
		"evalsha 1.000, hmget 2.000, time 1.000, zadd 0.001\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("printRedis lacks %q:\n%s", want, b.String())
		}
	}
}

// TestPrintCPUSplit: each target's CPU per request is split into the
// kernel's part, and a cuegate target's ratios to a baseline into user
// and kernel time.
func TestPrintCPUSplit(t *testing.T) {
	t.Parallel()
	s := &ScenarioResult{Title: "(a)"}
	for _, w := range []struct {
		name     string
		cpu, sys time.Duration
		requests uint64
	}{
		{tBare, 30 * time.Millisecond, 20 * time.Millisecond, 1000},
		{tCuegate, 40 * time.Millisecond, 24 * time.Millisecond, 1000},
	} {
		tr := &TargetResult{Name: w.name}
		tr.add(&Window{Requests: w.requests, Elapsed: time.Second, CPU: w.cpu, SysCPU: w.sys})
		s.Targets = append(s.Targets, tr)
	}
	var b strings.Builder
	s.print(&b)
	for _, want := range []string{"30.0µs    20.0µs", "40.0µs    24.0µs", "CPU/req 1.33 (user 1.60, sys 1.20)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, b.String())
		}
	}
}
