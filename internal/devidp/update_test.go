package devidp

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestUpdate: an RFC 7592 update replaces the metadata with the request's
// (omitted fields are cleared, defaults filled in), keeps what the
// provider assigned and rotates the registration access token; a refused
// update changes nothing.
func TestUpdate(t *testing.T) {
	t.Parallel()
	p, _ := newTest(t, Options{RotatedToken: func(id string, n int) string { return "rat-" + id + "-" + strconv.Itoa(n) }})
	c := register(t, p, `{"client_name":"app","redirect_uris":["https://a.example/cb"],"pol":"gold","scope":"read"}`)
	other := register(t, p, `{"client_name":"other"}`)
	id, secret, uri, rat := c["client_id"].(string), c["client_secret"].(string), c["registration_client_uri"].(string), c["registration_access_token"].(string)
	md := func(extra string) string { return `{"client_id":"` + id + `","client_name":"renamed"` + extra + `}` }

	for _, tc := range []struct {
		name, uri, bearer, body string
		status                  int
		code                    string
	}{
		{"no token", uri, "", md(""), 401, "invalid_token"},
		{"initial token", uri, testIAT, md(""), 401, "invalid_token"},
		{"another client's token", uri, other["registration_access_token"].(string), md(""), 401, "invalid_token"},
		{"unknown client", p.RegistrationURL() + "/nope", rat, md(""), 401, "invalid_token"},
		{"not json", uri, rat, `client_name=x`, 400, "invalid_client_metadata"},
		{"no client_id", uri, rat, `{"client_name":"renamed"}`, 400, "invalid_client_metadata"},
		{"another client_id", uri, rat, `{"client_id":"` + other["client_id"].(string) + `"}`, 400, "invalid_client_metadata"},
		{"client_id not a string", uri, rat, `{"client_id":1}`, 400, "invalid_client_metadata"},
		{"client_id in another case", uri, rat, `{"CLIENT_ID":"` + id + `"}`, 400, "invalid_client_metadata"},
		{"chosen client_secret", uri, rat, md(`,"client_secret":"mine-chosen"`), 400, "invalid_client_metadata"},
		{"registration_access_token sent", uri, rat, md(`,"registration_access_token":"` + rat + `"`), 400, "invalid_client_metadata"},
		{"registration_client_uri sent", uri, rat, md(`,"registration_client_uri":"` + uri + `"`), 400, "invalid_client_metadata"},
		{"client_id_issued_at sent", uri, rat, md(`,"client_id_issued_at":1`), 400, "invalid_client_metadata"},
		{"client_secret_expires_at sent", uri, rat, md(`,"client_secret_expires_at":0`), 400, "invalid_client_metadata"},
		{"bad redirect", uri, rat, md(`,"redirect_uris":["/relative"]`), 400, "invalid_redirect_uri"},
		{"no client_credentials", uri, rat, md(`,"grant_types":["authorization_code"]`), 400, "invalid_client_metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := jsonHdr(tc.bearer)
			if tc.name == "not json" {
				hdr["Content-Type"] = "application/x-www-form-urlencoded"
			}
			r := do(t, "PUT", tc.uri, hdr, tc.body)
			if r.status != tc.status || r.body["error"] != tc.code || r.body["error_description"] == "" {
				t.Fatalf("%d %v, want %d %s with a description", r.status, r.body, tc.status, tc.code)
			}
			if d := r.body["error_description"].(string); strings.Contains(d, "mine-chosen") || strings.Contains(d, rat) {
				t.Errorf("the description repeats a value sent: %s", d)
			}
			if got := do(t, "GET", uri, jsonHdr(rat), ""); got.status != 200 || got.body["client_name"] != "app" {
				t.Errorf("after a refused update the provider has %d %v", got.status, got.body)
			}
		})
	}

	r := do(t, "PUT", uri, jsonHdr(rat), md(`,"client_secret":"`+secret+`","token_endpoint_auth_method":"client_secret_post"`))
	if r.status != http.StatusOK {
		t.Fatalf("update: %d %v", r.status, r.body)
	}
	want := map[string]any{"client_id": id, "client_secret": secret, "registration_client_uri": uri, "client_id_issued_at": c["client_id_issued_at"],
		"client_name": "renamed", "token_endpoint_auth_method": "client_secret_post", "registration_access_token": "rat-" + id + "-1"}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.body[k], v)
		}
	}
	for _, k := range []string{"pol", "scope"} {
		if _, ok := r.body[k]; ok {
			t.Errorf("%s = %v survived an update that left it out", k, r.body[k])
		}
	}
	if ru, _ := r.body["redirect_uris"].([]any); ru == nil || len(ru) != 0 {
		t.Errorf("redirect_uris = %v, want [] (replaced, not merged)", r.body["redirect_uris"])
	}
	if got := do(t, "GET", uri, jsonHdr(rat), ""); got.status != http.StatusUnauthorized {
		t.Errorf("the rotated-out token still reads the client: %d", got.status)
	}
	if got := do(t, "GET", uri, jsonHdr("rat-"+id+"-1"), ""); got.status != 200 || got.body["client_name"] != "renamed" {
		t.Errorf("read with the new token: %d %v", got.status, got.body)
	}
	if got := do(t, "PUT", uri, jsonHdr("rat-"+id+"-1"), md("")); got.body["registration_access_token"] != "rat-"+id+"-2" {
		t.Errorf("second update's token = %v", got.body["registration_access_token"])
	}
}

// TestConcurrentUpdatesWithOneToken: of updates racing with the same
// registration access token exactly one succeeds; the others used a token
// it rotated.
func TestConcurrentUpdatesWithOneToken(t *testing.T) {
	t.Parallel()
	p, _ := newTest(t, Options{})
	c := register(t, p, `{}`)
	uri, rat := c["registration_client_uri"].(string), c["registration_access_token"].(string)
	body := `{"client_id":"` + c["client_id"].(string) + `"}`
	statuses := make([]int, 8)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() { statuses[i] = do(t, "PUT", uri, jsonHdr(rat), body).status })
	}
	wg.Wait()
	slices.Sort(statuses)
	if statuses[0] != http.StatusOK || statuses[1] != http.StatusUnauthorized || statuses[len(statuses)-1] != http.StatusUnauthorized {
		t.Errorf("statuses %v, want one 200 and 401s", statuses)
	}
}
