// Package store keeps the portal's state — developers, the OAuth clients
// they registered, and the tombstones of deleted clients — in one JSON file.
//
// The file carries a schema "version"; older versions are migrated when
// read. Writes are atomic: the new state goes to a temporary file in the
// same directory, which is synced, renamed over the state file, and the
// directory is synced. The file is created with mode 0600. A state file
// that group or others may write, or in a directory that lets them replace
// it (its own or one above), is refused with ErrPermissions (naming the
// path, its mode and the chmod that fixes it) and left as it is.
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
// Other nodes read the file with OpenReadOnly, without the lock, and keep
// up with the writer with Follow (or Reload).
//
// Concurrency: a Store is safe for concurrent use. Writers are serialised;
// readers see an immutable snapshot and never wait for a writer. Binding is
// lock-free and does not allocate, for the gateway's request path.
//
// Bindings copies every client's binding, and OnChange tells when they
// may have changed, for a node that passes them on to other nodes.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/atomicfile"
)

// Version is the schema version this package writes.
const Version = 2

// Sentinel errors; match them with errors.Is.
var (
	ErrLocked   = errors.New("store: state file is in use by another process")
	ErrExists   = errors.New("store: already exists")
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is the error of a write after Close.
	ErrClosed = errors.New("store: closed")
	// ErrPermissions is the error of opening or reading a state file that
	// users other than its owner may write, or that is in a directory in
	// which they may replace it, or below one (on Unix). It wraps an
	// *atomicfile.PermissionError.
	ErrPermissions = errors.New("store: state file open to other users")
)

// Developer is a portal account. Only the bcrypt hash of the password is kept.
type Developer struct {
	Email        string    `json:"email"`
	PasswordHash string    `json:"password_hash"`
	Created      time.Time `json:"created"`
}

// Client is an OAuth client registered at a provider through the portal.
type Client struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	ClientName   string   `json:"client_name"`
	RedirectURIs []string `json:"redirect_uris"`
	// Developer is the owner's email.
	Developer string `json:"developer"`
	// Catalogue lists the catalogue entry IDs the client was registered for.
	Catalogue []string `json:"catalogue"`
	// Policy is the policy ID the client is bound to.
	Policy                  string `json:"policy"`
	Provider                string `json:"provider"`
	RegistrationClientURI   string `json:"registration_client_uri,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	TokenEndpoint           string `json:"token_endpoint"`
	// TokenEndpointAuthMethod is how the client authenticates at the
	// token endpoint, as registered.
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method,omitempty"`
	CreatedAt               time.Time `json:"created_at"`
	// ExpiresAt is zero when the registration never expires.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Expired reports whether the registration has expired at now.
func (c *Client) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)
}

// Tombstone records a deleted client so that the gateway keeps refusing
// its tokens.
type Tombstone struct {
	ClientID  string    `json:"client_id"`
	Developer string    `json:"developer"`
	DeletedAt time.Time `json:"deleted_at"`
}

// state is the file's content: version 2 of the schema.
type state struct {
	Version    int          `json:"version"`
	Developers []*Developer `json:"developers"`
	Clients    []*Client    `json:"clients"`
	Tombstones []*Tombstone `json:"tombstones"`
}

// binding is what Binding reports for one client ID.
type binding struct {
	policy    string
	expiresAt time.Time
	revoked   bool
	catalogue []string
}

// snapshot is an immutable view of the state with its indexes. It is
// replaced as a whole on every write and never modified once published.
type snapshot struct {
	st         *state
	developers map[string]*Developer
	clients    map[string]*Client
	bindings   map[string]binding
}

func newSnapshot(st *state) *snapshot {
	s := &snapshot{
		st:         st,
		developers: make(map[string]*Developer, len(st.Developers)),
		clients:    make(map[string]*Client, len(st.Clients)),
		bindings:   make(map[string]binding, len(st.Clients)+len(st.Tombstones)),
	}
	for _, d := range st.Developers {
		s.developers[d.Email] = d
	}
	for _, t := range st.Tombstones {
		s.bindings[t.ClientID] = binding{revoked: true}
	}
	for _, c := range st.Clients {
		s.clients[c.ClientID] = c
		s.bindings[c.ClientID] = binding{policy: c.Policy, expiresAt: c.ExpiresAt, catalogue: c.Catalogue}
	}
	return s
}

// Store is an open state file. See the package documentation for the
// concurrency contract.
type Store struct {
	path string       // absolute, without symbolic links
	lock *flock.Flock // nil for a read-only store
	cur  atomic.Pointer[snapshot]

	mu     sync.Mutex // serialises writers, Reload and Close
	closed bool       // guarded by mu

	hooksMu sync.Mutex
	hooks   []func() // guarded by hooksMu; see OnChange
	// beforeRename, when set, runs between writing the temporary file and
	// committing it; a test returns an error to simulate a crash there.
	beforeRename func(tmp string) error
}

