package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IdP is the in-process identity provider of a run: an RSA and an EC key
// (fresh, or from the token cache — never from the repository) and a JWKS
// endpoint that serves their public halves. Tokens are minted locally;
// nothing talks to a real provider.
type IdP struct {
	Issuer  string
	JWKSURL string
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	srv     *http.Server
	cache   *tokenCache // nil: mint every pool afresh
}

// issuer is fixed, not the JWKS server's address, so that tokens cached
// from an earlier run stay valid; cuegate fetches keys from jwks_uri and
// only compares the issuer string.
const issuer = "https://bench-idp.invalid/"

const (
	rsaKID   = "bench-rs256"
	ecKID    = "bench-es256"
	audience = "cuegate-bench"
	// identityClaim and policyClaim are the claims the generated config
	// names; the policy claim carries the bench policy's ID.
	identityClaim = "client_id"
	policyClaim   = "pol"
)

// generateKeys returns a fresh RSA-2048 and P-256 key.
func generateKeys() (*rsa.PrivateKey, *ecdsa.PrivateKey, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return rk, ek, err
}

// StartIdP serves the JWKS and a discovery document on a loopback port.
// With a cache directory, keys and minted pools are kept there between runs
// (see tokenCache); with "", keys are fresh and every pool is minted.
func StartIdP(cacheDir string) (*IdP, error) {
	var (
		rk    *rsa.PrivateKey
		ek    *ecdsa.PrivateKey
		cache *tokenCache
		err   error
	)
	if cacheDir != "" {
		if cache, err = openTokenCache(cacheDir); err != nil {
			return nil, err
		}
		rk, ek = cache.rsa, cache.ec
	} else if rk, ek, err = generateKeys(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	p := &IdP{Issuer: issuer, JWKSURL: base + "/jwks.json", rsa: rk, ec: ek, cache: cache}
	jwks, err := json.Marshal(p.jwks())
	if err != nil {
		return nil, err
	}
	disc, err := json.Marshal(map[string]any{
		"issuer":                                p.Issuer,
		"jwks_uri":                              p.JWKSURL,
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(disc)
	})
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// Close stops the JWKS server.
func (p *IdP) Close() { p.srv.Close() }

func (p *IdP) jwks() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	pad := func(n *big.Int) string { return b64(n.FillBytes(make([]byte, 32))) }
	return map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": rsaKID,
			"n": b64(p.rsa.N.Bytes()), "e": b64(big.NewInt(int64(p.rsa.E)).Bytes())},
		{"kty": "EC", "use": "sig", "alg": "ES256", "kid": ecKID, "crv": "P-256",
			"x": pad(p.ec.X), "y": pad(p.ec.Y)},
	}}
}

// Mint returns one signed access token for identity, with alg "RS256" or
// "ES256". seq makes tokens of the same identity differ (jti).
func (p *IdP) Mint(alg, identity string, seq int, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iss":         p.Issuer,
		"sub":         identity,
		"aud":         audience,
		identityClaim: identity,
		policyClaim:   benchPolicy,
		"iat":         now.Unix(),
		"nbf":         now.Unix(),
		"exp":         now.Add(tokenLifetime).Unix(),
		"jti":         fmt.Sprintf("%s-%d", identity, seq),
		"scope":       "bench",
	}
	var (
		m   jwt.SigningMethod
		key crypto.Signer
		kid string
	)
	switch alg {
	case "RS256":
		m, key, kid = jwt.SigningMethodRS256, p.rsa, rsaKID
	case "ES256":
		m, key, kid = jwt.SigningMethodES256, p.ec, ecKID
	default:
		return "", fmt.Errorf("mint: unknown algorithm %q", alg)
	}
	t := jwt.NewWithClaims(m, claims)
	t.Header["kid"] = kid
	return t.SignedString(key)
}

// MintPool returns n tokens for identities identities (token i belongs to
// identity i mod identities), each as the ready header value "Bearer
// <token>": from the cache when it holds such a pool, else minted on every
// core (and then cached).
func (p *IdP) MintPool(alg string, identities, n int) ([][]byte, error) {
	if p.cache != nil {
		if pool := p.cache.pool(alg, identities, n); pool != nil {
			return pool, nil
		}
	}
	out, err := p.mintPool(alg, identities, n)
	if err == nil && p.cache != nil {
		err = p.cache.store(alg, identities, out)
	}
	return out, err
}

func (p *IdP) mintPool(alg string, identities, n int) ([][]byte, error) {
	out := make([][]byte, n)
	now := time.Now()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				tok, err := p.Mint(alg, fmt.Sprintf("client-%05d", i%identities), i/identities, now)
				if err != nil {
					once.Do(func() { first = err })
					return
				}
				out[i] = []byte("Bearer " + tok)
			}
		})
	}
	wg.Wait()
	return out, first
}
