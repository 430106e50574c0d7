// Package watch reports changes to a configuration directory: one event per
// settled burst of changes to the .cue files the compiler would read.
//
// It handles the ways files really change: editors that save through a
// temporary file and a rename, files created and deleted, .cue entries that
// are symlinks (followed hop by hop, so a change anywhere along the chain
// counts), the Kubernetes ConfigMap layout where those symlinks go through a
// "..data" symlink that is swapped atomically, and the directory itself being
// removed and recreated, replaced by a rename, or being a symlink that is
// retargeted. Chmod-only events and files that do not end in .cue are ignored,
// but for the files the configuration names (Also), such as its OpenAPI
// documents and certificates, in the directory or elsewhere.
//
// A file written in place counts once its writer has closed it (on Linux,
// where inotify reports closes after writing; elsewhere once it has not been
// written for 20 debounces), and at the latest 400 debounces after its first
// write, so a writer that never closes delays reports but cannot stop them.
// Until then a half-written file could be compiled: replace a configuration
// by writing a temporary file and renaming it over the old one (an atomic
// rename), which is reported at once and never seen half written.
package watch

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
)

// maxHops bounds how many symlinks are followed from one path.
const maxHops = 40

// Watcher watches one configuration directory. Events and Close are safe for
// concurrent use; the watcher's own work runs on one goroutine started by New.
type Watcher struct {
	dir      string // absolute, not resolved: it may be or contain a symlink
	debounce time.Duration
	log      zerolog.Logger

	fs     *fsnotify.Watcher
	writes *writes          // nil where closes after writing are not reported
	also   chan alsoRequest // Also's calls, for the run goroutine
	events chan struct{}
	done   chan struct{}
	exited chan struct{}
	once   sync.Once

	// Owned by the run goroutine (and New, before it starts).
	watched map[string]*spec // what is watched now, by resolved path
	extra   []string         // Also's names, relative to dir or absolute
	trace   func(ev fsnotify.Event, relevant bool)

	// Made by run, for its own use.
	burst       *burst            // the changes not yet reported
	retry       *time.Timer       // rescans while retrying
	retrying    bool              // the configuration directory is gone
	writeEvents <-chan writeEvent // w.writes's; nil when closes are not reported
}

var _ io.Closer = (*Watcher)(nil)

// spec says why a directory is watched and which of its events count.
type spec struct {
	names   map[string]struct{} // entries whose change counts (symlink hops, the dir itself)
	special map[string]struct{} // non-nil for the resolved configuration directory only: its entries that are symlinks or directories
	id      fileID              // the directory's identity when it was added
}

type fileID struct{ dev, ino uint64 }

// alsoRequest is a call of Also: done is closed once names are watched.
type alsoRequest struct {
	names []string
	done  chan struct{}
}

// New watches dir (a configuration directory) with fsnotify and reports each
// settled burst of changes to .cue files on Events(): an event is sent once
// no relevant change has happened for debounce and no file written to is
// still open for writing (see the package doc), and, while none is, at the
// latest 5×debounce after the first change of a burst, so that constant
// churn still reloads.
// Every change made after New returns is reported. New fails when dir is not
// a directory or cannot be watched.
func New(dir string, debounce time.Duration, log zerolog.Logger) (*Watcher, error) {
	return start(dir, debounce, log, nil)
}

// start is New with a hook that sees every fsnotify event and whether it
// counted (tests use it to know what the watcher has processed).
func start(dir string, debounce time.Duration, log zerolog.Logger, trace func(fsnotify.Event, bool)) (*Watcher, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("watch %s: not a directory", dir)
	}
	if debounce <= 0 {
		return nil, fmt.Errorf("watch %s: debounce must be positive, got %v", dir, debounce)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	w := &Watcher{
		dir:      abs,
		debounce: debounce,
		log:      log.With().Str("component", "watch").Str("dir", abs).Logger(),
		fs:       fw,
		also:     make(chan alsoRequest),
		events:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		watched:  map[string]*spec{},
		trace:    trace,
	}
	if w.writes, err = newWrites(w.done); err != nil {
		w.log.Debug().Err(err).Msg("written files count after a quiet period")
	}
	if !w.rescan() {
		fw.Close()
		w.closeWrites()
		return nil, fmt.Errorf("watch %s: cannot watch the directory", dir)
	}
	go w.run()
	return w, nil
}

// Also makes changes to the files names (relative to the configuration
// directory, or absolute; followed through symlinks like .cue files) count
// too, in place of the names of an earlier call: the node passes the files
// its current table is compiled from or served with besides the .cue files
// (table.WatchedFiles). Only those names count in the directories that
// hold them.
// Changes made after it returns are reported. It is safe for concurrent
// use; after Close it does nothing.
func (w *Watcher) Also(names []string) {
	req := alsoRequest{names: slices.Clone(names), done: make(chan struct{})}
	select {
	case w.also <- req:
	case <-w.done:
		return
	}
	select {
	case <-req.done:
	case <-w.exited:
	}
}

