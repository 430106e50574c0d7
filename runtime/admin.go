package runtime

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/cuegate/cuegate/compiler/table"
)

// AdminHandler serves the admin endpoints: /healthz (the process is up),
// /readyz (Ready; 503 otherwise), /metrics (Prometheus text: the gateway's
// series, then those extra writes, then those of the default
// VictoriaMetrics set and the process's, every family with its help and
// type), /status (JSON, see Status) and /table (the serving table's
// canonical JSON, as Table.JSON: secrets as references, never values). It
// has no authentication of its own: serve it behind an AdminGuard.
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

// AdminGuard guards the admin listener's handler. Every path but
// /healthz and /readyz (which probes reach as they are) is refused:
//
//   - 403 to a request carrying Origin or Sec-Fetch-Site: browsers send
//     them, and no admin client is a browser;
//   - with a token, 401 without "Authorization: Bearer <token>" (compared
//     in constant time, of its length too), with WWW-Authenticate: Bearer
//     realm="cuegate-admin";
//   - without one, 403 to a Host other than a loopback address,
//     "localhost" or the listener's host: a page whose name was rebound
//     to the loopback address sends its own name.
//
// The guarded handler never sees a refused request. An AdminGuard is
// safe for concurrent use, SetToken too.
type AdminGuard struct {
	next  http.Handler
	bound string                            // the listener's host
	want  atomic.Pointer[[sha256.Size]byte] // the token's SHA-256; nil for none
}

var _ http.Handler = (*AdminGuard)(nil)

// NewAdminGuard guards next, served on a listener bound to the host of
// bound (host:port), without a token until SetToken.
func NewAdminGuard(next http.Handler, bound string) *AdminGuard {
	host, _, err := net.SplitHostPort(bound)
	if err != nil {
		host = bound
	}
	return &AdminGuard{next: next, bound: host}
}

// SetToken makes token the one requests need from now on ("" for none),
// and reports whether it differs from the one before.
func (g *AdminGuard) SetToken(token string) (changed bool) {
	var want *[sha256.Size]byte
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		want = &sum
	}
	old := g.want.Swap(want)
	return (old == nil) != (want == nil) || (old != nil && *old != *want)
}

func (g *AdminGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		g.next.ServeHTTP(w, r)
		return
	}
	if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" {
		http.Error(w, "forbidden: the admin listener does not answer browsers (the request carries Origin or Sec-Fetch-Site)", http.StatusForbidden)
		return
	}
	if want := g.want.Load(); want != nil {
		if !bearerMatches(r.Header.Get("Authorization"), want) {
			w.Header().Set("WWW-Authenticate", adminRealm)
			http.Error(w, "unauthorized: the admin listener needs Authorization: Bearer <gateway.admin_token>", http.StatusUnauthorized)
			return
		}
	} else if !g.localHost(r.Host) {
		http.Error(w, "forbidden: the admin listener without gateway.admin_token answers only requests to a loopback address or localhost", http.StatusForbidden)
		return
	}
	g.next.ServeHTTP(w, r)
}

// localHost reports whether hostport (a Host header) names a loopback
// address, localhost or the listener's host.
func (g *AdminGuard) localHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' { // an IPv6 literal without a port
		host = host[1 : len(host)-1]
	}
	return host != "" && (table.IsLoopbackHost(host) || host == g.bound)
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
