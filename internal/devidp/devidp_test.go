package devidp

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIssuerWithPath(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
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
		{"EdDSA signing key", Options{Issuer: "http://h", InitialAccessToken: "x", SigningKey: ed25519.NewKeyFromSeed(make([]byte, 32))}, "RSA or ECDSA P-256"},
		{"P-384 signing key", Options{Issuer: "http://h", InitialAccessToken: "x", SigningKey: p384}, "must be on P-256"},
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
	t.Parallel()
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

// TestListenLoopbackOnly: an address that does not bind to loopback is
// refused, whatever its spelling, and nothing is left listening.
func TestListenLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		p, err := Listen(addr, Options{InitialAccessToken: testIAT})
		if err == nil {
			p.Close()
			t.Errorf("Listen(%q) succeeded", addr)
			continue
		}
		if !strings.Contains(err.Error(), "is not a loopback address") {
			t.Errorf("Listen(%q): %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		p, err := Listen(addr, Options{InitialAccessToken: testIAT})
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		p.Close()
	}
}

// TestGivenKeyAndCredentials: a provider signs with the key it is given
// and names its registrations with Credentials.
func TestGivenKeyAndCredentials(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := newTest(t, Options{SigningKey: key, Credentials: func(n int) (string, string, string) {
		return fmt.Sprint("c", n), fmt.Sprint("s", n), fmt.Sprint("r", n)
	}})
	if kid := p.SigningKID(); !strings.HasPrefix(kid, "ES256-") {
		t.Errorf("signing kid %q, want an ES256 one", kid)
	}
	for n := 1; n <= 2; n++ {
		c := register(t, p, `{}`)
		if c["client_id"] != fmt.Sprint("c", n) || c["client_secret"] != fmt.Sprint("s", n) || c["registration_access_token"] != fmt.Sprint("r", n) {
			t.Errorf("registration %d: %v", n, c)
		}
	}
}
