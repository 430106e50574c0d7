package runtime

import (
	"bufio"
	"crypto/tls"
	_ "embed"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/runtime/limit"
)

// fakeBindings is a Bindings for tests.
type fakeBindings struct {
	mu sync.RWMutex
	m  map[string]binding
}

var _ Bindings = (*fakeBindings)(nil)

type binding struct {
	policy    string
	expiresAt time.Time
	revoked   bool
	catalogue []string // nil: users_entry, an entry of the dev IdP's users API
}

func (b *fakeBindings) Binding(id string) (table.Binding, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	x, ok := b.m[id]
	return table.Binding{Policy: x.policy, ExpiresAt: x.expiresAt, Revoked: x.revoked, Catalogue: x.catalogue}, ok
}

func (b *fakeBindings) set(id string, x binding) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]binding{}
	}
	if x.catalogue == nil {
		x.catalogue = []string{"users_entry"}
	}
	b.m[id] = x
}

// upstreamHit is what the echo upstream saw; Body only for .../body.
type upstreamHit struct {
	Method, URI   string
	Header        http.Header
	ContentLength int64
	Body          string
}

// env is one running gateway with its provider and upstream.
type env struct {
	t        testing.TB
	idp      *devidp.Provider
	echo     *httptest.Server
	dead     string
	dir      string
	clock    *testutil.Clock
	bindings *fakeBindings
	gw       *Gateway
	url      string
	server   *fasthttp.Server
	client   *http.Client

	mu   sync.Mutex
	hits []upstreamHit
	// release unblocks the upstream's /block requests.
	release chan struct{}
}

type envOptions struct {
	extra string // CUE appended to the config
	// tls makes the listener serve HTTPS with a generated certificate.
	tls bool
	// log receives the gateway's log; nil discards it.
	log io.Writer
	// noWait starts serving before the IdPs' keys are fetched.
	noWait bool
	// limiter replaces the in-memory one.
	limiter limit.Limiter
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, clock: testutil.NewClock(time.Now()), bindings: &fakeBindings{}, release: make(chan struct{})}
	e.idp = testidp.New(t, devidp.Options{Now: e.clock.Now}).IdP
	e.echo = httptest.NewServer(http.HandlerFunc(e.upstream))
	t.Cleanup(e.echo.Close)
	t.Cleanup(func() {
		select {
		case <-e.release:
		default:
			close(e.release)
		}
	})
	e.dead = testutil.DeadURL(t)
	e.dir = t.TempDir()
	extra := o.extra
	if o.tls {
		testutil.WriteCert(t, e.dir)
		extra += testutil.CertConfig
	}
	e.writeConfig(extra)
	tab, err := compiler.Compile(e.dir)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	logw := o.log
	if logw == nil {
		logw = io.Discard
	}
	e.gw, err = New(tab, Options{
		Logger:    zerolog.New(logw),
		AccessLog: logw,
		ConfigDir: e.dir,
		Bindings:  e.bindings,
		Limiter:   o.limiter,
		Now:       e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.gw.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, scheme := e.gw.Listener(ln)
	e.url = scheme + "://" + ln.Addr().String()
	e.client = &http.Client{Timeout: 30 * time.Second}
	if o.tls {
		e.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testutil.CertPool(t, e.dir)}}
	}
	e.server = e.gw.Server()
	go e.server.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { e.server.Shutdown() })
	if !o.noWait {
		testutil.Eventually(t, "the gateway ready (the IdPs' keys fetched)", e.gw.Ready)
	}
	return e
}

// baseConfig is the configuration the tests serve (see the file), read
// once: a test may change the working directory.
//
//go:embed testdata/gateway.cue
var baseConfig string

