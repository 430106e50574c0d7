// Package auth validates bearer JWTs against the signing keys of OpenID
// providers.
//
// KeySets fetches and refreshes each IdP's JWKS (from jwks_uri or the
// discovery document) in the background and keeps the last good set when the
// provider is down. Each key is parsed on its own with jwkset, so a malformed
// key or an encryption key in the set is skipped without affecting the
// others; fetching, discovery, refreshing and the one shared refetch on an
// unknown kid are this package's own.
// Validator parses tokens with fastjson by golang-jwt/jwt/v5's rules, verifies
// them with its signing methods and caches accepted ones,
// so a repeat token costs a map lookup.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/outbound"
	"github.com/cuegate/cuegate/internal/printable"
	"github.com/cuegate/cuegate/internal/promlabel"
)

const (
	maxDocBytes     = 1 << 20 // discovery document or JWKS
	defaultRefresh  = 5 * time.Minute
	retryMin        = time.Second
	retryMax        = time.Minute
	maxRefetchWait  = 5 * time.Second // how long a request waits for a refetch it started or joined
	defaultRefetch  = 5 * time.Second
	defaultTimeout  = 10 * time.Second
	refreshOK       = "ok"
	refreshFailed   = "error"
	metricRefreshes = "cuegate_jwks_refreshes_total"
)

// KeySetsOptions configures NewKeySets.
type KeySetsOptions struct {
	// Client fetches discovery documents and key sets; nil means a client
	// with a 10s timeout and Transport. Redirects are never followed
	// (KeySets uses a copy of it that does not): one could take the fetch
	// to plain http, where the keys can be replaced, or to another host.
	Client *http.Client
	// Transport is the default client's; nil means http.DefaultTransport.
	Transport http.RoundTripper
	Logger    zerolog.Logger
	// MinRefetch is how often at most an unknown kid (or a request for an
	// IdP whose keys were never fetched) triggers a fetch of one IdP's keys;
	// 0 means 5s.
	MinRefetch time.Duration
	// Now is the clock MinRefetch is measured with; nil means time.Now.
	Now func() time.Time
	// RetryMin and RetryMax bound the backoff between failed fetches
	// (doubling, with jitter); 0 means 1s and 1m. Once an IdP's keys were
	// fetched, retries are also at most its refresh interval apart.
	RetryMin, RetryMax time.Duration
}

// KeyStatus is the state of one IdP's key set, for the admin status page.
type KeyStatus struct {
	Fetched bool `json:"fetched"`
	// LastFetch is the last successful fetch; nil (null) before the first.
	LastFetch *time.Time `json:"last_fetch"`
	KeyIDs    []string   `json:"key_ids"`
	LastError string     `json:"last_error,omitempty"` // of the last attempt; "" when it succeeded
}

// KeySets holds the signing keys of every IdP of the current table, each
// fetched and refreshed by a goroutine of its own. It outlives table
// generations: Sync carries unchanged IdPs over with their keys. All methods
// are safe for concurrent use; the lookups on the request path take no lock.
type KeySets struct {
	opts     KeySetsOptions
	gen      atomic.Uint64
	fetchers atomic.Pointer[map[string]*fetcher] // immutable map, replaced by Sync

	mu     sync.Mutex // serialises Sync and Close
	closed bool
}

// NewKeySets returns an empty KeySets; call Sync with a table's IdPs.
func NewKeySets(opts KeySetsOptions) *KeySets {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: defaultTimeout, Transport: opts.Transport}
	}
	opts.Client = outbound.NoRedirects(opts.Client)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinRefetch <= 0 {
		opts.MinRefetch = defaultRefetch
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = retryMin
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = retryMax
	}
	opts.RetryMax = max(opts.RetryMax, opts.RetryMin)
	k := &KeySets{opts: opts}
	k.fetchers.Store(&map[string]*fetcher{})
	return k
}

// Sync makes the fetched IdPs equal to idps (from a newly compiled table).
// IdPs whose ID, issuer, discovery and jwks_uri are unchanged keep their keys
// and fetcher (not refetched); new ones start fetching in the background
// (never blocks; retries with backoff); removed ones stop, and their
// cuegate_jwks_refreshes_total series leave /metrics. Safe concurrently
// with Validate. Sync after Close does nothing.
func (k *KeySets) Sync(idps map[string]*table.IdP) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	old := *k.fetchers.Load()
	next := make(map[string]*fetcher, len(idps))
	for id, idp := range idps {
		if f, ok := old[id]; ok && f.sameSource(idp) {
			f.idp.Store(idp) // the refresh interval may have changed
			next[id] = f
			continue
		}
		next[id] = k.start(id, idp)
	}
	k.fetchers.Store(&next)
	for id, f := range old {
		if next[id] != f {
			f.stop()
		}
		if _, kept := next[id]; !kept {
			// Its refresh counters leave /metrics with it (a fetcher that
			// replaces another for the same ID keeps them).
			for _, name := range f.series {
				metrics.UnregisterMetric(name)
			}
		}
	}
}

