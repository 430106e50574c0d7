package portal

import (
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestPatchRenamesAtTheProvider: a rename and new redirect URIs go to
// the provider as an RFC 7592 update of the full metadata with the
// stored registration access token; the token it rotates is kept, and
// the provider reads the new name back.
func TestPatchRenamesAtTheProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, "first", "gluu_api")
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
	// The next change uses the rotated token.
	e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "again"}, nil)
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
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, "first", "gluu_api")
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
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, "first", "gluu_api")
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

// TestClientTheProviderForgot: a client the provider answers
// invalid_token for, as RFC 7592 has it answer for a client it does not
// know, is shown as such, and can be deleted here.
func TestClientTheProviderForgot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, "first", "gluu_api")
	if st, _ := e.atIdP("DELETE", c.ClientID); st != http.StatusNoContent {
		t.Fatalf("delete at the provider: %d", st)
	}
	var v clientView
	if e.api(dev, "GET", "/clients/"+c.ClientID, nil, &v); v.ProviderStatus != "unknown_client" {
		t.Errorf("provider_status = %q", v.ProviderStatus)
	}
	_, body, _ := e.page(dev, "/clients/"+c.ClientID)
	if !strings.Contains(body, "no longer knows this client") || !strings.Contains(body, "/delete") {
		t.Errorf("page:\n%s", body)
	}
	var aerr apiError
	if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "x"}, &aerr); resp.StatusCode != http.StatusNotFound || aerr.Code != "unknown_client" {
		t.Errorf("PATCH of a forgotten client: %d %+v", resp.StatusCode, aerr)
	}
	if resp := e.api(dev, "DELETE", "/clients/"+c.ClientID, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %d", resp.StatusCode)
	}
}

// TestOneChangeOfAClientAtATime: while an update waits for the
// provider, another update or a deletion of the client is refused with
// 409, since either would use the registration access token the first
// may rotate.
func TestOneChangeOfAClientAtATime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, "first", "gluu_api")
	entered, release := make(chan struct{}), make(chan struct{})
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			close(entered)
			<-release
		}
		return false
	})
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("PATCH", e.srv.URL+apiPrefix+"/clients/"+c.ClientID, strings.NewReader(`{"client_name":"slow"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := dev.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
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
