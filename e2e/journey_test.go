package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJourney walks the developer's journey against Ory Hydra, then the
// operational cases: key rotation, rate limit, hot swap, deletion and a
// policy chosen by a token hook's pol claim.
func TestJourney(t *testing.T) {
	j := startJourney(t)
	tokenURL := j.hydra.PublicURL + "/oauth2/token"
	j.portal.signUp(t, "dev@example.com", "correct horse battery staple")

	// Steps 5-7 of the guide: the wizard, the token, the call.
	a := j.portal.createClient(t, "echo", "journey app")
	if a.TokenEndpoint != tokenURL || a.Policy != "basic" {
		t.Errorf("created client shows token_endpoint %q policy %q, want %q and basic", a.TokenEndpoint, a.Policy, tokenURL)
	}
	if st, b := j.portal.do(t, "GET", "/clients", nil, nil); st != http.StatusOK || !strings.Contains(string(b), a.ClientID) {
		t.Errorf("GET /clients: %d %s", st, b)
	}
	tokA := clientCredentials(t, tokenURL, a.ClientID, a.ClientSecret)
	if got := jwtPart(t, tokA, 1)["client_id"]; got != a.ClientID {
		t.Fatalf("Hydra's token for %s carries client_id %v", a.ClientID, got)
	}

	t.Run("call", func(t *testing.T) {
		r := call(t, "GET", j.gw.URL+"/echo/hello?x=1", tokA)
		if r.Status != http.StatusOK {
			t.Fatalf("gateway: %d %s", r.Status, r.Body)
		}
		var echoed map[string]any
		json.Unmarshal([]byte(r.Body), &echoed)
		if echoed["path"] != "/hello" || echoed["query"] != "x=1" {
			t.Errorf("upstream saw %v, want path /hello and query x=1", echoed)
		}
		eventually(t, "an access log line with the identity", func() string {
			for _, line := range strings.Split(j.gw.Log.String(), "\n") {
				if strings.Contains(line, a.ClientID) && strings.Contains(line, "/echo/hello") {
					return ""
				}
			}
			return "no log line names " + a.ClientID + " and /echo/hello"
		})
		if strings.Contains(j.gw.Log.String(), tokA) || strings.Contains(j.gw.Log.String(), a.ClientSecret) {
			t.Errorf("the log contains a token or a client secret")
		}
	})

	t.Run("unauthenticated", func(t *testing.T) {
		r := call(t, "GET", j.gw.URL+"/echo/hello", "")
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("no token: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
		}
		r = call(t, "GET", j.gw.URL+"/echo/hello", tokA[:len(tokA)-4]+"AAAA")
		if r.Status != http.StatusUnauthorized {
			t.Errorf("tampered token: %d %s", r.Status, r.Body)
		}
	})

	t.Run("key rotation", func(t *testing.T) {
		// Hydra orders keys by creation time with one-second precision:
		// let a second pass since its first key was made.
		time.Sleep(1100 * time.Millisecond)
		if err := j.hydra.AddKey(context.Background(), "ES256", "e2e-es256"); err != nil {
			t.Fatal(err)
		}
		b := j.portal.createClient(t, "echo", "rotation app")
		tok := clientCredentials(t, tokenURL, b.ClientID, b.ClientSecret)
		if hdr := jwtPart(t, tok, 0); hdr["kid"] != "e2e-es256" || hdr["alg"] != "ES256" {
			t.Fatalf("after the rotation Hydra signs with %v", hdr)
		}
		// The gateway refetches the JWKS on an unknown kid, at most once
		// per few seconds: a fetch just before the rotation
		// may delay acceptance by that long, never more.
		start, tries := time.Now(), 0
		eventually(t, "a token signed with the new key is accepted", func() string {
			tries++
			if r := call(t, "GET", j.gw.URL+"/echo/rotated", tok); r.Status != http.StatusOK {
				return fmt.Sprintf("%d %s", r.Status, r.Body)
			}
			return ""
		})
		t.Logf("a token with the new kid was accepted on try %d, %s after the first, without a restart", tries, time.Since(start).Round(time.Millisecond))
	})

	t.Run("rate limit", func(t *testing.T) {
		c := j.portal.createClient(t, "echo", "busy app")
		tok := clientCredentials(t, tokenURL, c.ClientID, c.ClientSecret)
		for i := 1; ; i++ {
			r := call(t, "GET", j.gw.URL+"/echo/busy", tok)
			if r.Status == http.StatusTooManyRequests {
				if r.Header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				t.Logf("429 after %d calls: %s", i, r.Body)
				return
			}
			if r.Status != http.StatusOK {
				t.Fatalf("call %d: %d %s", i, r.Status, r.Body)
			}
			if i == 50 {
				t.Fatalf("50 calls without a 429 under a 5 per 10s policy")
			}
		}
	})

	t.Run("hot swap", func(t *testing.T) {
		if r := call(t, "GET", j.gw.URL+"/hot/x", ""); r.Status != http.StatusNotFound {
			t.Fatalf("before the change /hot/x: %d %s", r.Status, r.Body)
		}
		if err := os.WriteFile(filepath.Join(j.gw.ConfigDir, "hot.cue"), fmt.Appendf(nil, hotConfig, j.echo), 0o644); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the hot-swapped API answers", func() string {
			if r := call(t, "GET", j.gw.URL+"/hot/x", ""); r.Status != http.StatusOK {
				return fmt.Sprintf("/hot/x: %d %s", r.Status, r.Body)
			}
			return ""
		})
		// The swap kept the portal client's binding and the JWT API.
		d := j.portal.createClient(t, "echo", "after swap")
		if r := call(t, "GET", j.gw.URL+"/echo/after", clientCredentials(t, tokenURL, d.ClientID, d.ClientSecret)); r.Status != http.StatusOK {
			t.Errorf("after the swap: %d %s", r.Status, r.Body)
		}
	})

	t.Run("delete", func(t *testing.T) {
		e := j.portal.createClient(t, "echo", "doomed app")
		tok := clientCredentials(t, tokenURL, e.ClientID, e.ClientSecret)
		if r := call(t, "GET", j.gw.URL+"/echo/x", tok); r.Status != http.StatusOK {
			t.Fatalf("before delete: %d %s", r.Status, r.Body)
		}
		if st, b := j.portal.do(t, "DELETE", "/clients/"+e.ClientID, nil, nil); st != http.StatusNoContent && st != http.StatusOK {
			t.Fatalf("portal delete: %d %s", st, b)
		}
		res, err := http.Get(j.hydra.AdminURL + "/admin/clients/" + e.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("Hydra still has the deleted client: admin GET %s", res.Status)
		}
		if r := call(t, "GET", j.gw.URL+"/echo/x", tok); r.Status != http.StatusForbidden {
			t.Errorf("the deleted client's unexpired token: %d %s, want 403", r.Status, r.Body)
		}
		if st, _ := j.portal.do(t, "GET", "/clients/"+e.ClientID, nil, nil); st != http.StatusNotFound {
			t.Errorf("portal GET of the deleted client: %d, want 404", st)
		}
	})

	t.Run("provider refusal", func(t *testing.T) {
		var before []map[string]any
		j.portal.do(t, "GET", "/clients", nil, &before)
		st, b := j.portal.do(t, "POST", "/clients", map[string]any{"catalogue": []string{"echo_pkjwt"}, "client_name": "refused app", "redirect_uris": []string{}}, nil)
		var e struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		json.Unmarshal(b, &e)
		if st != http.StatusBadRequest || e.Error != "invalid_client_metadata" || !strings.Contains(e.ErrorDescription, "jwks") {
			t.Errorf("a registration Hydra refuses: %d %s; want 400 with Hydra's invalid_client_metadata and its description", st, b)
		}
		var after []map[string]any
		j.portal.do(t, "GET", "/clients", nil, &after)
		if len(after) != len(before) {
			t.Errorf("a refused registration changed the client list from %d to %d entries", len(before), len(after))
		}
	})

	t.Run("pol claim", func(t *testing.T) {
		// A client registered at Hydra directly, not through the portal.
		c := hydraRegister(t, j.hydra.PublicURL+"/oauth2/register", "outside app")
		id, secret := c["client_id"].(string), c["client_secret"].(string)
		tok := clientCredentials(t, tokenURL, id, secret)
		if r := call(t, "GET", j.gw.URL+"/premium/x", tok); r.Status != http.StatusForbidden {
			t.Errorf("no pol, no default policy: %d %s, want 403", r.Status, r.Body)
		}
		j.hook.set(id, "gold")
		tok = clientCredentials(t, tokenURL, id, secret)
		if got := jwtPart(t, tok, 1)["pol"]; got != "gold" {
			t.Fatalf("the token hook did not add pol: %v", got)
		}
		if r := call(t, "GET", j.gw.URL+"/premium/x", tok); r.Status != http.StatusOK {
			t.Errorf("pol gold grants the premium API: %d %s", r.Status, r.Body)
		}
		// A portal client's binding wins over the claim.
		j.hook.set(a.ClientID, "gold")
		tokA := clientCredentials(t, tokenURL, a.ClientID, a.ClientSecret)
		if r := call(t, "GET", j.gw.URL+"/premium/x", tokA); r.Status != http.StatusForbidden {
			t.Errorf("a portal client with pol gold reached the premium API: %d %s; its bound policy is basic", r.Status, r.Body)
		}
	})

	t.Run("API reference", func(t *testing.T) {
		res, err := http.Get(j.gw.PortalURL + "/catalogue/echo")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if page := string(b); res.StatusCode != http.StatusOK || !strings.Contains(page, "Echo a GET") ||
			!strings.Contains(page, j.gw.URL+"/echo/{path}") || !strings.Contains(page, "method: string, required") {
			t.Errorf("the API's page: %d\n%s", res.StatusCode, page)
		}
		var doc map[string]any
		if st, b := j.portal.do(t, "GET", "/catalogue/echo/openapi", nil, &doc); st != http.StatusOK || doc["openapi"] != "3.1.0" {
			t.Errorf("the OpenAPI document: %d %s", st, b)
		}
	})

	t.Run("usage", func(t *testing.T) {
		c := j.portal.createClient(t, "echo", "counted app")
		tok := clientCredentials(t, tokenURL, c.ClientID, c.ClientSecret)
		const calls = 3
		for range calls {
			if r := call(t, "GET", j.gw.URL+"/echo/count", tok); r.Status != http.StatusOK {
				t.Fatalf("call: %d %s", r.Status, r.Body)
			}
		}
		var v struct {
			Usage struct {
				Rate struct {
					Used, Limit int64
					ResetsIn    int64 `json:"resets_in"`
				} `json:"rate"`
				Quota struct {
					Used, Max int64
					ResetsAt  *time.Time `json:"resets_at"`
				} `json:"quota"`
			} `json:"usage"`
		}
		j.portal.do(t, "GET", "/clients/"+c.ClientID, nil, &v)
		if u := v.Usage; u.Rate.Used != calls || u.Rate.Limit != 5 || u.Rate.ResetsIn <= 0 || u.Quota.Used != calls || u.Quota.Max != 1000 || u.Quota.ResetsAt == nil {
			t.Errorf("usage after %d calls = %+v", calls, u)
		}
	})

	t.Run("rename at the provider", func(t *testing.T) {
		c := j.portal.createClient(t, "echo", "old name")
		hydraName := func() string {
			res, err := http.Get(j.hydra.AdminURL + "/admin/clients/" + c.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var hc struct {
				Name         string   `json:"client_name"`
				RedirectURIs []string `json:"redirect_uris"`
			}
			json.NewDecoder(res.Body).Decode(&hc)
			return hc.Name + " " + strings.Join(hc.RedirectURIs, ",")
		}
		// Twice: Hydra rotates the registration access token on each
		// update, so the second works only if the first kept it.
		for _, name := range []string{"new name", "newer name"} {
			if st, b := j.portal.do(t, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": name, "redirect_uris": []string{"https://app.example/cb"}}, nil); st != http.StatusOK {
				t.Fatalf("PATCH: %d %s", st, b)
			}
			if got := hydraName(); got != name+" https://app.example/cb" {
				t.Errorf("Hydra has %q after the rename to %q", got, name)
			}
		}
		if r := call(t, "GET", j.gw.URL+"/echo/renamed", clientCredentials(t, tokenURL, c.ClientID, c.ClientSecret)); r.Status != http.StatusOK {
			t.Errorf("the renamed client's call: %d %s", r.Status, r.Body)
		}
		// Hydra keeps the secret on update: no rotation.
		if st, b := j.portal.do(t, "PATCH", "/clients/"+c.ClientID, map[string]any{"rotate_secret": true}, nil); st != http.StatusConflict || !strings.Contains(string(b), "unsupported") {
			t.Errorf("secret rotation at Hydra: %d %s", st, b)
		}
		// Hydra refuses a redirect URI with a fragment; nothing changes.
		var e struct{ Error, ErrorDescription string }
		st, b := j.portal.do(t, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "refused", "redirect_uris": []string{"https://app.example/cb#frag"}}, nil)
		json.Unmarshal(b, &e)
		if st < 400 || hydraName() != "newer name https://app.example/cb" {
			t.Errorf("a refused update: %d %s; Hydra has %q", st, b, hydraName())
		}
		var v struct {
			Name           string `json:"client_name"`
			ProviderStatus string `json:"provider_status"`
		}
		if j.portal.do(t, "GET", "/clients/"+c.ClientID, nil, &v); v.Name != "newer name" || v.ProviderStatus != "" {
			t.Errorf("the portal shows %+v", v)
		}
		// A client deleted at Hydra behind the portal's back: Hydra
		// answers 401 for an unknown client (RFC 7592 §2), which the
		// portal cannot tell from a refused token.
		req, _ := http.NewRequest("DELETE", j.hydra.AdminURL+"/admin/clients/"+c.ClientID, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		// The portal asks the provider again once its last answer is 10 s old.
		eventually(t, "the portal to see the client Hydra forgot", func() string {
			if j.portal.do(t, "GET", "/clients/"+c.ClientID, nil, &v); v.ProviderStatus != "registration_token_refused" {
				return fmt.Sprintf("provider_status %q", v.ProviderStatus)
			}
			return ""
		})
		if st, b := j.portal.do(t, "DELETE", "/clients/"+c.ClientID, nil, nil); st >= 300 {
			t.Errorf("removing it: %d %s", st, b)
		}
	})

	t.Run("restart", func(t *testing.T) {
		// The state file carries the developer and the bindings across a
		// restart: the old token still works, still under its policy.
		j.gw = j.gw.restart(t)
		if r := call(t, "GET", j.gw.URL+"/echo/again", tokA); r.Status != http.StatusOK {
			t.Errorf("after a restart the portal client's token: %d %s", r.Status, r.Body)
		}
		if r := call(t, "GET", j.gw.URL+"/premium/x", tokA); r.Status != http.StatusForbidden {
			t.Errorf("after a restart the portal client reached the premium API: %d %s; its binding is basic", r.Status, r.Body)
		}
		p := newPortalClient(t, j.gw.PortalURL)
		cred := map[string]string{"email": "dev@example.com", "password": "correct horse battery staple"}
		if st, b := p.do(t, "POST", "/login", cred, nil); st >= 300 {
			t.Fatalf("log in after a restart: %d %s", st, b)
		}
		if st, b := p.do(t, "GET", "/clients/"+a.ClientID, nil, nil); st != http.StatusOK {
			t.Errorf("the developer's client after a restart: %d %s", st, b)
		}
	})
}
