package auth

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testidp"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// readyEnv returns a provider publishing the test keys and a Validator
// whose keys were fetched.
func readyEnv(t testing.TB, opts KeySetsOptions) (*provider, *KeySets, *Validator) {
	t.Helper()
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"), ecA.JWK(t, "ES256", "sig"), ec384.JWK(t, "", ""), edA.JWK(t, "EdDSA", "sig"), rsaB.JWK(t, "", ""))
	k := readyKeys(t, opts, p.idp())
	return p, k, NewValidator(k, 0)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	p, _, v := readyEnv(t, KeySetsOptions{MinRefetch: time.Hour})
	idp := p.idp()
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := p.claimsAt(now)
		change(c)
		return c
	}
	valid := p.claimsAt(now)
	rsaPub, err := x509.MarshalPKIXPublicKey(rsaA.Priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	hs256 := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, valid)
		tok.Header["kid"] = rsaA.KID
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, valid)
		tok.Header["kid"] = rsaA.KID
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ps256 := rsaB // its JWK names no alg
	ps256.Method = jwt.SigningMethodPS256
	ps256OnRS256 := rsaA // its JWK says RS256
	ps256OnRS256.Method = jwt.SigningMethodPS256
	ecAsRSA := ecA // an ES256 token that names the RSA key
	ecAsRSA.KID = rsaA.KID
	noKID := rsaA
	noKID.KID = ""
	es384OnP256 := ec384 // signed with the P-384 key, but names the P-256 one
	es384OnP256.KID = ecA.KID

	tests := []struct {
		name   string
		token  string
		algs   []string // the API's allow-list; nil: allAlgs
		status int      // 0: valid
		desc   string
	}{
		{name: "RS256", token: rsaA.Mint(t, valid, nil)},
		{name: "PS256 with an RSA key", token: ps256.Mint(t, valid, nil)},
		{name: "ES256", token: ecA.Mint(t, valid, nil)},
		{name: "ES384 with a JWK without alg", token: ec384.Mint(t, valid, nil)},
		{name: "EdDSA", token: edA.Mint(t, valid, nil)},
		{name: "no kid: tries the keys that fit", token: noKID.Mint(t, valid, nil)},
		{name: "typ at+jwt", token: rsaA.Mint(t, valid, map[string]any{"typ": "at+jwt"})},
		{name: "typ AT+JWT", token: rsaA.Mint(t, valid, map[string]any{"typ": "AT+JWT"})},
		{name: "typ application/at+jwt", token: rsaA.Mint(t, valid, map[string]any{"typ": "application/at+jwt"})},
		{name: "typ absent", token: rsaA.Mint(t, valid, map[string]any{"typ": nil})},
		{name: "aud list", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["aud"] = []string{"other", "api"} }), nil)},
		{name: "expired within leeway", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() }), nil)},
		{name: "nbf within leeway", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(20 * time.Second).Unix() }), nil)},
		{name: "iat within leeway", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["iat"] = now.Add(20 * time.Second).Unix() }), nil)},

		{name: "missing", token: "", status: 401, desc: "missing token"},
		{name: "malformed", token: "not-a-jwt", status: 401, desc: "malformed token"},
		{name: "malformed parts", token: "e30.e30.e30.e30", status: 401, desc: "malformed token"},
		{name: "malformed base64", token: "!!!.@@@.###", status: 401, desc: "malformed token"},
		{name: "bad signature", token: rsaX.Mint(t, valid, nil), status: 401, desc: "invalid signature"},
		{name: "tampered claims", token: tamper(rsaA.Mint(t, valid, nil)), status: 401, desc: "invalid signature"},
		{name: "alg none", token: none(), algs: append([]string{"none"}, allAlgs...), status: 401, desc: "signing algorithm none is not allowed"},
		{name: "HS256 signed with the RSA public key", token: hs256(rsaPEM), algs: append([]string{"HS256"}, allAlgs...), status: 401, desc: "signing algorithm HS256 is not allowed"},
		{name: "HS256 signed with the RSA public key DER", token: hs256(rsaPub), algs: []string{"HS256", "RS256"}, status: 401, desc: "signing algorithm HS256 is not allowed"},
		{name: "only HMAC configured: nothing is allowed", token: rsaA.Mint(t, valid, nil), algs: []string{"HS256"}, status: 401, desc: "signing algorithm RS256 is not allowed"},
		{name: "HS256 when only HMAC is configured", token: hs256(rsaPEM), algs: []string{"HS256"}, status: 401, desc: "signing algorithm HS256 is not allowed"},
		{name: "alg not allowed by the API", token: ecA.Mint(t, valid, nil), algs: []string{"RS256"}, status: 401, desc: "signing algorithm ES256 is not allowed"},
		{name: "alg does not fit the key type", token: ecAsRSA.Mint(t, valid, nil), status: 401, desc: "signing algorithm ES256 does not fit the key"},
		{name: "alg does not fit the curve", token: es384OnP256.Mint(t, valid, nil), status: 401, desc: "signing algorithm ES384 does not fit the key"},
		{name: "alg does not fit the JWK alg", token: ps256OnRS256.Mint(t, valid, nil), status: 401, desc: "signing algorithm PS256 does not fit the key"},
		{name: "expired", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), nil), status: 401, desc: "token expired"},
		{name: "no exp", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { delete(c, "exp") }), nil), status: 401, desc: "token has no expiry (exp)"},
		{name: "exp not a number", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), nil), status: 401, desc: "malformed claims"},
		{name: "not yet valid", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), nil), status: 401, desc: "token not valid yet (nbf)"},
		{name: "iat in the future", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }), nil), status: 401, desc: "token issued in the future (iat)"},
		{name: "wrong issuer", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["iss"] = strings.TrimSuffix(p.Issuer(), "/") }), nil), status: 401, desc: "wrong issuer"},
		{name: "no issuer", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { delete(c, "iss") }), nil), status: 401, desc: "wrong issuer"},
		{name: "wrong audience", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["aud"] = "other" }), nil), status: 401, desc: "wrong audience"},
		{name: "no audience", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { delete(c, "aud") }), nil), status: 401, desc: "wrong audience"},
		{name: "typ wrong", token: rsaA.Mint(t, valid, map[string]any{"typ": "dpop+jwt"}), status: 401, desc: "token type is not JWT or at+jwt"},
		{name: "typ not a string", token: rsaA.Mint(t, valid, map[string]any{"typ": 1}), status: 401, desc: "token type is not JWT or at+jwt"},
		{name: "crit header", token: rsaA.Mint(t, valid, map[string]any{"crit": []string{"exp"}}), status: 401, desc: "critical header parameters are not supported"},
		{name: "unknown kid", token: withKID(rsaB, "nope").Mint(t, valid, nil), status: 401, desc: "unknown signing key"},
		{name: "oversized", token: rsaA.Mint(t, with(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", MaxTokenBytes) }), nil), status: 401, desc: "token too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := rulesFor(allAlgs...)
			if tt.algs != nil {
				rules.Algorithms = tt.algs
			}
			// Twice: the second call may come from the cache.
			for range 2 {
				c, err := v.Validate([]byte(tt.token), idp, rules, now)
				if tt.status != 0 {
					wantErr(t, err, tt.status, tt.desc)
					if strings.Contains(err.Error(), tt.token) && tt.token != "" {
						t.Fatal("the error contains the token")
					}
					continue
				}
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if sub, _ := c.String("sub"); sub != "alice" {
					t.Errorf("sub = %q", sub)
				}
			}
		})
	}
}

