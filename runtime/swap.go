package runtime

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime/proxy"
)

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
	exporter, freshExporter, err := g.swapExporter(prev, t)
	if err != nil {
		return err
	}
	gen := &generation{
		exporter:      exporter,
		table:         t,
		seq:           1,
		loadedAt:      time.Now(),
		apis:          make(map[*table.API]*apiState, len(t.APIs)),
		entryIssuer:   make(map[string]string, len(t.Portal.Catalogue)),
		grantRefusals: newGrantRefusals(t.Policies),
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
				if freshExporter {
					go shutdownExporter(exporter)
				}
				return fmt.Errorf("api %s: %w", id, err)
			}
		}
		pools[key] = p
		m := g.apiMetrics[id]
		if m == nil {
			m = newAPIMetrics(g.series.set, id)
			g.apiMetrics[id] = m
		}
		st := &apiState{api: a, pool: p, metrics: m, rules: newAPIRules(a)}
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
	g.validator.SetCacheBytes(t.Gateway.TokenCache, g.now())
	g.storeCerts(cert, portalCert)
	g.cur.Store(gen)
	g.installExporter(exporter)
	g.retireMetricsLocked(t)
	g.series.generation.Set(float64(gen.seq))
	g.series.loaded.Set(float64(gen.loadedAt.UnixNano()) / 1e9)
	for k, p := range g.pools {
		if pools[k] == nil {
			p.Close() // after its in-flight requests
		}
	}
	g.pools = pools
	return nil
}
