package store

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// AddClient records a client registered for the account c.Developer
// created at account (Developer.Created). It fails with ErrNotFound when
// there is no such account - removed, or removed and created again,
// since the registration began - checked in the same write, so that no
// removal (RemoveDeveloper) can come between the check and the client; and
// with ErrExists when the client's ID is known, including the ID of a
// deleted client.
func (s *Store) AddClient(c Client, account time.Time) error {
	if c.ClientID == "" {
		return errors.New("store: client without client_id")
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Catalogue = slices.Clone(c.Catalogue)
	return s.update(func(old *snapshot, st *state) error {
		if d, ok := old.developers[c.Developer]; !ok || !d.Created.Equal(account) {
			return fmt.Errorf("%w: developer %s with the account created at %s", ErrNotFound, c.Developer, account.Format(time.RFC3339Nano))
		}
		if _, ok := old.clients[c.ClientID]; ok {
			return fmt.Errorf("%w: client %s", ErrExists, c.ClientID)
		}
		if old.bindings[c.ClientID].Revoked {
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

// ConfirmDeleted records that the provider deleted the client clientID,
// whose tombstone DeleteClient left, at now; and drops, in the same write,
// every tombstone whose deletion the provider confirmed retention or more
// before now. The state then holds the tombstones of the deletions of the
// last retention, and those the provider never confirmed, rather than
// every deletion ever made. ErrNotFound when clientID has no tombstone.
func (s *Store) ConfirmDeleted(clientID string, now time.Time, retention time.Duration) error {
	return s.update(func(_ *snapshot, st *state) error {
		i := slices.IndexFunc(st.Tombstones, func(t *Tombstone) bool { return t.ClientID == clientID })
		if i < 0 {
			return fmt.Errorf("%w: deleted client %s", ErrNotFound, clientID)
		}
		t := *st.Tombstones[i]
		t.ProviderDeletedAt = now
		st.Tombstones[i] = &t
		st.Tombstones = slices.DeleteFunc(st.Tombstones, func(t *Tombstone) bool { return t.expired(now, retention) })
		return nil
	})
}

// UpdateClient replaces the client clientID with what change makes of a
// copy of it, in one atomic write; ErrNotFound when there is no such
// client. The client ID and developer cannot change.
func (s *Store) UpdateClient(clientID string, change func(c *Client)) (Client, error) {
	var out Client
	err := s.update(func(_ *snapshot, st *state) error {
		i := slices.IndexFunc(st.Clients, func(c *Client) bool { return c.ClientID == clientID })
		if i < 0 {
			return fmt.Errorf("%w: client %s", ErrNotFound, clientID)
		}
		c := *st.Clients[i]
		change(&c)
		c.ClientID, c.Developer = st.Clients[i].ClientID, st.Clients[i].Developer
		c.RedirectURIs, c.Catalogue = slices.Clone(c.RedirectURIs), slices.Clone(c.Catalogue)
		st.Clients[i] = &c
		out = c
		return nil
	})
	return out, err
}
