package portal

import (
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testidp"
)

// TestPatchRenamesAtTheProvider: a rename and new redirect URIs go to
// the provider as an RFC 7592 update of the full metadata with the
// stored registration access token; the token it rotates is kept, and
// the provider reads the new name back.
func TestPatchRenamesAtTheProvider(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	var got clientView
	resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "renamed", "redirect_uris": "https://app.example/cb"}, &got)
	if resp.StatusCode != http.StatusOK || got.ClientName != "renamed" || !slices.Equal(got.RedirectURIs, []string{"https://app.example/cb"}) || got.ClientSecret != c.ClientSecret {
		t.Fatalf("PATCH: %d %+v", resp.StatusCode, got)
	}
	reqs := e.requests()
	want := `PUT /register/client-1 Bearer rat-1 {"client_id":"client-1","client_name":"renamed","grant_types":["client_credentials"],` +
		`"redirect_uris":["https://app.example/cb"],"response_types":["token"],"token_endpoint_auth_method":"client_secret_post"}`
	if reqs[len(reqs)-1] != want {
		t.Errorf("last provider request =\n%s\nwant\n%s", reqs[len(reqs)-1], want)
	}
	st, _ := e.store.Client(c.ClientID)
	if st.ClientName != "renamed" || st.RegistrationAccessToken != "rat-client-1-1" {
		t.Errorf("stored %+v, want the new name and the rotated registration access token", st)
	}
	var aerr apiError
	if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{}, &aerr); resp.StatusCode != http.StatusBadRequest || !strings.Contains(aerr.Description, "nothing to change") {
		t.Errorf("empty PATCH: %d %+v", resp.StatusCode, aerr)
	}
	if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"redirect_uris": nil}, &aerr); resp.StatusCode != http.StatusBadRequest || !strings.Contains(aerr.Description, "nothing to change") {
		t.Errorf("PATCH of null redirect_uris: %d %+v, want them not given", resp.StatusCode, aerr)
	}
	// The next change uses the rotated token; null redirect_uris are
	// not given, so they stay.
	e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "again", "redirect_uris": nil}, nil)
	if st, _ := e.store.Client(c.ClientID); !slices.Equal(st.RedirectURIs, []string{"https://app.example/cb"}) {
		t.Errorf("redirect URIs after a null = %q", st.RedirectURIs)
	}
	if reqs := e.requests(); !strings.HasPrefix(reqs[len(reqs)-1], "PUT /register/client-1 Bearer rat-client-1-1 ") {
		t.Errorf("second update = %s", reqs[len(reqs)-1])
	}
	if st, md := e.atIdP("GET", "client-1"); st != http.StatusOK || md["client_name"] != "again" {
		t.Errorf("the provider has %d %v", st, md)
	}
}

// TestPatchRefusalChangesNothing: the provider's refusal reaches the
// developer in its own words (escaped on the page), and nothing is
// stored.
func TestPatchRefusalChangesNothing(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	before, _ := e.store.Client(c.ClientID)
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut {
			return false
		}
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_redirect_uri","error_description":"<script>no</script> is not allowed"}`)
		return true
	})
	var aerr apiError
	resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "renamed", "redirect_uris": []string{"https://x.example/cb"}}, &aerr)
	if resp.StatusCode != http.StatusBadRequest || aerr.Code != "invalid_redirect_uri" || aerr.Description != "<script>no</script> is not allowed" {
		t.Errorf("PATCH: %d %+v", resp.StatusCode, aerr)
	}
	_, _, tok := e.page(dev, "/clients/"+c.ClientID)
	resp, body := e.post(dev, "/clients/"+c.ClientID+"/edit", url.Values{"csrf_token": {tok}, "client_name": {"renamed"}, "redirect_uris": {"https://x.example/cb"}})
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "<script>no") ||
		!strings.Contains(body, "The identity provider refused the change: invalid_redirect_uri: &lt;script&gt;no&lt;/script&gt; is not allowed") ||
		!strings.Contains(body, `value="renamed"`) {
		t.Errorf("edit form: %d\n%s", resp.StatusCode, body)
	}
	if after, _ := e.store.Client(c.ClientID); !reflect.DeepEqual(after, before) {
		t.Errorf("stored %+v, want %+v", after, before)
	}
	// Without its CSRF token the form changes nothing.
	if resp, _ := e.post(dev, "/clients/"+c.ClientID+"/edit", url.Values{"client_name": {"x"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("edit without CSRF token: %d", resp.StatusCode)
	}
}

// TestRotateSecret: a provider that issues a new secret on update gets
// it stored and shown once; one that does not is said not to support
// rotation, and the secret stays.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	var aerr apiError
	if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"rotate_secret": true}, &aerr); resp.StatusCode != http.StatusConflict || aerr.Code != "unsupported" {
		t.Errorf("rotation the provider ignores: %d %+v", resp.StatusCode, aerr)
	}
	if st, _ := e.store.Client(c.ClientID); st.ClientSecret != c.ClientSecret {
		t.Errorf("secret changed to %q", st.ClientSecret)
	}
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut {
			return false
		}
		io.WriteString(w, `{"client_id":"client-1","client_secret":"rotated-secret"}`)
		return true
	})
	_, _, tok := e.page(dev, "/clients/"+c.ClientID)
	if resp, _ := e.post(dev, "/clients/"+c.ClientID+"/rotate", url.Values{"csrf_token": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	_, body, _ := e.page(dev, "/clients/"+c.ClientID)
	if !strings.Contains(body, "issued a new client secret") || strings.Contains(body, "Show client secret") || !strings.Contains(body, "rotated-secret") {
		t.Errorf("the page after rotation does not show the new secret once:\n%s", body)
	}
	if _, body, _ := e.page(dev, "/clients/"+c.ClientID); !strings.Contains(body, "Show client secret") {
		t.Error("the new secret stays on screen")
	}
}

// TestClientTheProviderForgot: a client the provider answers 404 for is
// shown as unknown there; one it answers 401 for, as RFC 7592 has it
// answer for a client it does not know and as it answers a token that no
// longer works, is shown as not recognised. Either can be deleted here;
// a deletion the provider answers 401 to is revoked here with a warning
// that the client may still exist there, never reported as done.
func TestClientTheProviderForgot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, status, page, code string
		patchStatus              int
		forget                   func(e *env, id string)
		deleteWarns              bool
	}{
		{"404", "unknown_client", "no longer knows this client", "unknown_client", http.StatusNotFound, func(e *env, id string) {
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/"+id) {
					return false
				}
				return testidp.Reply(http.StatusNotFound, `{"error":"not_found"}`)(w, r)
			})
		}, false},
		{"401", "registration_token_refused", "does not recognise this client or its registration token", "registration_token_refused", http.StatusConflict, func(e *env, id string) {
			if st, _ := e.atIdP("DELETE", id); st != http.StatusNoContent {
				e.t.Fatalf("delete at the provider: %d", st)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, dev, c := newEnvWithClient(t, "first")
			tt.forget(e, c.ClientID)
			var v clientView
			if e.api(dev, "GET", "/clients/"+c.ClientID, nil, &v); v.ProviderStatus != tt.status {
				t.Errorf("provider_status = %q, want %q", v.ProviderStatus, tt.status)
			}
			_, body, _ := e.page(dev, "/clients/"+c.ClientID)
			if !strings.Contains(body, tt.page) || !strings.Contains(body, "/delete") {
				t.Errorf("page:\n%s", body)
			}
			var aerr apiError
			if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "x"}, &aerr); resp.StatusCode != tt.patchStatus || aerr.Code != tt.code {
				t.Errorf("PATCH of a forgotten client: %d %+v", resp.StatusCode, aerr)
			}
			var del struct{ Warning string }
			resp := e.api(dev, "DELETE", "/clients/"+c.ClientID, nil, &del)
			if tt.deleteWarns != strings.Contains(del.Warning, "may still exist") || (!tt.deleteWarns && resp.StatusCode != http.StatusNoContent) {
				t.Errorf("delete: %d %+v", resp.StatusCode, del)
			}
			if _, ok := e.store.Client(c.ClientID); ok {
				t.Error("the client is still stored (and accepted at the gateway)")
			}
		})
	}
}

