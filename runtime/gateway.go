// Package runtime serves a compiled table: it routes requests, validates
// their tokens, resolves identity and policy, enforces access, rate limits
// and quotas, and proxies to upstreams. Tables are hot-swapped without
// dropping a request.
//
// The request path, and what each step answers when it refuses (always
// JSON {"error": "...", "code": N} and an X-Request-Id header):
//
//  1. The raw path is cleaned (package pathclean): 400 for encoded
//     slashes, backslashes, NUL, double encoding, ".." above the root,
//     dot segments with parameters ("..;", "%2e%2e%3bx"). The path
//     matched against grants is the path forwarded (less the listen
//     path when it is stripped). Then the header: a field name that is
//     not a token or holds "_", or a second Authorization field, is 400
//     (fasthttp refuses a second Host, Content-Length or
//     Transfer-Encoding).
//
//  2. Routing on the cleaned path: 404, or 405 with Allow.
//
//     Steps 1 to 7 read the header only. A request expecting 100 Continue
//     is decided before the body is asked for (a refusal gets no 100
//     Continue and closes the connection), and so is one with a body length
//     whose header already shows a refusal (no API, too large, no bearer
//     token for a JWT API, a refused path or header): it is answered
//     without waiting for its body.
//
//  3. A declared Content-Length over gateway.max_body_bytes: 413 (a
//     chunked body is cut at the limit, also 413).
//
//  4. JWT APIs: no bearer token is 401 with `WWW-Authenticate: Bearer
//     realm="cuegate"` (RFC 6750 §3.1: no error code when the request
//     carries no credentials); a rejected token is 401 with `Bearer
//     realm="cuegate", error="invalid_token", error_description="..."`;
//     keys never fetched is 503. A token without the identity claim is a
//     401 invalid_token too.
//
//  5. Policy: the portal binding of the identity, else the policy claim
//     (a string or a list), else the API's default_policies; an unknown
//     policy ID or no policy at all: 403. A binding holds for tokens of
//     the issuer its catalogue entries' APIs take tokens from; a token of
//     another issuer is another provider's client with the same ID and
//     goes on to the claim. A revoked or expired registration is 403 for
//     every issuer, and so is one none of whose entries has an API that
//     checks tokens any more.
//
//  6. Access: a policy must grant the API, and the grant's methods and
//     paths (segment-bounded prefixes of the path below the listen path)
//     must allow the request: 403. When several of the identity's
//     policies allow the request, the most generous limits win, rate and
//     quota each on its own: a granting policy without a rate limit (or
//     quota) lifts it; otherwise the highest Requests/Per (or Max/Period)
//     applies, ties to the policy listed first. Counters are kept per
//     token issuer, identity and ID of the policy whose limit applies.
//
//  7. Limits (package limit): a request is counted against the rate limit
//     and the quota together, or against neither when one refuses it. Rate
//     limit: 429 with Retry-After; quota: 403. A refusal has
//     X-RateLimit-Limit, -Remaining and -Reset (seconds) of the limit that
//     refused. With gateway.rate_limit_headers true, so has every other
//     response under a limit: those of the limit nearer to refusing (fewer
//     requests remaining), so that one set of headers says how many more
//     requests pass.
//
//  8. Proxy (package proxy): 502 when no target answers, 504 on timeout.
//     The Authorization header is passed on to the upstream. The
//     Connection header cannot remove framing, Host, credentials or the
//     gateway's own headers (proxy.Forward).
//
// Each request writes one line to Options.AccessLog (none when it is nil),
// as zerolog's Info "request" with method, path (cleaned, without the
// query), api, identity, policy, status, bytes (response body bytes passed
// on), duration_us and upstream_duration_us (integer microseconds),
// request_id and time; never the token. For a streamed response the line
// is written when the body is through. Besides fasthttp's own
// buffers, the path up to the upstream exchange allocates nothing.
package runtime

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/jsonlog"
	"github.com/cuegate/cuegate/runtime/auth"
	"github.com/cuegate/cuegate/runtime/deadline"
	"github.com/cuegate/cuegate/runtime/limit"
	"github.com/cuegate/cuegate/runtime/proxy"
)

