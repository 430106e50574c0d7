package limit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/rs/zerolog"
)

// timeout is the tests' call timeout: the default 50ms leaves too little
// room on a slow, shared machine running -race, where a call that should
// succeed would fall back.
const timeout = 200 * time.Millisecond

// callBound is how long a Take may take when Redis does not answer: the
// timeout and room for the scheduler of a loaded machine.
const callBound = timeout + 500*time.Millisecond

func newResilient(t *testing.T, srv *testutil.Redis, opts ResilientOptions) (*Resilient, *testutil.SyncBuffer) {
	t.Helper()
	var log testutil.SyncBuffer
	opts.Logger = zerolog.New(&log)
	if opts.Probe == 0 {
		opts.Probe = 100 * time.Millisecond
	}
	// No leases: the tests count what each Take leaves in Redis.
	return NewResilient(NewRedis(srv.Client(t), RedisOptions{Timeout: timeout, MaxLease: 1}), opts), &log
}

// takeBounded calls l.Take and fails t when it took longer than callBound.
func takeBounded(t *testing.T, l *Resilient, req Request) (rate, quota Decision, err error) {
	t.Helper()
	start := time.Now()
	rate, quota, err = l.Take(context.Background(), req, time.Now())
	if d := time.Since(start); d > callBound {
		t.Errorf("Take took %v with Redis down, want at most %v", d, callBound)
	}
	return rate, quota, err
}

// TestResilientPaused: with the server frozen (SIGSTOP), calls return
// within the bound and the limiter falls back to counting locally, logged
// once; the server resumed, Redis counts again, logged once, and the quota
// counted locally has been added to Redis's window.
func TestResilientPaused(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	l, log := newResilient(t, srv, ResilientOptions{})
	quota := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	k := Key{Identity: "alice", Policy: "p"}
	req := Request{QuotaKey: k, Quota: &quota}
	for range 3 {
		if _, q, err := l.Take(context.Background(), req, time.Now()); err != nil || !q.Allowed {
			t.Fatalf("before the pause: %+v, %v", q, err)
		}
	}
	srv.Pause()
	for i := range 10 {
		if _, q, err := takeBounded(t, l, req); err != nil || !q.Allowed {
			t.Fatalf("paused, call %d: %+v, %v; want allowed locally", i, q, err)
		}
	}
	if m := l.Mode(); m != ModeLocal {
		t.Errorf("mode %v with Redis paused, want local", m)
	}
	srv.Resume()
	testutil.Eventually(t, "Redis counting again", func() bool {
		takeBounded(t, l, req)
		return l.Mode() == ModeRedis
	})
	// 3 + 10 + the calls of the poll were counted, in Redis or locally
	// and added on recovery: the next one sees them all but its own.
	_, q, err := l.Take(context.Background(), req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if q.Remaining > 100-14 {
		t.Errorf("after recovery %d remain of 100; the 13 counted before and during the pause were not all added", q.Remaining)
	}
	logs := log.String()
	if n := strings.Count(logs, "unreachable"); n != 1 {
		t.Errorf("%d lines on entering the fallback, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs, "answers again"); n != 1 {
		t.Errorf("%d lines on leaving the fallback, want 1:\n%s", n, logs)
	}
}

// TestResilientPushesLocalQuota: the quota counted locally during an
// outage is added to Redis's window on recovery, exactly.
func TestResilientPushesLocalQuota(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	l, _ := newResilient(t, srv, ResilientOptions{Failures: 1})
	quota := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	req := Request{QuotaKey: Key{Identity: "bob", Policy: "p"}, Quota: &quota}
	for range 3 {
		l.Take(context.Background(), req, time.Now())
	}
	srv.Pause()
	for range 5 {
		takeBounded(t, l, req)
	}
	srv.Resume()
	// No Take here: probe as the next one would.
	testutil.Eventually(t, "Redis counting again", func() bool {
		if l.Mode() == ModeRedis {
			return true
		}
		l.maybeProbe()
		return false
	})
	other := newNode(t, srv)
	_, q, err := other.Take(context.Background(), req, time.Now())
	// The first call of the pause failed (the fallback answered it and
	// does not add it later): Redis counted it on waking when it had been
	// written (91 remaining), not when the client gave it up unwritten
	// (92, seen once in CI); 90 is the bound this test always allowed.
	if err != nil || q.Remaining < 100-10 || q.Remaining > 100-8 {
		t.Errorf("another node after recovery: %+v, %v; want 91 remaining (3 in Redis, 1 in flight, 4 locally, this one), or 90 to 92", q, err)
	}
}

// TestResilientRestart: Redis killed, then restarted on the same port:
// the same limiter counts in Redis again within 2 s.
func TestResilientRestart(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	l, _ := newResilient(t, srv, ResilientOptions{})
	rate := perSecond(1000)
	req := Request{RateKey: Key{Identity: "carol", Policy: "p"}, Rate: &rate}
	srv.Kill()
	for range 5 {
		if r, _, err := takeBounded(t, l, req); err != nil || !r.Allowed {
			t.Fatalf("Redis killed: %+v, %v", r, err)
		}
	}
	if m := l.Mode(); m != ModeLocal {
		t.Fatalf("mode %v with Redis killed, want local", m)
	}
	srv.Restart()
	start := time.Now()
	testutil.Eventually(t, "Redis counting again", func() bool {
		takeBounded(t, l, req)
		return l.Mode() == ModeRedis
	})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("recovered %v after the restart, want within 2s", d)
	}
	if r, _, err := l.Take(context.Background(), req, time.Now()); err != nil || !r.Allowed || l.Mode() != ModeRedis {
		t.Errorf("after recovery: %+v, %v, mode %v", r, err, l.Mode())
	}
}

// TestResilientModes: what each OnError answers while Redis is down.
func TestResilientModes(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	rate := table.Rate{Requests: 9, Per: table.Duration(time.Minute)}
	req := Request{RateKey: Key{Identity: "dave", Policy: "p"}, Rate: &rate}
	tests := []struct {
		mode    Mode
		allowed int // of 10
		err     error
	}{
		{ModeLocal, 3, nil}, // 9 divided by 3 nodes
		{ModeAllow, 10, nil},
		{ModeDeny, 0, ErrUnavailable},
	}
	limiters := make([]*Resilient, len(tests))
	for i, tt := range tests {
		limiters[i], _ = newResilient(t, srv, ResilientOptions{OnError: tt.mode, Nodes: func() int { return 3 }})
	}
	srv.Kill()
	for i, tt := range tests {
		l := limiters[i]
		allowed := 0
		for i := range 10 {
			r, _, err := takeBounded(t, l, req)
			if !errors.Is(err, tt.err) {
				t.Fatalf("%v, call %d: error %v, want %v", tt.mode, i, err, tt.err)
			}
			if r.Allowed {
				allowed++
			}
		}
		if allowed != tt.allowed {
			t.Errorf("%v: %d of 10 allowed, want %d", tt.mode, allowed, tt.allowed)
		}
		if m := l.Mode(); m != tt.mode {
			t.Errorf("mode %v, want %v", m, tt.mode)
		}
	}
}

// TestResilientPausedConcurrent: many callers while the server freezes
// mid-run all return within the bound.
func TestResilientPausedConcurrent(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	l, _ := newResilient(t, srv, ResilientOptions{})
	rate := perSecond(1_000_000)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			req := Request{RateKey: Key{Identity: "id" + strings.Repeat("x", g), Policy: "p"}, Rate: &rate}
			for range 40 {
				takeBounded(t, l, req)
			}
		})
	}
	srv.Pause()
	wg.Wait()
	srv.Resume()
}

