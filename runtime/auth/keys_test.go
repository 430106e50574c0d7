package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestRotation: a token signed with a key the provider published after the
// gateway fetched its keys is accepted without a restart: once MinRefetch
// has passed since the last fetch, its unknown kid triggers a refetch, which
// it waits for.
func TestRotation(t *testing.T) {
	t.Parallel()
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	clk := testutil.NewClock(now)
	k := readyKeys(t, KeySetsOptions{MinRefetch: time.Minute, Now: clk.Now}, p.idp())
	v := NewValidator(k, 0)
	tokB := p.token(t, rsaB)

	steps := []struct {
		name    string
		advance time.Duration
		publish bool // the provider publishes key B before the step
		fetches int
		ok      bool
	}{
		{"within MinRefetch of the first fetch", 0, false, 1, false},
		{"refetched, B not yet published", time.Minute, false, 2, false},
		{"B published, within MinRefetch of the refetch", 0, true, 2, false},
		{"refetched, B published", time.Minute, false, 3, true},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		if st.publish {
			p.PublishKeys(rsaB.JWK(t, "RS256", "sig"), rsaA.JWK(t, "RS256", "sig"))
		}
		_, err := v.Validate(tokB, p.idp(), rulesFor("RS256"), now)
		if st.ok && err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !st.ok {
			wantErr(t, err, 401, "unknown signing key")
		}
		if got := p.jwksHits(); got != st.fetches {
			t.Errorf("%s: %d fetches, want %d", st.name, got, st.fetches)
		}
	}
	if _, err := v.Validate(p.token(t, rsaA), p.idp(), rulesFor("RS256"), now); err != nil {
		t.Errorf("old key no longer accepted: %v", err)
	}
	if got := k.Status()["test"].KeyIDs; !slices.Equal(got, []string{"rsa-a", "rsa-b"}) {
		t.Errorf("key ids %v", got)
	}
}

// TestUnknownKidDoesNotWaitForItsTurn: a token with an unknown kid within
// MinRefetch of the last fetch is refused at once; no fetch is scheduled
// for it to wait for, though MinRefetch is below the 5s a request may wait
// for a fetch.
func TestUnknownKidDoesNotWaitForItsTurn(t *testing.T) {
	t.Parallel()
	p, clk, k, v := clockedEnv(t, 3*time.Second)
	unknown := func(kid string) []byte { return p.token(t, withKID(rsaA, kid)) }

	clk.Advance(3 * time.Second)
	_, err := v.Validate(unknown("k1"), p.idp(), rulesFor("RS256"), now)
	wantErr(t, err, 401, "unknown signing key")
	if got := p.jwksHits(); got != 2 {
		t.Fatalf("%d fetches, want 2: MinRefetch had passed", got)
	}

	// From now on any fetch is held: a request waiting for one would not
	// return before the gate opens.
	t.Cleanup(p.HoldJWKS())
	f := k.fetcher("test")
	for _, kid := range []string{"k2", "k3"} {
		clk.Advance(time.Second)
		_, err := v.Validate(unknown(kid), p.idp(), rulesFor("RS256"), now)
		wantErr(t, err, 401, "unknown signing key")
		f.mu.Lock()
		scheduled := f.inflight != nil
		f.mu.Unlock()
		if got := p.jwksHits(); got != 2 || scheduled {
			t.Fatalf("%s: %d fetches (want 2), a fetch in flight: %v", kid, got, scheduled)
		}
	}
}