// Bindings is what the runtime asks the portal about a client.
type Bindings interface {
	// Binding reports the portal registration of clientID: found is
	// false for a client the portal never registered; revoked is true
	// for one that was deleted (its tokens must get 403 at once);
	// expiresAt is zero when the registration never expires; catalogue
	// lists the catalogue entries it was registered for (the binding
	// holds only for tokens of the issuer of those entries' APIs).
	// catalogue is owned by the implementation and not modified.
	Binding(clientID string) (policy string, expiresAt time.Time, revoked bool, catalogue []string, found bool)
}

// Options configures a Gateway. Only Logger and AccessLog are commonly
// set; the rest has defaults suited to one node.
type Options struct {
	// Logger receives the reload reports and the errors of requests.
	Logger zerolog.Logger
	// AccessLog receives the access log: one JSON line per request, each
	// in one Write, byte for byte what a zerolog logger with a
	// jsonlog.Stamp hook writes at Info with zerolog's default field names
	// and time format (see appendAccessLine); Logger's level does not
	// apply. Write is called from many requests at once. nil means no
	// access log.
	AccessLog io.Writer
	// ConfigDir is the configuration directory: where the relative file
	// names of every table served (TLS files, the upstream CA) are read
	// from, whatever the working directory (see table.ConfigPath).
	ConfigDir string
	// Bindings answers for clients registered in the portal; nil means
	// none (policy comes from the token or the API's defaults).
	Bindings Bindings
	// Limiter counts rate limits and quotas; nil means an in-memory one.
	Limiter limit.Limiter
	// KeySets holds the IdPs' keys; nil means a new one (closed by Close).
	KeySets *auth.KeySets
	// TokenCacheSize bounds the validated-token cache; 0 means
	// auth.DefaultCacheSize.
	TokenCacheSize int
	// Now is the clock for token validation, limits and bindings; nil
	// means time.Now.
	Now func() time.Time
	// UpstreamCooldown is how long a target refusing connections is
	// skipped; 0 means 5s.
	UpstreamCooldown time.Duration
}

// Gateway serves the current table. Handler is safe for any number of
// concurrent requests; Swap and Reload may be called concurrently with
// them (they serialise among themselves). A request runs entirely on the
// generation it started with.
type Gateway struct {
	opts Options
	log  zerolog.Logger
	now  func() time.Time
	// systemClock: now is time.Now, so a request reuses its start time.
	systemClock bool
	keys        *auth.KeySets
	ownKeys     bool
	validator   *auth.Validator
	limiter     limit.Limiter
	ridPrefix   [16]byte
	ridSeq      atomic.Uint64
	stamp       jsonlog.Stamp

	cur        atomic.Pointer[generation]
	cert       atomic.Pointer[tls.Certificate]
	portalCert atomic.Pointer[tls.Certificate]

	mu         sync.Mutex // serialises swaps; guards the fields below
	pools      map[string]*proxy.Pool
	apiMetrics map[string]*apiMetrics
	status     reloadStatus

	notFound *apiMetrics // metrics of requests that match no API
}

// generation is one table being served and what was built for it.
type generation struct {
	table    *table.Table
	seq      uint64
	loadedAt time.Time
	apis     map[*table.API]*apiState
	// entryIssuer is, per portal catalogue entry whose API checks tokens,
	// the issuer of the IdP that API takes them from.
	entryIssuer map[string]string
}

// apiState is what the handler needs per API besides the table.
type apiState struct {
	api     *table.API
	idp     *table.IdP
	pool    *proxy.Pool
	metrics *apiMetrics
}

