package runtime

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
)

// AdminHandler serves the admin endpoints: /healthz (the process is up),
// /readyz (Ready; 503 otherwise), /metrics (Prometheus text: the gateway's
// series, then those extra writes, then those of the default
// VictoriaMetrics set and the process's, every family with its help and
// type), /status (JSON, see Status) and /table (the serving table's
// canonical JSON, as Table.JSON: secrets as references, never values). It
// has no authentication of its own: serve it on loopback, or behind
// RequireAdminToken.
func (g *Gateway) AdminHandler(extra ...func(io.Writer)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n")) //nolint:errcheck
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !g.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: identity provider keys or cluster bindings not loaded yet (see /status)\n")) //nolint:errcheck
			return
		}
		w.Write([]byte("ready\n")) //nolint:errcheck
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		writeMetrics(w, g.series.set, extra...) //nolint:errcheck // the client went away
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(g.Status()) //nolint:errcheck
	})
	mux.HandleFunc("GET /table", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(g.cur.Load().table.JSON()) //nolint:errcheck
	})
	return mux
}

// adminRealm is the realm of the admin listener's WWW-Authenticate.
const adminRealm = `Bearer realm="cuegate-admin"`

// RequireAdminToken guards next with a bearer token: a request to any
// path but /healthz and /readyz (which probes reach without credentials)
// must carry "Authorization: Bearer <token>", else it is answered 401 with
// WWW-Authenticate: Bearer realm="cuegate-admin" and next never sees it.
// The token is compared in constant time, of its length too. token must
// not be empty. The handler is safe for concurrent use.
func RequireAdminToken(token string, next http.Handler) http.Handler {
	if token == "" {
		panic("runtime: RequireAdminToken with an empty token")
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !bearerMatches(r.Header.Get("Authorization"), &want) {
			w.Header().Set("WWW-Authenticate", adminRealm)
			http.Error(w, "unauthorized: the admin listener needs Authorization: Bearer <gateway.admin_token>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerMatches reports whether an Authorization header carries the
// bearer token whose SHA-256 is want, the scheme read as bearer reads it;
// hashing first makes the comparison's time independent of the token's
// length.
func bearerMatches(header string, want *[sha256.Size]byte) bool {
	tok := bearer([]byte(header))
	if tok == nil {
		return false
	}
	got := sha256.Sum256(tok)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
