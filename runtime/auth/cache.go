package auth

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"unsafe"
)

// DefaultCacheBytes is the token cache budget NewValidator uses for 0 (and
// the gateway's default, gateway.token_cache).
const DefaultCacheBytes = 32 << 20

// cacheShards is the number of independently locked parts of the cache;
// each holds at most a cacheShards-th of the budget.
const cacheShards = 64

// tokenDigest is what the cache keys and compares a token by: its SHA-256.
// The token itself is not kept, and a token can only hit an entry whose
// token had the same SHA-256.
type tokenDigest [sha256.Size]byte

// slotBytes is what a map slot of the cache takes, with the slack of a
// map's load factor and of its growth by doubling: twice the digest and the
// pointer.
const slotBytes = 2 * int64(unsafe.Sizeof(tokenDigest{})+unsafe.Sizeof(&Claims{}))

// size is the number of bytes c accounts for in the cache: its map slot
// and its allocations (the Claims, the packed claims, their index and the
// scopes), each as the allocator rounds it.
func (c *Claims) size() int64 {
	n := slotBytes + allocBytes(int64(unsafe.Sizeof(*c))) + allocBytes(int64(len(c.blob))) + allocBytes(int64(cap(c.idx))*int64(unsafe.Sizeof(c.idx[0])))
	if cap(c.scopes) > 0 {
		n += allocBytes(int64(cap(c.scopes)) * int64(unsafe.Sizeof(c.scopes[0])))
	}
	return n
}

// allocBytes bounds what an allocation of n bytes takes: the allocator's
// size classes round small sizes up by at most an eighth, to a multiple
// of 16.
func allocBytes(n int64) int64 { return (n + n/8 + 15) &^ 15 }

// tokenCache maps the digest of an accepted token to its claims, within a
// budget in bytes (Claims.size summed). It is safe for concurrent use.
//
// Eviction: when an entry does not fit its shard's part of the budget, the
// shard samples 8 entries at random (map iteration starts at a random
// place) and drops the expired ones among them, or else the one that
// expires first; it repeats until the entry fits. An entry larger than a
// shard's part is not cached.
type tokenCache struct {
	shards []cacheShard
	// perShard is each shard's part of the budget, in bytes.
	perShard atomic.Int64
}

type cacheShard struct {
	mu    sync.RWMutex
	m     map[tokenDigest]*Claims
	bytes int64 // sum of size() of m's entries
}

// newTokenCache returns an empty cache of budget bytes in shards parts.
func newTokenCache(budget int64, shards int) *tokenCache {
	c := &tokenCache{shards: make([]cacheShard, shards)}
	for i := range c.shards {
		c.shards[i].m = make(map[tokenDigest]*Claims)
	}
	c.perShard.Store(budget / int64(shards))
	return c
}

// shard returns the shard of d.
func (c *tokenCache) shard(d *tokenDigest) *cacheShard {
	return &c.shards[(uint64(d[0])|uint64(d[1])<<8)%uint64(len(c.shards))]
}

// get returns the claims cached for d, or nil.
func (c *tokenCache) get(d *tokenDigest) *Claims {
	s := c.shard(d)
	s.mu.RLock()
	cl := s.m[*d]
	s.mu.RUnlock()
	return cl
}

// put caches cl under d, evicting as the type's doc says; now is Unix ns.
func (c *tokenCache) put(d *tokenDigest, cl *Claims, now int64) {
	size, budget := cl.size(), c.perShard.Load()
	if size > budget {
		return
	}
	s := c.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[*d]; ok {
		s.bytes -= old.size()
		delete(s.m, *d)
	}
	s.evict(budget-size, now)
	s.m[*d] = cl
	s.bytes += size
}

// setBudget changes the budget to bytes, evicting at once what no longer
// fits.
func (c *tokenCache) setBudget(bytes, now int64) {
	per := bytes / int64(len(c.shards))
	c.perShard.Store(per)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.evict(per, now)
		s.mu.Unlock()
	}
}

// evict drops entries until the shard holds at most limit bytes. The
// caller holds s.mu.
func (s *cacheShard) evict(limit, now int64) {
	for s.bytes > limit && len(s.m) > 0 {
		var (
			victim *Claims
			at     tokenDigest
			n      int
		)
		for d, cl := range s.m {
			if cl.exp <= now {
				s.drop(d, cl)
			} else if victim == nil || cl.exp < victim.exp {
				victim, at = cl, d
			}
			if n++; n == 8 {
				break
			}
		}
		if s.bytes > limit && victim != nil {
			s.drop(at, victim)
		}
	}
}

// drop deletes d, whose claims are cl. The caller holds s.mu.
func (s *cacheShard) drop(d tokenDigest, cl *Claims) {
	delete(s.m, d)
	s.bytes -= cl.size()
}