// tamper changes the subject of a signed token, keeping the signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	claims, _ := jwt.NewParser().DecodeSegment(parts[1])
	claims = []byte(strings.Replace(string(claims), `"alice"`, `"mallory"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(claims)
	return strings.Join(parts, ".")
}

func TestClaims(t *testing.T) {
	t.Parallel()
	p, _, v := readyEnv(t, KeySetsOptions{})
	c := p.claimsAt(now)
	c["one"] = "x"
	c["mixed"] = []any{"a", 1, "b"}
	claims, err := v.Validate([]byte(rsaA.Mint(t, c, nil)), p.idp(), rulesFor("RS256"), now)
	if err != nil {
		t.Fatal(err)
	}
	each := func(name string) (out []string) {
		claims.EachString(name, func(s string) bool { out = append(out, s); return true })
		return out
	}
	for name, want := range map[string]string{"pol": "gold,silver", "one": "x", "mixed": "a,b", "absent": "", "exp": ""} {
		if got := strings.Join(each(name), ","); got != want {
			t.Errorf("EachString(%s) = %q, want %q", name, got, want)
		}
	}
	var first []string
	claims.EachString("pol", func(s string) bool { first = append(first, s); return false })
	if len(first) != 1 {
		t.Errorf("EachString went on after false: %v", first)
	}
	if _, ok := claims.String("pol"); ok {
		t.Error("String of a list claim reports ok")
	}
	for name, want := range map[string]string{"one": "x", "iss": p.idp().Issuer} {
		if got, ok := claims.String(name); !ok || got != want {
			t.Errorf("String(%s) = %q, %v, want %q", name, got, ok, want)
		}
	}
	if _, ok := claims.String("exp"); ok {
		t.Error("String of a number claim reports ok")
	}
	if !claims.Expiry().Equal(now.Add(time.Hour)) {
		t.Errorf("Expiry = %v", claims.Expiry())
	}
}

// TestCachedRecheck validates one token, then again under other rules and
// at other times: the cached result must still be checked against them.
func TestCachedRecheck(t *testing.T) {
	t.Parallel()
	p, _, v := readyEnv(t, KeySetsOptions{})
	idp := p.idp()
	tok := p.token(t, rsaA)
	first, err := v.Validate(tok, idp, rulesFor("RS256"), now)
	if err != nil {
		t.Fatal(err)
	}
	otherAud := rulesFor("RS256")
	otherAud.Audience = "billing"
	noAud := rulesFor("RS256")
	noAud.Audience = ""
	otherIssuer := *idp
	otherIssuer.Issuer = "https://elsewhere/"
	tests := []struct {
		name   string
		idp    *table.IdP
		rules  *table.JWTAuth
		at     time.Time
		status int
		desc   string
	}{
		{"same", idp, rulesFor("RS256"), now, 0, ""},
		{"no audience required", idp, noAud, now, 0, ""},
		{"just before exp + leeway", idp, rulesFor("RS256"), now.Add(time.Hour + 29*time.Second), 0, ""},
		{"alg no longer allowed", idp, rulesFor("ES256"), now, 401, "signing algorithm RS256 is not allowed"},
		{"other audience", idp, otherAud, now, 401, "wrong audience"},
		{"other issuer", &otherIssuer, rulesFor("RS256"), now, 401, "wrong issuer"},
		{"expired since", idp, rulesFor("RS256"), now.Add(time.Hour + 30*time.Second), 401, "token expired"},
		{"before nbf - leeway", idp, rulesFor("RS256"), now.Add(-31 * time.Second), 401, "token not valid yet (nbf)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Validate(tok, tt.idp, tt.rules, tt.at)
			if tt.status != 0 {
				wantErr(t, err, tt.status, tt.desc)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c != first {
				t.Error("not served from the cache")
			}
		})
	}
}

// TestCachedNoAllocs is not parallel: AllocsPerRun counts the whole
// process.
func TestCachedNoAllocs(t *testing.T) {
	p, _, v := readyEnv(t, KeySetsOptions{})
	idp, rules := p.idp(), rulesFor("RS256")
	tok := p.token(t, rsaA)
	if _, err := v.Validate(tok, idp, rules, now); err != nil {
		t.Fatal(err)
	}
	var pol string
	allocs := testing.AllocsPerRun(1000, func() {
		c, err := v.Validate(tok, idp, rules, now)
		if err != nil {
			t.Fatal(err)
		}
		c.EachString("pol", func(s string) bool { pol = s; return false })
	})
	if allocs != 0 {
		t.Errorf("%v allocs per cached Validate, want 0", allocs)
	}
	if pol != "gold" {
		t.Errorf("pol = %q", pol)
	}
}

func TestUnknownIdP(t *testing.T) {
	t.Parallel()
	p, _, v := readyEnv(t, KeySetsOptions{})
	other := p.idp()
	other.ID = "other"
	_, err := v.Validate(p.token(t, rsaA), other, rulesFor("RS256"), now)
	wantErr(t, err, http.StatusServiceUnavailable, "signing keys of identity provider other are not available yet")
}

func benchValidate(b *testing.B, sp *testidp.Key, cacheBytes int64) {
	p, k, _ := readyEnv(b, KeySetsOptions{})
	s := *sp // set by readyEnv
	v := NewValidator(k, cacheBytes)
	idp, rules := p.idp(), rulesFor(s.Alg)
	tok := []byte(s.Mint(b, p.claimsAt(now), nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(tok, idp, rules, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateCached is a repeat token: a cache hit.
func BenchmarkValidateCached(b *testing.B) { benchValidate(b, &rsaA, 0) }

// The cache-miss benchmarks parse and verify every time (cache disabled).
func BenchmarkValidateRS256(b *testing.B) { benchValidate(b, &rsaA, -1) }
func BenchmarkValidateES256(b *testing.B) { benchValidate(b, &ecA, -1) }
func BenchmarkValidateEdDSA(b *testing.B) { benchValidate(b, &edA, -1) }

func BenchmarkValidateCachedParallel(b *testing.B) {
	p, k, _ := readyEnv(b, KeySetsOptions{})
	v := NewValidator(k, 0)
	idp, rules := p.idp(), rulesFor("RS256")
	toks := make([][]byte, 100)
	for i := range toks {
		c := p.claimsAt(now)
		c["jti"] = i
		toks[i] = []byte(rsaA.Mint(b, c, nil))
	}
	b.ReportAllocs()
	b.ResetTimer() // minting takes longer than the Validate calls
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Validate(toks[i%len(toks)], idp, rules, now); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// TestKIDlessTokenTriesFewKeys: a token without a kid is checked against
// at most maxKIDlessKeys keys that fit its algorithm, in the set's order,
// so a forged one costs a few checks whatever the set holds.
func TestKIDlessTokenTriesFewKeys(t *testing.T) {
	t.Parallel()
	testKeys(t)
	withoutKID := func(k testidp.Key) json.RawMessage {
		var m map[string]any
		if err := json.Unmarshal(k.JWK(t, "RS256", "sig"), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "kid")
		b, _ := json.Marshal(m)
		return b
	}
	signer := rsaA
	signer.KID = ""
	for _, tt := range []struct {
		name string
		keys []testidp.Key
		desc string // "": valid
	}{
		{"the signer's key first", []testidp.Key{rsaA, rsaB, rsaX, rsaB, rsaX}, ""},
		{"the signer's key fourth", []testidp.Key{rsaB, rsaX, rsaB, rsaA, rsaX}, ""},
		{"the signer's key fifth", []testidp.Key{rsaB, rsaX, rsaB, rsaX, rsaA}, "no kid, and more than 4 keys for algorithm RS256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var jwks []json.RawMessage
			for _, k := range tt.keys {
				jwks = append(jwks, withoutKID(k))
			}
			p := newProvider(t, jwks...)
			v := NewValidator(readyKeys(t, KeySetsOptions{}, p.idp()), 0)
			_, err := v.Validate(p.token(t, signer), p.idp(), rulesFor("RS256"), now)
			if tt.desc == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, 401, tt.desc)
		})
	}
}
