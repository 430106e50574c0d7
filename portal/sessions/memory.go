package sessions

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory keeps sessions in the process: a restart ends them all. Expired
// sessions are dropped when looked up, and all of them once the sessions
// have doubled since the last sweep (at least memorySweepMin), so that a
// Create costs amortised constant time. Each account keeps at most
// MaxPerAccount sessions: a Create beyond ends the account's oldest.
//
// A Memory is safe for concurrent use; it never fails.
type Memory struct {
	now func() time.Time

	mu       sync.Mutex
	sessions map[string]memoryEntry
	accounts map[string][]string // Email → its sessions' tokens, oldest first
	sweepAt  int                 // len(sessions) at which a Create sweeps expired ones out
}

// memorySweepMin is the least number of sessions at which a Memory sweeps.
const memorySweepMin = 1024

type memoryEntry struct {
	s        Session
	deadline time.Time // creation + ttl by Memory's clock
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory whose clock is now (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, sessions: map[string]memoryEntry{}, accounts: map[string][]string{}, sweepAt: memorySweepMin}
}

// Create stores s under token for ttl, ending the oldest sessions of
// s.Email beyond MaxPerAccount.
func (m *Memory) Create(_ context.Context, token string, s Session, ttl time.Duration) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	m.drop(token)
	m.add(token, memoryEntry{s: s, deadline: now.Add(ttl)})
	return nil
}

// add stores e under token, a token stored nowhere, as its account's
// newest session, ending the account's expired sessions, then its oldest,
// beyond MaxPerAccount; m.mu is held.
func (m *Memory) add(token string, e memoryEntry) {
	m.sessions[token] = e
	tokens := append(m.accounts[e.s.Email], token)
	if len(tokens) > MaxPerAccount {
		now := m.now()
		tokens = slices.DeleteFunc(tokens, func(t string) bool {
			expired := now.After(m.sessions[t].deadline)
			if expired {
				delete(m.sessions, t)
			}
			return expired
		})
	}
	for len(tokens) > MaxPerAccount {
		delete(m.sessions, tokens[0])
		tokens = tokens[1:]
	}
	m.accounts[e.s.Email] = slices.Clip(tokens)
}

// sweep drops the expired sessions once there are sweepAt, and defers the
// next sweep until there are twice as many as are left; m.mu is held.
func (m *Memory) sweep(now time.Time) {
	if len(m.sessions) < m.sweepAt {
		return
	}
	for k, e := range m.sessions {
		if now.After(e.deadline) {
			m.drop(k)
		}
	}
	m.sweepAt = max(memorySweepMin, 2*len(m.sessions))
}

// drop removes the session under token, if any, from the sessions and its
// account's; m.mu is held.
func (m *Memory) drop(token string) {
	e, ok := m.sessions[token]
	if !ok {
		return
	}
	delete(m.sessions, token)
	tokens := slices.DeleteFunc(m.accounts[e.s.Email], func(t string) bool { return t == token })
	if len(tokens) == 0 {
		delete(m.accounts, e.s.Email)
	} else {
		m.accounts[e.s.Email] = tokens
	}
}

// Get returns the live session stored under token, dropping it when it
// has expired.
func (m *Memory) Get(_ context.Context, token string) (Session, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(token)
	return e.s, ok, nil
}

// Update replaces the live session stored under token, keeping its
// deadline.
func (m *Memory) Update(_ context.Context, token string, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(token)
	switch {
	case !ok:
	case e.s.Email == s.Email:
		m.sessions[token] = memoryEntry{s: s, deadline: e.deadline}
	default: // now another account's session
		m.drop(token)
		m.add(token, memoryEntry{s: s, deadline: e.deadline})
	}
	return nil
}

// Delete removes the session stored under token.
func (m *Memory) Delete(_ context.Context, token string) error {
	m.mu.Lock()
	m.drop(token)
	m.mu.Unlock()
	return nil
}

// live returns token's entry when it has not expired, and drops it when
// it has; m.mu must be held.
func (m *Memory) live(token string) (memoryEntry, bool) {
	e, ok := m.sessions[token]
	if ok && m.now().After(e.deadline) {
		m.drop(token)
		return memoryEntry{}, false
	}
	return e, ok
}
