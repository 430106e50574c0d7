package devidp

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestDiscovery(t *testing.T) {
	t.Parallel()
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

func TestKeyRotation(t *testing.T) {
	t.Parallel()
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
