package devidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math/big"
	"net"
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

func TestDiscovery(t *testing.T) {
	p, srv := newTest(t, Options{})
	r := do(t, "GET", srv.URL+DiscoveryPath, nil, "")
	want := map[string]string{
		"issuer":                srv.URL,
		"jwks_uri":              srv.URL + "/jwks",
		"token_endpoint":        srv.URL + "/token",
		"registration_endpoint": srv.URL + "/register",
	}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("discovery %s = %v, want %s", k, r.body[k], v)
		}
	}
	if p.Issuer() != srv.URL {
		t.Errorf("Issuer() = %q", p.Issuer())
	}
}

func TestIssuerWithPath(t *testing.T) {
	srv := httptest.NewServer(nil)
	defer srv.Close()
	p, err := New(Options{Issuer: srv.URL + "/idp/", InitialAccessToken: testIAT})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	r := do(t, "GET", srv.URL+"/idp/.well-known/openid-configuration", nil, "")
	if r.status != 200 || r.body["issuer"] != srv.URL+"/idp/" || r.body["jwks_uri"] != srv.URL+"/idp/jwks" {
		t.Fatalf("discovery under a path: %d %v", r.status, r.body)
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no issuer", Options{InitialAccessToken: "x"}, "Issuer is required"},
		{"relative issuer", Options{Issuer: "/x", InitialAccessToken: "x"}, "not an absolute"},
		{"issuer with query", Options{Issuer: "http://h/?a=b", InitialAccessToken: "x"}, "not an absolute"},
		{"no initial access token", Options{Issuer: "http://h"}, "InitialAccessToken is required"},
		{"bad typ", Options{Issuer: "http://h", InitialAccessToken: "x", TokenType: "jwt"}, "token type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	p, _ := newTest(t, Options{})
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		code   string
	}{
		{"ok", jsonHdr(testIAT), `{"client_name":"app","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_post","response_types":["token"]}`, 201, ""},
		{"defaults", jsonHdr(testIAT), `{}`, 201, ""},
		{"lower-case bearer", map[string]string{"Content-Type": "application/json", "Authorization": "bearer " + testIAT}, `{}`, 201, ""},
		{"no token", jsonHdr(""), `{}`, 401, "invalid_token"},
		{"wrong token", jsonHdr("nope"), `{}`, 401, "invalid_token"},
		{"basic instead of bearer", map[string]string{"Content-Type": "application/json", "Authorization": "Basic " + testIAT}, `{}`, 401, "invalid_token"},
		{"not json", map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + testIAT}, `{}`, 400, "invalid_client_metadata"},
		{"broken json", jsonHdr(testIAT), `{`, 400, "invalid_client_metadata"},
		{"wrong type", jsonHdr(testIAT), `{"grant_types":"client_credentials"}`, 400, "invalid_client_metadata"},
		{"client_secret sent", jsonHdr(testIAT), `{"client_secret":"mine"}`, 400, "invalid_client_metadata"},
		{"no client_credentials", jsonHdr(testIAT), `{"grant_types":["authorization_code"]}`, 400, "invalid_client_metadata"},
		{"auth method", jsonHdr(testIAT), `{"token_endpoint_auth_method":"private_key_jwt"}`, 400, "invalid_client_metadata"},
		{"bad redirect", jsonHdr(testIAT), `{"redirect_uris":["/relative"]}`, 400, "invalid_redirect_uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.ClientCount()
			r := do(t, "POST", p.RegistrationURL(), tc.hdr, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %v", r.status, tc.status, r.body)
			}
			if tc.status != 201 {
				if r.body["error"] != tc.code || r.body["error_description"] == "" {
					t.Errorf("error %v, want %s with a description", r.body, tc.code)
				}
				if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
					t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
				if p.ClientCount() != before {
					t.Errorf("a refused registration left a client behind")
				}
				return
			}
			id, _ := r.body["client_id"].(string)
			for _, f := range []string{"client_id", "client_secret", "registration_access_token"} {
				if s, _ := r.body[f].(string); s == "" {
					t.Errorf("%s missing: %v", f, r.body)
				}
			}
			if r.body["registration_client_uri"] != p.RegistrationURL()+"/"+id || r.header.Get("Location") != p.RegistrationURL()+"/"+id {
				t.Errorf("registration_client_uri %v, Location %q", r.body["registration_client_uri"], r.header.Get("Location"))
			}
			if r.body["client_secret_expires_at"] != float64(0) {
				t.Errorf("client_secret_expires_at = %v, want 0", r.body["client_secret_expires_at"])
			}
			if _, ok := r.body["client_id_issued_at"].(float64); !ok {
				t.Errorf("client_id_issued_at = %v", r.body["client_id_issued_at"])
			}
			if tc.name == "defaults" && (r.body["token_endpoint_auth_method"] != "client_secret_basic" || r.body["grant_types"].([]any)[0] != "client_credentials") {
				t.Errorf("defaults not filled in: %v", r.body)
			}
			if !p.HasClient(id) {
				t.Errorf("client %s not stored", id)
			}
		})
	}
}

