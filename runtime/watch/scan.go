package watch

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/fsnotify/fsnotify"

	"github.com/cuegate/cuegate/compiler/table"
)

// rescan computes which directories must be watched and updates the fsnotify
// watches to match. It reports whether the configuration directory itself is
// watched.
func (w *Watcher) rescan() bool {
	want := watchSet{}
	// Every hop from the configured path to the real directory: a change of
	// any of them (the directory removed, renamed over, retargeted) counts.
	for _, hop := range linkChain(w.dir) {
		want.addName(hop)
	}
	resolved, err := filepath.EvalSymlinks(w.dir)
	configOK := false
	if err == nil {
		if fi, err := os.Stat(resolved); err == nil && fi.IsDir() {
			cs := want.get(resolved)
			cs.special = map[string]struct{}{}
			configOK = true
			w.scanEntries(resolved, cs, want)
		}
	}
	for _, name := range w.extra {
		for _, hop := range linkChain(table.ConfigPath(w.dir, name)) {
			want.addName(hop)
		}
	}

	// Drop watches no longer wanted, whose directory was replaced, or that
	// the kernel dropped (the directory was deleted or moved).
	live := map[string]bool{}
	for _, p := range w.fs.WatchList() {
		live[p] = true
	}
	for path, have := range w.watched {
		s := want[path]
		if s != nil && live[path] && have.id == s.id && s.id != (fileID{}) {
			continue
		}
		// The kernel may have dropped it already (directory deleted).
		_ = w.fs.Remove(path)
		if w.writes != nil {
			w.writes.remove(path)
		}
		delete(w.watched, path)
	}
	for path, s := range want {
		if s.id == (fileID{}) {
			if path == resolved {
				configOK = false
			}
			continue // vanished meanwhile: the next rescan picks it up
		}
		if _, ok := w.watched[path]; !ok {
			if err := w.fs.Add(path); err != nil {
				if path == resolved {
					configOK = false
				}
				if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, fsnotify.ErrClosed) {
					w.log.Warn().Err(err).Str("path", path).Msg("cannot watch")
				}
				continue
			}
			if w.writes != nil {
				if err := w.writes.add(path); err != nil && !errors.Is(err, os.ErrNotExist) {
					w.log.Warn().Err(err).Str("path", path).Msg("cannot watch for closes after writing")
				}
			}
		}
		w.watched[path] = s
	}
	return configOK
}

// scanEntries records the config directory's symlink and directory entries
// and wants, for every .cue symlink, each hop of its chain watched.
func (w *Watcher) scanEntries(dir string, cs *spec, want watchSet) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type()&(os.ModeSymlink|os.ModeDir) == 0 {
			continue
		}
		cs.special[e.Name()] = struct{}{}
		if e.Type()&os.ModeSymlink == 0 || !table.IsConfigFile(e.Name()) {
			continue
		}
		for _, hop := range linkChain(filepath.Join(dir, e.Name()))[1:] {
			want.addName(hop)
		}
	}
}

// watchSet is the set of directories to watch, by resolved path.
type watchSet map[string]*spec

// get returns the spec of the directory dir (already resolved), creating it
// with the directory's current identity (zero when it does not exist).
func (ws watchSet) get(dir string) *spec {
	s := ws[dir]
	if s == nil {
		s = &spec{names: map[string]struct{}{}, id: identity(dir)}
		ws[dir] = s
	}
	return s
}

// addName wants the directory holding path watched for changes of path's
// entry. The directory is resolved; when it cannot be (it is gone), it is
// skipped and found again by a later rescan.
func (ws watchSet) addName(path string) {
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return
	}
	ws.get(dir).names[filepath.Base(path)] = struct{}{}
}

// linkChain returns path followed by each path its symlinks lead to, in
// order; the last one is not a symlink (or does not exist).
func linkChain(path string) []string {
	chain := []string{path}
	for range maxHops {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(path)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = filepath.Clean(target)
		chain = append(chain, path)
	}
	return chain
}

func identity(dir string) fileID {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return fileID{}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{dev: 1, ino: 1} // no inode numbers: identity by path only
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}
}
