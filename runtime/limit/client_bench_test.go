package limit

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

//go:embed redis.lua
var benchScript string

// BenchmarkClients runs the limiter's script (a rate and a quota on one
// key, 1,000 identities) from many goroutines through each client, and
// reports the server's calls and bytes per request.
func BenchmarkClients(b *testing.B) {
	srv := testutil.StartRedis(b)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("cuegate:v1:{id%d}:p", i)
	}
	args := []string{"", "1000000", "1000000", "1000000000000", "3600000000"}
	b.Run("rueidis", func(b *testing.B) {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		s := rueidis.NewLuaScript(benchScript)
		benchClient(b, srv, func(ctx context.Context, k string) error {
			return s.Exec(ctx, c, []string{k, k}, args).Error()
		})
	})
	b.Run("go-redis", func(b *testing.B) {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		defer c.Close()
		s := goredis.NewScript(benchScript)
		iargs := make([]any, len(args))
		for i, a := range args {
			iargs[i] = a
		}
		benchClient(b, srv, func(ctx context.Context, k string) error {
			return s.Run(ctx, c, []string{k, k}, iargs...).Err()
		})
	})
}

func benchClient(b *testing.B, srv *testutil.Redis, take func(ctx context.Context, key string) error) {
	ctx := context.Background()
	keys := 1000
	if err := take(ctx, "warm"); err != nil {
		b.Fatal(err)
	}
	before := serverStats(b, srv)
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := take(ctx, fmt.Sprintf("cuegate:v1:{id%d}:p", i%keys)); err != nil {
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
