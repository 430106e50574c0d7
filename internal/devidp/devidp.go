// Package devidp is a DEVELOPMENT-ONLY OpenID provider.
//
// It exists for `cuegate demo` and for tests: it serves OpenID discovery, a
// JWKS, RFC 7591 Dynamic Client Registration guarded by an initial access
// token, RFC 7592 read, update and delete of a registration (an update
// rotates the registration access token), and a client_credentials
// token endpoint that issues RS256 (or, after a rotation, ES256) JWT access
// tokens with `client_id` and an optional `pol` claim.
//
// It is NOT an identity provider to run in production: clients live in
// memory, keys are generated at start and never persisted, there is no user
// authentication, no consent and no rate limiting. `cuegate serve` never
// starts it. Every log line it writes says "development only".
//
// A Provider is safe for concurrent use by any number of goroutines.
package devidp

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Banner is the warning printed wherever the provider announces itself.
const Banner = "devidp: DEVELOPMENT-ONLY OpenID provider - in-memory clients, throwaway keys, no user login; never use it in production"

// Endpoint paths, relative to the issuer.
const (
	DiscoveryPath    = "/.well-known/openid-configuration"
	JWKSPath         = "/jwks"
	tokenPath        = "/token"
	registrationPath = "/register"
)

// Options configure a Provider.
type Options struct {
	// Issuer is the provider's issuer URL, e.g. http://127.0.0.1:9000. The
	// endpoints are served below it. Listen fills it in from the bound
	// address when it is empty; New requires it.
	Issuer string
	// InitialAccessToken guards registration: a POST to the registration
	// endpoint must carry it as `Authorization: Bearer <token>`. Required.
	InitialAccessToken string
	// DefaultPolicy is the `pol` claim of tokens for clients registered
	// without one; empty means no `pol` claim.
	DefaultPolicy string
	// TokenTTL is the lifetime of access tokens; default one hour.
	TokenTTL time.Duration
	// TokenType is the JWT header `typ`: "at+jwt" (RFC 9068, the default)
	// or "JWT" (as Hydra sends it).
	TokenType string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// SigningKey is the first signing key, an *rsa.PrivateKey (RS256) or
	// an *ecdsa.PrivateKey on P-256 (ES256); default a fresh RS256 key.
	// Tests that start many providers share one to save its generation.
	SigningKey crypto.Signer
	// Credentials makes the client_id, client_secret and registration
	// access token of the nth registration (n from 1), for tests that name
	// them; default random ones. The client_ids must differ.
	Credentials func(n int) (clientID, secret, registrationToken string)
	// RotatedToken makes the registration access token that the nth update
	// (n from 1) of client clientID issues in place of the old one, for
	// tests that name them; default a random one.
	RotatedToken func(clientID string, n int) string
	// Logger receives one line per registration, deletion and token; it
	// never receives secrets or tokens. Default: no logging.
	Logger *zerolog.Logger
}

// Provider is a development-only OpenID provider; see the package doc.
type Provider struct {
	issuer  string
	base    string // issuer without a trailing slash
	iat     string
	defPol  string
	ttl     time.Duration
	typ     string
	now     func() time.Time
	creds   func(n int) (clientID, secret, registrationToken string)
	rotated func(clientID string, n int) string
	log     zerolog.Logger
	mux     *http.ServeMux
	server  *http.Server
	mu      sync.Mutex
	clients map[string]*client
	nreg    int    // registrations made
	keys    []*key // keys[len-1] signs; all are published
}

