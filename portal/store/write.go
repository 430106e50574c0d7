// Writing the state file and publishing changes to readers and OnChange hooks.

package store

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cuegate/cuegate/internal/atomicfile"
)

// write stores st atomically (see atomicfile.File). The caller holds s.mu
// (or is Open).
func (s *Store) write(st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	b = append(b, '\n')
	f, err := atomicfile.Create(s.path, 0o600)
	if err != nil {
		return fmt.Errorf("store: write %s: %w", s.path, err)
	}
	defer f.Abort()
	if _, err = f.Write(b); err == nil {
		err = s.commit(f)
	}
	if err != nil {
		return fmt.Errorf("store: write %s: %w", s.path, err)
	}
	return nil
}

// update applies fn to a copy of the current state, writes the result,
// publishes it and runs the OnChange hooks. fn may look things up in old,
// the snapshot the copy was taken from. When fn or the write fails nothing
// changes.
func (s *Store) update(fn func(old *snapshot, st *state) error) error {
	if err := s.apply(fn); err != nil {
		return err
	}
	s.changed()
	return nil
}

// apply is update but for the hooks, under s.mu.
func (s *Store) apply(fn func(old *snapshot, st *state) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	old := s.cur.Load()
	st := &state{
		Version:    Version,
		Developers: slices.Clone(old.st.Developers),
		Clients:    slices.Clone(old.st.Clients),
		Tombstones: slices.Clone(old.st.Tombstones),
	}
	if err := fn(old, st); err != nil {
		return err
	}
	if err := s.write(st); err != nil {
		return err
	}
	s.cur.Store(newSnapshot(st))
	return nil
}

// OnChange registers fn to run after each successful write, once the new
// content is what readers see. fn runs on the goroutine that changed
// the store, after its lock is released, so changes made at the same time
// may run their hooks in any order: fn should read the store again (e.g.
// Bindings) rather than assume which change it follows, and return
// quickly. Hooks cannot be removed.
func (s *Store) OnChange(fn func()) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.hooks = append(s.hooks, fn)
}

// changed runs the OnChange hooks.
func (s *Store) changed() {
	s.hooksMu.Lock()
	hooks := s.hooks
	s.hooksMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}
