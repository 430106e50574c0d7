// Adding, removing and looking up developers and clients.

package store

import (
	"errors"
	"testing"
)

func TestDuplicates(t *testing.T) {
	t.Parallel()
	s, _ := openNew(t)
	d := Developer{Email: "a@example.com", PasswordHash: "h"}
	if err := s.AddDeveloper(d); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDeveloper(d); !errors.Is(err, ErrExists) {
		t.Errorf("second AddDeveloper = %v, want ErrExists", err)
	}
	if err := s.AddClient(client("c1", d.Email)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClient(client("c1", d.Email)); !errors.Is(err, ErrExists) {
		t.Errorf("second AddClient = %v, want ErrExists", err)
	}
	if _, err := s.DeleteClient("c1", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClient(client("c1", d.Email)); !errors.Is(err, ErrExists) {
		t.Errorf("AddClient of a deleted ID = %v, want ErrExists", err)
	}
	if _, err := s.DeleteClient("nope", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteClient(nope) = %v, want ErrNotFound", err)
	}
}

func TestRemoveDeveloperRevokesClients(t *testing.T) {
	t.Parallel()
	s, _ := openNew(t)
	for _, err := range []error{
		s.AddDeveloper(Developer{Email: "a@example.com"}),
		s.AddDeveloper(Developer{Email: "b@example.com"}),
		s.AddClient(client("ca", "a@example.com")),
		s.AddClient(client("cb", "b@example.com")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
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
