package store

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// Follow keeps a read-only store up to date on a node that does not run
// the portal: it reloads the file whenever the writer replaces it, until
// ctx is done. A file that cannot be read or parsed is reported to onError
// (when not nil) and the previous content stays in use.
//
// It watches the file's directory, since the writer replaces the file by
// renaming a new one over it.
func (s *Store) Follow(ctx context.Context, onError func(error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("store: follow %s: %w", s.path, err)
	}
	if err := w.Add(filepath.Dir(s.path)); err != nil {
		w.Close()
		return fmt.Errorf("store: follow %s: %w", s.path, err)
	}
	report := func(err error) {
		if err != nil && onError != nil {
			onError(err)
		}
	}
	report(s.Reload()) // a change before the watch started
	go func() {
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == s.path && ev.Has(fsnotify.Create|fsnotify.Write) {
					report(s.Reload())
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				report(fmt.Errorf("store: follow %s: %w", s.path, err))
			}
		}
	}()
	return nil
}
