package store

import (
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// statePath is the path of a state file in a new directory of the test's.
func statePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "state.json")
}

// openNew opens a store on a new state file, at path.
func openNew(t *testing.T) (s *Store, path string) {
	path = statePath(t)
	return open(t, path), path
}

// openWithClient opens a store on a new state file, at path, holding
// the account a@example.com and its client c1.
func openWithClient(t *testing.T) (s *Store, path string) {
	t.Helper()
	s, path = openNew(t)
	addDevelopers(t, s, "a@example.com")
	addClients(t, s, "a@example.com", "c1")
	return s, path
}

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func client(id, dev string) Client {
	return Client{
		ClientID: id, ClientSecret: "secret-" + id, ClientName: "app " + id, Developer: dev,
		Catalogue: []string{"gluu_api"}, Policy: "gold", Provider: "gluu",
		TokenEndpoint: "https://idp/token", CreatedAt: t0,
	}
}

// addDevelopers adds the accounts of emails, created at t0.
func addDevelopers(t testing.TB, s *Store, emails ...string) {
	t.Helper()
	for _, email := range emails {
		if err := s.AddDeveloper(Developer{Email: email, PasswordHash: "h", Created: t0}); err != nil {
			t.Fatal(err)
		}
	}
}

// addClients registers the clients ids of the developer dev, at t0.
func addClients(t testing.TB, s *Store, dev string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.AddClient(client(id, dev), t0); err != nil {
			t.Fatal(err)
		}
	}
}