// TestProviderDownAfterFetch: failed refreshes keep the last good keys.
func TestProviderDownAfterFetch(t *testing.T) {
	t.Parallel()
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	idp := p.idp()
	idp.ID = "down-after"
	idp.RefreshInterval = table.Duration(5 * time.Millisecond)
	failed := metrics.GetOrCreateCounter(`cuegate_jwks_refreshes_total{idp="down-after",result="error"}`)
	ok := metrics.GetOrCreateCounter(`cuegate_jwks_refreshes_total{idp="down-after",result="ok"}`)
	k := readyKeys(t, KeySetsOptions{MinRefetch: time.Millisecond}, idp)
	if ok.Get() == 0 {
		t.Error("ok refreshes not counted")
	}
	p.SetDown(true)
	before := failed.Get()
	testutil.Eventually(t, "failed refreshes", func() bool { return failed.Get() >= before+3 })
	v := NewValidator(k, 0)
	rules := rulesFor("RS256")
	rules.IdP = idp.ID
	if _, err := v.Validate(p.token(t, rsaA), idp, rules, now); err != nil {
		t.Fatalf("cached keys no longer work: %v", err)
	}
	st := k.Status()[idp.ID]
	if !st.Fetched || !k.Ready() || !strings.Contains(st.LastError, "503") || st.LastFetch == nil {
		t.Errorf("status %+v", st)
	}
}

// TestProviderDownFromStart: 503 until the keys are fetched, and recovery
// without a restart once the provider is up.
func TestProviderDownFromStart(t *testing.T) {
	t.Parallel()
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	p.SetDown(true)
	k := newKeys(t, KeySetsOptions{MinRefetch: time.Millisecond}, p.idp())
	v := NewValidator(k, 0)
	tok := p.token(t, rsaA)
	testutil.Eventually(t, "a failed fetch", func() bool { return k.Status()["test"].LastError != "" })
	_, err := v.Validate(tok, p.idp(), rulesFor("RS256"), now)
	wantErr(t, err, http.StatusServiceUnavailable, "signing keys of identity provider test are not available yet")
	if k.Ready() || k.Status()["test"].Fetched {
		t.Error("ready without keys")
	}
	p.SetDown(false)
	testutil.Eventually(t, "recovery", func() bool {
		_, err := v.Validate(tok, p.idp(), rulesFor("RS256"), now)
		return err == nil
	})
	if !k.Ready() {
		t.Error("not ready after recovery")
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	testKeys(t)
	p := newProvider(t, ecA.JWK(t, "ES256", "sig"))
	discovery := func(issuer string) *table.IdP {
		idp := p.idp()
		idp.JWKSURI = ""
		idp.Discovery = p.URL + "/.well-known/openid-configuration"
		idp.Issuer = issuer
		return idp
	}
	t.Run("keys from the discovered jwks_uri", func(t *testing.T) {
		idp := discovery(p.Issuer())
		k := readyKeys(t, KeySetsOptions{}, idp)
		if _, err := NewValidator(k, 0).Validate(p.token(t, ecA), idp, rulesFor("ES256"), now); err != nil {
			t.Fatal(err)
		}
		if p.Hits(devidp.DiscoveryPath) == 0 {
			t.Error("discovery not fetched")
		}
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		k := newKeys(t, KeySetsOptions{}, discovery("https://other.example/"))
		testutil.Eventually(t, "an error", func() bool { return k.Status()["test"].LastError != "" })
		if err := k.Status()["test"].LastError; !strings.Contains(err, "is not the configured") {
			t.Errorf("error %q", err)
		}
	})
}

// TestRefetchLimited: however many tokens name unknown kids, an IdP's keys
// are fetched at most once per MinRefetch, and concurrent misses share one
// fetch.
func TestRefetchLimited(t *testing.T) {
	t.Parallel()
	p, clk, _, v := clockedEnv(t, time.Hour)
	unknown := func(i int) []byte { return p.token(t, withKID(rsaA, fmt.Sprint("kid-", i))) }
	validateMany := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, err := v.Validate(unknown(i), p.idp(), rulesFor("RS256"), now)
				wantErr(t, err, 401, "unknown signing key")
			})
		}
		wg.Wait()
	}

	validateMany(50)
	if got := p.jwksHits(); got != 1 {
		t.Fatalf("%d fetches, want only the first one: the last was less than MinRefetch ago", got)
	}

	// Let MinRefetch pass, hold the provider's answer, and send 50 misses
	// at once: they share one fetch.
	clk.Advance(time.Hour)
	release := p.HoldJWKS()
	done := make(chan struct{})
	go func() { validateMany(50); close(done) }()
	testutil.Eventually(t, "the refetch", func() bool { return p.Held() == 1 })
	release()
	<-done
	if got := p.jwksHits(); got != 2 {
		t.Fatalf("%d fetches, want 2", got)
	}
}

