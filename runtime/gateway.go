package runtime

import (
	"crypto/tls"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/jsonlog"
	"github.com/cuegate/cuegate/runtime/auth"
	"github.com/cuegate/cuegate/runtime/limit"
	"github.com/cuegate/cuegate/runtime/policy"
	"github.com/cuegate/cuegate/runtime/proxy"
	"github.com/cuegate/cuegate/runtime/tracing"
)

// Bindings is what the runtime asks the portal about a client.
type Bindings interface {
	// Binding reports the portal registration of clientID; found is
	// false for a client the portal never registered.
	Binding(clientID string) (b table.Binding, found bool)
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
	// Cluster reports what the node shares with others; nil means one
	// node. A node is not ready before its cluster's bindings are.
	Cluster Cluster
	// KeySets holds the IdPs' keys; nil means a new one (closed by Close).
	KeySets *auth.KeySets
	// Now is the clock for token validation, limits and bindings; nil
	// means time.Now.
	Now func() time.Time
	// UpstreamCooldown is how long a target refusing connections is
	// skipped; 0 means 5s.
	UpstreamCooldown time.Duration
}

// Gateway serves the current table. Handler is safe for any number of
// concurrent requests; Apply may be called concurrently with them (calls
// serialise among themselves). A request runs entirely on the
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

	// tracing holds the exporter of the generation being served; the
	// Gateway owns every exporter it built and shuts each down once
	// replaced (installExporter), the last in Close.
	tracing tracing.Switch

	series   gatewayMetrics
	notFound *apiMetrics // metrics of requests that match no API

	// listenerCap is the gateway listener's cap on connections (maxConns)
	// under the table New was given: max_conns takes effect when serving
	// starts, so the default of every upstream's max_inflight follows it,
	// not a reloaded table's.
	listenerCap int
}

// generation is one table being served and what was built for it.
type generation struct {
	table    *table.Table
	seq      uint64
	loadedAt time.Time
	apis     map[*table.API]*apiState
	// entryNS is, per portal catalogue entry whose API checks tokens, the
	// namespace of that API's identities.
	entryNS map[string]policy.Namespace
	// exporter records the sampled requests' spans; nil: tracing is off.
	exporter *tracing.Exporter
	// grantRefusals answer a request only a grant needing scopes the
	// token lacks would allow, per such grant.
	grantRefusals map[*table.Grant]scopeRefusal
	// upstreamCA is the digest of the upstream CA bundle its pools verify
	// https targets with (upstreamTLSConfig); "" for the system roots.
	upstreamCA string
}

// apiState is what the handler needs per API besides the table.
type apiState struct {
	api     *table.API
	idp     *table.IdP
	pool    *proxy.Pool
	metrics *apiMetrics
	rules   *apiRules // nil when the API has none
	// ns is the namespace of the API's identities (issuer and identity
	// claim); zero when it checks no tokens.
	ns policy.Namespace
	// byMethod is set when the API's methods list, its CORS methods or a
	// policy's grant on it allows some methods only: a method override could then pass a
	// check it should not (see methodOverride).
	byMethod bool
	// claimHeaderNames are the names of the claim headers every API of
	// the table sets, sorted (one slice, shared by the generation's
	// states): a client's field of one is removed on every API
	// (proxy.Request.Drop), so that no API passes on a forged one to an
	// upstream that trusts it.
	claimHeaderNames [][]byte
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
		series:     newGatewayMetrics(),
	}
	g.notFound = newAPIMetrics(g.series.set, "")
	g.listenerCap = maxConns(t.Gateway.MaxConns, openFilesLimit())
	if opts.Cluster != nil {
		g.registerClusterMetrics(opts.Cluster)
	}
	if g.now == nil {
		g.now, g.systemClock = time.Now, true
	}
	if g.keys == nil {
		g.keys = auth.NewKeySets(auth.KeySetsOptions{Logger: opts.Logger, Transport: g.tracing.Transport(nil, "jwks")})
		g.ownKeys = true
	}
	g.validator = auth.NewValidator(g.keys, t.Gateway.TokenCache) // 0: auth.DefaultCacheBytes
	if g.limiter == nil {
		g.limiter = limit.NewMemory(limit.MemoryOptions{})
	}
	initRequestIDPrefix(&g.ridPrefix)
	if err := g.swap(t); err != nil {
		if g.ownKeys {
			g.keys.Close()
		}
		return nil, err
	}
	return g, nil
}

// Limiter returns the limiter the gateway counts with: Options.Limiter,
// or the in-memory one New made when it was nil.
func (g *Gateway) Limiter() limit.Limiter { return g.limiter }

// Current returns the table being served. It is immutable.
func (g *Gateway) Current() *table.Table { return g.cur.Load().table }

// Generation returns the number of the table being served: 1 for the
// first, one more for each swap.
func (g *Gateway) Generation() uint64 { return g.cur.Load().seq }

// Ready reports whether the gateway can serve: a table is loaded, every
// IdP's keys were fetched once and, in a cluster, the client bindings are
// loaded.
func (g *Gateway) Ready() bool {
	return g.cur.Load() != nil && g.keys.Ready() && (g.opts.Cluster == nil || g.opts.Cluster.BindingsReady())
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
	if e := g.tracing.Set(nil); e != nil {
		shutdownExporter(e) // flushes what is queued
	}
}
