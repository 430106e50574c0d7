// The client_credentials token endpoint and client authentication.

package devidp

import (
	"cmp"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeError(w, http.StatusBadRequest, "invalid_request", "the request must be an application/x-www-form-urlencoded POST")
		return
	}
	c, status, code, desc := p.authenticate(r)
	if c == nil {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="devidp"`)
		}
		writeError(w, status, code, desc)
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported; use client_credentials", gt))
		return
	}
	// Without a scope asked for, the client gets the scope it registered
	// (RFC 6749 §3.3 lets a provider default it).
	scope := cmp.Or(r.PostForm.Get("scope"), c.Scope)
	if scope != "" {
		granted := strings.Fields(c.Scope)
		for _, s := range strings.Fields(scope) {
			if !slices.Contains(granted, s) {
				writeError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %q was not registered for this client", s))
				return
			}
		}
	}
	now := p.now()
	claims := map[string]any{
		"iss":       p.issuer,
		"sub":       c.ClientID,
		"client_id": c.ClientID,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(p.ttl).Unix(),
		"jti":       randomString(16),
	}
	if aud := strings.Fields(r.PostForm.Get("audience")); len(aud) > 0 {
		claims["aud"] = aud
	}
	if scope != "" {
		claims["scope"] = scope
	}
	if pol := cmp.Or(c.Policy, p.defPol); pol != "" {
		claims["pol"] = pol
	}
	tok, kid, err := p.sign(claims)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	p.log.Info().Str("client_id", c.ClientID).Str("kid", kid).Msg("devidp (development only): access token issued")
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int64(p.ttl / time.Second)}
	if scope != "" {
		resp["scope"] = scope
	}
	writeJSON(w, http.StatusOK, resp)
}

// authenticate checks the client's credentials by the method it
// registered. It returns the client, or the status and OAuth error.
func (p *Provider) authenticate(r *http.Request) (c *client, status int, code, desc string) {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	postID, postSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	var id, secret, method string
	switch {
	case hasBasic && postSecret != "":
		return nil, http.StatusBadRequest, "invalid_request", "use one client authentication method, not both"
	case hasBasic:
		// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic.
		id, _ = url.QueryUnescape(basicID)
		secret, _ = url.QueryUnescape(basicSecret)
		method = "client_secret_basic"
	case postID != "":
		id, secret, method = postID, postSecret, "client_secret_post"
	default:
		return nil, http.StatusUnauthorized, "invalid_client", "client authentication is required (client_secret_basic or client_secret_post)"
	}
	p.mu.Lock()
	c = p.clients[id]
	p.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare([]byte(secret), []byte(c.ClientSecret)) != 1 {
		return nil, http.StatusUnauthorized, "invalid_client", "unknown client or wrong client secret"
	}
	if c.TokenEndpointAuthMethod != method {
		return nil, http.StatusUnauthorized, "invalid_client",
			fmt.Sprintf("the client is registered for %s, not %s", c.TokenEndpointAuthMethod, method)
	}
	return c, 0, "", ""
}
