// Package dcr registers OAuth clients at identity providers by Dynamic
// Client Registration (RFC 7591), and reads, updates and deletes them
// (RFC 7592).
//
// New returns the driver for a catalogue entry's merged DCR settings. A
// driver POSTs the client metadata as JSON to the registration endpoint
// (RFC 7591), with the initial access token when one is configured. What
// differs between providers is read from the provider registry
// (table.LookupProvider), which the compiler's warnings read too: the
// token's Authorization scheme (Bearer, or SSWS for Okta), JWT access
// tokens asked for with access_token_as_jwt and access_token_signing_alg
// (Gluu, which issues opaque ones otherwise), application_type (Okta), and
// management at <registration endpoint>/<client_id> with the initial
// access token when the provider returned no registration access token
// (Okta): the initial access token goes nowhere else.
//
// A registration_client_uri receives the client's registration access
// token only on the registration endpoint's origin (https unless the
// endpoint is http); secrets and tokens in answers are bounded and
// printable text.
//
// Every driver sends the configured grant_types, response_types (left out
// when not configured, [] when configured empty), token_endpoint_auth_method,
// scope (one space-separated string, as Hydra needs), client_name and
// redirect_uris, and never client_secret or metadata, which Hydra rejects. The initial access token is read
// from its Secret at each call (a relative file name from the
// configuration directory given to New) and never logged; one that cannot
// be read fails the call with ErrSettings. Each call is bounded by the
// settings' Timeout.
//
// A provider's refusal is a *ProviderError carrying the provider's own
// error and error_description as sent.
//
// Concurrency: a Registrar and a Discovery are safe for concurrent use.
package dcr

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/printable"
)

// Request is the client a developer asks for.
type Request struct {
	ClientName   string
	RedirectURIs []string
	// AccessTokenSigningAlg is the JWS algorithm the provider is to sign
	// the client's access tokens with, for a provider that lets the client
	// choose (table.Provider.DefaultSigningAlg); "" means the provider's
	// default.
	AccessTokenSigningAlg string
}

// Registration is a client registered at the provider.
type Registration struct {
	ClientID     string
	ClientSecret string
	// RegistrationClientURI and RegistrationAccessToken are set when the
	// provider supports RFC 7592 management of the client.
	RegistrationClientURI   string
	RegistrationAccessToken string
	// TokenEndpointAuthMethod is the method the provider registered, or
	// the configured one when the response does not say.
	TokenEndpointAuthMethod string
}

// Registrar registers and deletes clients at one provider with one set of
// settings.
type Registrar interface {
	// Register creates a client. On error nothing was created, or the
	// provider's answer could not be used and the client was deleted there
	// again where the provider allows it.
	Register(ctx context.Context, req Request) (*Registration, error)
	// Delete removes the client at the provider (RFC 7592, or the
	// provider's own API). A registration the provider gave no way to
	// delete is left alone without error, as is one it answers 404 or 410
	// for (deleted before); a 401 to the registration access token is
	// ErrTokenRefused: the client may still exist there.
	Delete(ctx context.Context, reg *Registration) error
	// Update replaces the client's metadata at the provider with req's
	// (RFC 7592 §2.2: a PUT of the full metadata with the client_id) and
	// returns the registration as it is now: a client secret, registration
	// access token or registration_client_uri the answer carries replaces
	// reg's, the ones it leaves out are kept. ErrUnmanaged when the
	// provider gave no way to manage the client, ErrUnknownClient when it
	// no longer knows it (404, 410), ErrTokenRefused when it refuses the
	// registration access token (401), a *ProviderError when it refuses.
	Update(ctx context.Context, reg *Registration, req Request) (*Registration, error)
	// Read returns the client's metadata as the provider has it (RFC 7592
	// §2.1), with the same errors as Update.
	Read(ctx context.Context, reg *Registration) (*Metadata, error)
}

// Metadata is the part of a client's metadata the portal shows.
type Metadata struct {
	ClientName   string   `json:"client_name"`
	RedirectURIs []string `json:"redirect_uris"`
}

// ErrUnmanaged is the error of managing a client the provider gave no way
// to manage (no registration_client_uri and access token).
var ErrUnmanaged = errors.New("dcr: the provider gave no way to manage this client")

// ErrUnknownClient is the error of managing a client the provider no
// longer knows: it answered 404 or 410.
var ErrUnknownClient = errors.New("dcr: the provider does not know this client")

// ErrTokenRefused is the error of managing a client whose registration
// access token the provider refused (401). RFC 7592 §2 has a provider
// answer so for a client it does not know (Hydra does), so the client
// may be gone, or may still exist with a token that no longer works.
var ErrTokenRefused = errors.New("dcr: the provider refused the stored registration access token; the client may still exist there")