// TestCacheInvalidation: a cached token is verified again when its IdP's key
// set changes, and refused once its key is gone, whichever level holds it.
func TestCacheInvalidation(t *testing.T) {
	t.Parallel()
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	k := readyKeys(t, KeySetsOptions{MinRefetch: time.Hour}, p.idp())
	v := NewValidator(k, 0)
	tok := p.token(t, rsaA)
	validate := func() (*Claims, error) { return v.Validate(tok, p.idp(), rulesFor("RS256"), now) }
	first, err := validate()
	if err != nil {
		t.Fatal(err)
	}
	if c := v.recent.Load().get(tok); c != first {
		t.Fatal("the recent-token memo does not hold the token")
	}
	f := k.fetcher("test")
	refresh := func() {
		t.Helper()
		if err := f.refresh(); err != nil {
			t.Fatal(err)
		}
	}

	refresh() // the same keys: the cache stays
	if c, _ := validate(); c != first {
		t.Error("an unchanged key set dropped the cache")
	}

	p.PublishKeys(rsaA.JWK(t, "RS256", "sig"), ecA.JWK(t, "ES256", "sig"))
	refresh() // a new key: verified again, still valid
	second, err := validate()
	if err != nil || second == first {
		t.Fatalf("after a key set change: %v, same claims %v", err, second == first)
	}
	if c := v.recent.Load().get(tok); c != second {
		t.Error("the memo still holds the claims of the old key set")
	}

	p.PublishKeys(ecA.JWK(t, "ES256", "sig"))
	refresh() // the token's key is gone
	_, err = validate()
	wantErr(t, err, 401, "unknown signing key")
	if v.recent.Load().get(tok) != nil {
		t.Error("the memo still holds a token whose key is gone")
	}
}

// TestSync is not parallel: it reads the process-wide metrics set, where
// other tests' KeySets register the same IdP ID.
func TestSync(t *testing.T) {
	t.Parallel()
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	k := readyKeys(t, KeySetsOptions{MinRefetch: time.Hour}, p.idp())
	f := k.fetcher("test")
	v := NewValidator(k, 0)
	tok := p.token(t, rsaA)

	// A new table with the same IdP (another pointer, another refresh
	// interval): same fetcher, no fetch, cache kept.
	first, _ := v.Validate(tok, p.idp(), rulesFor("RS256"), now)
	same := p.idp()
	same.RefreshInterval = table.Duration(2 * time.Hour)
	k.Sync(map[string]*table.IdP{"test": same})
	if k.fetcher("test") != f || p.jwksHits() != 1 {
		t.Error("an unchanged IdP was replaced or refetched")
	}
	if c, _ := v.Validate(tok, same, rulesFor("RS256"), now); c != first {
		t.Error("an unchanged IdP dropped the cache")
	}

	// Another jwks_uri: a new fetcher.
	moved := p.idp()
	moved.JWKSURI += "?v=2"
	k.Sync(map[string]*table.IdP{"test": moved})
	if k.fetcher("test") == f {
		t.Error("a changed IdP kept its fetcher")
	}
	testutil.Eventually(t, "keys fetched", k.Ready)

	// Removed: 503, and Ready (nothing to wait for).
	k.Sync(nil)
	_, err := v.Validate(tok, p.idp(), rulesFor("RS256"), now)
	wantErr(t, err, http.StatusServiceUnavailable, "signing keys of identity provider test are not available yet")
	if !k.Ready() || len(k.Status()) != 0 {
		t.Error("a removed IdP is still reported")
	}
	var out bytes.Buffer
	metrics.WritePrometheus(&out, false)
	if strings.Contains(out.String(), `idp="test"`) {
		t.Errorf("a removed IdP's refresh counters are still on /metrics:\n%s", out.String())
	}
}