// New returns a Provider for opts with one fresh RS256 signing key. Serve it
// with any http.Server (it is an http.Handler) or use Listen.
func New(opts Options) (*Provider, error) {
	if opts.Issuer == "" {
		return nil, errors.New("devidp: Options.Issuer is required")
	}
	u, err := url.Parse(opts.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("devidp: issuer %q is not an absolute http(s) URL without query or fragment", opts.Issuer)
	}
	if opts.InitialAccessToken == "" {
		return nil, errors.New("devidp: Options.InitialAccessToken is required: registration is never open")
	}
	p := &Provider{
		issuer:  opts.Issuer,
		base:    strings.TrimSuffix(opts.Issuer, "/"),
		iat:     opts.InitialAccessToken,
		defPol:  opts.DefaultPolicy,
		ttl:     opts.TokenTTL,
		typ:     opts.TokenType,
		now:     opts.Now,
		creds:   opts.Credentials,
		rotated: opts.RotatedToken,
		log:     zerolog.Nop(),
		clients: map[string]*client{},
	}
	if p.ttl <= 0 {
		p.ttl = time.Hour
	}
	switch p.typ {
	case "":
		p.typ = "at+jwt"
	case "at+jwt", "JWT":
	default:
		return nil, fmt.Errorf("devidp: token type %q: want at+jwt or JWT", p.typ)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.creds == nil {
		p.creds = func(int) (string, string, string) { return randomString(16), randomString(32), randomString(32) }
	}
	if p.rotated == nil {
		p.rotated = func(string, int) string { return randomString(32) }
	}
	if opts.Logger != nil {
		p.log = opts.Logger.With().Str("component", "devidp").Bool("development_only", true).Logger()
	}
	if opts.SigningKey == nil {
		_, err = p.RotateKey("RS256")
	} else {
		_, err = p.addKey(opts.SigningKey)
	}
	if err != nil {
		return nil, err
	}
	prefix := ""
	if u.Path != "" && u.Path != "/" {
		prefix = strings.TrimSuffix(u.Path, "/")
	}
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("GET "+prefix+DiscoveryPath, p.discovery)
	p.mux.HandleFunc("GET "+prefix+JWKSPath, p.jwks)
	p.mux.HandleFunc("POST "+prefix+tokenPath, p.token)
	p.mux.HandleFunc("POST "+prefix+registrationPath, p.register)
	p.mux.HandleFunc("GET "+prefix+registrationPath+"/{id}", p.readClient)
	p.mux.HandleFunc("PUT "+prefix+registrationPath+"/{id}", p.updateClient)
	p.mux.HandleFunc("DELETE "+prefix+registrationPath+"/{id}", p.deleteClient)
	return p, nil
}

// Listen binds addr (e.g. "127.0.0.1:0"), fills in opts.Issuer from the
// bound address when it is empty, and serves the provider in the
// background until Close. A busy address is an error naming it, and so is
// one that does not bind to loopback: the provider issues tokens to any
// client, so it must not be reachable from another machine.
func Listen(addr string, opts Options) (*Provider, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devidp: listen on %s: %w", addr, err)
	}
	if bound, _ := netip.ParseAddrPort(ln.Addr().String()); !bound.Addr().IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("devidp: listen on %s: %s is not a loopback address; the development provider listens only on this machine", addr, ln.Addr())
	}
	if opts.Issuer == "" {
		opts.Issuer = "http://" + ln.Addr().String()
	}
	p, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	p.log.Warn().Str("issuer", p.issuer).Msg(Banner)
	go p.server.Serve(ln)
	return p, nil
}

// Close stops a provider started by Listen; it is a no-op otherwise.
func (p *Provider) Close() error {
	if p.server == nil {
		return nil
	}
	return p.server.Close()
}

// Issuer returns the issuer URL exactly as configured.
func (p *Provider) Issuer() string { return p.issuer }

// DiscoveryURL, JWKSURL, TokenURL and RegistrationURL return the endpoints.
func (p *Provider) DiscoveryURL() string    { return p.base + DiscoveryPath }
func (p *Provider) JWKSURL() string         { return p.base + JWKSPath }
func (p *Provider) TokenURL() string        { return p.base + tokenPath }
func (p *Provider) RegistrationURL() string { return p.base + registrationPath }

// ServeHTTP serves the provider's endpoints.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p.mux.ServeHTTP(w, r)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
