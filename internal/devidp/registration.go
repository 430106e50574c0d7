// Client registration (RFC 7591) and its management (RFC 7592).

package devidp

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// client is one registration. The JSON encoding is the registration
// response without the secrets' bookkeeping.
type client struct {
	Metadata
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret"`
	RegistrationAccessToken string `json:"registration_access_token"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	ClientIDIssuedAt        int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at"`
	updates                 int    // updates made, for RotatedToken
}

// Metadata is the client metadata a registration request may carry
// (RFC 7591 §2), plus `pol`, the policy put into the client's tokens.
type Metadata struct {
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope,omitempty"`
	Policy                  string   `json:"pol,omitempty"`
}

// ClientCount reports how many clients are registered.
func (p *Provider) ClientCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

// HasClient reports whether clientID is registered.
func (p *Provider) HasClient(clientID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.clients[clientID]
	return ok
}

func (p *Provider) register(w http.ResponseWriter, r *http.Request) {
	if !bearerIs(r, p.iat) {
		p.log.Info().Msg("devidp (development only): registration refused: missing or wrong initial access token")
		writeBearerError(w, "invalid_token", "a valid initial access token is required as Authorization: Bearer")
		return
	}
	var md Metadata
	if code, desc := decodeMetadata(r, &md, nil); code != "" {
		writeError(w, http.StatusBadRequest, code, desc)
		return
	}
	c := &client{Metadata: md, ClientIDIssuedAt: p.now().Unix()}
	p.mu.Lock()
	p.nreg++
	c.ClientID, c.ClientSecret, c.RegistrationAccessToken = p.creds(p.nreg)
	c.RegistrationClientURI = p.RegistrationURL() + "/" + c.ClientID
	p.clients[c.ClientID] = c
	p.mu.Unlock()
	p.log.Info().Str("client_id", c.ClientID).Str("client_name", md.ClientName).Str("pol", md.Policy).
		Msg("devidp (development only): client registered")
	w.Header().Set("Location", c.RegistrationClientURI)
	writeJSON(w, http.StatusCreated, c)
}

// decodeMetadata reads and checks a registration request, or with c an
// update of c (RFC 7592 §2.2), filling in the defaults of RFC 7591 §2. It
// returns an RFC 7591 error code and description when the request is
// unacceptable.
func decodeMetadata(r *http.Request, md *Metadata, c *client) (code, desc string) {
	if mt := r.Header.Get("Content-Type"); !strings.HasPrefix(mt, "application/json") {
		return "invalid_client_metadata", "the request body must be application/json"
	}
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&raw); err != nil {
		return "invalid_client_metadata", "the request body is not a JSON object: " + err.Error()
	}
	if c == nil {
		for _, f := range []string{"client_secret", "client_id"} {
			if _, ok := raw[f]; ok {
				return "invalid_client_metadata", f + " is assigned by the provider and must not be sent"
			}
		}
	} else if code, desc := checkUpdate(raw, c); code != "" {
		return code, desc
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, md); err != nil {
		return "invalid_client_metadata", "client metadata has a field of the wrong type: " + err.Error()
	}
	if md.RedirectURIs == nil {
		md.RedirectURIs = []string{}
	}
	for _, ru := range md.RedirectURIs {
		if u, err := url.Parse(ru); err != nil || !u.IsAbs() || u.Fragment != "" {
			return "invalid_redirect_uri", fmt.Sprintf("redirect URI %q is not an absolute URI without a fragment", ru)
		}
	}
	if md.GrantTypes == nil {
		md.GrantTypes = []string{"client_credentials"}
	}
	if !slices.Contains(md.GrantTypes, "client_credentials") {
		return "invalid_client_metadata", "this development provider supports only the client_credentials grant; grant_types must include it"
	}
	if md.ResponseTypes == nil {
		md.ResponseTypes = []string{}
	}
	switch md.TokenEndpointAuthMethod {
	case "":
		md.TokenEndpointAuthMethod = "client_secret_basic"
	case "client_secret_basic", "client_secret_post":
	default:
		return "invalid_client_metadata", fmt.Sprintf("token_endpoint_auth_method %q is not supported: use client_secret_basic or client_secret_post", md.TokenEndpointAuthMethod)
	}
	return "", ""
}

