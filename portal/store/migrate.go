package store

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cuegate/cuegate/internal/strictjson"
)

// stateV1 is the first schema: developers and clients keyed by email and
// client ID, one catalogue entry per client, and deleted client IDs in a
// plain list.
type stateV1 struct {
	Version    int `json:"version"`
	Developers map[string]struct {
		PasswordHash string    `json:"password_hash"`
		Created      time.Time `json:"created"`
	} `json:"developers"`
	Clients map[string]struct {
		ClientSecret            string    `json:"client_secret"`
		ClientName              string    `json:"client_name"`
		RedirectURIs            []string  `json:"redirect_uris"`
		Developer               string    `json:"developer"`
		CatalogueEntry          string    `json:"catalogue_entry"`
		Policy                  string    `json:"policy"`
		Provider                string    `json:"provider"`
		RegistrationClientURI   string    `json:"registration_client_uri"`
		RegistrationAccessToken string    `json:"registration_access_token"`
		TokenEndpoint           string    `json:"token_endpoint"`
		RegisteredAt            time.Time `json:"registered_at"`
		ExpiresAt               time.Time `json:"expires_at"`
	} `json:"clients"`
	Revoked []string `json:"revoked"`
}

// migrateV1 converts a version 1 file to the current schema. Maps become
// lists sorted by key, catalogue_entry becomes a one-element catalogue,
// registered_at becomes created_at, and revoked IDs become tombstones
// (deleted at the zero time: version 1 did not record when).
func migrateV1(b []byte) (*state, error) {
	var v1 stateV1
	if err := strictjson.Unmarshal(b, &v1); err != nil {
		return nil, fmt.Errorf("version 1: %w", err)
	}
	st := &state{Version: Version}
	for _, email := range slices.Sorted(maps.Keys(v1.Developers)) {
		d := v1.Developers[email]
		st.Developers = append(st.Developers, &Developer{Email: email, PasswordHash: d.PasswordHash, Created: d.Created})
	}
	for _, id := range slices.Sorted(maps.Keys(v1.Clients)) {
		c := v1.Clients[id]
		var cat []string
		if c.CatalogueEntry != "" {
			cat = []string{c.CatalogueEntry}
		}
		st.Clients = append(st.Clients, &Client{
			ClientID: id, ClientSecret: c.ClientSecret, ClientName: c.ClientName,
			RedirectURIs: c.RedirectURIs, Developer: c.Developer, Catalogue: cat,
			Policy: c.Policy, Provider: c.Provider,
			RegistrationClientURI: c.RegistrationClientURI, RegistrationAccessToken: c.RegistrationAccessToken,
			TokenEndpoint: c.TokenEndpoint, CreatedAt: c.RegisteredAt, ExpiresAt: c.ExpiresAt,
		})
	}
	for _, id := range v1.Revoked {
		st.Tombstones = append(st.Tombstones, &Tombstone{ClientID: id})
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("version 1: %w", err)
	}
	return st, nil
}
