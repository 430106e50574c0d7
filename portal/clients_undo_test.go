package portal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/internal/testutil"
)

// duplicateClientIDs makes the provider answer every registration with the
// same client_id, so that a second client cannot be stored, and every
// deletion with deleteStatus, and registers the first client for a
// developer, whom it returns.
func (e *env) duplicateClientIDs(deleteStatus int) *http.Client {
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		switch r.Method {
		case http.MethodDelete:
			w.WriteHeader(deleteStatus)
			return true
		case http.MethodPost:
			w.WriteHeader(201)
			fmt.Fprintf(w, `{"client_id":"dup","client_secret":"s","registration_client_uri":"%s/register/dup","registration_access_token":"rat"}`, e.idp.URL)
			return true
		}
		return false
	})
	dev := e.developer("a@example.com")
	e.create(dev, "first", "gluu_api")
	return dev
}

// TestClientThatCannotBeStoredIsDeletedAtTheProvider: a client registered
// but not stored is deleted at the provider again, and the developer told
// whether the provider deleted it (a 404 says it is gone).
func TestClientThatCannotBeStoredIsDeletedAtTheProvider(t *testing.T) {
	t.Parallel()
	const (
		deleted    = "the client could not be stored; it was deleted at the provider again"
		notDeleted = "the client could not be stored, and the identity provider did not delete it again: ask the operator to delete client dup there"
	)
	for _, tt := range []struct {
		name         string
		deleteStatus int
		want         string
	}{
		{"deleted", http.StatusNoContent, deleted},
		{"gone", http.StatusNotFound, deleted},
		{"refused", http.StatusInternalServerError, notDeleted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			dev := e.duplicateClientIDs(tt.deleteStatus)
			var aerr apiError
			if resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "second"}, &aerr); resp.StatusCode != 500 || aerr.Description != tt.want {
				t.Errorf("second create: %d %+v, want 500 %q", resp.StatusCode, aerr, tt.want)
			}
			if reqs := e.requests(); len(reqs) != 3 || reqs[2] != "DELETE /register/dup Bearer rat " {
				t.Errorf("provider requests = %q, want the unstored client deleted", reqs)
			}
			if cs := e.store.Clients(""); len(cs) != 1 || cs[0].ClientName != "first" {
				t.Errorf("clients = %+v", cs)
			}
		})
	}
}

// cancelOnRegister is a transport that cancels the developer's request
// when the registration reaches the provider, as a developer who goes away
// then would, and fails the call when that cancels it too.
type cancelOnRegister struct {
	cancel context.CancelFunc
}

func (c cancelOnRegister) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost {
		c.cancel()
		if err := r.Context().Err(); err != nil {
			return nil, err
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestRegistrationOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(Options{Table: e.table.Load, Store: e.store, Logger: zerolog.Nop(), BcryptCost: bcrypt.MinCost,
		HTTPClient: &http.Client{Transport: cancelOnRegister{cancel}}})
	if err != nil {
		t.Fatal(err)
	}
	e.developer("a@example.com")
	d, _ := e.store.Developer("a@example.com")
	c, aerr := s.createClient(ctx, registrant{email: d.Email, account: d.Created, addr: "test"}, []string{"gluu_api"}, "app", nil)
	if aerr != nil {
		t.Fatalf("createClient after the developer went away: %v", aerr)
	}
	if stored, ok := e.store.Client(c.ClientID); !ok || stored.ClientName != "app" {
		t.Errorf("the client registered at the provider is not stored: %+v", stored)
	}
}

// TestRegistrationForARemovedAccountIsUndone: an account removed while
// the provider registers its client, and perhaps signed up for again
// under the same email meanwhile, gets no client: the registration is
// deleted at the provider again, the developer is told why and shown no
// secret, and the new account holds nothing.
func TestRegistrationForARemovedAccountIsUndone(t *testing.T) {
	t.Parallel()
	for _, signUpAgain := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed up again %v", signUpAgain), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			entered, release := make(chan struct{}), make(chan struct{})
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost {
					close(entered)
					<-release
				}
				return false // the provider registers it
			})
			dev := e.developer("a@example.com")
			type answer struct {
				status int
				body   map[string]any
			}
			done := make(chan answer)
			go func() {
				var out map[string]any
				resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &out)
				done <- answer{resp.StatusCode, out}
			}()
			<-entered
			if _, err := e.store.RemoveDeveloper("a@example.com", t0); err != nil {
				t.Fatal(err)
			}
			var again *http.Client
			if signUpAgain {
				e.advance(time.Second)
				again = e.developer("a@example.com")
			}
			close(release)
			got := <-done
			const want = "your account was removed while the client was being registered: the client could not be stored; it was deleted at the provider again"
			if got.status != http.StatusUnauthorized || got.body["error"] != "unauthorized" || got.body["error_description"] != want || got.body["client_secret"] != nil {
				t.Errorf("answer %d %v, want 401 unauthorized %q", got.status, got.body, want)
			}
			if reqs := e.requests(); len(reqs) != 2 || !strings.HasPrefix(reqs[1], "DELETE /register/client-1 ") {
				t.Errorf("provider requests = %q, want the registration deleted again", reqs)
			}
			if cs := e.store.Clients(""); len(cs) != 0 {
				t.Errorf("clients stored: %+v", cs)
			}
			if again != nil {
				var list []clientView
				if e.api(again, "GET", "/clients", nil, &list); len(list) != 0 {
					t.Errorf("the new account under the email holds %+v", list)
				}
			}
		})
	}
}

