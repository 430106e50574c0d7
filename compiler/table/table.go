package table

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DefaultDCRTimeout bounds a call to a provider's registration or
// discovery endpoint when the configuration sets no dcr timeout.
const DefaultDCRTimeout = 15 * time.Second

// Table is a compiled configuration: the routing and policy table that the
// runtime serves and the portal reads.
//
// A Table is immutable once Compile returns it. It is safe for concurrent use
// by any number of goroutines, and nobody may modify it: the runtime swaps a
// whole new Table in rather than editing one. It holds no CUE values and no
// secret values; secrets stay references (see Secret).
type Table struct {
	Gateway  Gateway            `json:"gateway"`
	IdPs     map[string]*IdP    `json:"idps"`
	APIs     map[string]*API    `json:"apis"`
	Policies map[string]*Policy `json:"policies"`
	Portal   Portal             `json:"portal"`
	// Cluster shares limits, bindings and sessions between nodes; nil
	// means one node, in memory.
	Cluster *Cluster `json:"cluster,omitempty"`

	// Routes is the prebuilt route index over APIs.
	Routes *RouteIndex `json:"-"`
	// Hash is the hex SHA-256 of the table's JSON encoding (encoding/json:
	// struct fields in declaration order, map keys sorted), which is
	// deterministic like JSON: two tables with the same Hash route and
	// enforce the same way.
	Hash string `json:"-"`
	// Warnings are findings that do not fail a compile unless --strict.
	Warnings Diagnostics `json:"-"`
}

// Duration is a time.Duration that encodes to JSON as a Go duration string.
type Duration time.Duration

var (
	_ json.Marshaler   = Duration(0)
	_ json.Unmarshaler = (*Duration)(nil)
)

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON encodes d as a string such as "1m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON decodes a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Gateway holds the listener settings. The addresses, TLS on or off, the
// timeouts, max_header_bytes, max_conns, max_conns_per_client,
// conns_exempt and shutdown_grace take effect when serving starts (a
// reload that changes one says a restart is needed); TLS
// certificate files are read again on every reload, and max_body_bytes,
// rate_limit_headers and the upstream settings apply from the next request.
type Gateway struct {
	Listen         string   `json:"listen"`
	PortalListen   string   `json:"portal_listen"`
	AdminListen    string   `json:"admin_listen"`
	PublicURL      string   `json:"public_url"`
	ReadTimeout    Duration `json:"read_timeout"`
	WriteTimeout   Duration `json:"write_timeout"`
	IdleTimeout    Duration `json:"idle_timeout"`
	ShutdownGrace  Duration `json:"shutdown_grace"`
	MaxHeaderBytes int      `json:"max_header_bytes"`
	MaxBodyBytes   int      `json:"max_body_bytes"`
	// MaxConns caps the gateway listener's client connections; 0 means
	// half the process's limit on open files.
	MaxConns int `json:"max_conns,omitempty"`
	// MaxConnsPerClient caps the connections of one client (an IPv4
	// address, or an IPv6 /64) but those from ConnsExempt; 0 means a
	// quarter of the listener's cap.
	MaxConnsPerClient int            `json:"max_conns_per_client,omitempty"`
	ConnsExempt       []netip.Prefix `json:"conns_exempt,omitempty"`
	TLS               *TLS           `json:"tls,omitempty"`
	PortalTLS         *TLS           `json:"portal_tls,omitempty"`
	// UpstreamCAFile is a file name as written (see ConfigPath).
	UpstreamCAFile string `json:"upstream_ca_file,omitempty"`
	// RateLimitHeaders: X-RateLimit-* on every answer under a limit, not
	// only on refusals.
	RateLimitHeaders bool `json:"rate_limit_headers"`
	// AdminToken, when set, guards the admin listener but /healthz and
	// /readyz; nil is only allowed when AdminListen is on loopback.
	AdminToken *Secret `json:"admin_token,omitempty"`
	// TokenCache is the validated-token cache's budget in bytes; 0 means
	// the runtime's default.
	TokenCache int64 `json:"token_cache,omitempty"`
	// Tracing exports spans; nil exports none (trace context still
	// passes through).
	Tracing *Tracing `json:"tracing,omitempty"`
}

