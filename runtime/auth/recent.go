package auth

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"unsafe"
)

// maxRecentToken is the longest token the recent-token memo holds.
const maxRecentToken = 2 << 10

// recentSlotBudget is the share of the memo's budget that buys one slot,
// and maxRecentSlots the most slots a memo has, whatever its budget: the
// slots are allocated whole and scanned by the garbage collector.
const (
	recentSlotBudget = 1 << 10
	maxRecentSlots   = 1 << 16
)

// replaceOneIn is how rarely a put displaces another token's entry: one
// time in replaceOneIn, at random.
const replaceOneIn = 8

// recentEntry is one token of the memo with its claims. It is immutable
// once published; token is the memo's own copy.
type recentEntry struct {
	token  []byte
	claims *Claims
	charge int64 // what the entry accounts for in recentTable.bytes
}

// recentTable is the token cache's level in front of the others: a
// direct-mapped table from the whole token to its claims, where a lookup
// is an atomic load and a comparison, with no digest, lock or allocation.
// It is safe for concurrent use; a nil *recentTable holds nothing.
//
// A hit compares the whole token byte for byte, so no collision can pass.
// The slot depends on the whole token under a secret per-table seed, so
// an attacker cannot aim a comparison at a chosen stored token, and the
// comparison's early exit tells them nothing usable.
//
// Its entries (charge summed) and slots take at most budget bytes: a put
// that would take them over, counting what it replaces, is skipped. A put
// displaces another token's entry only now and then (replaceOneIn), so
// that tokens sharing a slot, or more tokens than the memo holds, do not
// cost a copy of the token on most requests.
type recentTable struct {
	seed   maphash.Seed
	slots  []atomic.Pointer[recentEntry]
	mask   uint64
	total  int64        // the budget it was made with
	budget int64        // for the entries: total less the slots
	bytes  atomic.Int64 // charge of the entries, and of puts under way
}

// newRecentTable returns an empty memo of budget bytes, or nil when the
// budget buys no slot (under recentSlotBudget).
func newRecentTable(budget int64) *recentTable {
	if budget < recentSlotBudget {
		return nil
	}
	n := min(uint64(1)<<(bits.Len64(uint64(budget/recentSlotBudget))-1), maxRecentSlots)
	return &recentTable{
		seed:   maphash.MakeSeed(),
		slots:  make([]atomic.Pointer[recentEntry], n),
		mask:   n - 1,
		total:  budget,
		budget: budget - allocBytes(int64(n)*int64(unsafe.Sizeof(atomic.Pointer[recentEntry]{}))),
	}
}

// slot returns token's slot.
func (r *recentTable) slot(token []byte) *atomic.Pointer[recentEntry] {
	return &r.slots[maphash.Bytes(r.seed, token)&r.mask]
}

// get returns the claims memoised for token, or nil.
func (r *recentTable) get(token []byte) *Claims {
	if r == nil || len(token) > maxRecentToken {
		return nil
	}
	if e := r.slot(token).Load(); e != nil && bytes.Equal(e.token, token) {
		return e.claims
	}
	return nil
}

// fresh returns the claims memoised for token when f's present key set
// verified them, and drops an entry it did not: its key set was replaced,
// or it is another IdP's token (which then costs its IdP's requests one
// miss).
func (r *recentTable) fresh(token []byte, f *fetcher) *Claims {
	c := r.get(token)
	if c != nil && !f.current(c) {
		r.drop(token, c)
		return nil
	}
	return c
}

// recentCharge is what an entry for a token of n bytes with claims c
// accounts for: its copy of the token, itself, and c (which the first
// level may share).
func recentCharge(n int, c *Claims) int64 {
	return allocBytes(int64(n)) + allocBytes(int64(unsafe.Sizeof(recentEntry{}))) + c.size()
}

// put memoises c for token (which it copies), replacing the slot's entry
// (another token's, one time in replaceOneIn), unless that would take the
// memo over its budget or another put replaces the same entry first.
func (r *recentTable) put(token []byte, c *Claims) {
	if r == nil || len(token) > maxRecentToken {
		return
	}
	s := r.slot(token)
	old := s.Load()
	if old != nil && !bytes.Equal(old.token, token) && rand.Uint32()%replaceOneIn != 0 {
		return
	}
	charge := recentCharge(len(token), c)
	delta := charge
	if old != nil {
		delta -= old.charge
	}
	// A growth is reserved before the entry is published and a shrink
	// applied after, so that bytes never counts less than is published.
	if delta > 0 && r.bytes.Add(delta) > r.budget {
		r.bytes.Add(-delta)
		return
	}
	e := &recentEntry{token: bytes.Clone(token), claims: c, charge: charge}
	if !s.CompareAndSwap(old, e) {
		if delta > 0 {
			r.bytes.Add(-delta)
		}
		return
	}
	if delta < 0 {
		r.bytes.Add(delta)
	}
}

// drop removes token's entry when it still holds c: claims the caller
// found stale (expired, or from a replaced key set), so that the memo does
// not keep a token it can no longer serve.
func (r *recentTable) drop(token []byte, c *Claims) {
	if r == nil || len(token) > maxRecentToken {
		return
	}
	s := r.slot(token)
	if e := s.Load(); e != nil && e.claims == c && s.CompareAndSwap(e, nil) {
		r.bytes.Add(-e.charge)
	}
}
