// Package devidp is a DEVELOPMENT-ONLY OpenID provider.
//
// It exists for `cuegate demo` and for tests: it serves OpenID discovery, a
// JWKS, RFC 7591 Dynamic Client Registration guarded by an initial access
// token, RFC 7592 read and delete of a registration, and a client_credentials
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
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

// Banner is the warning printed wherever the provider announces itself.
const Banner = "devidp: DEVELOPMENT-ONLY OpenID provider - in-memory clients, throwaway keys, no user login; never use it in production"

// Endpoint paths, relative to the issuer.
const (
	DiscoveryPath    = "/.well-known/openid-configuration"
	JWKSPath         = "/jwks"
	TokenPath        = "/token"
	RegistrationPath = "/register"
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
	log     zerolog.Logger
	mux     *http.ServeMux
	server  *http.Server
	mu      sync.Mutex
	clients map[string]*client
	keys    []*key // keys[len-1] signs; all are published
}

type key struct {
	kid    string
	alg    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

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
	if opts.Logger != nil {
		p.log = opts.Logger.With().Str("component", "devidp").Bool("development_only", true).Logger()
	}
	if _, err := p.RotateKey("RS256"); err != nil {
		return nil, err
	}
	prefix := ""
	if u.Path != "" && u.Path != "/" {
		prefix = strings.TrimSuffix(u.Path, "/")
	}
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("GET "+prefix+DiscoveryPath, p.discovery)
	p.mux.HandleFunc("GET "+prefix+JWKSPath, p.jwks)
	p.mux.HandleFunc("POST "+prefix+TokenPath, p.token)
	p.mux.HandleFunc("POST "+prefix+RegistrationPath, p.register)
	p.mux.HandleFunc("GET "+prefix+RegistrationPath+"/{id}", p.readClient)
	p.mux.HandleFunc("DELETE "+prefix+RegistrationPath+"/{id}", p.deleteClient)
	return p, nil
}

// Listen binds addr (e.g. "127.0.0.1:0"), fills in opts.Issuer from the
// bound address when it is empty, and serves the provider in the
// background until Close. A busy address is an error naming it.
func Listen(addr string, opts Options) (*Provider, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devidp: listen on %s: %w", addr, err)
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
func (p *Provider) TokenURL() string        { return p.base + TokenPath }
func (p *Provider) RegistrationURL() string { return p.base + RegistrationPath }

// ServeHTTP serves the provider's endpoints.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p.mux.ServeHTTP(w, r)
}

// RotateKey makes a fresh key of alg ("RS256", or "ES256"; "" means RS256)
// the signing key and returns its kid. Earlier keys stay in the JWKS, so
// tokens they signed remain verifiable until RetireKey.
func (p *Provider) RotateKey(alg string) (string, error) {
	k := &key{alg: alg}
	var err error
	switch alg {
	case "", "RS256":
		k.alg, k.method = "RS256", jwt.SigningMethodRS256
		k.priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k.method = jwt.SigningMethodES256
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return "", fmt.Errorf("devidp: key algorithm %q: want RS256 or ES256", alg)
	}
	if err != nil {
		return "", fmt.Errorf("devidp: generate %s key: %w", k.alg, err)
	}
	k.kid = k.alg + "-" + randomString(8)
	p.mu.Lock()
	p.keys = append(p.keys, k)
	p.mu.Unlock()
	p.log.Info().Str("kid", k.kid).Str("alg", k.alg).Msg("devidp (development only): new signing key")
	return k.kid, nil
}

// RetireKey removes kid from the JWKS. The signing key cannot be retired.
func (p *Provider) RetireKey(kid string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.keys, func(k *key) bool { return k.kid == kid })
	switch {
	case i < 0:
		return fmt.Errorf("devidp: no key %q", kid)
	case i == len(p.keys)-1:
		return fmt.Errorf("devidp: key %q signs tokens; rotate before retiring it", kid)
	}
	p.keys = slices.Delete(p.keys, i, i+1)
	return nil
}

// SigningKID returns the kid of the key that signs new tokens.
func (p *Provider) SigningKID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1].kid
}

// Sign signs claims with the current signing key as the token endpoint
// would, for tests that need tokens the registration flow cannot produce
// (expired, wrong issuer, extra claims). The claims are used as given.
func (p *Provider) Sign(claims map[string]any) (string, error) {
	tok, _, err := p.sign(claims)
	return tok, err
}

