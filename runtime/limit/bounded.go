package limit

import (
	"time"
	"unsafe"
)

// bounded is a map by Key whose entries take at most max bytes, each
// accounted as size(k). It is not safe for concurrent use: its owner
// locks around it.
type bounded[V any] struct {
	m     map[Key]V
	max   int64
	bytes int64 // size of m's keys, summed
	size  func(Key) int64
	// over reports whether an entry has run out at now: makeRoom deletes
	// those first.
	over func(v V, now time.Time) bool
	// forgotten, when set, is called with each entry that makeRoom or
	// clear deletes (not with one put replaces), with the owner's lock
	// held.
	forgotten func(k Key, v V)
}

func newBounded[V any](max int64, size func(Key) int64, over func(V, time.Time) bool) bounded[V] {
	return bounded[V]{m: make(map[Key]V), max: max, size: size, over: over}
}

// put stores v under k, making room when k is new and does not fit; it
// reports false, storing nothing, when k alone is over max. k's strings
// are kept: the caller passes copies it owns.
func (b *bounded[V]) put(k Key, v V, now time.Time) bool {
	if _, ok := b.m[k]; !ok {
		size := b.size(k)
		if b.bytes+size > b.max {
			b.makeRoom(size, now)
		}
		if b.bytes+size > b.max {
			return false
		}
		b.bytes += size
	}
	b.m[k] = v
	return true
}

// makeRoom deletes the entries that have run out and, when that leaves
// no room for need more bytes, an eighth of the map at random (map
// iteration starts at a random place), so that a flood of new keys scans
// the map once per eighth of it, not on each new one.
func (b *bounded[V]) makeRoom(need int64, now time.Time) {
	for k, v := range b.m {
		if b.over(v, now) {
			b.delete(k, v)
		}
	}
	for k, v := range b.m {
		if b.bytes+need <= b.max-b.max/8 {
			return
		}
		b.delete(k, v)
	}
}

// delete forgets k, which b holds with v.
func (b *bounded[V]) delete(k Key, v V) {
	delete(b.m, k)
	b.bytes -= b.size(k)
	if b.forgotten != nil {
		b.forgotten(k, v)
	}
}

// clear forgets every entry.
func (b *bounded[V]) clear() {
	if b.forgotten != nil {
		for k, v := range b.m {
			b.forgotten(k, v)
		}
	}
	clear(b.m)
	b.bytes = 0
}

// entryBytes is what an entry under k accounts for in a map whose values
// are slot bytes wide and hold (or point to) apart bytes of their own: the
// slot with the slack of a map's load factor and growth (twice the key and
// the value), the bytes apart and k's copy of the identity, each rounded
// up to 16 bytes. The issuer and the policy are the table's strings,
// shared by all keys.
func entryBytes(k Key, slot, apart uintptr) int64 {
	return 2*int64(unsafe.Sizeof(k)+slot) + roundUp16(int64(apart)) + roundUp16(int64(len(k.Identity)))
}

// roundUp16 rounds n up to a multiple of 16, as the allocator's size
// classes do.
func roundUp16(n int64) int64 { return (n + 15) &^ 15 }
