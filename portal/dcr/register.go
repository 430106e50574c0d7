package dcr

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/cuegate/cuegate/internal/printable"
)

// response is the part of an RFC 7591 answer the portal uses; providers
// may leave out or null any field but client_id (encoding/json leaves a
// string empty for both).
type response struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	RegistrationAccessToken string `json:"registration_access_token"`
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
}

func (d *driver) Register(ctx context.Context, req Request) (*Registration, error) {
	auth, err := d.authorization()
	if err != nil {
		return nil, notSent{err}
	}
	body, err := json.Marshal(d.body(req))
	if err != nil {
		return nil, notSent{fmt.Errorf("dcr: encode request: %w", err)}
	}
	status, raw, err := d.do(ctx, http.MethodPost, d.s.RegistrationEndpoint, auth, body)
	if err != nil {
		return nil, err
	}
	reg, err := readAnswer(status, raw, d.s.TokenEndpointAuthMethod, secretsOf(auth, nil))
	if err != nil {
		return nil, err
	}
	if err := cmp.Or(d.usable(reg), d.grantedBeyond(raw)); err != nil {
		if derr := d.undo(ctx, reg); derr != nil {
			// derr as text alone: what it wraps (a ProviderError among
			// them) is the deletion's, not an answer to the registration.
			return nil, fmt.Errorf("%w; client %q: %w: %v", err, printable.Clip(reg.ClientID, 100), ErrLeftAtProvider, derr)
		}
		return nil, err
	}
	return reg, nil
}

// undo deletes reg again, whose answer was refused; an error says why the
// client may stay at the provider, ErrUnmanaged when it gave no way to
// delete it.
func (d *driver) undo(ctx context.Context, reg *Registration) error {
	err := d.Delete(ctx, reg)
	if errors.Is(err, ErrUnknownClient) {
		return nil // deleted already
	}
	return err
}

// readAnswer reads a provider's answer to a registration: a non-2xx
// status is a *ProviderError; a 2xx answer is the registration, with
// configuredMethod as its token endpoint auth method when the answer names
// none, or an error matching ErrBadResponse when it is not JSON of the
// expected shape or has no client_id. No error repeats a value from the
// answer's secrets, nor from sec, the call's.
func readAnswer(status int, raw []byte, configuredMethod string, sec secrets) (*Registration, error) {
	if status < 200 || status > 299 {
		return nil, providerError(status, raw, sec)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: status %d, %v", ErrBadResponse, status, err)
	}
	if r.ClientID == "" {
		return nil, fmt.Errorf("%w: no client_id in the answer", ErrBadResponse)
	}
	return &Registration{
		ClientID:                r.ClientID,
		ClientSecret:            r.ClientSecret,
		RegistrationClientURI:   r.RegistrationClientURI,
		RegistrationAccessToken: r.RegistrationAccessToken,
		TokenEndpointAuthMethod: cmp.Or(r.TokenEndpointAuthMethod, configuredMethod),
	}, nil
}

// Bounds of what a registration may hold: its client_id is stored,
// shown and put in URLs; its secret, registration access token and
// registration_client_uri are stored and sent back to the provider.
const (
	maxClientIDLen = 1000
	maxCredential  = 4 << 10
)

// usable reports why a registration the provider made cannot be used, as
// an error matching ErrBadResponse that names the field and never
// repeats a secret, or nil: a client_id, client_secret, registration
// access token or registration_client_uri that is too long or not
// printable text, a registration_client_uri off the registration
// endpoint's origin (clientURIProblem), a token_endpoint_auth_method
// neither in the registry nor a URI, or no client_secret for a registry
// method that needs one.
func (d *driver) usable(reg *Registration) error {
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"client_id", reg.ClientID, maxClientIDLen}, {"client_secret", reg.ClientSecret, maxCredential},
		{"registration_access_token", reg.RegistrationAccessToken, maxCredential}, {"registration_client_uri", reg.RegistrationClientURI, maxCredential},
	} {
		if p := printable.Problem(f.value, f.max); p != "" {
			return fmt.Errorf("%w: the %s %s", ErrBadResponse, f.name, p)
		}
	}
	if p := d.clientURIProblem(reg.RegistrationClientURI); p != "" {
		return fmt.Errorf("%w: %s", ErrBadResponse, p)
	}
	m := reg.TokenEndpointAuthMethod
	secretless, known := authMethods[m]
	switch {
	case !known && !methodURI(m):
		return fmt.Errorf("%w: the token_endpoint_auth_method is neither one of the registry's nor an absolute URI of at most %d bytes (RFC 7591 §2)", ErrBadResponse, maxMethodURI)
	case reg.ClientSecret == "" && known && !secretless:
		return fmt.Errorf("%w: no client_secret in the answer", ErrBadResponse)
	}
	return nil
}