// Close stops every fetcher. Validate then answers 503 for every IdP.
func (k *KeySets) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	for _, f := range *k.fetchers.Swap(&map[string]*fetcher{}) {
		f.stop()
	}
}

// Ready reports whether every synced IdP has fetched keys at least once.
func (k *KeySets) Ready() bool {
	for _, f := range *k.fetchers.Load() {
		if f.keys.Load() == nil {
			return false
		}
	}
	return true
}

// Status returns the key state per IdP ID.
func (k *KeySets) Status() map[string]KeyStatus {
	fs := *k.fetchers.Load()
	out := make(map[string]KeyStatus, len(fs))
	for id, f := range fs {
		out[id] = f.status()
	}
	return out
}

// fetcher returns the fetcher of the IdP with this ID, or nil.
func (k *KeySets) fetcher(id string) *fetcher {
	return (*k.fetchers.Load())[id]
}

// fetcher keeps one IdP's key set.
type fetcher struct {
	ks     *KeySets
	log    zerolog.Logger
	idp    atomic.Pointer[table.IdP]
	keys   atomic.Pointer[keySet] // nil until the first successful fetch
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	ok     *metrics.Counter
	failed *metrics.Counter
	series [2]string // the names of ok and failed

	mu        sync.Mutex
	inflight  chan struct{} // closed when the running fetch ends; nil when none runs
	lastStart time.Time     // of the last fetch, by KeySetsOptions.Now
	lastFetch time.Time     // of the last successful fetch
	lastErr   string
}

func (k *KeySets) start(id string, idp *table.IdP) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	prefix := metricRefreshes + `{idp=` + promlabel.Quote(id)
	series := [2]string{prefix + `,result="` + refreshOK + `"}`, prefix + `,result="` + refreshFailed + `"}`}
	f := &fetcher{
		ks:     k,
		log:    k.opts.Logger.With().Str("idp", id).Logger(),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		ok:     metrics.GetOrCreateCounter(series[0]),
		failed: metrics.GetOrCreateCounter(series[1]),
		series: series,
	}
	f.idp.Store(idp)
	go f.run()
	return f
}

func (f *fetcher) stop() {
	f.cancel()
	<-f.done
}

// sameSource reports whether idp fetches the same keys for the same issuer.
func (f *fetcher) sameSource(idp *table.IdP) bool {
	cur := f.idp.Load()
	return cur.ID == idp.ID && cur.Issuer == idp.Issuer && cur.Discovery == idp.Discovery && cur.JWKSURI == idp.JWKSURI
}

// run refreshes the keys on the IdP's schedule, and with backoff after a
// failure, until the fetcher is stopped.
func (f *fetcher) run() {
	defer close(f.done)
	backoff := f.ks.opts.RetryMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-timer.C:
		}
		err := f.refresh()
		interval := f.idp.Load().RefreshInterval.D()
		if interval <= 0 {
			interval = defaultRefresh
		}
		wait := interval
		if err != nil {
			// Jitter spreads the retries of many gateways over the backoff.
			wait = backoff/2 + rand.N(backoff/2+1)
			if f.keys.Load() != nil {
				wait = min(wait, interval)
			}
			backoff = min(2*backoff, f.ks.opts.RetryMax)
		} else {
			backoff = f.ks.opts.RetryMin
		}
		timer.Reset(wait)
	}
}

// refresh fetches the keys, or waits for the fetch already running.
func (f *fetcher) refresh() error {
	f.mu.Lock()
	ch := f.inflight
	if ch == nil {
		ch = f.beginLocked(f.ks.opts.Now())
		f.mu.Unlock()
		f.fetch(ch)
		return f.lastError()
	}
	f.mu.Unlock()
	select {
	case <-ch:
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
	return f.lastError()
}

// refetch is called on the request path when a token names a kid that is not
// in the key set, or when the keys were never fetched: await(refetching()).
func (f *fetcher) refetch() bool { return f.await(f.refetching()) }

// refetching joins the fetch in flight, or starts one unless the last one
// started less than MinRefetch ago: then it returns nil, so that tokens
// with made-up kids cannot hold requests waiting for a fetch's turn. The
// channel it returns is closed when the fetch ends.
func (f *fetcher) refetching() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inflight != nil {
		return f.inflight
	}
	now := f.ks.opts.Now()
	if now.Before(f.lastStart.Add(f.ks.opts.MinRefetch)) {
		return nil
	}
	ch := f.beginLocked(now)
	go f.fetch(ch)
	return ch
}

