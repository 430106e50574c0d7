package auth

import (
	"bytes"
	"encoding/binary"
	"math"
	"sync"
)

// spillHeader is what an entry of a spill shard takes before its payload:
// the token's digest and the payload's length.
const spillHeader = len(tokenDigest{}) + 4

// spill is the token cache's second level: encoded claims (see
// encodeClaims) in rings of memory outside the Go heap, so that a full
// cache neither grows the garbage collector's heap goal nor gives it
// pointers to scan. Each shard is a ring written in order; a write that
// reaches the end starts again at the front, and the entries it overwrites
// leave the shard's index as it goes, so the index names only intact
// entries. It is safe for concurrent use.
//
// A spill of budget bytes gives its rings four fifths of it and its index,
// on the Go heap, the rest: each shard's index names at most as many
// entries as that fifth holds at indexEntryBytes each, the oldest entries
// going first past that.
type spill struct {
	shards []spillShard
	mem    []byte // one mapping (mapBytes), cut into the shards' rings
}

type spillShard struct {
	mu  sync.RWMutex
	buf []byte // this shard's part of spill.mem
	// pos is where the next entry goes. Entries of the current generation
	// lie in [0, pos); those of the previous one still intact in
	// [tail, end).
	pos, tail, end int
	gen            uint32
	// index maps the first 8 bytes of a digest to gen<<32 | offset of its
	// entry. It holds no pointers, so the collector does not scan it.
	index      map[uint64]uint64
	maxEntries int // the most entries index may name
}

// minSpillShard is the smallest ring a shard is given; with less, the
// spill holds nothing. maxSpillShard is the largest: offsets are 32 bits.
const (
	minSpillShard = 4 << 10
	maxSpillShard = math.MaxUint32
)

// indexEntryBytes bounds what an entry of a shard's index takes on the
// heap: a map slot of two uint64, with the slack of a map's load factor
// and of its growth by doubling.
const indexEntryBytes = 48

// ringShare is the part of a spill's budget its rings take, in fifths.
const ringShare = 4

// newSpill returns an empty spill of budget bytes in shards parts.
func newSpill(budget int64, shards int) *spill {
	sp := &spill{shards: make([]spillShard, shards)}
	sp.remap(budget)
	return sp
}

// setBudget gives the spill budget bytes; when its shards' size changes,
// they are emptied.
func (sp *spill) setBudget(budget int64) {
	for i := range sp.shards {
		sp.shards[i].mu.Lock()
	}
	if n, _ := sp.shardSizes(budget); int64(len(sp.shards[0].buf)) != n {
		sp.remap(budget)
	}
	for i := range sp.shards {
		sp.shards[i].mu.Unlock()
	}
}

// shardSizes returns the ring and the most index entries of each shard of
// a spill of budget bytes.
func (sp *spill) shardSizes(budget int64) (ring int64, entries int) {
	per := budget / int64(len(sp.shards))
	ring = min(per/5*ringShare, maxSpillShard)
	if ring < minSpillShard {
		return 0, 0
	}
	return ring, int((per - per/5*ringShare) / indexEntryBytes)
}

// remap replaces the spill's memory with budget bytes, empty. The caller
// holds every shard's lock, or is the spill's only user.
func (sp *spill) remap(budget int64) {
	unmapBytes(sp.mem)
	ring, entries := sp.shardSizes(budget)
	n := int(ring)
	sp.mem = nil
	if n > 0 {
		sp.mem = mapBytes(n * len(sp.shards))
	}
	for i := range sp.shards {
		s := &sp.shards[i]
		s.buf = nil
		if sp.mem != nil {
			s.buf = sp.mem[i*n : (i+1)*n : (i+1)*n]
		}
		s.pos, s.tail, s.end, s.gen = 0, 0, 0, 0
		s.index, s.maxEntries = map[uint64]uint64{}, entries
	}
}

// free returns the spill's memory to the operating system. A get after
// it misses and a put stores nothing.
func (sp *spill) free() {
	sp.setBudget(0)
}

func (sp *spill) shard(d *tokenDigest) *spillShard {
	return &sp.shards[(uint64(d[2])|uint64(d[3])<<8)%uint64(len(sp.shards))]
}

func spillKey(d []byte) uint64 { return binary.LittleEndian.Uint64(d) }

// get calls f with the payload stored for d, under the shard's read lock
// (f must not keep it), and reports whether there was one.
func (sp *spill) get(d *tokenDigest, f func(payload []byte)) bool {
	s := sp.shard(d)
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.index[spillKey(d[:])]
	if !ok {
		return false
	}
	off := int(uint32(v))
	e := s.buf[off:]
	if !bytes.Equal(e[:len(d)], d[:]) {
		return false
	}
	n := int(binary.LittleEndian.Uint32(e[len(d):]))
	f(e[spillHeader : spillHeader+n])
	return true
}

// put stores under d the payload of size bytes that write fills in.
// A payload larger than a quarter of a shard is not stored.
func (sp *spill) put(d *tokenDigest, size int, write func(payload []byte)) {
	s := sp.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := spillHeader + size
	if n > len(s.buf)/4 {
		return
	}
	if s.pos+n > len(s.buf) || (len(s.index) >= s.maxEntries && s.tail >= s.end) {
		s.overwrite(s.end) // the rest of the previous generation
		s.pos, s.tail, s.end = 0, 0, s.pos
		s.gen++
	}
	s.overwrite(s.pos + n)
	for len(s.index) >= s.maxEntries && s.tail < s.end {
		s.overwrite(s.tail + 1) // the oldest entry
	}
	e := s.buf[s.pos : s.pos+n]
	copy(e, d[:])
	binary.LittleEndian.PutUint32(e[len(d):], uint32(size))
	write(e[spillHeader:])
	s.index[spillKey(d[:])] = uint64(s.gen)<<32 | uint64(s.pos)
	s.pos += n
}

// overwrite drops from the index the previous generation's entries that
// start before limit, which the next write covers. The caller holds s.mu.
func (s *spillShard) overwrite(limit int) {
	for s.tail < s.end && s.tail < limit {
		e := s.buf[s.tail:]
		k := spillKey(e)
		if v, ok := s.index[k]; ok && v == uint64(s.gen-1)<<32|uint64(s.tail) {
			delete(s.index, k)
		}
		s.tail += spillHeader + int(binary.LittleEndian.Uint32(e[len(tokenDigest{}):]))
	}
}