// maxMethodURI bounds a token endpoint auth method named by a URI.
const maxMethodURI = 256

// methodURI reports whether m is a token endpoint auth method named by an
// absolute URI, as RFC 7591 §2 lets a provider use one outside the
// registry: printable, at most maxMethodURI bytes.
func methodURI(m string) bool {
	u, err := url.Parse(m)
	return printable.Problem(m, maxMethodURI) == "" && err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "")
}

// authMethods are the token endpoint auth methods of the IANA registry
// RFC 7591 §2 set up, "" (the provider's default, client_secret_basic)
// among them, each with whether it authenticates without a client secret.
var authMethods = map[string]bool{
	"": false, "client_secret_basic": false, "client_secret_post": false, "client_secret_jwt": false,
	"none": true, "private_key_jwt": true, "tls_client_auth": true, "self_signed_tls_client_auth": true,
}

// clientURIProblem says why uri may not receive a registration access
// token, or "" when it may: it must be on the registration endpoint's
// origin (scheme, host and port), over https unless the endpoint itself
// is http, without user information. "" is no URI and no problem.
func (d *driver) clientURIProblem(uri string) string {
	if uri == "" {
		return ""
	}
	quoted := truncate(uri, 200)
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Sprintf("the registration_client_uri %q is not a URL", quoted)
	}
	ep, err := url.Parse(d.s.RegistrationEndpoint)
	if err != nil || ep.Host == "" {
		return fmt.Sprintf("the registration_client_uri %q cannot be checked: no registration endpoint is configured", quoted)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || !strings.EqualFold(u.Scheme, ep.Scheme) ||
		!strings.EqualFold(u.Host, ep.Host) || u.User != nil || u.Opaque != "" {
		return fmt.Sprintf("the registration_client_uri %q is not on the registration endpoint's origin %s://%s", quoted, ep.Scheme, ep.Host)
	}
	return ""
}

// granted is what a registration's answer says the client may do.
type granted struct {
	GrantTypes []string `json:"grant_types"`
	Scope      string   `json:"scope"`
}

// grantedBeyond reports, as an error matching ErrBadResponse, a grant
// type or a scope in a registration's answer that the settings did not
// ask for (RFC 7591 §3.2.1 lets a provider register other metadata than
// asked, and say so): the client's tokens would pass checks the
// catalogue never offered it, and its redirect URIs would serve flows the
// operator did not choose. refresh_token is allowed beyond the grant
// types asked (Keycloak adds it); a scope is checked only when the
// settings ask for one, a provider's default being the operator's choice.
func (d *driver) grantedBeyond(raw []byte) error {
	var g granted
	if err := json.Unmarshal(raw, &g); err != nil {
		return fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if d.s.GrantTypes != nil {
		for _, gt := range g.GrantTypes {
			if gt != "refresh_token" && !slices.Contains(d.s.GrantTypes, gt) {
				return fmt.Errorf("%w: the provider registered the grant type %q, which was not asked for", ErrBadResponse, printable.Clip(gt, 100))
			}
		}
	}
	if d.s.Scope != "" {
		asked := strings.Fields(d.s.Scope)
		for _, sc := range strings.Fields(g.Scope) {
			if !slices.Contains(asked, sc) {
				return fmt.Errorf("%w: the provider registered the scope %q, which was not asked for", ErrBadResponse, printable.Clip(sc, 100))
			}
		}
	}
	return nil
}