// writeConfig writes the configuration: baseConfig filled in, then extra.
func (e *env) writeConfig(extra string) {
	e.t.Helper()
	cfg := strings.NewReplacer("${ISSUER}", e.idp.Issuer(), "${JWKS_URI}", e.idp.JWKSURL(), "${UPSTREAM}", e.echo.URL, "${DEAD}", e.dead).
		Replace(baseConfig) + extra + "\n"
	if err := os.WriteFile(filepath.Join(e.dir, "config.cue"), []byte(cfg), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// upstream echoes: .../block waits for release, .../sleep takes 2s,
// .../body records the request body, .../dup answers headers the
// gateway edits, each twice, in two cases (dupHeaders); anything answers
// 200 "ok <uri>".
func (e *env) upstream(w http.ResponseWriter, r *http.Request) {
	hit := upstreamHit{r.Method, r.RequestURI, r.Header.Clone(), r.ContentLength, ""}
	if strings.HasSuffix(r.URL.Path, "/body") {
		b, _ := io.ReadAll(r.Body)
		hit.Body = string(b)
	}
	e.mu.Lock()
	e.hits = append(e.hits, hit)
	e.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/block"):
		<-e.release
	case strings.HasSuffix(r.URL.Path, "/sleep"):
		time.Sleep(2 * time.Second)
	}
	if strings.HasSuffix(r.URL.Path, "/dup") {
		for _, k := range dupHeaders {
			w.Header()[k] = []string{"upstream-1"}
			w.Header()[strings.ToLower(k)] = []string{"upstream-2"}
		}
	}
	if strings.HasSuffix(r.URL.Path, "/owned") {
		w.Header()["Set-Cookie"] = upstreamCookies
		w.Header()["X-Ratelimit-Remaining"] = []string{"upstream-1", "upstream-2"}
	}
	w.Header().Set("X-Upstream", "echo")
	io.WriteString(w, "ok "+r.RequestURI) //nolint:errcheck
}

// dupHeaders are the headers the upstream's .../dup answers twice: one
// the API orders sets, and CORS headers it does not.
var dupHeaders = []string{"X-Frame-Options", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Private-Network"}

// upstreamCookies are the cookies the upstream's .../owned sets: the
// portal's names, which the gateway drops, and one of the API's own.
var upstreamCookies = []string{
	"cuegate_session=planted; Path=/; HttpOnly", "__Host-cuegate_session=planted; Path=/; Secure",
	"cuegate_csrf=planted; Path=/", "__Host-cuegate_device=planted; Path=/; Secure",
	"=cuegate_session=planted; Path=/", "app=1; Path=/; Comment=cuegate_", // a browser reads the first as cuegate_session
}

func (e *env) lastHit() upstreamHit {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.hits) == 0 {
		e.t.Fatal("the upstream got no request")
	}
	return e.hits[len(e.hits)-1]
}

// hitOf returns the request of the case id that the upstream got, if it
// got one (see TestRequests).
func (e *env) hitOf(id string) (upstreamHit, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, h := range e.hits {
		if h.Header.Get(caseHeader) == id {
			return h, true
		}
	}
	return upstreamHit{}, false
}

func (e *env) hitCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.hits)
}

// token signs a valid token for clientID with extra claims.
func (e *env) token(clientID string, extra map[string]any) string {
	e.t.Helper()
	now := e.clock.Now()
	claims := map[string]any{
		"iss":       e.idp.Issuer(),
		"sub":       clientID,
		"client_id": clientID,
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	tok, err := e.idp.Sign(claims)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request; rawPath is sent exactly as given.
func (e *env) do(method, rawPath, token string, hdr map[string]string) response {
	e.t.Helper()
	if strings.HasPrefix(rawPath, "//") {
		return e.doRaw(method, rawPath, token, hdr)
	}
	req, err := http.NewRequest(method, e.url+"/", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.URL.Opaque = rawPath // sent verbatim
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// doRaw writes the request line by hand (net/http would turn a path
// starting with "//" into absolute-form).
func (e *env) doRaw(method, rawPath, token string, hdr map[string]string) response {
	e.t.Helper()
	req := method + " " + rawPath + " HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	for _, k := range slices.Sorted(maps.Keys(hdr)) {
		req += k + ": " + hdr[k] + "\r\n"
	}
	return e.rawExchange(req + "\r\n")
}

// rawExchange writes req as it is on a new connection to the gateway and
// reads the response (the gateway closes the connection after a request it
// could not parse).
func (e *env) rawExchange(req string) response {
	e.t.Helper()
	c, r, err := e.exchange(req)
	if err != nil {
		e.t.Fatal(err)
	}
	c.Close()
	return r
}

// exchange writes req as it is on a new connection to the gateway and
// reads the response whole; the connection stays open, kept alive, until
// the test ends or the caller closes it. err is the connection's: closed
// before an answer.
func (e *env) exchange(req string) (net.Conn, response, error) {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a hung test fails on it
	if _, err := io.WriteString(c, req); err != nil {
		return nil, response{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, response{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return c, response{resp.StatusCode, resp.Header, string(b)}, nil
}

// addr is the gateway's host:port.
func (e *env) addr() string { return strings.TrimPrefix(e.url, "http://") }

// reload compiles g's configuration directory in this process and applies
// the outcome, as the node does on a change.
func reload(g *Gateway) error {
	start := time.Now()
	t, err := compiler.Compile(g.opts.ConfigDir)
	return g.Apply(Compiled{Table: t, Err: err, Took: time.Since(start)})
}
