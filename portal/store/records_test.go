// Adding, removing and looking up developers and clients.

package store

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"
)

func TestDuplicates(t *testing.T) {
	t.Parallel()
	s, _ := openNew(t)
	d := Developer{Email: "a@example.com", PasswordHash: "h", Created: t0}
	if err := s.AddDeveloper(d); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDeveloper(d); !errors.Is(err, ErrExists) {
		t.Errorf("second AddDeveloper = %v, want ErrExists", err)
	}
	if err := s.AddClient(client("c1", d.Email), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClient(client("c1", d.Email), t0); !errors.Is(err, ErrExists) {
		t.Errorf("second AddClient = %v, want ErrExists", err)
	}
	if _, err := s.DeleteClient("c1", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClient(client("c1", d.Email), t0); !errors.Is(err, ErrExists) {
		t.Errorf("AddClient of a deleted ID = %v, want ErrExists", err)
	}
	if _, err := s.DeleteClient("nope", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteClient(nope) = %v, want ErrNotFound", err)
	}
}

// TestClientOfAnAccountGoneIsNotAdded: a client registered for an
// account that was removed meanwhile, or removed and created again under
// the same email, is refused and nothing is written; the account it was
// registered for gets it.
func TestClientOfAnAccountGoneIsNotAdded(t *testing.T) {
	t.Parallel()
	later := t0.Add(time.Minute)
	tests := []struct {
		name     string
		accounts []Developer
		account  time.Time
		want     error
	}{
		{"the account", []Developer{{Email: "a@example.com", Created: t0}}, t0, nil},
		{"no account", nil, t0, ErrNotFound},
		{"another account under the email", []Developer{{Email: "a@example.com", Created: later}}, t0, ErrNotFound},
		{"another account in another time zone", []Developer{{Email: "a@example.com", Created: t0.In(time.FixedZone("X", 3600))}}, t0, nil},
		{"another developer's account", []Developer{{Email: "b@example.com", Created: t0}}, t0, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, path := openNew(t)
			for _, d := range tt.accounts {
				if err := s.AddDeveloper(d); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)
			err := s.AddClient(client("c1", "a@example.com"), tt.account)
			if !errors.Is(err, tt.want) {
				t.Fatalf("AddClient = %v, want %v", err, tt.want)
			}
			after, _ := os.ReadFile(path)
			if _, stored := s.Client("c1"); stored != (tt.want == nil) || tt.want != nil && !bytes.Equal(before, after) {
				t.Errorf("client stored %v, want %v; file changed %v", stored, tt.want == nil, !bytes.Equal(before, after))
			}
		})
	}
}

func TestRemoveDeveloperRevokesClients(t *testing.T) {
	t.Parallel()
	s, _ := openNew(t)
	addDevelopers(t, s, "a@example.com", "b@example.com")
	addClients(t, s, "a@example.com", "ca")
	addClients(t, s, "b@example.com", "cb")
	revoked, err := s.RemoveDeveloper("a@example.com", t0)
	if err != nil || len(revoked) != 1 || revoked[0].ClientID != "ca" {
		t.Fatalf("RemoveDeveloper = %v, %v", revoked, err)
	}
	if bnd, _ := s.Binding("ca"); !bnd.Revoked {
		t.Error("client of removed developer is not revoked")
	}
	if got := s.Clients(""); len(got) != 1 || got[0].ClientID != "cb" {
		t.Errorf("Clients = %+v", got)
	}
	if _, err := s.RemoveDeveloper("a@example.com", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("second RemoveDeveloper = %v", err)
	}
}

// TestRemoveDeveloperIfClients: a removal made for the clients the caller saw
// is refused, with nothing changed, when the account holds another; with
// every client seen (none for an account without), it removes.
func TestRemoveDeveloperIfClients(t *testing.T) {
	t.Parallel()
	s, _ := openNew(t)
	addDevelopers(t, s, "a@example.com", "b@example.com")
	addClients(t, s, "a@example.com", "seen", "new")
	if _, err := s.RemoveDeveloperIfClients("a@example.com", t0, []string{"seen"}); !errors.Is(err, ErrChanged) {
		t.Fatalf("removal with a client unseen: %v, want ErrChanged", err)
	}
	if _, ok := s.Developer("a@example.com"); !ok || len(s.Clients("a@example.com")) != 2 {
		t.Fatal("a refused removal changed the store")
	}
	revoked, err := s.RemoveDeveloperIfClients("a@example.com", t0, []string{"seen", "new"})
	if err != nil || len(revoked) != 2 {
		t.Fatalf("removal with every client seen = %v, %v", revoked, err)
	}
	if _, err := s.RemoveDeveloperIfClients("b@example.com", t0, nil); err != nil {
		t.Errorf("removal of an account without clients, none seen: %v", err)
	}
}

func TestConfirmDeletedPrunesOldTombstones(t *testing.T) {
	t.Parallel()
	const retention = 48 * time.Hour
	s, path := openNew(t)
	addDevelopers(t, s, "a@example.com", "b@example.com")
	addClients(t, s, "a@example.com", "old", "recent", "unconfirmed", "now")
	addClients(t, s, "b@example.com", "gone-with-b")
	for _, id := range []string{"old", "recent", "unconfirmed", "now"} {
		if _, err := s.DeleteClient(id, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RemoveDeveloper("b@example.com", t0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id string
		at time.Time
	}{
		{"old", t0},
		{"recent", t0.Add(time.Hour)},
		{"now", t0.Add(retention)}, // drops "old", confirmed retention ago
	} {
		if err := s.ConfirmDeleted(c.id, c.at, retention); err != nil {
			t.Fatalf("ConfirmDeleted(%s): %v", c.id, err)
		}
	}
	for _, tt := range []struct {
		id      string
		revoked bool
	}{
		{"old", false},
		{"recent", true},
		{"unconfirmed", true},
		{"gone-with-b", true},
		{"now", true},
	} {
		if b, _ := s.Binding(tt.id); b.Revoked != tt.revoked {
			t.Errorf("Binding(%s).Revoked = %v, want %v", tt.id, b.Revoked, tt.revoked)
		}
	}
	if err := s.ConfirmDeleted("old", t0.Add(retention), retention); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConfirmDeleted of a dropped tombstone: %v, want ErrNotFound", err)
	}
	if err := s.AddClient(client("old", "a@example.com"), t0); err != nil {
		t.Errorf("a dropped tombstone's ID is refused: %v", err)
	}
	s.Close()
	reopened := open(t, path)
	for _, id := range []string{"recent", "unconfirmed", "gone-with-b", "now"} {
		if b, _ := reopened.Binding(id); !b.Revoked {
			t.Errorf("the tombstone of %s is not in the file", id)
		}
	}
}
