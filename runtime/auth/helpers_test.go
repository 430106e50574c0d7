package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// signer is a test key pair with its kid.
type signer struct {
	kid    string
	alg    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

var (
	keysOnce sync.Once
	rsaA     signer // RS256, kid "rsa-a"
	rsaB     signer // RS256, kid "rsa-b" (the rotated-in key)
	rsaX     signer // not published: a forger's key, kid "rsa-a"
	ecA      signer // ES256 on P-256, kid "ec-a"
	ec384    signer // ES384 on P-384, kid "ec-384"
	edA      signer // EdDSA, kid "ed-a"
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		rsaKey := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		ecKey := func(c elliptic.Curve) *ecdsa.PrivateKey {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				panic(err)
			}
			return k
		}
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		rsaA = signer{"rsa-a", "RS256", jwt.SigningMethodRS256, rsaKey()}
		rsaB = signer{"rsa-b", "RS256", jwt.SigningMethodRS256, rsaKey()}
		rsaX = signer{"rsa-a", "RS256", jwt.SigningMethodRS256, rsaKey()}
		ecA = signer{"ec-a", "ES256", jwt.SigningMethodES256, ecKey(elliptic.P256())}
		ec384 = signer{"ec-384", "ES384", jwt.SigningMethodES384, ecKey(elliptic.P384())}
		edA = signer{"ed-a", "EdDSA", jwt.SigningMethodEdDSA, ed}
	})
}

// jwk encodes the public key of s as a JWK with jwkset; alg and use are
// left out when empty.
func (s signer) jwk(t testing.TB, alg, use string) json.RawMessage {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(s.priv.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: s.kid, ALG: jwkset.ALG(alg), USE: jwkset.USE(use)},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(j.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mint signs claims with s, setting kid (unless s.kid is empty) and the
// extra header fields.
func (s signer) mint(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	out, err := tok.SignedString(s.priv)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// provider is an in-process OpenID provider: discovery and JWKS.
type provider struct {
	srv       *httptest.Server
	issuer    string
	mu        sync.Mutex
	keys      []json.RawMessage
	down      bool
	gate      chan struct{} // when set, JWKS requests wait for it to close
	jwksHits  atomic.Int32
	discoHits atomic.Int32
	waiting   atomic.Int32 // JWKS requests held at the gate
}

func newProvider(t testing.TB, keys ...json.RawMessage) *provider {
	p := &provider{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoHits.Add(1)
		if p.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer, "jwks_uri": p.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		p.mu.Lock()
		gate := p.gate
		p.mu.Unlock()
		if gate != nil {
			p.waiting.Add(1)
			<-gate
			p.waiting.Add(-1)
		}
		if p.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		p.mu.Lock()
		body, _ := json.Marshal(map[string]any{"keys": p.keys})
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	p.srv = httptest.NewServer(mux)
	p.issuer = p.srv.URL + "/"
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

func (p *provider) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

func (p *provider) setKeys(keys ...json.RawMessage) {
	p.mu.Lock()
	p.keys = keys
	p.mu.Unlock()
}

// idp describes p with its JWKS address.
func (p *provider) idp() *table.IdP {
	return &table.IdP{
		ID:              "test",
		Issuer:          p.issuer,
		JWKSURI:         p.srv.URL + "/jwks",
		Algorithms:      allAlgs,
		Leeway:          table.Duration(30 * time.Second),
		RefreshInterval: table.Duration(time.Hour),
	}
}

var allAlgs = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

func rulesFor(algs ...string) *table.JWTAuth {
	return &table.JWTAuth{IdP: "test", Audience: "api", Algorithms: algs, IdentityClaim: "sub", PolicyClaim: "pol"}
}

// newKeys returns KeySets synced to idp, closed at the end of the test.
func newKeys(t testing.TB, opts KeySetsOptions, idps ...*table.IdP) *KeySets {
	t.Helper()
	if opts.RetryMin == 0 {
		opts.RetryMin, opts.RetryMax = 5*time.Millisecond, 50*time.Millisecond
	}
	opts.Logger = zerolog.Nop()
	k := NewKeySets(opts)
	t.Cleanup(k.Close)
	m := map[string]*table.IdP{}
	for _, idp := range idps {
		m[idp.ID] = idp
	}
	k.Sync(m)
	return k
}

// readyKeys is newKeys once every IdP's keys were fetched.
func readyKeys(t testing.TB, opts KeySetsOptions, idps ...*table.IdP) *KeySets {
	t.Helper()
	k := newKeys(t, opts, idps...)
	testutil.Eventually(t, "keys fetched", k.Ready)
	return k
}

// claimsAt returns valid claims for p at now.
func (p *provider) claimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": p.issuer,
		"sub": "alice",
		"aud": "api",
		"exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"pol": []any{"gold", "silver"},
	}
}

// wantErr checks that err is an *Error with status and description.
func wantErr(t testing.TB, err error, status int, desc string) {
	t.Helper()
	e, ok := err.(*Error)
	switch {
	case !ok:
		t.Fatalf("got error %v (%T), want *Error %d %q", err, err, status, desc)
	case e.Status != status || e.Description != desc:
		t.Fatalf("got %d %q, want %d %q", e.Status, e.Description, status, desc)
	}
}
