package table

import (
	"slices"
	"time"
)

// Binding is the portal's registration of a client, as the gateway reads
// it: the policy the client is bound to, when the registration expires
// (zero: never), whether it was deleted (its tokens are refused at once),
// and the catalogue entries it was registered for (the binding holds only
// for tokens of the issuer of those entries' APIs). Catalogue is shared by
// whoever reports it: read it, never keep or modify it. Its JSON form is
// a cluster's bindings snapshot's.
type Binding struct {
	Policy    string    `json:"policy,omitempty"`
	Catalogue []string  `json:"catalogue,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Revoked   bool      `json:"revoked,omitempty"`
}

// Equal reports whether b and o bind a client alike.
func (b Binding) Equal(o Binding) bool {
	return b.Policy == o.Policy && b.Revoked == o.Revoked && b.ExpiresAt.Equal(o.ExpiresAt) && slices.Equal(b.Catalogue, o.Catalogue)
}
