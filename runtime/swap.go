package runtime

import (
	"crypto/tls"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime/policy"
	"github.com/cuegate/cuegate/runtime/proxy"
	"github.com/cuegate/cuegate/runtime/tracing"
)

// swap starts serving t. It builds the new generation off the request path
// (upstream pools whose Upstream.Key, and for https targets upstream CA
// bundle, are unchanged are reused, new ones created), syncs the IdP key sets, then swaps one pointer; requests in
// flight finish on the generation they started with, and pools no longer
// used are closed once their in-flight requests finish. Rate-limit and
// quota counters and the token cache are untouched; the /metrics series
// of API IDs that t drops are removed at once, those of the others keep
// counting. On error nothing changes. Unlike Apply, it records no status,
// log line or reload count.
func (g *Gateway) swap(t *table.Table) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.swapLocked(t)
}

// swapLocked is swap; the caller holds g.mu.
func (g *Gateway) swapLocked(t *table.Table) error {
	cert, portalCert, err := g.loadCerts(t)
	if err != nil {
		return err
	}
	upstreamTLS, caDigest, err := g.upstreamTLSConfig(t.Gateway.UpstreamCAFile)
	if err != nil {
		return err
	}
	prev := g.cur.Load()
	exporter, freshExporter, err := g.swapExporter(prev, t)
	if err != nil {
		return err
	}
	gen, pools, err := g.newGeneration(prev, t, exporter, upstreamTLS, caDigest)
	if err != nil {
		if freshExporter {
			go shutdownExporter(exporter)
		}
		return err
	}
	g.install(gen, cert, portalCert, pools)
	return nil
}

// newGeneration builds t's generation, recording with exporter, and
// returns it with the upstream pools it uses by pool key: g's reused,
// new ones created with upstreamTLS, the CA bundle of digest caDigest
// (upstreamTLSConfig). On error the pools it created are closed.
func (g *Gateway) newGeneration(prev *generation, t *table.Table, exporter *tracing.Exporter, upstreamTLS *tls.Config, caDigest string) (*generation, map[string]*proxy.Pool, error) {
	gen := &generation{
		upstreamCA:    caDigest,
		exporter:      exporter,
		table:         t,
		seq:           1,
		loadedAt:      time.Now(),
		apis:          make(map[*table.API]*apiState, len(t.APIs)),
		entryNS:       entryNamespaces(t),
		grantRefusals: newGrantRefusals(t.Policies),
	}
	if prev != nil {
		gen.seq = prev.seq + 1
	}
	pools := make(map[string]*proxy.Pool, len(g.pools))
	ids := slices.Sorted(maps.Keys(t.APIs))
	apiPools := make([]*proxy.Pool, len(ids))
	for i, id := range ids {
		p, err := g.pool(pools, t.APIs[id], caDigest, upstreamTLS)
		if err != nil {
			g.closeNewPools(pools)
			return nil, nil, fmt.Errorf("api %s: %w", id, err)
		}
		apiPools[i] = p
	}
	rules := make([]*apiRules, len(ids))
	for i, id := range ids {
		var err error
		if rules[i], err = newAPIRules(t.APIs[id], g.opts.ConfigDir); err != nil {
			g.closeNewPools(pools)
			return nil, nil, fmt.Errorf("api %s: %w", id, err)
		}
	}
	// Only once nothing can fail: an API's metrics are made the first
	// time its ID is seen.
	claimNames := claimHeaderNames(t)
	for i, id := range ids {
		st := g.newAPIState(t, id, apiPools[i], rules[i])
		st.claimHeaderNames = claimNames
		gen.apis[t.APIs[id]] = st
	}
	return gen, pools, nil
}