// Tracing is where and how many spans are exported.
type Tracing struct {
	// Endpoint is the collector's OTLP/HTTP base URL, without a trailing
	// "/"; spans go to Endpoint + "/v1/traces".
	Endpoint string `json:"endpoint"`
	// Headers are sent with every export; the values are secrets.
	Headers map[string]Secret `json:"headers,omitempty"`
	// SampleRatio, in [0, 1], is the share of traces the gateway starts
	// that are exported; a caller's sampled flag is followed.
	SampleRatio float64 `json:"sample_ratio"`
	ServiceName string  `json:"service_name"`
}

// TLS names a certificate and key file as written in the configuration:
// open them with ConfigPath.
type TLS struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
}

// IdP is an OpenID provider whose keys sign the access tokens of JWT APIs.
type IdP struct {
	ID     string `json:"id"`
	Issuer string `json:"issuer"`
	// Discovery is set when JWKSURI is not: the keys' address is then read
	// from this document.
	Discovery       string   `json:"discovery,omitempty"`
	JWKSURI         string   `json:"jwks_uri,omitempty"`
	Algorithms      []string `json:"algorithms"`
	Leeway          Duration `json:"leeway"`
	RefreshInterval Duration `json:"refresh_interval"`
}

// API is one upstream service published under a listen path.
type API struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	ListenPath      string `json:"listen_path"`
	StripListenPath bool   `json:"strip_listen_path"`
	// Methods is sorted; empty means every method.
	Methods  []string `json:"methods"`
	Upstream Upstream `json:"upstream"`
	// JWT is nil for a keyless API.
	JWT *JWTAuth `json:"jwt,omitempty"`
	// Keyless APIs need no token and have no identity or policy.
	Keyless bool `json:"keyless"`
	// CORS, when set, answers preflights and marks answers to allowed
	// origins.
	CORS *CORS `json:"cors,omitempty"`
	// ResponseHeaders edits every answer of the API; nil edits none.
	ResponseHeaders *HeaderRules `json:"response_headers,omitempty"`
}

// Upstream is where an API's requests go.
type Upstream struct {
	Targets        []string `json:"targets"`
	Timeout        Duration `json:"timeout"`
	ConnectTimeout Duration `json:"connect_timeout"`
	// IdleTimeout is how long an idle connection to a target is kept.
	IdleTimeout Duration `json:"idle_timeout"`
	// MaxInflight caps the requests in flight to the upstream on one
	// node; 0: the default, half of the gateway's max_conns.
	MaxInflight int `json:"max_inflight,omitempty"`
	// ClaimHeaders are the headers set from verified claims, sorted by
	// name (a JWT API's only).
	ClaimHeaders []ClaimHeader `json:"claim_headers,omitempty"`
	// RequestHeaders edits the request sent; nil edits none.
	RequestHeaders *HeaderRules `json:"request_headers,omitempty"`
	// SecretHeaders are set on the request sent from secrets, after
	// RequestHeaders, sorted by name; the runtime reads their values.
	SecretHeaders []SecretHeader `json:"secret_headers,omitempty"`
	// TraceContext sends the upstream a W3C traceparent (the caller's
	// tracestate with it); false sends neither, not even the caller's.
	TraceContext bool `json:"trace_context"`
}

// Key identifies the upstream's connection pool: two APIs or two table
// generations with the same Key can share one.
func (u Upstream) Key() string {
	return strings.Join(u.Targets, " ") + "|" + u.Timeout.D().String() + "|" + u.ConnectTimeout.D().String() + "|" + u.IdleTimeout.D().String() + "|" + strconv.Itoa(u.MaxInflight)
}

// JWTAuth says how an API validates tokens and finds identity and policy.
type JWTAuth struct {
	IdP      string `json:"idp"`
	Audience string `json:"audience,omitempty"`
	// Algorithms is the effective allow-list: the API's own, else the IdP's.
	Algorithms      []string `json:"algorithms"`
	IdentityClaim   string   `json:"identity_claim"`
	PolicyClaim     string   `json:"policy_claim"`
	DefaultPolicies []string `json:"default_policies"`
	// Scopes must all be in the token; ScopesAny, when not empty, one of
	// them. Both sorted, without repeats.
	Scopes    []string `json:"scopes,omitempty"`
	ScopesAny []string `json:"scopes_any,omitempty"`
	// Claims must all match, sorted by Claim.
	Claims []ClaimMatch `json:"claims,omitempty"`
}

