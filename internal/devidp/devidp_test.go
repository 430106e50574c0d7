package devidp

import (
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIssuerWithPath(t *testing.T) {
	srv := httptest.NewServer(nil)
	defer srv.Close()
	p, err := New(Options{Issuer: srv.URL + "/idp/", InitialAccessToken: testIAT})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	r := do(t, "GET", srv.URL+"/idp/.well-known/openid-configuration", nil, "")
	if r.status != 200 || r.body["issuer"] != srv.URL+"/idp/" || r.body["jwks_uri"] != srv.URL+"/idp/jwks" {
		t.Fatalf("discovery under a path: %d %v", r.status, r.body)
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no issuer", Options{InitialAccessToken: "x"}, "Issuer is required"},
		{"relative issuer", Options{Issuer: "/x", InitialAccessToken: "x"}, "not an absolute"},
		{"issuer with query", Options{Issuer: "http://h/?a=b", InitialAccessToken: "x"}, "not an absolute"},
		{"no initial access token", Options{Issuer: "http://h"}, "InitialAccessToken is required"},
		{"bad typ", Options{Issuer: "http://h", InitialAccessToken: "x", TokenType: "jwt"}, "token type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestListen(t *testing.T) {
	p, err := Listen("127.0.0.1:0", Options{InitialAccessToken: testIAT})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") {
		t.Fatalf("issuer %q", p.Issuer())
	}
	r := do(t, "GET", p.DiscoveryURL(), nil, "")
	if r.status != 200 || r.body["issuer"] != p.Issuer() {
		t.Fatalf("discovery %d %v", r.status, r.body)
	}
	// A busy port is an error that names the address.
	addr := strings.TrimPrefix(p.Issuer(), "http://")
	_, err = Listen(addr, Options{InitialAccessToken: testIAT})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Listen on a busy port: %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v does not wrap the listen error", err)
	}
}
