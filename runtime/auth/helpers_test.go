package auth

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fastjson"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

var (
	keysOnce sync.Once
	rsaA     testidp.Key // RS256, kid "rsa-a"
	rsaB     testidp.Key // RS256, kid "rsa-b" (the rotated-in key)
	rsaX     testidp.Key // not published: a forger's key, kid "rsa-a"
	ecA      testidp.Key // ES256 on P-256, kid "ec-a"
	ec384    testidp.Key // ES384 on P-384, kid "ec-384"
	edA      testidp.Key // EdDSA, kid "ed-a"
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		rsaA = testidp.NewKey("rsa-a", "RS256")
		rsaB = testidp.NewKey("rsa-b", "RS256")
		rsaX = testidp.NewKey("rsa-a", "RS256")
		ecA = testidp.NewKey("ec-a", "ES256")
		ec384 = testidp.NewKey("ec-384", "ES384")
		edA = testidp.NewKey("ed-a", "EdDSA")
	})
}

// withKID is k naming kid.
func withKID(k testidp.Key, kid string) testidp.Key {
	k.KID = kid
	return k
}

// provider is the test identity provider, publishing the JWKs it is given.
type provider struct{ *testidp.Server }

func newProvider(t testing.TB, keys ...json.RawMessage) *provider {
	p := &provider{testidp.New(t, devidp.Options{})}
	p.PublishKeys(keys...)
	return p
}

// jwksHits counts the JWKS requests p received.
func (p *provider) jwksHits() int { return p.Hits(devidp.JWKSPath) }

// idp describes p with its JWKS address.
func (p *provider) idp() *table.IdP {
	return &table.IdP{
		ID:              "test",
		Issuer:          p.Issuer(),
		JWKSURI:         p.JWKSURL(),
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
	k := NewKeySets(opts) // a zero Logger logs nothing
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

// clockedEnv is a provider publishing rsaA, and a Validator on key sets
// fetched from it that read clk and refetch at most every minRefetch.
func clockedEnv(t testing.TB, minRefetch time.Duration) (p *provider, clk *testutil.Clock, k *KeySets, v *Validator) {
	t.Helper()
	testKeys(t)
	p = newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	clk = testutil.NewClock(now)
	k = readyKeys(t, KeySetsOptions{MinRefetch: minRefetch, Now: clk.Now}, p.idp())
	return p, clk, k, NewValidator(k, 0)
}

// token is a token of p's valid claims at now, signed with key.
func (p *provider) token(t testing.TB, key testidp.Key) []byte {
	return []byte(key.Mint(t, p.claimsAt(now), nil))
}

// claimsAt returns valid claims for p at now.
func (p *provider) claimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": p.Issuer(),
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

// pack lays out m with the packer, by way of its JSON.
func pack(m map[string]any) (blob string, idx []uint16, scopes []string, ok bool) {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(b)
	if err != nil {
		panic(err)
	}
	o, err := v.Object()
	if err != nil {
		panic(err)
	}
	blob, idx, ok = new(packer).pack(o)
	return blob, idx, tokenScopes(blob, idx), ok
}
