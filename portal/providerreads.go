package portal

import (
	"context"
	"sync"
	"time"
)

// providerReadTTL is how long what the provider said of a client is shown
// without asking it again: page views cannot make the portal call the
// provider more often than once per client and registration per TTL.
const providerReadTTL = 10 * time.Second

// maxProviderReads is how many answers providerReads holds before it
// drops the expired ones.
const maxProviderReads = 1024

// providerReads caches what the provider said of a client, keyed by the
// client and the registration it was read with, so a rotated token or URI
// reads again. Concurrent reads of one key share one call. It is safe
// for concurrent use.
type providerReads struct {
	mu sync.Mutex
	m  map[string]*providerRead
}

type providerRead struct {
	done  chan struct{} // closed once state is set
	state providerState
	at    time.Time
}

// get returns the state read for key at most providerReadTTL before now,
// else calls read, shares its answer and keeps it. A caller whose ctx
// ends while another's read runs gets providerUnchecked.
func (p *providerReads) get(ctx context.Context, key string, now time.Time, read func() providerState) providerState {
	p.mu.Lock()
	if e := p.m[key]; e != nil && now.Sub(e.at) < providerReadTTL {
		p.mu.Unlock()
		select {
		case <-e.done:
			return e.state
		case <-ctx.Done():
			return providerUnchecked
		}
	}
	if p.m == nil {
		p.m = map[string]*providerRead{}
	}
	if len(p.m) >= maxProviderReads {
		for k, e := range p.m {
			if now.Sub(e.at) >= providerReadTTL {
				delete(p.m, k)
			}
		}
	}
	e := &providerRead{done: make(chan struct{}), at: now}
	p.m[key] = e
	p.mu.Unlock()
	e.state = read()
	close(e.done)
	return e.state
}