// ClaimMatch requires the claim at Claim (a dotted path for a nested one)
// to equal one of Values or, for a list claim, to hold one of them.
// Values are sorted, without repeats.
type ClaimMatch struct {
	Claim  string   `json:"claim"`
	Values []string `json:"values"`
}

// Policy grants APIs to an identity and limits how much it may call them.
type Policy struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Access map[string]*Grant `json:"access"`
	Rate   *Rate             `json:"rate,omitempty"`
	Quota  *Quota            `json:"quota,omitempty"`
	// KeyExpiresIn, when not zero, makes a client registered in the portal
	// expire that long after its registration.
	KeyExpiresIn Duration `json:"key_expires_in,omitempty"`
}

// Grant is a policy's access to one API. Empty Methods or Paths mean all;
// Paths are prefixes of the path after the listen path (segment-bounded),
// without a trailing slash.
type Grant struct {
	Methods []string `json:"methods"`
	Paths   []string `json:"paths"`
	// Scopes, sorted and without repeats, must all be in the token for
	// the grant to apply.
	Scopes []string `json:"scopes,omitempty"`
}

// Rate allows at most Requests in any window of Per, per identity (a
// sliding-window estimate; see runtime/limit for the exact rule).
type Rate struct {
	Requests int64    `json:"requests"`
	Per      Duration `json:"per"`
}

// Quota allows Max requests per fixed Period window, per identity.
type Quota struct {
	Max    int64    `json:"max"`
	Period Duration `json:"period"`
}

// Cluster is how several nodes on one configuration act as one gateway:
// through a Redis (or Valkey) server.
type Cluster struct {
	Redis Redis `json:"redis"`
	// OnRedisError is what the gateway does while Redis is unreachable:
	// "local", "allow" or "deny".
	OnRedisError string `json:"on_redis_error"`
	// MinNodes is the fewest nodes a node divides a limit by (at least 1).
	MinNodes int `json:"min_nodes"`
	// MaxBindingsAge, when not 0, is how long a follower serves bindings
	// it could not check against Redis before it is not ready.
	MaxBindingsAge Duration `json:"max_bindings_age,omitempty"`
}

// Redis is the server a cluster shares.
type Redis struct {
	Address  string  `json:"address"`
	Username string  `json:"username,omitempty"`
	Password *Secret `json:"password,omitempty"`
	// TLS, when set, connects over TLS; CAFile (a name as written, see
	// ConfigPath) verifies the server, else the system's roots do.
	TLS       *RedisTLS `json:"tls,omitempty"`
	Database  int       `json:"database"`
	KeyPrefix string    `json:"key_prefix"`
	// Timeout bounds each call on the request path.
	Timeout Duration `json:"timeout"`
}

// RedisTLS is a cluster's TLS to Redis.
type RedisTLS struct {
	CAFile     string `json:"ca_file,omitempty"`
	ServerName string `json:"server_name,omitempty"`
}

// Portal is the developer portal's configuration.
type Portal struct {
	Signup               string   `json:"signup"`
	RedirectURISeparator string   `json:"redirect_uri_separator"`
	SessionTTL           Duration `json:"session_ttl"`
	// TombstoneRetention is how long a deleted client stays refused once
	// its provider confirmed the deletion.
	TombstoneRetention Duration `json:"tombstone_retention"`
	// RegistrationsPerHour and SignupsPerHour cap the registrations and
	// the sign-up attempts in an hour, portal-wide.
	RegistrationsPerHour int `json:"registrations_per_hour"`
	SignupsPerHour       int `json:"signups_per_hour"`
	// TrustedProxies are the reverse proxies in front of the portal, as
	// canonical IP prefixes ("10.0.0.0/8"); checked by the compiler.
	TrustedProxies []netip.Prefix             `json:"trusted_proxies,omitempty"`
	Catalogue      map[string]*CatalogueEntry `json:"catalogue"`
}

