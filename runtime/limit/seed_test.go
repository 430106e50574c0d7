package limit

import (
	"context"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestResilientSeedsLocalQuota: when the breaker opens, the local
// fallback counts on from the quota this node last saw used of a key it
// holds a refusal or a lease of, not from zero; a key it holds nothing
// of gets its whole share.
func TestResilientSeedsLocalQuota(t *testing.T) {
	t.Parallel()
	month := table.Duration(30 * 24 * time.Hour)
	for _, tc := range []struct {
		name   string
		quota  table.Quota
		before int // requests through Redis before the outage
		want   int // allowed during it
	}{
		{"spent, refused", table.Quota{Max: 10, Period: month}, 11, 0},
		{"partly used, leased", table.Quota{Max: 100, Period: month}, 40, 60},
		{"never seen", table.Quota{Max: 10, Period: month}, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testutil.StartRedis(t)
			r := NewRedis(srv.Client(t), RedisOptions{Timeout: timeout, LeaseShare: 1})
			l := NewResilient(r, ResilientOptions{Failures: 1, Probe: time.Hour})
			req := Request{QuotaKey: Key{Identity: "alice", Policy: "p"}, Quota: &tc.quota}
			for i := range tc.before {
				if _, q, err := l.Take(context.Background(), req, time.Now()); err != nil || q.Allowed != (i < int(tc.quota.Max)) {
					t.Fatalf("request %d before the outage: %+v, %v", i, q, err)
				}
			}
			srv.Pause()
			defer srv.Resume()
			takeBounded(t, l, Request{QuotaKey: Key{Identity: "bob", Policy: "p"}, Quota: &tc.quota}) // opens the breaker
			allowed := 0
			for range 2 * tc.quota.Max {
				if _, q, err := takeBounded(t, l, req); err == nil && q.Allowed {
					allowed++
				}
			}
			if m := l.Mode(); m != ModeLocal {
				t.Fatalf("mode %v, want local", m)
			}
			if allowed != tc.want {
				t.Errorf("%d allowed during the outage, want %d", allowed, tc.want)
			}
		})
	}
}