// registration finds the client named in the path and checks its
// registration access token; it writes the error and returns nil when
// either fails (RFC 7592 §3: an unknown client is also invalid_token).
func (p *Provider) registration(w http.ResponseWriter, r *http.Request) *client {
	p.mu.Lock()
	c := p.clients[r.PathValue("id")]
	p.mu.Unlock()
	if c == nil || !bearerIs(r, c.RegistrationAccessToken) {
		writeUnknownClient(w)
		return nil
	}
	return c
}

func (p *Provider) readClient(w http.ResponseWriter, r *http.Request) {
	if c := p.registration(w, r); c != nil {
		writeJSON(w, http.StatusOK, c)
	}
}

// checkUpdate checks the fields of an update of c that are not metadata
// (RFC 7592 §2.2): its own client_id, its own client_secret or none, and
// none of the fields only the provider sets. No description repeats a
// value sent.
func checkUpdate(raw map[string]json.RawMessage, c *client) (code, desc string) {
	for _, f := range []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"} {
		if _, ok := raw[f]; ok {
			return "invalid_client_metadata", f + " is set by the provider and must not be sent in an update"
		}
	}
	var id string
	if json.Unmarshal(raw["client_id"], &id) != nil || id != c.ClientID {
		return "invalid_client_metadata", "an update must carry the client's own client_id as a string"
	}
	if s, ok := raw["client_secret"]; ok {
		var secret string
		if json.Unmarshal(s, &secret) != nil || subtle.ConstantTimeCompare([]byte(secret), []byte(c.ClientSecret)) != 1 {
			return "invalid_client_metadata", "client_secret is not the client's: the provider assigns it and an update cannot change it"
		}
	}
	return "", ""
}

// updateClient replaces the client's metadata with the request's (RFC
// 7592 §2.2) and rotates its registration access token. An update made
// with a token another update has just rotated is refused as one with a
// wrong token.
func (p *Provider) updateClient(w http.ResponseWriter, r *http.Request) {
	c := p.registration(w, r)
	if c == nil {
		return
	}
	var md Metadata
	if code, desc := decodeMetadata(r, &md, c); code != "" {
		writeError(w, http.StatusBadRequest, code, desc)
		return
	}
	u := *c
	u.Metadata = md
	u.updates++
	u.RegistrationAccessToken = p.rotated(u.ClientID, u.updates)
	p.mu.Lock()
	current := p.clients[c.ClientID] == c
	if current {
		p.clients[c.ClientID] = &u
	}
	p.mu.Unlock()
	if !current {
		writeUnknownClient(w)
		return
	}
	p.log.Info().Str("client_id", u.ClientID).Str("client_name", md.ClientName).Str("pol", md.Policy).
		Msg("devidp (development only): client updated")
	writeJSON(w, http.StatusOK, &u)
}

func (p *Provider) deleteClient(w http.ResponseWriter, r *http.Request) {
	c := p.registration(w, r)
	if c == nil {
		return
	}
	p.mu.Lock()
	delete(p.clients, c.ClientID)
	p.mu.Unlock()
	p.log.Info().Str("client_id", c.ClientID).Msg("devidp (development only): client deleted")
	w.WriteHeader(http.StatusNoContent)
}

func bearerIs(r *http.Request, want string) bool {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(prefix):])), []byte(want)) == 1
}

// writeUnknownClient answers, as RFC 7592 §3 says, a request for a client
// that is unknown or whose registration access token is wrong (or was just
// rotated): the two are not told apart.
func writeUnknownClient(w http.ResponseWriter) {
	writeBearerError(w, "invalid_token", "unknown client or wrong registration access token")
}

func writeBearerError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error=%q, error_description=%q`, code, desc))
	writeError(w, http.StatusUnauthorized, code, desc)
}