// TestOneChangeOfAClientAtATime: while an update waits for the
// provider, another update or a deletion of the client is refused with
// 409, since either would use the registration access token the first
// may rotate.
func TestOneChangeOfAClientAtATime(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	entered, release := holdUpdates(e)
	done := patchAsync(e, dev, c.ClientID, `{"client_name":"slow"}`)
	<-entered
	var aerr apiError
	if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "fast"}, &aerr); resp.StatusCode != http.StatusConflict {
		t.Errorf("second PATCH: %d %+v", resp.StatusCode, aerr)
	}
	if resp := e.api(dev, "DELETE", "/clients/"+c.ClientID, nil, &aerr); resp.StatusCode != http.StatusConflict {
		t.Errorf("DELETE during the update: %d %+v", resp.StatusCode, aerr)
	}
	close(release)
	if st := <-done; st != http.StatusOK {
		t.Errorf("first PATCH: %d", st)
	}
	if st, _ := e.store.Client(c.ClientID); st.ClientName != "slow" {
		t.Errorf("stored name %q", st.ClientName)
	}
}

// TestProviderReadsCached: page views and GET /clients/{id} ask the
// provider about a client at most once per providerReadTTL and
// registration token.
func TestProviderReadsCached(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	reads := func() int { return readsAtProvider(e, c.ClientID) }
	for range 5 {
		e.page(dev, "/clients/"+c.ClientID)
		e.api(dev, "GET", "/clients/"+c.ClientID, nil, nil)
	}
	if n := reads(); n != 1 {
		t.Errorf("%d reads at the provider, want 1", n)
	}
	e.advance(providerReadTTL)
	e.api(dev, "GET", "/clients/"+c.ClientID, nil, nil)
	if n := reads(); n != 2 {
		t.Errorf("%d reads after the TTL, want 2", n)
	}
	// A rotated registration access token reads again.
	e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "renamed"}, nil)
	e.api(dev, "GET", "/clients/"+c.ClientID, nil, nil)
	if n := reads(); n != 3 {
		t.Errorf("%d reads after an update, want 3", n)
	}
}

// TestProviderReadsLimited: past readsPerAccount reads an hour for one
// developer, client pages show the client unchecked without asking the
// provider.
func TestProviderReadsLimited(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	reads := func() int { return readsAtProvider(e, c.ClientID) }
	for range readsPerAccount + 5 {
		e.api(dev, "GET", "/clients/"+c.ClientID, nil, nil)
		e.advance(providerReadTTL)
	}
	if n := reads(); n != readsPerAccount {
		t.Errorf("%d reads at the provider, want %d", n, readsPerAccount)
	}
}

// readsAtProvider counts the RFC 7592 reads of client id the provider got.
func readsAtProvider(e *env, id string) int {
	n := 0
	for _, r := range e.idp.Requests() {
		if r.Method == "GET" && strings.HasSuffix(r.Path, "/"+id) {
			n++
		}
	}
	return n
}