// New returns a Gateway serving t.
func New(t *table.Table, opts Options) (*Gateway, error) {
	g := &Gateway{
		opts:       opts,
		log:        opts.Logger,
		now:        opts.Now,
		keys:       opts.KeySets,
		limiter:    opts.Limiter,
		pools:      make(map[string]*proxy.Pool),
		apiMetrics: make(map[string]*apiMetrics),
		notFound:   newAPIMetrics(""),
	}
	if g.now == nil {
		g.now, g.systemClock = time.Now, true
	}
	if g.keys == nil {
		g.keys = auth.NewKeySets(auth.KeySetsOptions{Logger: opts.Logger})
		g.ownKeys = true
	}
	g.validator = auth.NewValidator(g.keys, max(opts.TokenCacheSize, 0)) // 0: auth.DefaultCacheSize
	if g.limiter == nil {
		g.limiter = limit.NewMemory(limit.MemoryOptions{})
	}
	initRequestIDPrefix(&g.ridPrefix)
	if err := g.Swap(t); err != nil {
		if g.ownKeys {
			g.keys.Close()
		}
		return nil, err
	}
	return g, nil
}

// Current returns the table being served. It is immutable.
func (g *Gateway) Current() *table.Table { return g.cur.Load().table }

// Generation returns the number of the table being served: 1 for the
// first, one more for each swap.
func (g *Gateway) Generation() uint64 { return g.cur.Load().seq }

// Ready reports whether the gateway can serve: a table is loaded and every
// IdP's keys were fetched once.
func (g *Gateway) Ready() bool { return g.cur.Load() != nil && g.keys.Ready() }

// Swap starts serving t. It builds the new generation off the request path
// (upstream pools whose Upstream.Key is unchanged are reused, new ones
// created), syncs the IdP key sets, then swaps one pointer; requests in
// flight finish on the generation they started with, and pools no longer
// used are closed once their in-flight requests finish. Rate-limit and
// quota counters and the token cache are untouched; the /metrics series
// of API IDs that t drops are removed at once, those of the others keep
// counting. On error nothing changes.
func (g *Gateway) Swap(t *table.Table) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.swapLocked(t)
}

func (g *Gateway) swapLocked(t *table.Table) error {
	cert, portalCert, err := g.loadCerts(t)
	if err != nil {
		return err
	}
	upstreamTLS, err := g.upstreamTLSConfig(t.Gateway.UpstreamCAFile)
	if err != nil {
		return err
	}

	prev := g.cur.Load()
	gen := &generation{
		table:       t,
		seq:         1,
		loadedAt:    time.Now(),
		apis:        make(map[*table.API]*apiState, len(t.APIs)),
		entryIssuer: make(map[string]string, len(t.Portal.Catalogue)),
	}
	if prev != nil {
		gen.seq = prev.seq + 1
	}
	pools := make(map[string]*proxy.Pool, len(g.pools))
	for _, id := range slices.Sorted(maps.Keys(t.APIs)) {
		a := t.APIs[id]
		key := a.Upstream.Key() + "|" + t.Gateway.UpstreamCAFile
		p := pools[key]
		if p == nil {
			p = g.pools[key]
		}
		if p == nil {
			p, err = proxy.New(proxy.Options{
				Targets:        a.Upstream.Targets,
				Timeout:        a.Upstream.Timeout.D(),
				ConnectTimeout: a.Upstream.ConnectTimeout.D(),
				IdleTimeout:    a.Upstream.IdleTimeout.D(),
				TLSConfig:      upstreamTLS,
				Cooldown:       g.opts.UpstreamCooldown,
			})
			if err != nil {
				for k, np := range pools {
					if g.pools[k] == nil {
						np.Close()
					}
				}
				return fmt.Errorf("api %s: %w", id, err)
			}
		}
		pools[key] = p
		m := g.apiMetrics[id]
		if m == nil {
			m = newAPIMetrics(id)
			g.apiMetrics[id] = m
		}
		st := &apiState{api: a, pool: p, metrics: m}
		if a.JWT != nil {
			st.idp = t.IdPs[a.JWT.IdP]
		}
		gen.apis[a] = st
	}
	for id, e := range t.Portal.Catalogue {
		if iss := t.Issuer(t.APIs[e.API]); iss != "" {
			gen.entryIssuer[id] = iss
		}
	}

	g.keys.Sync(t.IdPs)
	g.storeCerts(cert, portalCert)
	g.cur.Store(gen)
	g.retireMetricsLocked(t)
	generationGauge.Set(float64(gen.seq))
	loadedGauge.Set(float64(gen.loadedAt.UnixNano()) / 1e9)
	for k, p := range g.pools {
		if pools[k] == nil {
			p.Close() // after its in-flight requests
		}
	}
	g.pools = pools
	return nil
}