func TestStatusJSON(t *testing.T) {
	t.Parallel()
	at := now
	for _, c := range []struct {
		st   KeyStatus
		want string
	}{
		{KeyStatus{Fetched: true, LastFetch: &at, KeyIDs: []string{"a"}, LastError: "boom"},
			`{"fetched":true,"last_fetch":"2026-03-01T12:00:00Z","key_ids":["a"],"last_error":"boom"}`},
		{KeyStatus{KeyIDs: []string{}, LastError: "connection refused"}, // never fetched: null, not the zero time
			`{"fetched":false,"last_fetch":null,"key_ids":[],"last_error":"connection refused"}`},
	} {
		b, err := json.Marshal(c.st)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("got %s, want %s", b, c.want)
		}
	}
}

// TestKeysAreNotRedirected: a key set or discovery document answered with
// a redirect is not followed (it could lead to plain http, where the keys
// can be replaced, or to another host): the fetch fails and says so.
func TestKeysAreNotRedirected(t *testing.T) {
	t.Parallel()
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	redirect := httptest.NewServer(http.RedirectHandler(p.URL+devidp.JWKSPath, http.StatusFound))
	t.Cleanup(redirect.Close)
	for _, tt := range []struct {
		name string
		set  func(idp *table.IdP)
	}{
		{"jwks_uri", func(idp *table.IdP) { idp.JWKSURI = redirect.URL }},
		{"discovery", func(idp *table.IdP) { idp.JWKSURI, idp.Discovery = "", redirect.URL }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idp := p.idp()
			tt.set(idp)
			k := newKeys(t, KeySetsOptions{}, idp)
			testutil.Eventually(t, "an error", func() bool { return k.Status()["test"].LastError != "" })
			if st := k.Status()["test"]; !strings.Contains(st.LastError, "302 Found, a redirect, which is not followed") || st.Fetched {
				t.Errorf("status %+v", st)
			}
			if p.jwksHits() != 0 {
				t.Error("the redirect was followed")
			}
		})
	}
}

func TestCheckJWKSURI(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		uri, discovery, err string
	}{
		{"https://idp.example/keys", "https://idp.example/.well-known/openid-configuration", ""},
		{"http://127.0.0.1:8082/keys", "http://127.0.0.1:8082/.well-known/openid-configuration", ""},
		{"https://idp.example/keys", "http://127.0.0.1/.well-known/openid-configuration", ""},
		{"HTTPS://idp.example/keys", "https://idp.example/d", ""},
		{"http://idp.example/keys", "HTTPS://idp.example/d", "is plain http"},
		{"", "https://idp.example/d", "no jwks_uri"},
		{"http://idp.example/keys", "https://idp.example/d", "is plain http, below the https of the discovery document"},
		{"/keys", "https://idp.example/d", "is not an absolute http or https URL"},
		{"https://:443/keys", "https://idp.example/d", "is not an absolute http or https URL"},
		{"file:///etc/passwd", "https://idp.example/d", "is not an absolute http or https URL"},
		{"gopher://idp.example/keys", "https://idp.example/d", "is not an absolute http or https URL"},
	} {
		err := checkJWKSURI(tt.uri, tt.discovery)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("checkJWKSURI(%q, %q) = %v, want %q", tt.uri, tt.discovery, err, tt.err)
		}
	}
}

// TestCheckJWKSURIQuotesLittle: a refused jwks_uri is quoted clipped, not
// whole, in the error (and so in the log and /status).
func TestCheckJWKSURIQuotesLittle(t *testing.T) {
	t.Parallel()
	err := checkJWKSURI("http://idp.example/"+strings.Repeat("a", 1<<20), "https://idp.example/d")
	if err == nil || len(err.Error()) > 2*maxQuoted+100 {
		t.Errorf("error of %d bytes", len(fmt.Sprint(err)))
	}
}