// ProviderError is the provider's refusal of a request, with its own error
// and error_description as sent. Some providers put a sentence in Code:
// callers branch on Status, not on Code.
type ProviderError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

var _ error = (*ProviderError)(nil)

func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("dcr: provider answered %d", e.Status)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// ErrBadResponse wraps a provider answer that is not a usable registration.
var ErrBadResponse = errors.New("dcr: unusable provider response")

// ErrTimeout is returned when the provider does not answer in time.
var ErrTimeout = errors.New("dcr: provider did not answer in time")

// ErrSettings wraps registration settings that cannot be used as they are:
// none at all, an unknown provider, or an initial access token that cannot
// be read. The operator must fix them; no request can succeed until then.
var ErrSettings = errors.New("dcr: the registration settings are not usable")

// InitialAccessToken reads the initial access token sec refers to (a
// relative file name from configDir), as
// every call to the provider does: "" when none is configured (open
// registration). A reference that cannot be read, or a file that holds
// nothing, is an error matching ErrSettings that names the reference,
// never a value.
func InitialAccessToken(sec *table.Secret, configDir string) (string, error) {
	tok, err := sec.ResolveToken(configDir, "initial_access_token")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSettings, err)
	}
	return tok, nil
}

// New returns the driver for s. configDir is the configuration directory
// s was compiled from: a relative initial access token file is read from
// it (see table.ConfigPath). hc is the HTTP client to use
// (http.DefaultClient when nil), without following redirects (noRedirects).
func New(s *table.DCR, configDir string, hc *http.Client) (Registrar, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: none are configured", ErrSettings)
	}
	hc = noRedirects(hc)
	p, ok := table.LookupProvider(s.Provider)
	if !ok {
		return nil, fmt.Errorf("%w: unknown provider %q", ErrSettings, s.Provider)
	}
	return &driver{s: s, p: p, dir: configDir, hc: hc}, nil
}

// applicationType is the application_type of a client with grants.
func applicationType(grants []string) string {
	if slices.Contains(grants, "authorization_code") || slices.Contains(grants, "implicit") {
		return "web"
	}
	return "service"
}

var _ Registrar = (*driver)(nil)

// driver is every provider's Registrar: p says how they differ.
type driver struct {
	s   *table.DCR
	p   *table.Provider
	dir string // the configuration directory, for s's secret file
	hc  *http.Client
}

func (d *driver) authorization() (string, error) {
	tok, err := InitialAccessToken(d.s.InitialAccessToken, d.dir)
	if err != nil || tok == "" {
		return "", err
	}
	return d.p.TokenScheme + " " + tok, nil
}

func (d *driver) body(req Request) map[string]any {
	m := map[string]any{"client_name": req.ClientName}
	if d.p.DefaultSigningAlg != "" {
		m["access_token_as_jwt"] = true
		m["access_token_signing_alg"] = cmp.Or(req.AccessTokenSigningAlg, d.p.DefaultSigningAlg)
	}
	if d.p.ApplicationType {
		m["application_type"] = applicationType(d.s.GrantTypes)
	}
	if len(req.RedirectURIs) > 0 {
		m["redirect_uris"] = req.RedirectURIs
	}
	if d.s.GrantTypes != nil {
		m["grant_types"] = d.s.GrantTypes
	}
	if d.s.ResponseTypes != nil {
		m["response_types"] = d.s.ResponseTypes
	}
	if d.s.TokenEndpointAuthMethod != "" {
		m["token_endpoint_auth_method"] = d.s.TokenEndpointAuthMethod
	}
	if d.s.Scope != "" {
		m["scope"] = d.s.Scope
	}
	return m
}

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
		return nil, err
	}
	body, err := json.Marshal(d.body(req))
	if err != nil {
		return nil, fmt.Errorf("dcr: encode request: %w", err)
	}
	status, raw, err := d.do(ctx, http.MethodPost, d.s.RegistrationEndpoint, auth, body)
	if err != nil {
		return nil, err
	}
	reg, err := readAnswer(status, raw, d.s.TokenEndpointAuthMethod)
	if err != nil {
		return nil, err
	}
	if err := d.usable(reg); err != nil {
		if derr := d.Delete(ctx, reg); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, err
	}
	return reg, nil
}

