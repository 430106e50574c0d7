// The state file's schema and the immutable snapshot readers see.

package store

import (
	"time"

	"github.com/cuegate/cuegate/compiler/table"
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
	// ProviderDeletedAt is when the provider confirmed deleting the
	// client (ConfirmDeleted); zero while it has not, and the tombstone
	// is then kept for good.
	ProviderDeletedAt time.Time `json:"provider_deleted_at,omitzero"`
}

// expired reports whether t may be dropped at now: the provider confirmed
// the deletion at least retention ago, so no token it issued the client
// before is still valid (retention being longer than its tokens live).
func (t *Tombstone) expired(now time.Time, retention time.Duration) bool {
	return !t.ProviderDeletedAt.IsZero() && !now.Before(t.ProviderDeletedAt.Add(retention))
}

// state is the file's content: version 2 of the schema.
type state struct {
	Version    int          `json:"version"`
	Developers []*Developer `json:"developers"`
	Clients    []*Client    `json:"clients"`
	Tombstones []*Tombstone `json:"tombstones"`
}

// snapshot is an immutable view of the state with its indexes. It is
// replaced as a whole on every write and never modified once published.
type snapshot struct {
	st         *state
	developers map[string]*Developer
	clients    map[string]*Client
	bindings   map[string]table.Binding // what Binding reports
}

func newSnapshot(st *state) *snapshot {
	s := &snapshot{
		st:         st,
		developers: make(map[string]*Developer, len(st.Developers)),
		clients:    make(map[string]*Client, len(st.Clients)),
		bindings:   make(map[string]table.Binding, len(st.Clients)+len(st.Tombstones)),
	}
	for _, d := range st.Developers {
		s.developers[d.Email] = d
	}
	for _, t := range st.Tombstones {
		s.bindings[t.ClientID] = table.Binding{Revoked: true}
	}
	for _, c := range st.Clients {
		s.clients[c.ClientID] = c
		s.bindings[c.ClientID] = table.Binding{Policy: c.Policy, ExpiresAt: c.ExpiresAt, Catalogue: c.Catalogue}
	}
	return s
}
