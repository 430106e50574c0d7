package portal

import (
	"sync"
	"time"
)

// windowLimiter counts events per key (failed logins, sign-up attempts)
// in a fixed window that starts at the key's first event. An attempt
// reserves its slot before it runs (reserve) and then either keeps it as
// an event (commit) or gives it back (release), so that concurrent
// attempts on one key never run more than the limit between them. It is
// safe for concurrent use.
type windowLimiter struct {
	max     int
	window  time.Duration
	mu      sync.Mutex
	m       map[string]*windowCount
	sweepAt int // len(m) at which a new key sweeps the ended windows out
}

// pendingRetry is how long a reservation refused only for the attempts
// under way in its window (they may yet give their slots back) is told to
// wait.
const pendingRetry = time.Second

// windowLimiterKeys is the number of keys a windowLimiter holds before it
// sweeps ended windows out.
const windowLimiterKeys = 100_000

// windowCount is one key's window: n counts its events and its pending
// reservations, pending the reservations alone; refused is set once a
// reservation was refused in it.
type windowCount struct {
	n, pending int
	start      time.Time
	refused    bool
}

func newWindowLimiter(max int, window time.Duration) *windowLimiter {
	return &windowLimiter{max: max, window: window, m: map[string]*windowCount{}, sweepAt: windowLimiterKeys}
}

// reserve takes one slot for key and returns 0, or, when key has no slot
// left in its window, takes nothing and returns how long key must wait:
// until the window ends, or pendingRetry when what fills it is attempts
// under way. A slot taken must be given to commit or release exactly once.
func (l *windowLimiter) reserve(key string, now time.Time) time.Duration {
	wait, _ := l.reserveUpTo(key, l.max, now)
	return wait
}

// reserveUpTo is reserve with max events per window in place of l's: for
// a limit the configuration sets, which a reload may change. first
// reports whether a refusal is the first of key's window.
func (l *windowLimiter) reserveUpTo(key string, max int, now time.Time) (wait time.Duration, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.m[key]
	if c != nil && now.Sub(c.start) >= l.window { // a new window; pending slots carry over
		c.n, c.start, c.refused = c.pending, now, false
	}
	if c != nil && c.n >= max {
		first, c.refused = !c.refused, true
		if c.n-c.pending < max { // full only of attempts under way, which may give theirs back
			return pendingRetry, first
		}
		return c.start.Add(l.window).Sub(now), first // positive: the window was renewed above if it had ended
	}
	if c == nil {
		l.evictExpired(now)
		c = &windowCount{start: now}
		l.m[key] = c
	}
	c.n++
	c.pending++
	return 0, false
}

// evictExpired drops the windows that ended with nothing pending once
// there are many, to bound memory under a spray of keys. A sweep leaving
// n keys defers the next until there are max(windowLimiterKeys, 2n), so
// the sweeps cost amortised constant time per key. l.mu is held.
func (l *windowLimiter) evictExpired(now time.Time) {
	if len(l.m) < l.sweepAt {
		return
	}
	for k, c := range l.m {
		if c.pending == 0 && now.Sub(c.start) >= l.window {
			delete(l.m, k)
		}
	}
	l.sweepAt = max(windowLimiterKeys, 2*len(l.m))
}

// commit keeps key's reserved slot as an event of its window.
func (l *windowLimiter) commit(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[key].pending--
}

// release gives key's reserved slot back: the attempt is not counted.
func (l *windowLimiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.m[key]
	c.pending--
	c.n--
	if c.n == 0 {
		delete(l.m, key)
	}
}

// reset forgets key's events; its pending reservations stay counted.
func (l *windowLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.m[key]; c != nil {
		if c.n = c.pending; c.n == 0 {
			delete(l.m, key)
		}
	}
}

// limitSlot is one key's slot in one limiter.
type limitSlot struct {
	l   *windowLimiter
	key string
}

// addressSlots are the slots of the client address addr under byPlace
// (addressKey) and, for an IPv6 address, its network's under byNetwork
// (networkKey).
func addressSlots(byPlace, byNetwork *windowLimiter, addr string) []limitSlot {
	slots := []limitSlot{{byPlace, addressKey(addr)}}
	if nk := networkKey(addr); nk != "" {
		slots = append(slots, limitSlot{byNetwork, nk})
	}
	return slots
}

// portalWide is the key of a portal-wide limit's one window.
const portalWide = ""

// reservePortalWide reserves the slot of l's portal-wide window, of up to
// max events (defaultMax when max is not positive, a table that sets
// none): it returns the slot, or how long to wait and whether this is the
// window's first refusal.
func reservePortalWide(l *windowLimiter, max, defaultMax int, now time.Time) (slot limitSlot, wait time.Duration, first bool) {
	if max <= 0 {
		max = defaultMax
	}
	wait, first = l.reserveUpTo(portalWide, max, now)
	return limitSlot{l, portalWide}, wait, first
}

// portalWideRefused logs a refusal by the portal-wide limit setting: a
// warning for the first of its window, for the operator, and the client's
// address at info level for each.
func (s *Server) portalWideRefused(setting, addr string, wait time.Duration, first bool) {
	if first {
		s.opts.Logger.Warn().Str("setting", setting).Dur("for", wait.Round(time.Second)).Msg("portal: a portal-wide limit is reached: everyone is refused until its hour ends")
	}
	s.opts.Logger.Info().Str("setting", setting).Str("address", addr).Msg("portal: refused by a portal-wide limit")
}

// reserveAll reserves a slot of every key, or of none: it returns 0, or
// how long the first key without a slot must wait, having given back the
// slots it took. The slots are settled with commitAll or releaseAll.
func reserveAll(slots []limitSlot, now time.Time) time.Duration {
	for i, sl := range slots {
		if wait := sl.l.reserve(sl.key, now); wait > 0 {
			releaseAll(slots[:i])
			return wait
		}
	}
	return 0
}

// commitAll keeps every reserved slot as an event.
func commitAll(slots []limitSlot) {
	for _, sl := range slots {
		sl.l.commit(sl.key)
	}
}

// releaseAll gives every reserved slot back.
func releaseAll(slots []limitSlot) {
	for _, sl := range slots {
		sl.l.release(sl.key)
	}
}
