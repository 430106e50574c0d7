package store

import (
	"slices"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
)

// Binding reports the portal registration of clientID; found is false
// for a client the portal never registered. A deleted client's binding
// is Revoked, its other fields zero.
//
// It satisfies the runtime's Bindings interface. It takes no lock and does
// not allocate.
func (s *Store) Binding(clientID string) (b table.Binding, found bool) {
	b, found = s.cur.Load().bindings[clientID]
	return b, found
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
		b.Catalogue = slices.Clone(b.Catalogue)
		out = append(out, ClientBinding{ClientID: id, Binding: b})
	}
	slices.SortFunc(out, func(a, b ClientBinding) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out
}
