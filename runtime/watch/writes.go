package watch

import "github.com/fsnotify/fsnotify"

// writeEvent is what the writes' instance saw happen to the file name.
type writeEvent struct {
	name string
	op   writeOp
}

type writeOp uint8

const (
	opWritten  writeOp = iota // written to
	opClosed                  // closed by a writer
	opReplaced                // created, removed, renamed from or over
	opLost                    // events were lost (name is empty)
)

// applyWrite records a write, a close after writing or a replacement that
// the writes' instance reported, of a file whose change counts.
func (w *Watcher) applyWrite(ev writeEvent) {
	b := w.burst
	switch {
	case ev.op == opLost:
		b.forget()
	case ev.op == opReplaced:
		b.replaced(ev.name)
	case !w.counts(ev.name):
	case ev.op == opClosed:
		b.closed(ev.name)
	case ev.op == opWritten:
		b.written(ev.name)
	}
}

// tellWrite records the write or replacement that the relevant fsnotify
// event ev says, where closes after writing are not reported.
func (w *Watcher) tellWrite(ev fsnotify.Event) {
	b := w.burst
	switch {
	case ev.Has(fsnotify.Create | fsnotify.Remove | fsnotify.Rename):
		b.replaced(ev.Name)
	case ev.Has(fsnotify.Write) && w.watched[ev.Name] == nil: // a file, not a watched directory
		b.written(ev.Name)
	}
}

// counts reports whether a change of the file at path counts.
func (w *Watcher) counts(path string) bool {
	relevant, _ := w.classify(fsnotify.Event{Name: path, Op: fsnotify.Write})
	return relevant
}