// Events delivers one value per settled burst of changes. It is buffered
// (capacity 1): an event not yet received is never lost, and later bursts
// coalesce into it. It is closed once the watcher has stopped.
func (w *Watcher) Events() <-chan struct{} { return w.events }

// Close stops the watcher and waits for its goroutine to exit. It is
// idempotent; it returns the error of closing the underlying fsnotify watcher.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		close(w.done)
		err = w.fs.Close()
		<-w.exited
		w.closeWrites()
	})
	return err
}

func (w *Watcher) closeWrites() {
	if w.writes != nil {
		w.writes.Close() //nolint:errcheck // nothing was written through it
	}
}

// run is the watcher's goroutine: it takes Also's calls, keeps the
// watches up to date and sends an event per settled burst, until Close.
func (w *Watcher) run() {
	defer close(w.exited)
	defer close(w.events)

	w.burst = newBurst(w.debounce, w.writes != nil, w.log)
	w.retry = stoppedTimer()
	if w.writes != nil {
		w.writeEvents = w.writes.events()
	}
	for {
		select {
		case <-w.done:
			return
		case req := <-w.also:
			w.extra = req.names
			w.resync()
			close(req.done)
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.fsEvent(ev)
		case ev, ok := <-w.writeEvents:
			if !ok {
				w.log.Warn().Msg("closes after writing no longer reported; written files count after a quiet period")
				w.writeEvents, w.burst.closes = nil, false
				continue
			}
			w.applyWrite(ev)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			// An overflow loses events: treat it as a change of anything.
			w.log.Warn().Err(err).Msg("fsnotify error; rescanning")
			w.resync()
			w.burst.change()
		case <-w.retry.C:
			w.resync()
			if !w.retrying {
				w.burst.change()
			}
		case <-w.burst.timer.C:
			w.settle()
		}
	}
}

// fsEvent takes one fsnotify event: a change that counts extends the
// burst, after a rescan when it can change which directories must be
// watched.
func (w *Watcher) fsEvent(ev fsnotify.Event) {
	relevant, structural := w.classify(ev)
	if w.trace != nil {
		w.trace(ev, relevant)
	}
	if !relevant {
		return
	}
	w.log.Debug().Str("path", ev.Name).Str("op", ev.Op.String()).Msg("change")
	if structural {
		w.resync()
	}
	if w.writeEvents == nil {
		w.tellWrite(ev)
	}
	w.burst.change()
}

// settle reports the burst once its timer fired, unless a file is still
// open for writing or the configuration directory is gone.
func (w *Watcher) settle() {
	if !w.burst.ready() {
		return // held back by a file still open for writing
	}
	w.resync()
	if w.retrying {
		return // reported once the directory is back
	}
	select {
	case w.events <- struct{}{}:
	default: // one is pending already: coalesce
	}
}

// resync rescans, logs the configuration directory going and coming
// back, and while it is gone retries every 4 debounces.
func (w *Watcher) resync() {
	ok := w.rescan()
	if ok && w.retrying {
		w.log.Info().Msg("configuration directory is back")
	}
	if !ok && !w.retrying {
		w.log.Warn().Msg("configuration directory is gone; retrying until it is back")
	}
	w.retrying = !ok
	if w.retrying {
		w.retry.Reset(4 * w.debounce)
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// classify reports whether ev can change what the compiler reads, and whether
// it can change which directories must be watched.
func (w *Watcher) classify(ev fsnotify.Event) (relevant, structural bool) {
	if ev.Op == fsnotify.Chmod || ev.Op == 0 {
		return false, false
	}
	if s := w.watched[ev.Name]; s != nil {
		return true, true // the watched directory itself was removed or moved
	}
	parent, name := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	s := w.watched[parent]
	if s == nil {
		return false, false // a late event of a directory no longer watched
	}
	if _, ok := s.names[name]; ok {
		return true, true
	}
	if s.special == nil { // not the configuration directory
		return false, false
	}
	if _, ok := s.special[name]; ok || strings.HasPrefix(name, "..") {
		return true, true
	}
	if table.IsConfigFile(name) {
		// A new entry may be a symlink whose hops must be watched.
		return true, ev.Has(fsnotify.Create | fsnotify.Remove | fsnotify.Rename)
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.Mode()&(os.ModeSymlink|os.ModeDir) != 0 {
			return true, true
		}
	}
	return false, false
}