// Open opens the state file at path (or where path leads, when it is a
// symbolic link) for reading and writing, creating it when it does not
// exist, and locks it until Close.
func Open(path string) (*Store, error) {
	abs, err := resolve(path)
	if err != nil {
		return nil, err
	}
	lock := flock.New(abs+".lock", flock.SetPermissions(0o600))
	ok, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", abs+".lock", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s (lock %s is held; is another cuegate running on it?)", ErrLocked, abs, abs+".lock")
	}
	s := &Store{path: abs, lock: lock}
	// Temporary files left by a crash are stale now that we hold the lock.
	atomicfile.RemoveStale(abs)
	st, from, err := readState(abs)
	switch {
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
		lock.Close()
		return nil, err
	}
	s.cur.Store(newSnapshot(st))
	return s, nil
}

// OpenReadOnly opens the state file without locking it, for a node that
// serves the gateway while another node's portal writes the file. Its
// write methods fail; call Reload to pick up the writer's changes.
func OpenReadOnly(path string) (*Store, error) {
	abs, err := resolve(path)
	if err != nil {
		return nil, err
	}
	st, _, err := readState(abs)
	if err != nil {
		return nil, err
	}
	s := &Store{path: abs}
	s.cur.Store(newSnapshot(st))
	return s, nil
}

// Reload reads the file again, publishes its content and runs the
// OnChange hooks. On error the previous content stays in use.
func (s *Store) Reload() error {
	if err := s.reload(); err != nil {
		return err
	}
	s.changed()
	return nil
}

// reload is Reload but for the hooks, under s.mu.
func (s *Store) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _, err := readState(s.path)
	if err != nil {
		return err
	}
	s.cur.Store(newSnapshot(st))
	return nil
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
	if wasClosed || s.lock == nil {
		return nil
	}
	return s.lock.Close()
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

// checkError is err, the error of doing what ("open", "read") to the
// state file at path: ErrPermissions for a file or directory open to
// other users' writes.
func checkError(what, path string, err error) error {
	if _, ok := errors.AsType[*atomicfile.PermissionError](err); ok {
		return fmt.Errorf("%w: %w", ErrPermissions, err)
	}
	return fmt.Errorf("store: %s %s: %w", what, path, err)
}

// readState reads and migrates the file and reports the schema version it
// was written in; a missing file is fs.ErrNotExist. A file or directory
// open to other users' writes is ErrPermissions.
func readState(path string) (*state, int, error) {
	b, err := atomicfile.ReadPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	if err != nil {
		return nil, 0, checkError("read", path, err)
	}
	st, from, err := decode(b)
	if err != nil {
		return nil, 0, fmt.Errorf("store: %s is not a valid state file (it was left untouched): %w", path, err)
	}
	return st, from, nil
}

// decode parses any supported schema version into the current one.
func decode(b []byte) (*state, int, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, 0, err
	}
	if head.Version == nil {
		return nil, 0, errors.New(`no "version" field`)
	}
	v := *head.Version
	switch {
	case v == 1:
		st, err := migrateV1(b)
		return st, v, err
	case v == Version:
		var st state
		if err := strictUnmarshal(b, &st); err != nil {
			return nil, v, err
		}
		return &st, v, st.check()
	case v > Version:
		return nil, v, fmt.Errorf("schema version %d is newer than this cuegate understands (%d)", v, Version)
	default:
		return nil, v, fmt.Errorf("unknown schema version %d", v)
	}
}

