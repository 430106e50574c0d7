package limit

import (
	"context"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestPeek: after n requests, Peek reports them against both limits, as
// often as it is asked, without counting; Take then allows exactly what
// Peek says is left.
func TestPeek(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	var clock at
	clock.set(start)
	srv := testutil.StartRedis(t)
	limiters := map[string]interface {
		Limiter
		Peeker
	}{
		"memory": NewMemory(MemoryOptions{}),
		"redis":  clocked(NewRedis(srv.Client(t), RedisOptions{KeyPrefix: "peek:", Timeout: 5 * time.Second}), &clock),
		"resilient": NewResilient(clocked(NewRedis(srv.Client(t), RedisOptions{KeyPrefix: "peek-resilient:", Timeout: 5 * time.Second}), &clock),
			ResilientOptions{}),
	}
	for name, l := range limiters {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			k := Key{Issuer: "https://idp", Identity: "client-" + name, Policy: "gold"}
			req := Request{RateKey: k, Rate: &table.Rate{Requests: 10, Per: table.Duration(time.Minute)},
				QuotaKey: k, Quota: &table.Quota{Max: 100, Period: table.Duration(24 * time.Hour)}}
			rate, quota, err := l.Peek(ctx, req, start)
			if err != nil || rate != (Usage{Limit: 10}) || quota != (Usage{Limit: 100}) {
				t.Fatalf("Peek of a new key = %+v, %+v, %v", rate, quota, err)
			}
			now := start.Add(time.Second)
			clock.set(now)
			for range 7 {
				if _, _, err := l.Take(ctx, req, now); err != nil {
					t.Fatal(err)
				}
			}
			now = now.Add(2 * time.Second)
			clock.set(now)
			for range 3 { // peeking does not count
				rate, quota, err = l.Peek(ctx, req, now)
				if err != nil {
					t.Fatal(err)
				}
				wantRate := Usage{Used: 7, Limit: 10, Reset: 2*time.Minute - 2*time.Second}
				wantQuota := Usage{Used: 7, Limit: 100, Reset: 24*time.Hour - 2*time.Second}
				if rate != wantRate || quota != wantQuota {
					t.Fatalf("Peek = %+v, %+v; want %+v, %+v", rate, quota, wantRate, wantQuota)
				}
			}
			allowed := 0
			for range 5 {
				if d, _, _ := l.Take(ctx, req, now); d.Allowed {
					allowed++
				}
			}
			if allowed != 3 {
				t.Errorf("after peeking, Take allowed %d of 5, want 3", allowed)
			}
		})
	}
}
