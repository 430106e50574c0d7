package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

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
	return s.removeDeveloper(email, now, nil)
}

// RemoveDeveloperIfClients is RemoveDeveloper, made only while the
// account's clients are among clientIDs, the ones the caller has seen:
// when it holds another (one registered since), nothing changes and the
// error matches ErrChanged.
func (s *Store) RemoveDeveloperIfClients(email string, now time.Time, clientIDs []string) ([]Client, error) {
	if clientIDs == nil {
		clientIDs = []string{}
	}
	return s.removeDeveloper(email, now, clientIDs)
}

// removeDeveloper removes email's account and clients; with only not
// nil, only when every client of the account is in it.
func (s *Store) removeDeveloper(email string, now time.Time, only []string) ([]Client, error) {
	var revoked []Client
	err := s.update(func(_ *snapshot, st *state) error {
		i := slices.IndexFunc(st.Developers, func(d *Developer) bool { return d.Email == email })
		if i < 0 {
			return fmt.Errorf("%w: developer %s", ErrNotFound, email)
		}
		if only != nil {
			for _, c := range st.Clients {
				if c.Developer == email && !slices.Contains(only, c.ClientID) {
					return fmt.Errorf("%w: developer %s registered client %s", ErrChanged, email, c.ClientID)
				}
			}
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
