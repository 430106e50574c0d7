//go:build linux

package watch

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRemovedDirectoryEventsReplace: the events of a directory's watch
// still queued when the watcher gives the directory up (it was replaced)
// say that the name now means another file, so that a write seen before
// the remove cannot hold reloads while its close goes unreported.
func TestRemovedDirectoryEventsReplace(t *testing.T) {
	t.Parallel()
	// An instance nobody reads: the kernel's own IN_IGNORED stays queued.
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Skip("no inotify instance:", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	ws := &writes{fd: fd, dirs: map[int32]string{}, retired: map[int32]bool{}}
	dir := t.TempDir()
	if err := ws.add(dir); err != nil {
		t.Fatal(err)
	}
	var wd int32
	for w := range ws.dirs {
		wd = w
	}
	name := filepath.Join(dir, "a.cue")
	for _, tc := range []struct {
		mask   uint32
		remove bool
		want   writeOp
	}{
		{unix.IN_MODIFY, false, opWritten},
		{unix.IN_CLOSE_WRITE, false, opClosed},
		{unix.IN_MOVED_TO, false, opReplaced},
		{unix.IN_CLOSE_WRITE, true, opReplaced},
		{unix.IN_MODIFY, true, opReplaced},
	} {
		if tc.remove {
			ws.remove(dir)
		}
		ev, ok := ws.event(wd, tc.mask, "a.cue")
		if !ok || ev.name != name || ev.op != tc.want {
			t.Errorf("mask %#x (removed %v): %+v %v, want %v on %s", tc.mask, tc.remove, ev, ok, tc.want, name)
		}
	}
	if _, ok := ws.event(wd, unix.IN_IGNORED, ""); ok {
		t.Error("IN_IGNORED reported")
	}
	if _, ok := ws.event(wd, unix.IN_CLOSE_WRITE, "a.cue"); ok {
		t.Error("an event after IN_IGNORED reported")
	}
}