// readAnswer reads a provider's answer to a registration: a non-2xx
// status is a *ProviderError; a 2xx answer is the registration, with
// configuredMethod as its token endpoint auth method when the answer names
// none, or an error matching ErrBadResponse when it is not JSON of the
// expected shape or has no client_id. No error repeats a value from the
// answer's secrets.
func readAnswer(status int, raw []byte, configuredMethod string) (*Registration, error) {
	if status < 200 || status > 299 {
		return nil, providerError(status, raw)
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
// endpoint's origin (clientURIProblem), or no client_secret for an auth
// method that needs one.
func (d *driver) usable(reg *Registration) error {
	for _, f := range []struct{ name, value string }{
		{"client_id", reg.ClientID}, {"client_secret", reg.ClientSecret},
		{"registration_access_token", reg.RegistrationAccessToken}, {"registration_client_uri", reg.RegistrationClientURI},
	} {
		max := maxCredential
		if f.name == "client_id" {
			max = maxClientIDLen
		}
		if p := printable.Problem(f.value, max); p != "" {
			return fmt.Errorf("%w: the %s %s", ErrBadResponse, f.name, p)
		}
	}
	if p := d.clientURIProblem(reg.RegistrationClientURI); p != "" {
		return fmt.Errorf("%w: %s", ErrBadResponse, p)
	}
	if reg.ClientSecret == "" && reg.TokenEndpointAuthMethod != "none" && reg.TokenEndpointAuthMethod != "private_key_jwt" {
		return fmt.Errorf("%w: no client_secret in the answer", ErrBadResponse)
	}
	return nil
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

// manage returns where and how to manage reg at the provider: its
// registration_client_uri with its registration access token (RFC 7592),
// once clientURIProblem accepts that URI; else <registration
// endpoint>/<client_id> with the initial access token for a provider
// that manages clients by ID (table.Provider.DeleteByID), the only
// address that token is ever sent to; uri is "" when the provider gave
// no way.
func (d *driver) manage(reg *Registration) (uri, auth string, err error) {
	switch {
	case reg.RegistrationClientURI != "" && reg.RegistrationAccessToken != "":
		if p := d.clientURIProblem(reg.RegistrationClientURI); p != "" {
			return "", "", fmt.Errorf("%w: %s", ErrBadResponse, p)
		}
		return reg.RegistrationClientURI, bearer + reg.RegistrationAccessToken, nil
	case d.p.DeleteByID && d.s.RegistrationEndpoint != "":
		auth, err = d.authorization()
		return strings.TrimSuffix(d.s.RegistrationEndpoint, "/") + "/" + url.PathEscape(reg.ClientID), auth, err
	}
	return "", "", nil
}

func (d *driver) Delete(ctx context.Context, reg *Registration) error {
	uri, auth, err := d.manage(reg)
	if err != nil || uri == "" {
		return err // uri == "": the provider gave no way to delete the client
	}
	status, raw, err := d.do(ctx, http.MethodDelete, uri, auth, nil)
	if err == nil {
		err = manageError(status, raw, auth)
	}
	if errors.Is(err, ErrUnknownClient) {
		return nil // deleted before
	}
	return err
}

func (d *driver) Update(ctx context.Context, reg *Registration, req Request) (*Registration, error) {
	uri, auth, err := d.manage(reg)
	if err != nil {
		return nil, err
	}
	if uri == "" {
		return nil, ErrUnmanaged
	}
	m := d.body(req)
	m["client_id"] = reg.ClientID
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("dcr: encode request: %w", err)
	}
	status, raw, err := d.do(ctx, http.MethodPut, uri, auth, body)
	if err == nil {
		err = manageError(status, raw, auth)
	}
	if err != nil {
		return nil, err
	}
	out, err := readAnswer(status, raw, reg.TokenEndpointAuthMethod)
	if err != nil {
		return nil, err
	}
	if out.ClientID != reg.ClientID {
		return nil, fmt.Errorf("%w: the answer is about another client_id", ErrBadResponse)
	}
	out.ClientSecret = cmp.Or(out.ClientSecret, reg.ClientSecret)
	out.RegistrationClientURI = cmp.Or(out.RegistrationClientURI, reg.RegistrationClientURI)
	out.RegistrationAccessToken = cmp.Or(out.RegistrationAccessToken, reg.RegistrationAccessToken)
	if err := d.usable(out); err != nil {
		return nil, err
	}
	return out, nil
}

func (d *driver) Read(ctx context.Context, reg *Registration) (*Metadata, error) {
	uri, auth, err := d.manage(reg)
	if err != nil {
		return nil, err
	}
	if uri == "" {
		return nil, ErrUnmanaged
	}
	status, raw, err := d.do(ctx, http.MethodGet, uri, auth, nil)
	if err == nil {
		err = manageError(status, raw, auth)
	}
	if err != nil {
		return nil, err
	}
	var md Metadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, fmt.Errorf("%w: status %d, %v", ErrBadResponse, status, err)
	}
	return &md, nil
}

// bearer begins the Authorization of an RFC 7592 request.
const bearer = "Bearer "

// manageError is the error of a provider's answer to a request about a
// client, or nil for a 2xx: ErrUnknownClient for 404 and 410,
// ErrTokenRefused for 401 to an RFC 7592 request (auth is the
// registration access token's), else a *ProviderError.
func manageError(status int, raw []byte, auth string) error {
	switch {
	case status >= 200 && status <= 299:
		return nil
	case status == http.StatusNotFound || status == http.StatusGone:
		return ErrUnknownClient
	case status == http.StatusUnauthorized && strings.HasPrefix(auth, bearer):
		return ErrTokenRefused
	}
	return providerError(status, raw)
}

// maxBody bounds what is read of a provider's answer.
const maxBody = 1 << 20

func (d *driver) do(ctx context.Context, method, url, auth string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.s.CallTimeout())
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("dcr: %s %s: %w", method, url, err)
	}
	hr.Header.Set("Accept", "application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		hr.Header.Set("Authorization", auth)
	}
	fail := func(step string, err error) (int, []byte, error) {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("%w: %s %s after %v", ErrTimeout, method, url, d.s.CallTimeout())
		}
		return 0, nil, fmt.Errorf("dcr: %s %s: %s%w", method, url, step, err)
	}
	resp, err := d.hc.Do(hr)
	if err != nil {
		return fail("", causeOf(err))
	}
	defer resp.Body.Close()
	if err := redirected(method, url, resp.StatusCode); err != nil {
		return 0, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fail("read answer: ", err)
	}
	return resp.StatusCode, raw, nil
}

