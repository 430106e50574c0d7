// Package testidp is the identity provider of the module's tests: a
// devidp.Provider on an httptest server that records every request it
// receives, and that a test can make answer requests itself (a provider's
// odd answers and failures), go down, publish a JWKS of keys the test made
// (JWK shapes devidp never writes, keys rotated in and out) and hold JWKS
// requests. Its registrations are numbered: client-N, secret-N, rat-N;
// the Mth update of client-N rotates its registration access token to
// rat-client-N-M.
//
// A Server is safe for concurrent use.
package testidp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cuegate/cuegate/internal/devidp"
)

// InitialAccessToken is the initial access token a Server's registration
// endpoint takes unless New is given another.
const InitialAccessToken = "initial-token"

// Request is one request a Server received.
type Request struct {
	Method, Path, Authorization, ContentType, Body string
}

// String is the request as "METHOD /path Authorization body".
func (r Request) String() string {
	return fmt.Sprintf("%s %s %s %s", r.Method, r.Path, r.Authorization, r.Body)
}

// Answer answers a request instead of the provider and reports whether it
// did; when it did not, the request goes on to the provider.
type Answer func(w http.ResponseWriter, r *http.Request) bool

// Server is a recording devidp.Provider on an httptest server; see the
// package doc. Its issuer is its URL with a trailing slash.
type Server struct {
	*httptest.Server
	// IdP is the provider behind the server, for the tokens it signs and
	// the clients it holds.
	IdP *devidp.Provider

	mu      sync.Mutex
	reqs    []Request
	answer  Answer
	down    bool
	keys    []json.RawMessage // published instead of IdP's keys when not nil
	gate    chan struct{}     // when set, JWKS requests wait for it to close
	waiting atomic.Int32      // JWKS requests held at the gate
}

// New starts a Server for opts, closed when t ends. Issuer is the
// server's URL and "/"; InitialAccessToken defaults to the package's,
// SigningKey to one RS256 key all Servers share, Credentials to client-N,
// secret-N and rat-N, RotatedToken to rat-<client_id>-M.
func New(t testing.TB, opts devidp.Options) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	opts.Issuer = s.URL + "/"
	if opts.InitialAccessToken == "" {
		opts.InitialAccessToken = InitialAccessToken
	}
	if opts.SigningKey == nil {
		opts.SigningKey = signingKey()
	}
	if opts.Credentials == nil {
		opts.Credentials = func(n int) (string, string, string) {
			i := strconv.Itoa(n)
			return "client-" + i, "secret-" + i, "rat-" + i
		}
	}
	if opts.RotatedToken == nil {
		opts.RotatedToken = func(clientID string, n int) string { return "rat-" + clientID + "-" + strconv.Itoa(n) }
	}
	idp, err := devidp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.IdP = idp
	return s
}

// ServeHTTP records r, then lets the Answer, the published keys or the
// provider answer it; while the server is down, everything the Answer
// leaves gets 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
	answer, gate := s.answer, s.gate
	s.mu.Unlock()
	if answer != nil && answer(w, r) {
		return
	}
	jwks := r.Method == http.MethodGet && r.URL.Path == devidp.JWKSPath
	if jwks && gate != nil {
		s.waiting.Add(1)
		<-gate
		s.waiting.Add(-1)
	}
	s.mu.Lock()
	down, keys := s.down, s.keys
	s.mu.Unlock()
	switch {
	case down:
		http.Error(w, "down", http.StatusServiceUnavailable)
	case jwks && keys != nil:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": keys}) //nolint:errcheck
	default:
		s.IdP.ServeHTTP(w, r)
	}
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Hits counts the requests received for path.
func (s *Server) Hits(path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// SetAnswer makes a answer requests before the provider; nil removes it.
func (s *Server) SetAnswer(a Answer) {
	s.mu.Lock()
	s.answer = a
	s.mu.Unlock()
}

// SetDown makes the server answer 503 to all but the Answer's requests,
// or serve again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// PublishKeys makes the JWKS hold exactly keys, JWKs as the test wrote
// them, instead of the provider's.
func (s *Server) PublishKeys(keys ...json.RawMessage) {
	if keys == nil {
		keys = []json.RawMessage{}
	}
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// HoldJWKS makes JWKS requests wait until the returned release is called.
func (s *Server) HoldJWKS() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate)
	}
}

// Held reports how many JWKS requests wait for a HoldJWKS's release.
func (s *Server) Held() int { return int(s.waiting.Load()) }

// JWKSURL is the address of the JWKS.
func (s *Server) JWKSURL() string { return s.IdP.JWKSURL() }

// Issuer is the issuer URL: the server's URL and "/".
func (s *Server) Issuer() string { return s.IdP.Issuer() }

// Reply is an Answer that answers every request with status and a JSON
// body.
func Reply(status int, body string) Answer {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body) //nolint:errcheck
		return true
	}
}