func TestRegistrationManagement(t *testing.T) {
	p, _ := newTest(t, Options{})
	c := register(t, p, `{"client_name":"app"}`)
	other := register(t, p, `{"client_name":"other"}`)
	uri := c["registration_client_uri"].(string)
	rat := c["registration_access_token"].(string)

	for _, tc := range []struct {
		name, method, uri, bearer string
		status                    int
	}{
		{"read without token", "GET", uri, "", 401},
		{"read with the initial token", "GET", uri, testIAT, 401},
		{"read with another client's token", "GET", uri, other["registration_access_token"].(string), 401},
		{"read", "GET", uri, rat, 200},
		{"delete with wrong token", "DELETE", uri, "nope", 401},
		{"delete unknown client", "DELETE", p.RegistrationURL() + "/nope", rat, 401},
		{"update is not offered", "PUT", uri, rat, 405},
		{"delete", "DELETE", uri, rat, 204},
		{"read after delete", "GET", uri, rat, 401},
		{"delete again", "DELETE", uri, rat, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, tc.uri, jsonHdr(tc.bearer), "")
			if r.status != tc.status {
				t.Fatalf("%s %s: %d, want %d (%v)", tc.method, tc.uri, r.status, tc.status, r.body)
			}
			if tc.status == 401 && r.body["error"] != "invalid_token" {
				t.Errorf("error = %v", r.body)
			}
			if tc.status == 200 && r.body["client_id"] != c["client_id"] {
				t.Errorf("read %v", r.body)
			}
		})
	}
	if !p.HasClient(other["client_id"].(string)) || p.ClientCount() != 1 {
		t.Errorf("delete removed the wrong clients: %d left", p.ClientCount())
	}
}

func form(v url.Values) string { return v.Encode() }

func TestToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p, _ := newTest(t, Options{Now: func() time.Time { return now }, TokenTTL: 10 * time.Minute})
	post := register(t, p, `{"token_endpoint_auth_method":"client_secret_post","scope":"read write"}`)
	basic := register(t, p, `{"token_endpoint_auth_method":"client_secret_basic"}`)
	pid, psec := post["client_id"].(string), post["client_secret"].(string)
	bid, bsec := basic["client_id"].(string), basic["client_secret"].(string)
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	basicHdr := func(id, secret string) map[string]string {
		return map[string]string{
			"Content-Type":  "application/x-www-form-urlencoded",
			"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))),
		}
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(kv ...string) string {
		v := maps.Clone(cc)
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return form(v)
	}
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		code   string
		sub    string
	}{
		{"post", formHdr, with("client_id", pid, "client_secret", psec), 200, "", pid},
		{"post with scope", formHdr, with("client_id", pid, "client_secret", psec, "scope", "read"), 200, "", pid},
		{"basic", basicHdr(bid, bsec), form(cc), 200, "", bid},
		{"post wrong secret", formHdr, with("client_id", pid, "client_secret", "x"), 401, "invalid_client", ""},
		{"post unknown client", formHdr, with("client_id", "nobody", "client_secret", psec), 401, "invalid_client", ""},
		{"basic wrong secret", basicHdr(bid, "x"), form(cc), 401, "invalid_client", ""},
		{"no credentials", formHdr, form(cc), 401, "invalid_client", ""},
		{"post client uses basic", basicHdr(pid, psec), form(cc), 401, "invalid_client", ""},
		{"basic client uses post", formHdr, with("client_id", bid, "client_secret", bsec), 401, "invalid_client", ""},
		{"both methods", basicHdr(bid, bsec), with("client_id", bid, "client_secret", bsec), 400, "invalid_request", ""},
		{"wrong grant", formHdr, form(url.Values{"grant_type": {"password"}, "client_id": {pid}, "client_secret": {psec}}), 400, "unsupported_grant_type", ""},
		{"unregistered scope", formHdr, with("client_id", pid, "client_secret", psec, "scope", "admin"), 400, "invalid_scope", ""},
		{"json body", map[string]string{"Content-Type": "application/json"}, `{}`, 400, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", p.TokenURL(), tc.hdr, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %v", r.status, tc.status, r.body)
			}
			if tc.status != 200 {
				if r.body["error"] != tc.code {
					t.Errorf("error %v, want %s", r.body, tc.code)
				}
				if _, hasToken := r.body["access_token"]; hasToken {
					t.Errorf("an error carried a token")
				}
				return
			}
			if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(600) {
				t.Errorf("token response %v", r.body)
			}
			claims := verify(t, p, r.body["access_token"].(string), now)
			if claims["sub"] != tc.sub || claims["client_id"] != tc.sub || claims["iss"] != p.Issuer() {
				t.Errorf("claims %v", claims)
			}
			if claims["exp"] != float64(now.Add(10*time.Minute).Unix()) || claims["iat"] != float64(now.Unix()) || claims["nbf"] != float64(now.Unix()) {
				t.Errorf("times %v", claims)
			}
			if s, _ := claims["jti"].(string); s == "" {
				t.Errorf("no jti: %v", claims)
			}
			if _, ok := claims["pol"]; ok {
				t.Errorf("pol without a policy: %v", claims)
			}
		})
	}
}

func TestPolicyAndAudienceClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name, defPol, md, audience string
		wantPol                    any
		wantAud                    any
	}{
		{"none", "", `{}`, "", nil, nil},
		{"provider default", "bronze", `{}`, "", "bronze", nil},
		{"registered wins", "bronze", `{"pol":"gold"}`, "", "gold", nil},
		{"registered only", "", `{"pol":"gold"}`, "", "gold", nil},
		{"audience", "", `{}`, "echo other", nil, []any{"echo", "other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newTest(t, Options{DefaultPolicy: tc.defPol, Now: func() time.Time { return now }, TokenType: "JWT"})
			c := register(t, p, tc.md)
			v := url.Values{"grant_type": {"client_credentials"}}
			if tc.audience != "" {
				v.Set("audience", tc.audience)
			}
			r := do(t, "POST", p.TokenURL(), map[string]string{
				"Content-Type":  "application/x-www-form-urlencoded",
				"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(c["client_id"].(string)+":"+c["client_secret"].(string))),
			}, v.Encode())
			claims := verify(t, p, r.body["access_token"].(string), now)
			if got := claims["pol"]; got != tc.wantPol {
				t.Errorf("pol = %v, want %v", got, tc.wantPol)
			}
			if got, _ := json.Marshal(claims["aud"]); string(got) != mustJSON(tc.wantAud) {
				t.Errorf("aud = %s, want %s", got, mustJSON(tc.wantAud))
			}
		})
	}
}

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

func TestKeyRotation(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p, _ := newTest(t, Options{Now: func() time.Time { return now }})
	first := p.SigningKID()
	old, err := p.Sign(map[string]any{"iss": p.Issuer(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"ES256", "RS256"} {
		kid, err := p.RotateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		if kid == first || p.SigningKID() != kid {
			t.Fatalf("after RotateKey(%s): signing kid %q, returned %q, first %q", alg, p.SigningKID(), kid, first)
		}
		c := register(t, p, `{"token_endpoint_auth_method":"client_secret_post"}`)
		r := do(t, "POST", p.TokenURL(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			url.Values{"grant_type": {"client_credentials"}, "client_id": {c["client_id"].(string)}, "client_secret": {c["client_secret"].(string)}}.Encode())
		tok := r.body["access_token"].(string)
		verify(t, p, tok, now)
		hdr, _, _ := strings.Cut(tok, ".")
		b, _ := base64.RawURLEncoding.DecodeString(hdr)
		var h map[string]string
		json.Unmarshal(b, &h)
		if h["kid"] != kid || h["alg"] != alg {
			t.Errorf("header %v, want kid %s alg %s", h, kid, alg)
		}
	}
	verify(t, p, old, now) // the first key is still published
	if err := p.RetireKey(first); err != nil {
		t.Fatal(err)
	}
	if _, ok := fetchJWKS(t, p)[first]; ok {
		t.Errorf("retired key %s still published", first)
	}
	if len(fetchJWKS(t, p)) != 2 {
		t.Errorf("JWKS has %d keys, want 2", len(fetchJWKS(t, p)))
	}
	if err := p.RetireKey(p.SigningKID()); err == nil {
		t.Errorf("retiring the signing key succeeded")
	}
	if err := p.RetireKey("nope"); err == nil {
		t.Errorf("retiring an unknown key succeeded")
	}
	if _, err := p.RotateKey("HS256"); err == nil {
		t.Errorf("RotateKey(HS256) succeeded")
	}
}

func TestListen(t *testing.T) {
	p, err := Listen("127.0.0.1:0", Options{InitialAccessToken: testIAT})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") {
		t.Fatalf("issuer %q", p.Issuer())
	}
	r := do(t, "GET", p.DiscoveryURL(), nil, "")
	if r.status != 200 || r.body["issuer"] != p.Issuer() {
		t.Fatalf("discovery %d %v", r.status, r.body)
	}
	// A busy port is an error that names the address.
	addr := strings.TrimPrefix(p.Issuer(), "http://")
	_, err = Listen(addr, Options{InitialAccessToken: testIAT})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Listen on a busy port: %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v does not wrap the listen error", err)
	}
}