// copyFile copies src to dst with mode 0600, replacing dst (and its mode).
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err == nil {
		err = atomicfile.Write(dst, b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("store: back up %s: %w", src, err)
	}
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// check rejects a state that would break the indexes.
func (st *state) check() error {
	devs := map[string]bool{}
	for i, d := range st.Developers {
		if d == nil || d.Email == "" {
			return fmt.Errorf("developers[%d]: no email", i)
		}
		if devs[d.Email] {
			return fmt.Errorf("developers[%d]: duplicate email %q", i, d.Email)
		}
		devs[d.Email] = true
	}
	ids := map[string]bool{}
	for i, c := range st.Clients {
		if c == nil || c.ClientID == "" {
			return fmt.Errorf("clients[%d]: no client_id", i)
		}
		if ids[c.ClientID] {
			return fmt.Errorf("clients[%d]: duplicate client_id %q", i, c.ClientID)
		}
		ids[c.ClientID] = true
	}
	for i, t := range st.Tombstones {
		if t == nil || t.ClientID == "" {
			return fmt.Errorf("tombstones[%d]: no client_id", i)
		}
	}
	return nil
}

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
	if _, err = f.Write(b); err == nil && s.beforeRename != nil {
		err = s.beforeRename(f.Name())
	}
	if err == nil {
		err = f.Commit()
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
	if s.lock == nil {
		return fmt.Errorf("store: %s is open read-only", s.path)
	}
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

// AddDeveloper adds an account; ErrExists when the email is taken.
func (s *Store) AddDeveloper(d Developer) error {
	if d.Email == "" {
		return errors.New("store: developer without email")
	}
	return s.update(func(old *snapshot, st *state) error {
		if _, ok := old.developers[d.Email]; ok {
			return fmt.Errorf("%w: developer %s", ErrExists, d.Email)
		}
		st.Developers = append(st.Developers, &d)
		return nil
	})
}

// Developer returns the account with this email.
func (s *Store) Developer(email string) (Developer, bool) {
	return get(s.cur.Load().developers, email)
}

// Developers returns every account, sorted by email.
func (s *Store) Developers() []Developer {
	snap := s.cur.Load()
	out := make([]Developer, 0, len(snap.st.Developers))
	for _, d := range snap.st.Developers {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Developer) int { return strings.Compare(a.Email, b.Email) })
	return out
}

// RemoveDeveloper deletes an account and revokes every client it owns
// (they get tombstones, so the gateway refuses their tokens at once). It
// returns the revoked clients, whose registrations at the provider remain.
func (s *Store) RemoveDeveloper(email string, now time.Time) ([]Client, error) {
	var revoked []Client
	err := s.update(func(_ *snapshot, st *state) error {
		i := slices.IndexFunc(st.Developers, func(d *Developer) bool { return d.Email == email })
		if i < 0 {
			return fmt.Errorf("%w: developer %s", ErrNotFound, email)
		}
		st.Developers = slices.Delete(st.Developers, i, i+1)
		st.Clients = slices.DeleteFunc(st.Clients, func(c *Client) bool {
			if c.Developer != email {
				return false
			}
			revoked = append(revoked, *c)
			st.Tombstones = append(st.Tombstones, &Tombstone{ClientID: c.ClientID, Developer: email, DeletedAt: now})
			return true
		})
		return nil
	})
	return revoked, err
}

// AddClient records a registered client; ErrExists when its ID is known,
// including the ID of a deleted client.
func (s *Store) AddClient(c Client) error {
	if c.ClientID == "" {
		return errors.New("store: client without client_id")
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Catalogue = slices.Clone(c.Catalogue)
	return s.update(func(old *snapshot, st *state) error {
		if _, ok := old.clients[c.ClientID]; ok {
			return fmt.Errorf("%w: client %s", ErrExists, c.ClientID)
		}
		if old.bindings[c.ClientID].revoked {
			return fmt.Errorf("%w: client %s was deleted before", ErrExists, c.ClientID)
		}
		st.Clients = append(st.Clients, &c)
		return nil
	})
}

// Client returns the client with this ID; deleted clients are not found.
func (s *Store) Client(clientID string) (Client, bool) {
	return get(s.cur.Load().clients, clientID)
}

// get returns a copy of the snapshot's entry for key: callers never hold
// a pointer into a snapshot.
func get[T any](m map[string]*T, key string) (T, bool) {
	v, ok := m[key]
	if !ok {
		var zero T
		return zero, false
	}
	return *v, true
}

// Clients returns the clients of one developer, or of all developers when
// developer is "", oldest first.
func (s *Store) Clients(developer string) []Client {
	var out []Client
	for _, c := range s.cur.Load().st.Clients {
		if developer == "" || c.Developer == developer {
			out = append(out, *c)
		}
	}
	slices.SortStableFunc(out, func(a, b Client) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// DeleteClient removes a client and leaves a tombstone, so that Binding
// reports it revoked.
func (s *Store) DeleteClient(clientID string, now time.Time) (Client, error) {
	var del Client
	err := s.update(func(_ *snapshot, st *state) error {
		i := slices.IndexFunc(st.Clients, func(c *Client) bool { return c.ClientID == clientID })
		if i < 0 {
			return fmt.Errorf("%w: client %s", ErrNotFound, clientID)
		}
		del = *st.Clients[i]
		st.Clients = slices.Delete(st.Clients, i, i+1)
		st.Tombstones = append(st.Tombstones, &Tombstone{ClientID: clientID, Developer: del.Developer, DeletedAt: now})
		return nil
	})
	return del, err
}

// Binding reports the portal registration of clientID; found is false
// for a client the portal never registered. A deleted client's binding
// is Revoked, its other fields zero.
//
// It satisfies the runtime's Bindings interface. It takes no lock and does
// not allocate.
func (s *Store) Binding(clientID string) (b table.Binding, found bool) {
	x, ok := s.cur.Load().bindings[clientID]
	return table.Binding{Policy: x.policy, ExpiresAt: x.expiresAt, Revoked: x.revoked, Catalogue: x.catalogue}, ok
}

// ClientBinding is one client's binding, as Binding reports it.
type ClientBinding struct {
	ClientID string
	table.Binding
}

// Bindings returns the binding of every client the portal registered,
// deleted ones included, sorted by client ID: what Binding answers, and
// nothing else of the state (no secret, no developer). The result is the
// caller's.
func (s *Store) Bindings() []ClientBinding {
	m := s.cur.Load().bindings
	out := make([]ClientBinding, 0, len(m))
	for id, b := range m {
		out = append(out, ClientBinding{ClientID: id, Binding: table.Binding{
			Policy: b.policy, ExpiresAt: b.expiresAt, Revoked: b.revoked, Catalogue: slices.Clone(b.catalogue),
		}})
	}
	slices.SortFunc(out, func(a, b ClientBinding) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out
}

// OnChange registers fn to run after each write and each Reload, once the
// new content is what readers see. fn runs on the goroutine that changed
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
