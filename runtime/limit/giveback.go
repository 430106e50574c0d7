package limit

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"
)

//go:embed giveback.lua
var givebackSource string

// givebackLua is the give-back script as Redis runs it; givebackSHA is
// its SHA-1, for EVALSHA once SCRIPT LOAD has loaded it.
var (
	givebackLua = stateSource + givebackSource
	givebackSHA = fmt.Sprintf("%x", sha1.Sum([]byte(givebackLua)))
)

// givebacksDroppedMetric counts, on the default VictoriaMetrics set, the
// units of forgotten leases that were not given back: the queue was full,
// or a give-back's answer was lost (see giveBackBatch). They stay counted
// in Redis until their windows end.
const givebacksDroppedMetric = "cuegate_cluster_lease_units_dropped_total"

// givebackBatch is the most give-backs sent in one pipeline.
const givebackBatch = 256

// givebackRetry is the least time between two passes over the queue when
// one failed: a Redis that answers the requests' calls but not the
// give-backs is not asked again at every call.
const givebackRetry = time.Second

// giveback is units of a lease that its node forgot before they were
// used, owed back to Redis: they are still counted in the key's windows.
type giveback struct {
	key    Key
	units  int64
	rStart int64     // µs on Redis's clock; 0 without a rate
	per    int64     // µs
	qStart int64     // µs on Redis's clock; 0 without a quota
	until  time.Time // this node's clock: when no window counts them
}

// giveback claims l's units left, for k, as owed back; ok is false when
// none are left.
func (l *lease) giveback(k Key) (g giveback, ok bool) {
	g.units = l.rest()
	if g.units == 0 {
		return g, false
	}
	const us = int64(time.Microsecond)
	var end int64 // on Redis's clock
	if l.limits.hasRate {
		g.rStart, g.per = l.state.rStart/us, l.per/us
		end = l.state.rStart + 2*l.per
	}
	if l.limits.hasQuota {
		g.qStart = l.state.qStart / us
		end = max(end, l.state.qEnd)
	}
	g.key, g.until = k, l.at.Add(time.Duration(end-l.server))
	return g, true
}

// args fills the script's four arguments of a give-back: units, rate
// window start and length, quota window start.
func (g giveback) args(dst []string) {
	dst[0], dst[1], dst[2], dst[3] = strconv.FormatInt(g.units, 10), strconv.FormatInt(g.rStart, 10), strconv.FormatInt(g.per, 10), strconv.FormatInt(g.qStart, 10)
}

// giveBack fills args, the script's four for key k, with the units left
// of this node's lease on k, which it claims, and that lease's windows:
// the call counts on k, so the lease would no longer be Memory's count,
// and the units it did not use are as if never counted. A lease with the
// call's limits lim that has not ended is kept: one node's requests call
// with it only once it has run out, unless another call made it meanwhile.
func (r *Redis) giveBack(args []string, k Key, lim limits, now time.Time) {
	l := r.leases.get(k)
	if l == nil || l.limits == lim && now.Before(l.end) {
		return
	}
	if g, ok := l.giveback(k); ok {
		g.args(args)
	}
}

// givebackBytes is what a queued give-back for k accounts for: the
// struct twice (the slack of a slice's growth) and k's copy of the
// identity.
func givebackBytes(k Key) int64 {
	return 2*roundUp16(int64(unsafe.Sizeof(giveback{}))) + roundUp16(int64(len(k.Identity)))
}

// givebacks is the queue of units owed back to Redis, within a budget of
// bytes; safe for concurrent use. One pass at a time drains it (see
// Redis.drain).
type givebacks struct {
	mu      sync.Mutex
	q       []giveback
	bytes   int64
	max     int64
	n       atomic.Int64 // len(q)
	running atomic.Bool  // a pass runs
	retryAt atomic.Int64 // Unix ns: no pass starts before, after one failed
	dropped *metrics.Counter
}

func newGivebacks(max int64) *givebacks {
	return &givebacks{max: max, dropped: metrics.GetOrCreateCounter(givebacksDroppedMetric)}
}

// add queues g, unless its windows have ended at now; when it does not
// fit, its units are counted as dropped.
func (q *givebacks) add(g giveback, now time.Time) {
	if !now.Before(g.until) {
		return
	}
	size := givebackBytes(g.key)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bytes+size > q.max {
		q.dropped.Add(int(g.units))
		return
	}
	q.q = append(q.q, g)
	q.bytes += size
	q.n.Store(int64(len(q.q)))
}

// takeAll empties the queue and returns what it held.
func (q *givebacks) takeAll() []giveback {
	q.mu.Lock()
	defer q.mu.Unlock()
	all := q.q
	q.q, q.bytes = nil, 0
	q.n.Store(0)
	return all
}

// due reports whether a pass should start at now: something is queued
// and no failed pass asked to wait.
func (q *givebacks) due(now time.Time) bool {
	return q.n.Load() > 0 && now.UnixNano() >= q.retryAt.Load()
}

// forget queues the units left of l, k's lease that this node forgets,
// to be given back, and starts a pass.
func (r *Redis) forget(k Key, l *lease) {
	g, ok := l.giveback(k)
	if !ok {
		return
	}
	now := r.now()
	r.owed.add(g, now)
	r.maybeDrain(now)
}

// maybeDrain starts a pass over the queued give-backs in the background
// when one is due and none runs.
func (r *Redis) maybeDrain(now time.Time) {
	if !r.owed.due(now) || !r.owed.running.CompareAndSwap(false, true) {
		return
	}
	go func() {
		r.drain()
		r.owed.running.Store(false)
		r.maybeDrain(r.now()) // what was queued as the pass ended
	}()
}

// drain gives back what is queued, in pipelined batches within the
// timeout each, until the queue is empty or a batch fails: then what
// failed is queued again (unless its windows have ended meanwhile), and
// the next pass waits givebackRetry.
func (r *Redis) drain() {
	for {
		todo := r.owed.takeAll()
		if len(todo) == 0 {
			return
		}
		failed := false
		for len(todo) > 0 {
			n := min(len(todo), givebackBatch)
			failed = r.giveBackBatch(todo[:n]) || failed
			todo = todo[n:]
		}
		if failed {
			r.owed.retryAt.Store(r.now().Add(givebackRetry).UnixNano())
			return
		}
	}
}

// giveBackBatch runs the give-back script for each of batch, once it is
// loaded, in one pipeline, and reports whether any failed. The script
// subtracts, so a give-back is run at most once: one that was never sent
// (the load failed) or that Redis refused is queued again; one whose
// answer did not come (a timeout: it may have run) is not sent again,
// and its units are counted as dropped, as if never given back.
func (r *Redis) giveBackBatch(batch []giveback) (failed bool) {
	now := r.now()
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	if err := r.client.Do(ctx, r.client.B().ScriptLoad().Script(givebackLua).Build()).Error(); err != nil {
		for _, g := range batch {
			r.owed.add(g, now)
		}
		return true
	}
	cmds := make(rueidis.Commands, 0, len(batch))
	for _, g := range batch {
		args := make([]string, 5)
		g.args(args)
		args[4] = r.scriptNow(now)
		cmds = append(cmds, r.client.B().Evalsha().Sha1(givebackSHA).Numkeys(1).Key(r.key(g.key)).Arg(args...).Build())
	}
	for i, res := range r.client.DoMulti(ctx, cmds...) {
		err := res.Error()
		if err == nil {
			continue
		}
		failed = true
		if _, refused := rueidis.IsRedisErr(err); refused {
			r.owed.add(batch[i], now)
		} else {
			r.owed.dropped.Add(int(batch[i].units))
		}
	}
	return failed
}
