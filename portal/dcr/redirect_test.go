package dcr

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestRedirectsNotFollowed: a provider's 3xx is an unusable answer, never
// followed, so no body or token reaches where it points; with any client
// given, the DCR calls and discovery alike.
func TestRedirectsNotFollowed(t *testing.T) {
	t.Parallel()
	elsewhere := testidp.New(t, devidp.Options{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
		return true
	})
	token := &table.Secret{Env: testutil.Env(t, "DCR_TEST_TOKEN", "api-token")}
	ctx := context.Background()
	for _, hc := range []*http.Client{nil, f.Client(), {}} {
		r, _ := New(&table.DCR{Provider: "hydra", RegistrationEndpoint: f.URL + "/register", InitialAccessToken: token}, "", hc)
		reg := &Registration{ClientID: "c", ClientSecret: "s", RegistrationClientURI: f.URL + "/register/c", RegistrationAccessToken: "rat"}
		_, rerr := r.Register(ctx, Request{ClientName: "x"})
		_, uerr := r.Update(ctx, reg, Request{ClientName: "x"})
		_, gerr := r.Read(ctx, reg)
		derr := r.Delete(ctx, reg)
		_, derr2 := NewDiscovery(hc).TokenEndpoint(ctx, &table.DCR{IdPHost: f.URL})
		for i, err := range []error{rerr, uerr, gerr, derr, derr2} {
			if !errors.Is(err, ErrBadResponse) {
				t.Errorf("call %d = %v, want ErrBadResponse for the redirect", i, err)
			}
		}
	}
	if reqs := elsewhere.Requests(); len(reqs) != 0 {
		t.Errorf("the redirect was followed: %+v", reqs)
	}
}