// upstreamTLSConfig verifies upstreams against caFile, a name from the
// table, or against the system roots when it is empty.
func (g *Gateway) upstreamTLSConfig(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil // system roots
	}
	pem, err := os.ReadFile(table.ConfigPath(g.opts.ConfigDir, caFile))
	if err != nil {
		return nil, fmt.Errorf("upstream_ca_file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("upstream_ca_file %s: no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

// TLSConfig returns the gateway listener's TLS configuration, whose
// certificate follows the table (a reload with a new certificate takes
// effect for new connections). It is nil when the table names no
// certificate.
func (g *Gateway) TLSConfig() *tls.Config { return tlsConfig(&g.cert) }

// PortalTLSConfig is TLSConfig for the portal listener (gateway.portal_tls).
func (g *Gateway) PortalTLSConfig() *tls.Config { return tlsConfig(&g.portalCert) }

func tlsConfig(cert *atomic.Pointer[tls.Certificate]) *tls.Config {
	if cert.Load() == nil {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return cert.Load(), nil
		},
	}
}

// loadCerts reads the certificates t names (nil for those it does not),
// relative names from the configuration directory.
func (g *Gateway) loadCerts(t *table.Table) (gateway, portal *tls.Certificate, err error) {
	if gateway, err = g.loadCert("gateway tls", t.Gateway.TLS); err != nil {
		return nil, nil, err
	}
	if portal, err = g.loadCert("portal tls", t.Gateway.PortalTLS); err != nil {
		return nil, nil, err
	}
	return gateway, portal, nil
}

// storeCerts serves the given certificates from now on; nil keeps the one
// being served (a listener cannot stop serving TLS without a restart).
func (g *Gateway) storeCerts(gateway, portal *tls.Certificate) {
	if gateway != nil {
		g.cert.Store(gateway)
	}
	if portal != nil {
		g.portalCert.Store(portal)
	}
}

func (g *Gateway) loadCert(what string, files *table.TLS) (*tls.Certificate, error) {
	if files == nil {
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(table.ConfigPath(g.opts.ConfigDir, files.CertFile), table.ConfigPath(g.opts.ConfigDir, files.KeyFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &c, nil
}

// Listener returns ln as the gateway listener serves it: its connections'
// deadlines armed lazily (runtime/deadline; fasthttp sets three per
// request), with TLS above them when the table names a certificate (see
// TLSConfig). scheme is then "https", else "http". Serve Server on it.
func (g *Gateway) Listener(ln net.Listener) (_ net.Listener, scheme string) {
	ln = deadline.Listener(ln)
	if cfg := g.TLSConfig(); cfg != nil {
		return tls.NewListener(ln, cfg), "https"
	}
	return ln, "http"
}

// Server returns a fasthttp server for the gateway listener (serve it on
// Listener), configured from the table's gateway settings: write_timeout,
// and read_timeout once a request's header is in, follow every reload
// (they are taken per request); idle_timeout, max_header_bytes and the read_timeout of a
// request's header are those of the table at the time Server is called.
// Request bodies are streamed, and a request is decided on its header
// before its body is read: see expect and expectRefusal. A
// request the server cannot read is answered by requestError, and the
// parse error is logged without the request's bytes (fasthttpLogger).
func (g *Gateway) Server() *fasthttp.Server {
	gw := g.Current().Gateway
	serverRead := gw.ReadTimeout.D()
	return &fasthttp.Server{
		Handler:      g.Handler,
		ErrorHandler: g.requestError,
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			g.expectRefusal(h)
			return g.requestConfig(serverRead)
		},
		ExpectHandler:                g.expect,
		NoDefaultServerHeader:        true, // the gateway names no software; an upstream's Server passes through
		ReadTimeout:                  gw.ReadTimeout.D(),
		WriteTimeout:                 gw.WriteTimeout.D(),
		IdleTimeout:                  gw.IdleTimeout.D(),
		ReadBufferSize:               gw.MaxHeaderBytes,
		MaxRequestBodySize:           64 << 10,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		NoDefaultContentType:         true,
		LazyRequestTime:              true, // the handler reads the clock itself; ctx.Time is unused
		CloseOnShutdown:              true,
		SecureErrorLogMessage:        true,
		Logger:                       fasthttpLogger{g.log},
	}
}

// startupSettings names the gateway settings that differ from a to b and
// take effect only when the process restarts: the listen addresses, the
// admin token (read when serving starts) and whether each listener serves
// TLS (certificates follow reloads), what
// Server fixes (idle_timeout, max_header_bytes, and read_timeout for the
// header of a request), what the portal listener fixes when it starts
// (read_timeout, write_timeout, idle_timeout, max_header_bytes), and
// shutdown_grace.
func startupSettings(a, b *table.Gateway) []string {
	var names []string
	for _, s := range []struct {
		name    string
		changed bool
	}{
		{"listen", a.Listen != b.Listen},
		{"portal_listen", a.PortalListen != b.PortalListen},
		{"admin_listen", a.AdminListen != b.AdminListen},
		{"admin_token", (a.AdminToken == nil) != (b.AdminToken == nil) || (a.AdminToken != nil && *a.AdminToken != *b.AdminToken)},
		{"tls", (a.TLS == nil) != (b.TLS == nil)},
		{"portal_tls", (a.PortalTLS == nil) != (b.PortalTLS == nil)},
		{"read_timeout", a.ReadTimeout != b.ReadTimeout},
		{"write_timeout", a.WriteTimeout != b.WriteTimeout},
		{"idle_timeout", a.IdleTimeout != b.IdleTimeout},
		{"max_header_bytes", a.MaxHeaderBytes != b.MaxHeaderBytes},
		{"shutdown_grace", a.ShutdownGrace != b.ShutdownGrace},
	} {
		if s.changed {
			names = append(names, s.name)
		}
	}
	return names
}

// requestConfig applies the current table's timeouts to one request.
// The read timeout is re-armed only when it differs from serverRead, the
// server's own, which fasthttp has already armed for the request (from
// its first byte, or from the connection's opening for its first
// request): re-arming costs a clock read and a deadline change on every
// request.
func (g *Gateway) requestConfig(serverRead time.Duration) fasthttp.RequestConfig {
	gw := &g.cur.Load().table.Gateway
	c := fasthttp.RequestConfig{WriteTimeout: gw.WriteTimeout.D()}
	if rt := gw.ReadTimeout.D(); rt != serverRead {
		c.ReadTimeout = rt
	}
	return c
}

// fasthttpLogger passes fasthttp's messages (mostly "error when serving
// connection", for requests it could not parse) to the log at Warn, with
// the quoted parts of their errors redacted: those quote the request's
// bytes, credentials included, even with SecureErrorLogMessage (which
// only drops the dump of the whole buffer).
type fasthttpLogger struct{ log zerolog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	for i, a := range args {
		if err, ok := a.(error); ok {
			args[i] = redactQuoted(err.Error())
		}
	}
	l.log.Warn().Msgf(format, args...)
}

// redactQuoted replaces the contents of each double-quoted string in s
// (as %q writes them: a backslash escapes the next byte) with [redacted];
// an unterminated one is redacted to the end.
func redactQuoted(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(`"[redacted]"`)
		s = s[i+1:]
		j := 0
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return b.String()
		}
		s = s[j+1:]
	}
}

// Close stops the key fetchers (when the Gateway created them) and closes
// the upstream pools. Call it after the servers have shut down.
func (g *Gateway) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.pools {
		p.Close()
	}
	if g.ownKeys {
		g.keys.Close()
	}
}
