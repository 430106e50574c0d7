package devidp

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/url"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	t.Parallel()
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
	// The scope: the one asked for, else the one the client registered.
	for asked, want := range map[string]string{"": "read write", "read": "read"} {
		r := do(t, "POST", p.TokenURL(), formHdr, with("client_id", pid, "client_secret", psec, "scope", asked))
		if got := verify(t, p, r.body["access_token"].(string), now)["scope"]; got != want || r.body["scope"] != want {
			t.Errorf("scope %q asked: token scope %v, response scope %v, want %q", asked, got, r.body["scope"], want)
		}
	}
}

func TestPolicyAndAudienceClaims(t *testing.T) {
	t.Parallel()
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
