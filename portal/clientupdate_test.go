package portal

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
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
// 409, and a read at the provider is not made (the client is shown
// unchecked), since each would use the registration access token the
// first may rotate.
func TestOneChangeOfAClientAtATime(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	entered, release := holdUpdates(e)
	done := patchAsync(e, dev, c.ClientID, `{"client_name":"slow"}`)
	<-entered
	changesRefused(t, e, dev, c.ClientID, "the update")
	var v clientView
	if resp := e.api(dev, "GET", "/clients/"+c.ClientID, nil, &v); resp.StatusCode != http.StatusOK || v.ProviderStatus != "" || readsAtProvider(e, c.ClientID) != 0 {
		t.Errorf("GET during the update: %d %+v after %d reads at the provider, want the client unchecked and no read", resp.StatusCode, v, readsAtProvider(e, c.ClientID))
	}
	close(release)
	if st := <-done; st != http.StatusOK {
		t.Errorf("first PATCH: %d", st)
	}
	if st, _ := e.store.Client(c.ClientID); st.ClientName != "slow" {
		t.Errorf("stored name %q", st.ClientName)
	}
}

// rotatingOnRead makes the provider answer RFC 7592 requests about
// client id as one that rotates the registration access token on every
// read does (Gluu's rotateClientRegistrationAccessTokenOnUsage,
// Keycloak), and with newSecret the client secret too: a read answers
// rat-read-<n> (and secret-read-<n>), a request with any token but the
// last one issued is refused (401), a deletion with it succeeds. A read
// waits for hold to be closed (nil: none), after closing read once the
// first arrives.
func rotatingOnRead(e *env, id string, newSecret bool, read, hold chan struct{}) {
	c, _ := e.store.Client(id)
	var mu sync.Mutex
	rat, n := c.RegistrationAccessToken, 0
	var once sync.Once
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/register/"+id {
			return false
		}
		if r.Method == http.MethodGet && hold != nil {
			once.Do(func() { close(read) })
			<-hold
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Header.Get("Authorization") != "Bearer "+rat:
			return testidp.Reply(http.StatusUnauthorized, `{"error":"invalid_token"}`)(w, r)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
			return true
		case r.Method != http.MethodGet:
			return false
		}
		n++
		rat = fmt.Sprintf("rat-read-%d", n)
		answer := map[string]string{"client_id": id, "client_name": c.ClientName, "registration_access_token": rat, "registration_client_uri": c.RegistrationClientURI}
		if newSecret {
			answer["client_secret"] = fmt.Sprintf("secret-read-%d", n)
		}
		b, _ := json.Marshal(answer)
		return testidp.Reply(http.StatusOK, string(b))(w, r)
	})
}

// TestReadRotationKept: credentials a provider rotates on an RFC 7592
// read (RFC 7592 §2.1: the old ones no longer work) are stored, a new
// secret is what the API's answer or the page shows (the page says it is
// new), neither the log nor the answer repeats the token, and the
// deletion reaches the provider with the new token.
func TestReadRotationKept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		page      bool // the client's page reads it, else GET /clients/{id}
		newSecret bool
	}{
		{"API, token rotated", false, false},
		{"API, secret and token rotated", false, true},
		{"page, token rotated", true, false},
		{"page, secret and token rotated", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log testutil.SyncBuffer
			e := newEnvLog(t, zerolog.New(&log))
			dev := e.developer("a@example.com")
			c := e.create(dev, "first", "gluu_api")
			rotatingOnRead(e, c.ClientID, tt.newSecret, nil, nil)
			wantSecret := c.ClientSecret
			if tt.newSecret {
				wantSecret = "secret-read-1"
			}
			var shown string // what the developer sees
			if tt.page {
				_, shown, _ = e.page(dev, "/clients/"+c.ClientID)
				flash, hidden := strings.Contains(shown, "issued a new client secret"), strings.Contains(shown, "Show client secret")
				if flash != tt.newSecret || hidden == tt.newSecret {
					t.Errorf("the page says a new secret %v, hides the secret %v; want %v, %v", flash, hidden, tt.newSecret, !tt.newSecret)
				}
			} else {
				var v clientView
				e.api(dev, "GET", "/clients/"+c.ClientID, nil, &v)
				if v.ClientSecret != wantSecret {
					t.Errorf("client_secret %q, want %q", v.ClientSecret, wantSecret)
				}
				b, _ := json.Marshal(v)
				shown = string(b)
			}
			if !strings.Contains(shown, wantSecret) {
				t.Errorf("the secret %q is not shown:\n%s", wantSecret, shown)
			}
			if st, _ := e.store.Client(c.ClientID); st.RegistrationAccessToken != "rat-read-1" || st.ClientSecret != wantSecret {
				t.Errorf("stored token %q and secret %q, want rat-read-1 and %q", st.RegistrationAccessToken, st.ClientSecret, wantSecret)
			}
			for where, text := range map[string]string{"log": log.String(), "answer": shown} {
				if strings.Contains(text, "rat-read-1") || (where == "log" && strings.Contains(text, wantSecret)) {
					t.Errorf("the %s repeats a credential:\n%s", where, text)
				}
			}
			if resp := e.api(dev, "DELETE", "/clients/"+c.ClientID, nil, nil); resp.StatusCode != http.StatusNoContent {
				t.Errorf("DELETE: %d, want 204", resp.StatusCode)
			}
			if reqs := e.requests(); reqs[len(reqs)-1] != "DELETE /register/"+c.ClientID+" Bearer rat-read-1 " {
				t.Errorf("last provider request %q, want the deletion with the rotated token", reqs[len(reqs)-1])
			}
		})
	}
}

// TestReadAtProviderHoldsTheClient: while a read of a client waits for
// the provider, which may rotate its registration access token, an
// update or a deletion of it is refused with 409; once it ends, the
// next change uses the token it stored.
func TestReadAtProviderHoldsTheClient(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	read, hold := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	rotatingOnRead(e, c.ClientID, false, read, hold)
	done := make(chan clientView, 1)
	go func() { // off the test's goroutine: a failure is an empty view
		var v clientView
		if resp, err := dev.Get(e.srv.URL + apiPrefix + "/clients/" + c.ClientID); err == nil {
			json.NewDecoder(resp.Body).Decode(&v) //nolint:errcheck // checked below
			resp.Body.Close()
		}
		done <- v
	}()
	<-read
	changesRefused(t, e, dev, c.ClientID, "the read")
	release()
	if v := <-done; v.ClientID != c.ClientID || v.ProviderStatus != "" || v.ClientSecret != c.ClientSecret {
		t.Errorf("GET: %+v", v)
	}
	e.remove(dev, c.ClientID)
	if reqs := e.requests(); reqs[len(reqs)-1] != "DELETE /register/"+c.ClientID+" Bearer rat-read-1 " {
		t.Errorf("last provider request %q, want the deletion with the token the read stored", reqs[len(reqs)-1])
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

// changesRefused checks that a PATCH and a DELETE of the client id are
// refused 409 while during runs.
func changesRefused(t *testing.T, e *env, dev *http.Client, id, during string) {
	t.Helper()
	var aerr apiError
	if resp := e.api(dev, "PATCH", "/clients/"+id, map[string]any{"client_name": "renamed"}, &aerr); resp.StatusCode != http.StatusConflict {
		t.Errorf("PATCH during %s: %d %+v", during, resp.StatusCode, aerr)
	}
	if resp := e.api(dev, "DELETE", "/clients/"+id, nil, &aerr); resp.StatusCode != http.StatusConflict {
		t.Errorf("DELETE during %s: %d %+v", during, resp.StatusCode, aerr)
	}
}
