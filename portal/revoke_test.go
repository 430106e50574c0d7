package portal

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/portal/store"
)

// recordingRevoker records what the portal asks the other nodes to
// revoke, and what the store held of each client when it was asked and
// when released; it fails while failing is set.
type recordingRevoker struct {
	st *store.Store

	mu       sync.Mutex
	failing  bool
	during   func() // run by the first Revoke, while it holds the revocation
	revoked  [][]string
	liveThen []bool // whether the store still held the clients at Revoke
	released []bool // whether the store still held them at release
}

var _ Revoker = (*recordingRevoker)(nil)

func (r *recordingRevoker) fail(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failing = on
}

func (r *recordingRevoker) live(ids []string) bool {
	for _, c := range r.st.Clients("") {
		if slices.Contains(ids, c.ClientID) {
			return true
		}
	}
	return false
}

func (r *recordingRevoker) Revoke(_ context.Context, ids []string) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return nil, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	r.revoked = append(r.revoked, ids)
	r.liveThen = append(r.liveThen, r.live(ids))
	if during := r.during; during != nil {
		r.during = nil
		during()
	}
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.released = append(r.released, r.live(ids))
	}, nil
}

func newEnvRevoker(t *testing.T) (*env, *recordingRevoker) {
	r := &recordingRevoker{}
	e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Revoker: r})
	r.st = e.store
	return e, r
}

// TestDeletionIsRevokedElsewhereFirst: a developer's deletion, and an
// operator's removal of an account, are revoked on the other nodes
// before the store deletes, and released after; while the other nodes
// cannot be told, nothing is deleted (not here, not at the provider) and
// the answer is a 503 that says so.
func TestDeletionIsRevokedElsewhereFirst(t *testing.T) {
	t.Parallel()
	e, r := newEnvRevoker(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, "one", "gluu_api")
	kept := e.create(dev, "two", "gluu_api")

	r.fail(true)
	var aerr apiError
	resp := e.api(dev, "DELETE", "/clients/"+c.ClientID, nil, &aerr)
	if resp.StatusCode != http.StatusServiceUnavailable || aerr.Code != "temporarily_unavailable" || aerr.Description != ErrUnshared.Error() {
		t.Errorf("deletion while the other nodes cannot be told: %d %+v", resp.StatusCode, aerr)
	}
	if len(e.store.Clients("")) != 2 || len(e.requests()) != 2 {
		t.Fatalf("a refused deletion changed something: clients %d, provider requests %q", len(e.store.Clients("")), e.requests())
	}
	op := e.operator()
	if resp := op("DELETE", "/developers/a@example.com", "", "", nil, &aerr); resp.StatusCode != http.StatusServiceUnavailable ||
		aerr.Code != "temporarily_unavailable" {
		t.Errorf("removal while the other nodes cannot be told: %d %+v", resp.StatusCode, aerr)
	}
	if _, ok := e.store.Developer("a@example.com"); !ok || len(e.store.Clients("")) != 2 {
		t.Fatal("a refused removal changed the store")
	}

	r.fail(false)
	e.remove(dev, c.ClientID)
	if resp := op("DELETE", "/developers/a@example.com", "", "", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("removal: %d", resp.StatusCode)
	}
	want := [][]string{{c.ClientID}, {kept.ClientID}}
	if !slices.EqualFunc(r.revoked, want, slices.Equal) || !slices.Equal(r.liveThen, []bool{true, true}) || !slices.Equal(r.released, []bool{false, false}) {
		t.Errorf("revoked %q (live then %v, at release %v); want %q revoked while live, released once deleted", r.revoked, r.liveThen, r.released, want)
	}
}

// TestRemovalRevokesClientsRegisteredMeanwhile: a client registered
// while a removal's revocation is under way is revoked ahead too before
// the account goes, not deleted unannounced.
func TestRemovalRevokesClientsRegisteredMeanwhile(t *testing.T) {
	t.Parallel()
	e, r := newEnvRevoker(t)
	dev := e.developer("a@example.com")
	first := e.create(dev, "one", "gluu_api")
	r.during = func() {
		c := store.Client{ClientID: "meanwhile", Developer: "a@example.com", Policy: "gold", Catalogue: []string{"gluu_api"}, CreatedAt: t0}
		if err := e.store.AddClient(c, t0); err != nil {
			t.Error(err)
		}
	}
	var rm Removal
	if resp := e.operator()("DELETE", "/developers/a@example.com", "", "", nil, &rm); resp.StatusCode != http.StatusOK || len(rm.Revoked) != 2 {
		t.Fatalf("removal: %d %+v", resp.StatusCode, rm)
	}
	want := [][]string{{first.ClientID}, {"meanwhile"}}
	if !slices.EqualFunc(r.revoked, want, slices.Equal) || !slices.Equal(r.released, []bool{false, false}) {
		t.Errorf("revoked ahead %q (live at release %v), want %q, each released once deleted", r.revoked, r.released, want)
	}
}

// TestTombstonesOutliveTokensOnly: a deleted client stays refused for
// portal.tombstone_retention after its provider answered the deletion
// with a 2xx, then its tombstone goes with the next deletion's write; one
// whose deletion the provider refused, answered 404, or gave no way to
// make stays refused.
func TestTombstonesOutliveTokensOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	answering := func(status int) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete {
				return false
			}
			w.WriteHeader(status)
			return true
		}
	}
	unmanaged := func(id string) {
		if _, err := e.store.UpdateClient(id, func(c *store.Client) { c.RegistrationClientURI, c.RegistrationAccessToken = "", "" }); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		before  func(id string) // the client's state at the provider
		answer  func(w http.ResponseWriter, r *http.Request) bool
		status  int // of the portal's DELETE
		revoked bool
	}{
		{name: "deleted", status: http.StatusNoContent},
		{name: "refused", answer: answering(http.StatusInternalServerError), status: http.StatusOK, revoked: true},
		{name: "unknown", answer: answering(http.StatusNotFound), status: http.StatusNoContent, revoked: true},
		{name: "unmanaged", before: unmanaged, status: http.StatusOK, revoked: true},
	}
	ids := make([]string, len(cases))
	for i, tt := range cases {
		ids[i] = e.create(dev, tt.name, "gluu_api").ClientID
		if tt.before != nil {
			tt.before(ids[i])
		}
		e.idp.SetAnswer(tt.answer)
		if resp := e.api(dev, "DELETE", "/clients/"+ids[i], nil, nil); resp.StatusCode != tt.status {
			t.Fatalf("%s: delete: %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
	e.idp.SetAnswer(nil)
	last := e.create(dev, "last", "gluu_api")
	e.advance(defaultTombstoneRetention)
	if resp := e.api(dev, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("login again: %d", resp.StatusCode)
	}
	e.remove(dev, last.ClientID)
	for i, tt := range cases {
		if b, found := e.store.Binding(ids[i]); b.Revoked != tt.revoked || found != tt.revoked {
			t.Errorf("%s: Binding = %+v, %v; want revoked %v", tt.name, b, found, tt.revoked)
		}
	}
	if b, _ := e.store.Binding(last.ClientID); !b.Revoked {
		t.Error("the last deletion's tombstone went too")
	}
}