// pool returns the pool that serves a's upstream and records it in pools
// under its key, the upstream's and, for one with an https target, the CA
// bundle's (caDigest): the one pools already has, else g's, else a new
// one.
func (g *Gateway) pool(pools map[string]*proxy.Pool, a *table.API, caDigest string, upstreamTLS *tls.Config) (*proxy.Pool, error) {
	key := a.Upstream.Key()
	if slices.ContainsFunc(a.Upstream.Targets, func(t string) bool { return strings.HasPrefix(t, "https://") }) {
		key += "|" + caDigest
	}
	p := pools[key]
	if p == nil {
		p = g.pools[key]
	}
	if p == nil {
		var err error
		p, err = proxy.New(proxy.Options{
			Targets:        a.Upstream.Targets,
			Timeout:        a.Upstream.Timeout.D(),
			ConnectTimeout: a.Upstream.ConnectTimeout.D(),
			IdleTimeout:    a.Upstream.IdleTimeout.D(),
			TLSConfig:      upstreamTLS,
			Cooldown:       g.opts.UpstreamCooldown,
			MaxInflight:    maxInflight(a.Upstream.MaxInflight, g.listenerCap),
		})
		if err != nil {
			return nil, err
		}
	}
	pools[key] = p
	return p, nil
}

// closeNewPools closes the pools in pools that g does not have.
func (g *Gateway) closeNewPools(pools map[string]*proxy.Pool) {
	for k, p := range pools {
		if g.pools[k] == nil {
			p.Close()
		}
	}
}

// newAPIState returns what the handler needs for the API id of t, served
// by p with rules. The API's metrics are g's for id, made the first time
// id is seen.
func (g *Gateway) newAPIState(t *table.Table, id string, p *proxy.Pool, rules *apiRules) *apiState {
	a := t.APIs[id]
	m := g.apiMetrics[id]
	if m == nil {
		m = newAPIMetrics(g.series.set, id)
		g.apiMetrics[id] = m
	}
	st := &apiState{api: a, pool: p, metrics: m, rules: rules, byMethod: byMethod(t, a)}
	if a.JWT != nil {
		st.idp = t.IdPs[a.JWT.IdP]
		st.ns = namespaceOf(t, a)
	}
	return st
}

// claimHeaderNames returns the names of the claim headers the APIs of t
// set, each once, sorted (the table holds them canonical).
func claimHeaderNames(t *table.Table) [][]byte {
	var names []string
	for _, a := range t.APIs {
		for _, h := range a.Upstream.ClaimHeaders {
			names = append(names, h.Name)
		}
	}
	slices.Sort(names)
	out := make([][]byte, 0, len(names))
	for _, n := range slices.Compact(names) {
		out = append(out, []byte(n))
	}
	return out
}

// byMethod reports whether a's methods list, its CORS methods or a grant
// on it of a policy of t allows some methods only.
func byMethod(t *table.Table, a *table.API) bool {
	if a.Methods != nil || a.CORS != nil && !table.MethodsOf(a.CORS.Methods).Every() {
		return true
	}
	for _, p := range t.Policies {
		if g := p.Access[a.ID]; g != nil && len(g.Methods) > 0 {
			return true
		}
	}
	return false
}

// namespaceOf returns the namespace of api's identities: the issuer of
// the IdP it takes tokens from and its identity claim; the zero Namespace
// for an API that checks no tokens.
func namespaceOf(t *table.Table, api *table.API) policy.Namespace {
	iss, claim := t.IdentityNamespace(api)
	return policy.Namespace{Issuer: iss, Claim: claim}
}

// entryNamespaces returns, per catalogue entry of t whose API checks
// tokens, the namespace of that API's identities.
func entryNamespaces(t *table.Table) map[string]policy.Namespace {
	m := make(map[string]policy.Namespace, len(t.Portal.Catalogue))
	for id, e := range t.Portal.Catalogue {
		if ns := namespaceOf(t, t.APIs[e.API]); ns.Issuer != "" {
			m[id] = ns
		}
	}
	return m
}

// install starts serving gen, with the certificates and the pools it was
// built with, and closes g's pools that gen does not use once their
// in-flight requests finish.
func (g *Gateway) install(gen *generation, cert, portalCert *tls.Certificate, pools map[string]*proxy.Pool) {
	t := gen.table
	g.keys.Sync(t.IdPs)
	g.validator.SetCacheBytes(t.Gateway.TokenCache, g.now())
	g.storeCerts(cert, portalCert)
	g.cur.Store(gen)
	g.installExporter(gen.exporter)
	g.retireMetricsLocked(t)
	g.series.generation.Set(float64(gen.seq))
	g.series.loaded.Set(float64(gen.loadedAt.UnixNano()) / 1e9)
	for k, p := range g.pools {
		if pools[k] == nil {
			p.Close() // after its in-flight requests
		}
	}
	g.pools = pools
}
