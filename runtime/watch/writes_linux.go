//go:build linux

package watch

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// writeMask is what writes asks inotify for: writes, closes after writing,
// and every way a name comes to mean another file.
const writeMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ONLYDIR

// writes reports the writes to and the closes after writing of the files in
// the directories it is given, in the order they happened, through an
// inotify instance of its own (fsnotify does not offer closes after
// writing). Its methods are safe for concurrent use; one goroutine, started
// by newWrites, reads the events until Close.
type writes struct {
	fd     int      // file's descriptor (File.Fd would make file blocking)
	file   *os.File // reads; closing it ends a blocked read
	out    chan writeEvent
	done   <-chan struct{}
	exited chan struct{}

	mu   sync.Mutex
	dirs map[int32]string // by watch descriptor
	// retired are the watch descriptors remove gave up whose IN_IGNORED
	// has not come yet: their events still queued say only that the name
	// now means another file, so that a hold a write of the old directory
	// set is dropped even when its close comes after the remove.
	retired map[int32]bool
}

func newWrites(done <-chan struct{}) (*writes, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	ws := &writes{
		fd:      fd,
		file:    os.NewFile(uintptr(fd), "inotify"),
		out:     make(chan writeEvent),
		done:    done,
		exited:  make(chan struct{}),
		dirs:    map[int32]string{},
		retired: map[int32]bool{},
	}
	go ws.read()
	return ws, nil
}

// add watches the directory dir; watching it again does nothing.
func (ws *writes) add(dir string) error {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	wd, err := unix.InotifyAddWatch(ws.fd, dir, writeMask)
	if err != nil {
		return fmt.Errorf("inotify: %s: %w", dir, err)
	}
	ws.dirs[int32(wd)] = dir
	return nil
}

// remove stops watching the directory dir, if it is watched.
func (ws *writes) remove(dir string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for wd, d := range ws.dirs {
		if d == dir && !ws.retired[wd] {
			ws.retired[wd] = true
			// The kernel may have dropped it already (directory deleted).
			if _, err := unix.InotifyRmWatch(ws.fd, uint32(wd)); err != nil {
				delete(ws.dirs, wd)
				delete(ws.retired, wd)
			}
		}
	}
}

// events delivers the events; it is closed once the reader has stopped
// (after Close, or when the instance fails).
func (ws *writes) events() <-chan writeEvent { return ws.out }

// Close stops the reader and waits for it.
func (ws *writes) Close() error {
	err := ws.file.Close()
	<-ws.exited
	return err
}

func (ws *writes) read() {
	defer close(ws.exited)
	defer close(ws.out)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := ws.file.Read(buf)
		if err != nil {
			return // closed, or the instance failed: the watcher falls back
		}
		for b := buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
			wd := int32(binary.NativeEndian.Uint32(b[0:]))
			mask := binary.NativeEndian.Uint32(b[4:])
			size := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(b[12:]))
			if size > len(b) {
				break
			}
			name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:size]), "\x00")
			b = b[size:]
			ev, ok := ws.event(wd, mask, name)
			if !ok {
				continue
			}
			select {
			case ws.out <- ev:
			case <-ws.done:
				return
			}
		}
	}
}

// event translates one inotify event.
func (ws *writes) event(wd int32, mask uint32, name string) (writeEvent, bool) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		return writeEvent{op: opLost}, true
	}
	ws.mu.Lock()
	dir, ok := ws.dirs[wd]
	retired := ws.retired[wd]
	if mask&unix.IN_IGNORED != 0 {
		delete(ws.dirs, wd)
		delete(ws.retired, wd)
	}
	ws.mu.Unlock()
	if !ok || name == "" {
		return writeEvent{}, false
	}
	ev := writeEvent{name: filepath.Join(dir, name)}
	switch {
	case retired || mask&(unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO) != 0:
		ev.op = opReplaced
	case mask&unix.IN_CLOSE_WRITE != 0:
		ev.op = opClosed
	case mask&unix.IN_MODIFY != 0:
		ev.op = opWritten
	default:
		return writeEvent{}, false
	}
	return ev, true
}