// await waits at most maxRefetchWait for the fetch that closes ch and
// reports whether it ended; a nil ch has none.
func (f *fetcher) await(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	t := time.NewTimer(maxRefetchWait)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-f.ctx.Done():
	}
	return false
}

// beginLocked records that a fetch starts at now and returns the channel
// its fetch call closes. The caller holds f.mu and no fetch is in flight.
func (f *fetcher) beginLocked(now time.Time) chan struct{} {
	f.inflight = make(chan struct{})
	f.lastStart = now
	return f.inflight
}

// fetch downloads and installs the key set, records the outcome and closes
// ch; it is the only writer of f.keys.
func (f *fetcher) fetch(ch chan struct{}) {
	keys, err := f.download()
	f.mu.Lock()
	defer f.mu.Unlock()
	defer close(ch)
	f.inflight = nil
	if err != nil {
		if f.ctx.Err() != nil {
			return // stopped: not a provider failure
		}
		f.failed.Inc()
		f.lastErr = err.Error()
		f.log.Warn().Err(err).Bool("have_keys", f.keys.Load() != nil).Msg("jwks fetch failed")
		return
	}
	f.ok.Inc()
	f.lastErr = ""
	f.lastFetch = time.Now()
	if cur := f.keys.Load(); cur == nil || !sameKeys(cur.all, keys) {
		s := newKeySet(f.ks.gen.Add(1), keys)
		f.keys.Store(s)
		f.log.Info().Strs("kids", s.ids).Msg("jwks updated")
	}
}

func (f *fetcher) lastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastErr == "" {
		return nil
	}
	return errors.New(f.lastErr)
}

func (f *fetcher) status() KeyStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := KeyStatus{LastError: f.lastErr, KeyIDs: []string{}}
	if !f.lastFetch.IsZero() {
		at := f.lastFetch
		st.LastFetch = &at
	}
	if s := f.keys.Load(); s != nil {
		st.Fetched = true
		st.KeyIDs = slices.Clone(s.ids)
	}
	return st
}

// download reads the key set: from jwks_uri, or from the jwks_uri of the
// discovery document, whose issuer must be the IdP's.
func (f *fetcher) download() ([]*key, error) {
	idp := f.idp.Load()
	uri := idp.JWKSURI
	if uri == "" {
		body, err := f.get(idp.Discovery)
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, fmt.Errorf("discovery: not JSON: %w", err)
		}
		if doc.Issuer != idp.Issuer {
			return nil, fmt.Errorf("discovery: issuer %q is not the configured %q", printable.Clip(doc.Issuer, maxQuoted), idp.Issuer)
		}
		if err := checkJWKSURI(doc.JWKSURI, idp.Discovery); err != nil {
			return nil, err
		}
		uri = doc.JWKSURI
	}
	body, err := f.get(uri)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys, skipped, err := parseJWKS(body)
	for _, s := range skipped[:min(len(skipped), maxSkipsLogged)] {
		f.log.Warn().Int("index", s.index).Str("kid", s.kid).Str("reason", s.reason).Msg("jwks key skipped")
	}
	if n := len(skipped) - maxSkipsLogged; n > 0 {
		f.log.Warn().Int("more", n).Msg("jwks keys skipped, not logged one by one")
	}
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", uri, err)
	}
	return keys, nil
}

// maxQuoted bounds what an error quotes of a value a provider sent.
const maxQuoted = 200

// checkJWKSURI refuses the jwks_uri of the discovery document at
// discovery unless outbound.URLProblem finds none: a key set fetched over
// plain http can be replaced on the way, and with it the keys tokens are
// checked against.
func checkJWKSURI(uri, discovery string) error {
	if uri == "" {
		return errors.New("discovery: no jwks_uri")
	}
	if p := outbound.URLProblem(uri, discovery, "the discovery document"); p != "" {
		return fmt.Errorf("discovery: jwks_uri %q %s", printable.Clip(uri, maxQuoted), p)
	}
	return nil
}

func (f *fetcher) get(uri string) ([]byte, error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.ks.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		return nil, fmt.Errorf("GET %s: %s, a redirect, which is not followed: configure the address it points to", uri, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", uri, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", uri, err)
	}
	if len(body) > maxDocBytes {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", uri, maxDocBytes)
	}
	return body, nil
}
