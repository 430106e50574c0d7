package devidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testIAT = "initial-access-token"

// newTest starts a provider on an httptest server with a fixed clock.
func newTest(t *testing.T, opts Options) (*Provider, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	if opts.Issuer == "" {
		opts.Issuer = srv.URL
	}
	if opts.InitialAccessToken == "" {
		opts.InitialAccessToken = testIAT
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	return p, srv
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, method, u string, hdr map[string]string, body string) resp {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header}
	if len(b) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, u, b, err)
		}
	}
	return r
}

func jsonHdr(bearer string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if bearer != "" {
		h["Authorization"] = "Bearer " + bearer
	}
	return h
}

// register registers a client with md and fails the test unless it is 201.
func register(t *testing.T, p *Provider, md string) map[string]any {
	t.Helper()
	r := do(t, "POST", p.RegistrationURL(), jsonHdr(testIAT), md)
	if r.status != http.StatusCreated {
		t.Fatalf("register %s: status %d %v", md, r.status, r.body)
	}
	return r.body
}

func form(v url.Values) string { return v.Encode() }

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// verify checks tok against the provider's published JWKS (not its private
// keys) and returns the claims.
func verify(t *testing.T, p *Provider, tok string, now time.Time) jwt.MapClaims {
	t.Helper()
	keys := fetchJWKS(t, p)
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		kid, _ := tk.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"RS256", "ES256"}), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithIssuer(p.Issuer()))
	if err != nil {
		t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	if typ := parsed.Header["typ"]; typ != "at+jwt" && typ != "JWT" {
		t.Errorf("typ = %v", typ)
	}
	return claims
}

func fetchJWKS(t *testing.T, p *Provider) map[string]any {
	t.Helper()
	res, err := http.Get(p.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	dec := func(s string) *big.Int {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWK member %q: %v", s, err)
		}
		return new(big.Int).SetBytes(b)
	}
	for _, k := range set.Keys {
		if k["use"] != "sig" || k["kid"] == "" || k["alg"] == "" {
			t.Errorf("JWK %v lacks use, kid or alg", k)
		}
		switch k["kty"] {
		case "RSA":
			out[k["kid"]] = &rsa.PublicKey{N: dec(k["n"]), E: int(dec(k["e"]).Int64())}
		case "EC":
			pt := append([]byte{4}, append(dec(k["x"]).FillBytes(make([]byte, 32)), dec(k["y"]).FillBytes(make([]byte, 32))...)...)
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
			if err != nil {
				t.Fatalf("JWK %v: %v", k, err)
			}
			out[k["kid"]] = pub
		default:
			t.Errorf("JWK kty %q", k["kty"])
		}
	}
	return out
}
