// Writing the state file and publishing changes to readers and OnChange hooks.

package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cuegate/cuegate/internal/atomicfile"
)

// write stores st atomically (see atomicfile.File): after an error
// wrapping atomicfile.ErrNotDurable st is in place, after any other the
// file is as it was. The caller holds s.mu (or is Open).
func (s *Store) write(st *state) error {
	if s.readOnly {
		return fmt.Errorf("%w: %s", ErrReadOnly, s.path)
	}
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
// publishes it and runs the hooks (see changed). fn may look things up in
// old, the snapshot the copy was taken from. When fn or the write fails
// nothing changes; a write in place but not durable has not failed (see
// OnNotDurable).
func (s *Store) update(fn func(old *snapshot, st *state) error) error {
	notDurable, err := s.apply(fn)
	if err != nil {
		return err
	}
	s.changed(notDurable)
	return nil
}

// apply is update but for the hooks, under s.mu. It publishes a write in
// place but not durable as made, and returns its error as notDurable.
func (s *Store) apply(fn func(old *snapshot, st *state) error) (notDurable, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	old := s.cur.Load()
	st := &state{
		Version:    Version,
		Developers: slices.Clone(old.st.Developers),
		Clients:    slices.Clone(old.st.Clients),
		Tombstones: slices.Clone(old.st.Tombstones),
	}
	if err := fn(old, st); err != nil {
		return nil, err
	}
	werr := s.write(st)
	if werr != nil && !errors.Is(werr, atomicfile.ErrNotDurable) {
		return nil, werr
	}
	s.cur.Store(newSnapshot(st))
	return werr, nil
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

// OnNotDurable registers fn to run after each write whose new content is
// in place, and served, but whose directory could not be synced
// (atomicfile.ErrNotDurable): a crash of the system may yet bring back the
// content before it. err says so and names the state file. fn runs as
// OnChange hooks do, before them; hooks cannot be removed.
func (s *Store) OnNotDurable(fn func(err error)) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.notDurable = append(s.notDurable, fn)
}

// changed runs the hooks of a write made: the OnNotDurable hooks with
// notDurable when it is not nil, then the OnChange hooks.
func (s *Store) changed(notDurable error) {
	s.hooksMu.Lock()
	hooks, warn := s.hooks, s.notDurable
	s.hooksMu.Unlock()
	if notDurable != nil {
		for _, fn := range warn {
			fn(notDurable)
		}
	}
	for _, fn := range hooks {
		fn()
	}
}