// TestHeartbeat: three nodes see three; one stops, the others see two.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	hs := make([]*Heartbeat, 3)
	for i := range hs {
		hs[i] = NewHeartbeat(srv.Client(t), HeartbeatOptions{TTL: 300 * time.Millisecond})
		hs[i].Start()
		t.Cleanup(hs[i].Stop)
	}
	for i, h := range hs {
		testutil.Eventually(t, "node "+string(rune('A'+i))+" seeing 3 nodes", func() bool { return h.Nodes() == 3 })
	}
	hs[2].Stop()
	for _, h := range hs[:2] {
		testutil.Eventually(t, "2 nodes after one stopped", func() bool { return h.Nodes() == 2 })
	}
}

// TestHeartbeatMinNodes: a node with MinNodes counts at least that many,
// before Redis answers (started during an outage) and when fewer
// announce themselves, and the live nodes when they are more.
func TestHeartbeatMinNodes(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	c := srv.Client(t)
	srv.Kill()
	h := NewHeartbeat(c, HeartbeatOptions{TTL: 300 * time.Millisecond, MinNodes: 3})
	h.Start()
	t.Cleanup(h.Stop)
	if n := h.Nodes(); n != 3 {
		t.Errorf("started with Redis down: Nodes() = %d, want MinNodes 3", n)
	}
	srv.Restart()
	others := make([]*Heartbeat, 3)
	for i := range others {
		others[i] = NewHeartbeat(srv.Client(t), HeartbeatOptions{TTL: 300 * time.Millisecond})
		others[i].Start()
		t.Cleanup(others[i].Stop)
	}
	testutil.Eventually(t, "4 live nodes", func() bool { return h.Nodes() == 4 })
	for _, o := range others[1:] {
		o.Stop()
	}
	testutil.Eventually(t, "back to MinNodes with 2 live", func() bool { return h.Nodes() == 3 })
}

// TestResilientPendingQuotaBounded: the quota counted locally during an
// outage, still to add to Redis, stays within MaxPendingBytes however
// many identities arrive, keeps none of the requests' strings, and the
// keys dropped are logged once and counted.
func TestResilientPendingQuotaBounded(t *testing.T) {
	t.Parallel()
	var log testutil.SyncBuffer
	budget := 20 * pendingBytes(Key{Identity: "id-0000", Policy: "p"})
	l := NewResilient(NewRedis(nil, RedisOptions{}), ResilientOptions{MaxPendingBytes: budget, Logger: zerolog.New(&log)})
	quota := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	big := strings.Repeat("x", 1<<16)
	const n = 1000
	request := make(map[string]*byte, n) // where each request's identity lies
	for i := range n {
		id := fmt.Sprintf("id-%04d", i) + big // the identity, a part of a larger string
		k := Key{Identity: id[:7], Policy: "p"}
		request[k.Identity] = unsafe.StringData(id)
		l.addPending(k, quota)
		l.addPending(k, quota)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var sum int64
	for k, p := range l.pending.m {
		sum += pendingBytes(k)
		if p.n != 2 {
			t.Errorf("%s: %d pending, want 2", k.Identity, p.n)
		}
		if unsafe.StringData(k.Identity) == request[k.Identity] {
			t.Errorf("%s: the key keeps the request's string", k.Identity)
		}
	}
	if sum != l.pending.bytes || sum > budget || len(l.pending.m) == 0 {
		t.Errorf("%d keys accounted %d bytes (their keys take %d), budget %d", len(l.pending.m), l.pending.bytes, sum, budget)
	}
	if got := l.dropped + int64(len(l.pending.m)); got != n {
		t.Errorf("%d dropped and %d held: %d keys, want %d", l.dropped, len(l.pending.m), got, n)
	}
	if c := strings.Count(log.String(), "dropping some of it"); c != 1 {
		t.Errorf("the drop logged %d times, want once: %s", c, log.String())
	}
}
