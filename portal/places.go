package portal

import (
	"maps"
	"sync"
	"time"
)

// knownPlaces remembers, for each account, the client addresses
// (addressKey) it last logged in or signed up from: at most max of them,
// the most recent, each for ttl after its last use. It is safe for
// concurrent use. Its memory grows with the accounts that log in, not
// with failed attempts.
type knownPlaces struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[string]map[string]time.Time // account → place → last use
}

func newKnownPlaces(max int, ttl time.Duration) *knownPlaces {
	return &knownPlaces{ttl: ttl, max: max, m: map[string]map[string]time.Time{}}
}

// known reports whether account was used from place within ttl of now.
func (k *knownPlaces) known(account, place string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	last, ok := k.m[account][place]
	return ok && now.Sub(last) < k.ttl
}

// remember records that account is used from place now, forgetting its
// places past ttl and, beyond max, its least recent one.
func (k *knownPlaces) remember(account, place string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	places := k.m[account]
	if places == nil {
		places = map[string]time.Time{}
		k.m[account] = places
	}
	places[place] = now
	maps.DeleteFunc(places, func(_ string, last time.Time) bool { return now.Sub(last) >= k.ttl })
	for len(places) > k.max {
		oldest := place
		for p, last := range places {
			if last.Before(places[oldest]) {
				oldest = p
			}
		}
		delete(places, oldest)
	}
}
