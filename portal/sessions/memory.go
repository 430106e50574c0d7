package sessions

import (
	"context"
	"sync"
	"time"
)

// Memory keeps sessions in the process: a restart ends them all. Expired
// sessions are dropped when looked up and whenever a session is created.
//
// A Memory is safe for concurrent use; it never fails.
type Memory struct {
	now func() time.Time

	mu       sync.Mutex
	sessions map[string]memoryEntry
}

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
	return &Memory{now: now, sessions: map[string]memoryEntry{}}
}

// Create stores s under token for ttl, first dropping expired sessions.
func (m *Memory) Create(_ context.Context, token string, s Session, ttl time.Duration) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.sessions {
		if now.After(e.deadline) {
			delete(m.sessions, k)
		}
	}
	m.sessions[token] = memoryEntry{s: s, deadline: now.Add(ttl)}
	return nil
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
	if e, ok := m.live(token); ok {
		m.sessions[token] = memoryEntry{s: s, deadline: e.deadline}
	}
	return nil
}

// Delete removes the session stored under token.
func (m *Memory) Delete(_ context.Context, token string) error {
	m.mu.Lock()
	delete(m.sessions, token)
	m.mu.Unlock()
	return nil
}

// live returns token's entry when it has not expired, and drops it when
// it has; m.mu must be held.
func (m *Memory) live(token string) (memoryEntry, bool) {
	e, ok := m.sessions[token]
	if ok && m.now().After(e.deadline) {
		delete(m.sessions, token)
		return memoryEntry{}, false
	}
	return e, ok
}
