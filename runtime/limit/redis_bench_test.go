package limit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// BenchmarkRedisTake counts a rate and a quota of one policy for 1,000
// identities from 64 goroutines against a real redis-server, and reports
// the server's scripts run (round trips), commands and bytes per request.
func BenchmarkRedisTake(b *testing.B) {
	srv := testutil.StartRedis(b)
	r := newNode(b, srv)
	rate := perSecond(1_000_000)
	quota := table.Quota{Max: 1 << 50, Period: table.Duration(time.Hour)}
	reqs := make([]Request, 1000)
	for i := range reqs {
		k := Key{Issuer: "https://idp.example/", Identity: fmt.Sprint("client-", i), Policy: "gold"}
		reqs[i] = Request{RateKey: k, Rate: &rate, QuotaKey: k, Quota: &quota}
	}
	ctx := context.Background()
	before := serverStats(b, srv)
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, err := r.Take(ctx, reqs[i%len(reqs)], time.Time{}); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.StopTimer()
	after := serverStats(b, srv)
	n := float64(b.N)
	b.ReportMetric(float64(after.evals-before.evals)/n, "evals/op")
	b.ReportMetric(float64(after.calls-before.calls)/n, "cmds/op")
	b.ReportMetric(float64(after.in-before.in)/n, "in-B/op")
	b.ReportMetric(float64(after.out-before.out)/n, "out-B/op")
}

type stats struct{ evals, calls, in, out int64 }

// serverStats reads the server's count of scripts run (EVALSHA and EVAL:
// round trips), of all commands (the scripts' own calls too, INFO
// excluded) and its network bytes in and out.
func serverStats(tb testing.TB, srv *testutil.Redis) stats {
	tb.Helper()
	var s stats
	for _, section := range []string{"commandstats", "stats"} {
		info, err := srv.Do("INFO", section)
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			name, val, _ := strings.Cut(line, ":")
			switch {
			case strings.HasPrefix(name, "cmdstat_") && name != "cmdstat_info":
				calls, _, _ := strings.Cut(strings.TrimPrefix(val, "calls="), ",")
				c, _ := strconv.ParseInt(calls, 10, 64)
				s.calls += c
				if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
					s.evals += c
				}
			case name == "total_net_input_bytes":
				s.in, _ = strconv.ParseInt(val, 10, 64)
			case name == "total_net_output_bytes":
				s.out, _ = strconv.ParseInt(val, 10, 64)
			}
		}
	}
	return s
}