// causeOf is the cause an http.Client's *url.Error wraps: that error
// repeats the method and the URL, which the caller's message names already.
func causeOf(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// maxErrorText bounds the provider's words a ProviderError keeps.
const maxErrorText = 300

// providerError keeps the provider's error and error_description as sent,
// each clipped to maxErrorText bytes; an answer without them is described
// by its status and the start of its body.
func providerError(status int, raw []byte) *ProviderError {
	var e ProviderError
	if json.Unmarshal(raw, &e) != nil || e.Code == "" && e.Description == "" {
		e = ProviderError{Code: fallbackCode(status)}
		if text := strings.TrimSpace(string(raw)); text != "" {
			e.Description = text
		} else {
			e.Description = http.StatusText(status)
		}
	}
	e.Code, e.Description = truncate(e.Code, maxErrorText), truncate(e.Description, maxErrorText)
	e.Status = status
	return &e
}

func fallbackCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_token"
	case status == http.StatusForbidden:
		return "access_denied"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Discovery finds token endpoints in providers' discovery documents and
// caches them by IdP host.
type Discovery struct {
	hc    *http.Client
	mu    sync.Mutex
	cache map[string]string
}

// NewDiscovery returns a Discovery using hc (http.DefaultClient when
// nil), without following redirects (noRedirects).
func NewDiscovery(hc *http.Client) *Discovery {
	return &Discovery{hc: noRedirects(hc)}
}

// noRedirects is a copy of hc (http.DefaultClient when nil) that does not
// follow redirects: a followed redirect would send a request's body and
// Authorization (a registration or initial access token) wherever the
// answer points. The caller sees the 3xx, which redirected refuses.
func noRedirects(hc *http.Client) *http.Client {
	c := *cmp.Or(hc, http.DefaultClient)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// redirected is the error of a 3xx answer to method url, or nil.
func redirected(method, url string, status int) error {
	if status < 300 || status > 399 {
		return nil
	}
	return fmt.Errorf("%w: %s %s answered %d, a redirect, which is not followed", ErrBadResponse, method, url, status)
}

// TokenEndpoint returns s.TokenEndpoint when set, else the token_endpoint
// of s.IdPHost's /.well-known/openid-configuration, else "".
func (d *Discovery) TokenEndpoint(ctx context.Context, s *table.DCR) (string, error) {
	if s.TokenEndpoint != "" || s.IdPHost == "" {
		return s.TokenEndpoint, nil
	}
	d.mu.Lock()
	ep, ok := d.cache[s.IdPHost]
	d.mu.Unlock()
	if ok {
		return ep, nil
	}
	url := strings.TrimSuffix(s.IdPHost, "/") + "/.well-known/openid-configuration"
	ctx, cancel := context.WithTimeout(ctx, s.CallTimeout())
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("dcr: discovery %s: %w", url, err)
	}
	hr.Header.Set("Accept", "application/json")
	resp, err := d.hc.Do(hr)
	if err != nil {
		return "", fmt.Errorf("dcr: discovery %s: %w", url, err)
	}
	defer resp.Body.Close()
	if err := redirected(http.MethodGet, url, resp.StatusCode); err != nil {
		return "", fmt.Errorf("dcr: discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dcr: discovery %s: status %d", url, resp.StatusCode)
	}
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&doc); err != nil || doc.TokenEndpoint == "" {
		return "", fmt.Errorf("dcr: discovery %s: no token_endpoint (%v)", url, err)
	}
	d.mu.Lock()
	if d.cache == nil {
		d.cache = map[string]string{}
	}
	d.cache[s.IdPHost] = doc.TokenEndpoint
	d.mu.Unlock()
	return doc.TokenEndpoint, nil
}
