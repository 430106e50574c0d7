package watch

import (
	"time"

	"github.com/rs/zerolog"
)

// Bounds on how long a burst of changes, and a file written to, hold a
// report back, in debounces (the watcher's New takes the debounce).
const (
	// burstMax: while no file is open, a burst of changes is reported
	// this long after its first change (or the last close) at the latest.
	burstMax = 5
	// openQuiet: where closes are not reported, a file written to counts
	// once it has not been written for this long.
	openQuiet = 20
	// openMax: a file still open for writing (or still written, where
	// closes are not reported) counts this long after its first write
	// anyway, so that a writer that never closes cannot stop reloads.
	openMax = 400
)

// burst is the state of the changes not yet reported: when the pending
// burst began, and which files were written to and not closed since. Its
// timer fires when the burst may be due; ready says whether it is. It is
// owned by one goroutine.
type burst struct {
	debounce time.Duration
	// closes: the platform reports a file's close after writing; without
	// it, a file written to counts after openQuiet without writes.
	closes bool
	log    zerolog.Logger

	timer *time.Timer
	first time.Time // start of the pending burst; zero when none is pending
	open  map[string]*openFile
}

// openFile is a file written to and not known to be closed since.
type openFile struct{ first, last time.Time }

func newBurst(debounce time.Duration, closes bool, log zerolog.Logger) *burst {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &burst{
		debounce: debounce,
		closes:   closes,
		log:      log,
		timer:    t,
		open:     map[string]*openFile{},
	}
}

// change records a relevant change: the burst is reported once nothing has
// changed for debounce and no file written to is still open, and, while
// none is, at the latest burstMax after its first change (or the last close).
func (b *burst) change() {
	now := time.Now()
	if b.first.IsZero() {
		b.first = now
	}
	d := b.debounce
	if len(b.open) == 0 {
		d = min(d, b.first.Add(burstMax*b.debounce).Sub(now))
	}
	for _, f := range b.open {
		d = min(d, f.first.Add(openMax*b.debounce).Sub(now))
	}
	b.timer.Reset(max(d, 0))
}

// written records a write to the file name: it holds the burst back until
// the file is closed (or, where closes are not reported, stays unwritten
// for openQuiet), and at most openMax after its first write.
func (b *burst) written(name string) {
	now := time.Now()
	if f := b.open[name]; f != nil {
		f.last = now
	} else {
		b.open[name] = &openFile{first: now, last: now}
	}
	b.change()
}

// closed records that a writer of the file name closed it: the burst is
// reported debounce after the last close, when no change follows.
func (b *burst) closed(name string) {
	if _, ok := b.open[name]; !ok {
		return
	}
	delete(b.open, name)
	if len(b.open) == 0 {
		b.first = time.Time{} // burstMax counts from here
	}
	b.change()
}

// replaced records that the name now means another file (created, renamed
// over, removed): what was written under it no longer matters. The change
// itself is recorded by change.
func (b *burst) replaced(name string) { delete(b.open, name) }

// forget drops every open file: after lost events, which are open is not
// known.
func (b *burst) forget() { clear(b.open) }

// ready is called when the timer fired. It reports whether the pending
// burst is due, and ends it if so; otherwise it re-arms the timer for the
// time the first open file stops holding it back.
func (b *burst) ready() bool {
	if b.first.IsZero() {
		return false
	}
	now := time.Now()
	var next time.Time
	for name, f := range b.open {
		until := b.heldUntil(f)
		if !now.Before(until) {
			if !now.Before(f.first.Add(openMax * b.debounce)) {
				b.log.Warn().Str("path", name).Dur("since_first_write", now.Sub(f.first)).
					Msg("file still open for writing; reloading anyway")
			}
			delete(b.open, name)
			continue
		}
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	if !next.IsZero() {
		b.timer.Reset(next.Sub(now))
		return false
	}
	b.first = time.Time{}
	return true
}

// heldUntil is when the open file f stops holding the burst back.
func (b *burst) heldUntil(f *openFile) time.Time {
	until := f.first.Add(openMax * b.debounce)
	if quiet := f.last.Add(openQuiet * b.debounce); !b.closes && quiet.Before(until) {
		return quiet
	}
	return until
}