// sign is Sign, also giving the kid of the key that signed.
func (p *Provider) sign(claims map[string]any) (tok, kid string, err error) {
	p.mu.Lock()
	k := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	t := jwt.NewWithClaims(k.method, jwt.MapClaims(claims))
	t.Header["kid"] = k.kid
	t.Header["typ"] = p.typ
	if tok, err = t.SignedString(k.priv); err != nil {
		return "", "", fmt.Errorf("devidp: sign: %w", err)
	}
	return tok, k.kid, nil
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

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuer,
		"jwks_uri":                              p.JWKSURL(),
		"token_endpoint":                        p.TokenURL(),
		"registration_endpoint":                 p.RegistrationURL(),
		"grant_types_supported":                 []string{"client_credentials"},
		"response_types_supported":              []string{"token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"subject_types_supported":               []string{"public"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	keys := make([]map[string]string, 0, len(p.keys))
	for _, k := range p.keys {
		keys = append(keys, publicJWK(k))
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func publicJWK(k *key) map[string]string {
	j := map[string]string{"kid": k.kid, "alg": k.alg, "use": "sig"}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		j["kty"] = "RSA"
		j["n"] = b64(pub.N.Bytes())
		j["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		// Go 1.26: the public key's uncompressed point is 0x04 || X || Y.
		pt, _ := pub.Bytes()
		size := (len(pt) - 1) / 2
		j["kty"] = "EC"
		j["crv"] = "P-256"
		j["x"] = b64(pt[1 : 1+size])
		j["y"] = b64(pt[1+size:])
	}
	return j
}

func (p *Provider) register(w http.ResponseWriter, r *http.Request) {
	if !bearerIs(r, p.iat) {
		p.log.Info().Msg("devidp (development only): registration refused: missing or wrong initial access token")
		writeBearerError(w, "invalid_token", "a valid initial access token is required as Authorization: Bearer")
		return
	}
	var md Metadata
	if code, desc := decodeMetadata(r, &md); code != "" {
		writeError(w, http.StatusBadRequest, code, desc)
		return
	}
	now := p.now()
	c := &client{
		Metadata:                md,
		ClientID:                randomString(16),
		ClientSecret:            randomString(32),
		RegistrationAccessToken: randomString(32),
		ClientIDIssuedAt:        now.Unix(),
	}
	c.RegistrationClientURI = p.RegistrationURL() + "/" + c.ClientID
	p.mu.Lock()
	p.clients[c.ClientID] = c
	p.mu.Unlock()
	p.log.Info().Str("client_id", c.ClientID).Str("client_name", md.ClientName).Str("pol", md.Policy).
		Msg("devidp (development only): client registered")
	w.Header().Set("Location", c.RegistrationClientURI)
	writeJSON(w, http.StatusCreated, c)
}

// decodeMetadata reads and checks a registration request, filling in the
// defaults of RFC 7591 §2. It returns an RFC 7591 error code and
// description when the request is unacceptable.
func decodeMetadata(r *http.Request, md *Metadata) (code, desc string) {
	if mt := r.Header.Get("Content-Type"); !strings.HasPrefix(mt, "application/json") {
		return "invalid_client_metadata", "the request body must be application/json"
	}
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&raw); err != nil {
		return "invalid_client_metadata", "the request body is not a JSON object: " + err.Error()
	}
	for _, f := range []string{"client_secret", "client_id"} {
		if _, ok := raw[f]; ok {
			return "invalid_client_metadata", f + " is assigned by the provider and must not be sent"
		}
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
		writeBearerError(w, "invalid_token", "unknown client or wrong registration access token")
		return nil
	}
	return c
}

func (p *Provider) readClient(w http.ResponseWriter, r *http.Request) {
	if c := p.registration(w, r); c != nil {
		writeJSON(w, http.StatusOK, c)
	}
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
	scope := r.PostForm.Get("scope")
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

func bearerIs(r *http.Request, want string) bool {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(prefix):])), []byte(want)) == 1
}

func writeBearerError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error=%q, error_description=%q`, code, desc))
	writeError(w, http.StatusUnauthorized, code, desc)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