func TestRegistrationWhileShuttingDownIsUndone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	e.store.Close()
	var aerr apiError
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
	const want = "the portal is shutting down: the client could not be stored; it was deleted at the provider again; register again in a moment"
	if resp.StatusCode != http.StatusServiceUnavailable || aerr.Code != "temporarily_unavailable" || aerr.Description != want {
		t.Errorf("%d %+v, want 503 %q", resp.StatusCode, aerr, want)
	}
	if reqs := e.requests(); len(reqs) != 2 || !strings.HasPrefix(reqs[1], "DELETE /register/client-1 ") {
		t.Errorf("provider requests = %q, want the registration deleted again", reqs)
	}
	if len(e.store.Clients("")) != 0 {
		t.Error("a client was stored after Close")
	}
}

// TestRefusedRegistrationLeftAtTheProvider: a registration the portal
// refuses (the provider granted more than asked) and the provider does
// not delete again is an unusable answer (502) that says the client may
// stay there, never the provider's refusal of the registration (400,
// an invitation to try again); the log names the client for the operator.
func TestRefusedRegistrationLeftAtTheProvider(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		managed bool // the answer gives a way to delete the client
	}{
		{"deletion refused", true},
		{"no way to delete", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log testutil.SyncBuffer
			e := newEnvLog(t, zerolog.New(&log))
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				switch r.Method {
				case http.MethodPost:
					management := ""
					if tt.managed {
						management = fmt.Sprintf(`,"registration_client_uri":"%s/register/cx","registration_access_token":"rat-cx"`, e.idp.URL)
					}
					w.WriteHeader(http.StatusCreated)
					fmt.Fprintf(w, `{"client_id":"cx","client_secret":"secret-cx","grant_types":["client_credentials","password"]%s}`, management)
				case http.MethodDelete:
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, `{"error":"invalid_client_metadata","error_description":"redirect_uris must not be empty"}`)
				}
				return true
			})
			dev := e.developer("a@example.com")
			var aerr apiError
			resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
			const want = "the identity provider's answer could not be used, and the client it registered may stay there: ask the operator to remove it"
			if resp.StatusCode != http.StatusBadGateway || aerr.Code != "server_error" || aerr.Description != want {
				t.Errorf("%d %+v, want 502 server_error %q", resp.StatusCode, aerr, want)
			}
			if !strings.Contains(log.String(), `client \"cx\"`) {
				t.Errorf("the log does not name the client left at the provider:\n%s", log.String())
			}
			if cs := e.store.Clients(""); len(cs) != 0 {
				t.Errorf("clients stored: %+v", cs)
			}
		})
	}
}
