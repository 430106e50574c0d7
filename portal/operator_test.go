package portal

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/portal/store"
)

// operator serves e's operator handler and returns a function that calls
// it with a raw body and decodes the answer into out (when not nil).
func (e *env) operator() func(method, path, contentType, body string, hdr map[string]string, out any) *http.Response {
	srv := httptest.NewServer(e.s.OperatorHandler())
	e.t.Cleanup(srv.Close)
	return func(method, path, contentType, body string, hdr map[string]string, out any) *http.Response {
		e.t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				e.t.Fatalf("%s %s: %v in %q", method, path, err, raw)
			}
		}
		return resp
	}
}

func TestOperatorAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tab := e.freshTable()
	tab.Portal.Signup = "invite"
	e.table.Store(tab)
	op := e.operator()
	const js = "application/json"

	var acc Account
	if resp := op("POST", "/developers", js, `{"email":"Dev@Example.com","password":"correct horse"}`, nil, &acc); resp.StatusCode != http.StatusCreated ||
		acc.Email != "dev@example.com" || !acc.Created.Equal(t0) || acc.Clients != 0 {
		t.Fatalf("add: %d %+v", resp.StatusCode, acc)
	}
	if d, ok := e.store.Developer("dev@example.com"); !ok || !strings.HasPrefix(d.PasswordHash, "$2") {
		t.Fatalf("stored developer = %+v, %v (want a bcrypt hash)", d, ok)
	}
	var dup apiError
	if resp := op("POST", "/developers", js, `{"email":"DEV@example.com","password":"another password"}`, nil, &dup); resp.StatusCode != http.StatusConflict ||
		dup.Code != "account_exists" || !strings.Contains(dup.Description, "dev@example.com") {
		t.Errorf("duplicate: %d %+v", resp.StatusCode, dup)
	}

	// The invited developer logs in through the portal and registers a client.
	dev := e.browser()
	if resp := e.api(dev, "POST", "/login", credentials{"dev@example.com", "correct horse"}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	c := e.create(dev, "app", "gluu_api")
	if _, err := e.s.accounts().Add("other@example.com", "correct horse"); err != nil {
		t.Fatal(err)
	}

	var list []Account
	if resp := op("GET", "/developers", "", "", nil, &list); resp.StatusCode != http.StatusOK || len(list) != 2 ||
		list[0] != (Account{Email: "dev@example.com", Created: t0, Clients: 1}) || list[1].Email != "other@example.com" || list[1].Clients != 0 {
		t.Errorf("list: %d %+v", resp.StatusCode, list)
	}

	var rm Removal
	if resp := op("DELETE", "/developers/DEV@example.com", "", "", nil, &rm); resp.StatusCode != http.StatusOK || rm.Email != "dev@example.com" ||
		len(rm.Revoked) != 1 || rm.Revoked[0] != (RevokedClient{ClientID: c.ClientID, ClientName: "app", Provider: "other"}) {
		t.Fatalf("remove: %d %+v", resp.StatusCode, rm)
	}
	if bnd, found := e.store.Binding(c.ClientID); !bnd.Revoked || !found {
		t.Error("the removed developer's client is not revoked")
	}
	if resp := e.api(dev, "GET", "/clients", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the removed developer's session still works: %d", resp.StatusCode)
	}
	var gone apiError
	if resp := op("DELETE", "/developers/dev@example.com", "", "", nil, &gone); resp.StatusCode != http.StatusNotFound || gone.Code != "not_found" {
		t.Errorf("remove again: %d %+v", resp.StatusCode, gone)
	}
	if resp := op("GET", "/developers", "", "", nil, &list); resp.StatusCode != http.StatusOK || len(list) != 1 || list[0].Email != "other@example.com" {
		t.Errorf("list after remove: %+v", list)
	}
}

func TestOperatorRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.operator()
	const good = `{"email":"a@example.com","password":"correct horse"}`
	for _, tt := range []struct {
		name, method, path, contentType, body string
		hdr                                   map[string]string
		status                                int
		code, allow                           string
	}{
		{"bad JSON", "POST", "/developers", "application/json", `{"email":`, nil, 400, "invalid_request", ""},
		{"form body", "POST", "/developers", "application/x-www-form-urlencoded", "email=a@example.com&password=correct+horse", nil, 415, "invalid_request", ""},
		{"text body", "POST", "/developers", "text/plain", good, nil, 415, "invalid_request", ""},
		{"no content type", "POST", "/developers", "", good, nil, 415, "invalid_request", ""},
		{"bad email", "POST", "/developers", "application/json", `{"email":"not-an-email","password":"correct horse"}`, nil, 400, "invalid_request", ""},
		{"short password", "POST", "/developers", "application/json", `{"email":"a@example.com","password":"short"}`, nil, 400, "invalid_request", ""},
		{"remove a bad email", "DELETE", "/developers/not-an-email", "", "", nil, 400, "invalid_request", ""},
		{"browser, cross site", "POST", "/developers", "application/json", good, map[string]string{"Origin": "https://evil.example"}, 403, "access_denied", ""},
		{"browser, same site", "GET", "/developers", "", "", map[string]string{"Sec-Fetch-Site": "same-origin"}, 403, "access_denied", ""},
		{"wrong method", "PUT", "/developers", "application/json", good, nil, 405, "invalid_request", "GET, HEAD, POST"},
		{"get one", "GET", "/developers/a@example.com", "", "", nil, 405, "invalid_request", "DELETE"},
		{"unknown endpoint", "GET", "/clients", "", "", nil, 404, "not_found", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var aerr apiError
			resp := op(tt.method, tt.path, tt.contentType, tt.body, tt.hdr, &aerr)
			if resp.StatusCode != tt.status || aerr.Code != tt.code || aerr.Description == "" || resp.Header.Get("Allow") != tt.allow {
				t.Errorf("%d %+v Allow %q, want %d %s Allow %q", resp.StatusCode, aerr, resp.Header.Get("Allow"), tt.status, tt.code, tt.allow)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if devs := e.store.Developers(); len(devs) != 0 {
		t.Errorf("refused requests stored %+v", devs)
	}
}

func TestAccountsErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.s.accounts()
	if _, err := a.Add("a@example.com", "correct horse"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		err  error
		want error
		text string
	}{
		{"bad email", second(a.Add("nope", "correct horse")), ErrInvalid, `portal: "nope" is not an email address`},
		{"long password", second(a.Add("b@example.com", strings.Repeat("x", 73))), ErrInvalid, "portal: the password must have at most 72 bytes"},
		{"taken", second(a.Add("A@example.com", "correct horse")), store.ErrExists, "developer a@example.com"},
		{"unknown", second(a.Remove("b@example.com")), store.ErrNotFound, "developer b@example.com"},
	} {
		if !errors.Is(tt.err, tt.want) || !strings.Contains(tt.err.Error(), tt.text) {
			t.Errorf("%s: %v, want %v containing %q", tt.name, tt.err, tt.want, tt.text)
		}
	}
}

func second[T any](_ T, err error) error { return err }