// CatalogueEntry publishes an API to developers with the policy their
// clients are bound to.
type CatalogueEntry struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	API         string `json:"api"`
	Policy      string `json:"policy"`
	// DCR is the portal's global dcr merged with the entry's own, field by
	// field; nil when neither is set.
	DCR *DCR `json:"dcr,omitempty"`
	// Reference is the API's reference from the entry's OpenAPI
	// document; nil when it names none.
	Reference *Reference `json:"reference,omitempty"`
}

// DCR is how the portal registers a client at the provider (RFC 7591).
type DCR struct {
	Provider                string   `json:"provider"`
	GrantTypes              []string `json:"grant_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	// ResponseTypes is nil when not configured (the field is left out of the
	// request) and empty when configured as [] (sent as []).
	ResponseTypes        []string `json:"response_types"`
	IdPHost              string   `json:"idp_host,omitempty"`
	RegistrationEndpoint string   `json:"registration_endpoint"`
	TokenEndpoint        string   `json:"token_endpoint,omitempty"`
	InitialAccessToken   *Secret  `json:"initial_access_token,omitempty"`
	Scope                string   `json:"scope,omitempty"`
	Timeout              Duration `json:"timeout"`
}

// CallTimeout bounds one call to the provider: Timeout, or
// DefaultDCRTimeout when it is not set (the compiler always sets it).
func (d *DCR) CallTimeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout.D()
	}
	return DefaultDCRTimeout
}

// UnavailableEntries returns, by entry ID, why the catalogue entries whose
// registration settings cannot work when serving from dir cannot (an
// initial access token that cannot be read, or is empty); nil when every
// entry can register. The reasons name references, never values.
func (p *Portal) UnavailableEntries(dir string) map[string]string {
	var out map[string]string
	for id, e := range p.Catalogue {
		if e.DCR == nil {
			continue
		}
		if _, err := e.DCR.InitialAccessToken.ResolveToken(dir, "initial_access_token"); err != nil {
			if out == nil {
				out = map[string]string{}
			}
			out[id] = err.Error()
		}
	}
	return out
}

// Issuer returns the issuer of the IdP whose tokens api takes, or "" for
// a keyless API (or none). The portal keeps a client's entries to one
// issuer and the gateway binds the client for tokens of that issuer: both
// ask here, so they agree.
func (t *Table) Issuer(api *API) string {
	if api == nil || api.JWT == nil {
		return ""
	}
	if idp := t.IdPs[api.JWT.IdP]; idp != nil {
		return idp.Issuer
	}
	return ""
}

// IdentityNamespace returns where api's identities name one caller: the
// issuer of its tokens (Issuer) and the claim it takes identities from;
// both "" for an API without issuer. The gateway binds clients and counts
// limits in it, and the portal reads a client's usage there: both ask
// here, so they agree.
func (t *Table) IdentityNamespace(api *API) (issuer, claim string) {
	if issuer = t.Issuer(api); issuer == "" {
		return "", ""
	}
	return issuer, api.JWT.IdentityClaim
}

// JSON returns the canonical JSON encoding of t: object keys sorted, two
// spaces of indent, a final newline. The same configuration always gives
// the same bytes.
func (t *Table) JSON() []byte {
	raw := t.marshal()
	// Re-encoding through generic maps sorts every object's keys.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic("compiler: table does not decode: " + err.Error())
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic("compiler: table does not re-encode: " + err.Error())
	}
	return append(out, '\n')
}

func (t *Table) marshal() []byte {
	raw, err := json.Marshal(t)
	if err != nil {
		panic("compiler: table does not encode: " + err.Error()) // all fields are plain data
	}
	return raw
}

// Seal computes t's Hash and builds its route index. The compiler seals
// every table it returns, and so does whoever decodes one from JSON;
// nobody modifies a sealed table.
func (t *Table) Seal() {
	sum := sha256.Sum256(t.marshal())
	t.Hash = hex.EncodeToString(sum[:])
	t.Routes = newRouteIndex(t.APIs)
}
