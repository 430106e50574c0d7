// Package store keeps the portal's state — developers, the OAuth clients
// they registered, and the tombstones of deleted clients — in one JSON file.
//
// The file carries a schema "version"; older versions are migrated when
// read. Writes are atomic: the new state goes to a temporary file in the
// same directory, which is synced, renamed over the state file, and the
// directory is synced. A change whose new state is in place but whose
// directory cannot be synced (atomicfile.ErrNotDurable) is made all the
// same, so that what the store serves is what the file holds, and is
// reported to the OnNotDurable hooks; the same failure while Open creates
// or migrates the file makes Open fail. The file is created with mode 0600. A state file
// or lock file that group or others may write, or in a directory that
// lets them replace it (its own or one above), or any of these owned by a
// user other than the process's effective user and root, is refused with
// ErrPermissions (naming the path, its mode or owner and the chmod or
// chown that fixes it) and left as it is.
//
// A state path that is a symbolic link is resolved when the store is
// opened: the store reads, writes and locks the file the link leads to,
// checks the directories on the way to the link and to that file, and
// leaves the link in place.
//
// One process at a time may write the file: Open takes an exclusive OS lock
// on FILE.lock and holds it until Close. A second Open of the same file, in
// this process or another, fails with ErrLocked. A file that cannot be read
// or parsed makes Open fail with its path and the reason, and is left as it
// was.
//
// Concurrency: a Store is safe for concurrent use. Writers are serialised;
// readers see an immutable snapshot and never wait for a writer. Binding is
// lock-free and does not allocate, for the gateway's request path.
//
// Bindings copies every client's binding, and OnChange tells when they
// may have changed, for a node that passes them on to other nodes.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/gofrs/flock"

	"github.com/cuegate/cuegate/internal/atomicfile"
)

// Version is the schema version this package writes.
const Version = 2

// Sentinel errors; match them with errors.Is.
var (
	ErrLocked   = errors.New("store: state file is in use by another process")
	ErrExists   = errors.New("store: already exists")
	ErrNotFound = errors.New("store: not found")
	// ErrChanged is the error of a change refused because what it was
	// made for changed meanwhile (RemoveDeveloperIfClients).
	ErrChanged = errors.New("store: changed meanwhile")
	// ErrClosed is the error of a write after Close.
	ErrClosed = errors.New("store: closed")
	// ErrReadOnly is the error of a change to a store OpenReadOnly opened.
	ErrReadOnly = errors.New("store: opened read-only")
	// ErrPermissions is the error of opening or reading a state file (or
	// its lock file) that users other than its owner may write, or that is
	// in a directory in which they may replace it, or below one, or that
	// another user than the process's and root owns, as any such
	// directory (on Unix). It wraps an *atomicfile.PermissionError.
	ErrPermissions = errors.New("store: state file open to other users")
)

// Store is an open state file. See the package documentation for the
// concurrency contract.
type Store struct {
	path string       // absolute, without symbolic links
	lock *flock.Flock // held from Open until Close; nil when readOnly
	// readOnly: opened by OpenReadOnly; write refuses.
	readOnly bool
	cur      atomic.Pointer[snapshot]

	mu     sync.Mutex // serialises writers and Close
	closed bool       // guarded by mu

	hooksMu    sync.Mutex
	hooks      []func()      // guarded by hooksMu; see OnChange
	notDurable []func(error) // guarded by hooksMu; see OnNotDurable
	// commit puts a write's temporary file in place:
	// (*atomicfile.File).Commit, or a test's stand-in that fails before
	// the rename (a crash) or after it.
	commit func(*atomicfile.File) error
}

// Open opens the state file at path (or where path leads, when it is a
// symbolic link) for reading and writing, creating it when it does not
// exist, and locks it until Close.
func Open(path string) (*Store, error) { return openStore(path, false) }

// OpenReadOnly opens the state file at path as Open does, but takes no
// lock and writes nothing: a file that does not exist is an error
// wrapping fs.ErrNotExist, a file of an older schema version is migrated
// in memory only, the temporary files a crash left stay, and every change
// fails with ErrReadOnly. A process that holds the file open with Open
// may write it meanwhile: its writes replace the file whole, so the store
// holds its content as of one write.
func OpenReadOnly(path string) (*Store, error) { return openStore(path, true) }

func openStore(path string, readOnly bool) (*Store, error) {
	abs, err := resolve(path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: abs, readOnly: readOnly, commit: (*atomicfile.File).Commit}
	if !readOnly {
		if s.lock, err = lock(abs); err != nil {
			return nil, err
		}
		// Temporary files left by a crash are stale now that we hold the lock.
		atomicfile.RemoveStale(abs)
	}
	st, from, err := readState(abs)
	switch {
	case readOnly:
	case errors.Is(err, fs.ErrNotExist):
		st = &state{Version: Version}
		err = s.write(st)
	case err == nil && from != Version:
		// Keep the old file beside the migrated one, for a downgrade.
		err = copyFile(abs, fmt.Sprintf("%s.v%d.bak", abs, from))
		if err == nil {
			err = s.write(st)
		}
	}
	if err != nil {
		s.unlock()
		return nil, err
	}
	s.cur.Store(newSnapshot(st))
	return s, nil
}

// lock takes the exclusive lock of the state file at abs: FILE.lock.
func lock(abs string) (*flock.Flock, error) {
	l := flock.New(abs+".lock", flock.SetPermissions(0o600))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", abs+".lock", err)
	}
	if err := checkLock(l); err != nil {
		l.Close()
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s (lock %s is held; is another cuegate running on it?)", ErrLocked, abs, abs+".lock")
	}
	return l, nil
}

// unlock releases the lock, if s holds one.
func (s *Store) unlock() error {
	if s.lock == nil {
		return nil
	}
	return s.lock.Close()
}

// Path returns the absolute path of the state file, without symbolic
// links.
func (s *Store) Path() string { return s.path }

// Close waits for a write in progress, then releases the lock. Afterwards
// every write fails with ErrClosed and changes nothing, so that a request
// still running at shutdown cannot half-happen; reads keep answering with
// the last content. Closing again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wasClosed := s.closed
	s.closed = true
	if wasClosed {
		return nil
	}
	return s.unlock()
}

// resolve returns the absolute path, without symbolic links, of the state
// file at path, once the directories on the way to it passed
// atomicfile.CheckDirs.
func resolve(path string) (string, error) {
	abs, err := atomicfile.Resolve(path)
	if err == nil {
		err = atomicfile.CheckDirs(path)
	}
	if err != nil {
		return "", checkError("open", path, err)
	}
	return abs, nil
}

// checkLock returns ErrPermissions for a lock file that another user
// owns or may write (atomicfile.CheckFile): that user could hold it.
func checkLock(lock *flock.Flock) error {
	fi, err := lock.Stat()
	if err == nil {
		err = atomicfile.CheckFile(lock.Path(), fi)
	}
	if err != nil {
		return checkError("lock", lock.Path(), err)
	}
	return nil
}

// checkError is err, the error of doing what ("open", "read") to the
// state file at path: ErrPermissions for a file or directory open to
// other users' writes.
func checkError(what, path string, err error) error {
	if _, ok := errors.AsType[*atomicfile.PermissionError](err); ok {
		return fmt.Errorf("%w: %w", ErrPermissions, err)
	}
	return fmt.Errorf("store: %s %s: %w", what, path, err)
}
