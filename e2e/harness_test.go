package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/e2e/hydra"
)

// binDir holds the cuegate binary built once per test run.
var binDir string

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "cuegate-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// need fails the test under CI (CI=true, or any value but "", "0" and
// "false") and skips it otherwise, saying how to get what is missing. CI
// must never pass by skipping.
func need(t *testing.T, what, howto string) {
	t.Helper()
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatalf("%s is missing and CI=true, so this is a failure, not a skip: %s", what, howto)
	}
	t.Skipf("%s is missing: %s (CI=true turns this skip into a failure)", what, howto)
}

// hydraBinary returns the cached Hydra binary, building it when it is
// missing unless -short.
func hydraBinary(t *testing.T) string {
	t.Helper()
	if p, ok := hydra.Cached(); ok {
		return p
	}
	if env := os.Getenv("CUEGATE_E2E_HYDRA"); env != "" {
		need(t, "Ory Hydra "+hydra.Version, "CUEGATE_E2E_HYDRA="+env+" does not exist; unset it and run `just e2e` to build Hydra into the user cache")
	}
	if testing.Short() {
		need(t, "Ory Hydra "+hydra.Version, "-short does not build it; run `just e2e` (the first run builds it, about 3.5 minutes) or `cd e2e && go run ./cmd/hydra-build`")
	}
	var log bytes.Buffer
	start := time.Now()
	p, err := hydra.Build(context.Background(), &log)
	if err != nil {
		t.Logf("hydra build output:\n%s", log.Bytes())
		need(t, "Ory Hydra "+hydra.Version, fmt.Sprintf("building it failed (%v); it needs the Go module proxy and a C compiler for cgo; `cd e2e && go run ./cmd/hydra-build` shows why", err))
	}
	t.Logf("built Hydra %s in %s: %s", hydra.Version, time.Since(start).Round(time.Second), p)
	return p
}

// syncBuffer collects a process's output for assertions and failure logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tokenHook is Hydra's token hook: it adds a `pol` claim to the access
// tokens of the clients it was told about and leaves others unchanged.
type tokenHook struct {
	mu  sync.Mutex
	pol map[string]string
}

func (h *tokenHook) set(clientID, pol string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pol[clientID] = pol
}

func (h *tokenHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Request struct {
			ClientID string `json:"client_id"`
		} `json:"request"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	pol, ok := h.pol[req.Request.ClientID]
	h.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"session":{"access_token":{"pol":%q}}}`, pol)
}

// startHydra runs Hydra with a token hook for the test's lifetime.
func startHydra(t *testing.T) (*hydra.Server, *tokenHook) {
	t.Helper()
	bin := hydraBinary(t)
	hook := &tokenHook{pol: map[string]string{}}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	log := &syncBuffer{}
	h, err := hydra.Start(context.Background(), bin, t.TempDir(), hydra.Options{TokenHook: hookSrv.URL, Log: log})
	if err != nil {
		t.Logf("hydra output:\n%s", log)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("hydra output (last 4 KB):\n%s", tail(log.String(), 4096))
		}
	})
	return h, hook
}

// startEcho runs the upstream: it answers every request with a JSON echo
// of its method, path, query and the headers the gateway set.
func startEcho(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"authorization":   r.Header.Get("Authorization") != "",
			"x_forwarded_for": r.Header.Get("X-Forwarded-For"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// cuegateBinary builds cmd/cuegate from the parent module once per run.
func cuegateBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "cuegate")
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/cuegate")
		cmd.Dir = ".."
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/cuegate: %v\n%s", buildErr, buildOut)
	}
	return bin
}

// gateway is a running `cuegate serve`.
type gateway struct {
	URL, PortalURL, AdminURL string
	ConfigDir, StatePath     string
	Log                      *syncBuffer
	ports                    [3]int
	extra                    []string
	cmd                      *exec.Cmd
	stop                     func() error
}

// startCuegate runs `cuegate serve` on the config in dir and the state
// file statePath, and waits for /readyz. The listen addresses (ports gw,
// portal and admin on 127.0.0.1) must already be in the config.
func startCuegate(t *testing.T, dir, statePath string, gw, portal, admin int) *gateway {
	t.Helper()
	return startServe(t, dir, statePath, [3]int{gw, portal, admin}, nil)
}

// startNode runs `cuegate serve` on the config in dir as one of several
// nodes on this host: its addresses come from --listen, --portal-listen and
// --admin-listen, it runs the portal only with a statePath, and extra
// flags follow.
func startNode(t *testing.T, dir, statePath string, extra ...string) *gateway {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ports := [3]int{freePort(t), freePort(t), freePort(t)}
		flags := []string{
			"--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"--portal-listen", fmt.Sprintf("127.0.0.1:%d", ports[1]),
			"--admin-listen", fmt.Sprintf("127.0.0.1:%d", ports[2]),
		}
		g, err := launchServe(t, dir, statePath, ports, append(flags, extra...))
		// A port found free may be taken by another process before the
		// node binds it: try other ports.
		if err != nil && attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("attempt %d: %v; trying other ports", attempt, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
}

// startServe runs `cuegate serve --config dir` with the state file (none
// when "") and the extra flags, and waits for the admin listener's
// /readyz on ports[2].
func startServe(t *testing.T, dir, statePath string, ports [3]int, extra []string) *gateway {
	t.Helper()
	g, err := launchServe(t, dir, statePath, ports, extra)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// launchServe is startServe, returning an error when the process exits
// or is not ready in 60 s.
func launchServe(t *testing.T, dir, statePath string, ports [3]int, extra []string) (*gateway, error) {
	t.Helper()
	g := &gateway{
		URL:       fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PortalURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		AdminURL:  fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		ConfigDir: dir,
		StatePath: statePath,
		Log:       &syncBuffer{},
		ports:     ports,
		extra:     extra,
	}
	args := []string{"serve", "--config", dir}
	if statePath != "" {
		args = append(args, "--state", statePath)
	}
	cmd := exec.Command(cuegateBinary(t), append(args, extra...)...)
	cmd.Stdout, cmd.Stderr = g.Log, g.Log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g.cmd = cmd
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	var once sync.Once
	// stop sends SIGINT, as Ctrl-C would, and returns the exit error.
	g.stop = func() error {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
				waitErr = fmt.Errorf("no exit within 30s of SIGINT (killed): %v", waitErr)
			}
		})
		return waitErr
	}
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("cuegate serve %s output (last 8 KB):\n%s", g.URL, tail(g.Log.String(), 8192))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(g.AdminURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		select {
		case <-done:
			return nil, fmt.Errorf("cuegate serve exited before it was ready (%v):\n%s", cmd.ProcessState, g.Log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cuegate serve not ready after 60s (last: %v):\n%s", err, g.Log)
		}
	}
}

// restart stops g cleanly (a failure to exit 0 fails the test) and starts
// it again on the same configuration, state file, ports and flags.
func (g *gateway) restart(t *testing.T) *gateway {
	t.Helper()
	if err := g.stop(); err != nil {
		t.Errorf("cuegate serve did not exit cleanly on SIGINT: %v", err)
	}
	return startServe(t, g.ConfigDir, g.StatePath, g.ports, g.extra)
}

// kill ends g at once (SIGKILL), as a crash or an OOM kill would.
func (g *gateway) kill() {
	g.cmd.Process.Kill()
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := hydra.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// portalClient speaks the portal's JSON API with a session cookie.
type portalClient struct {
	base string
	c    *http.Client
}

func newPortalClient(t *testing.T, portalURL string) *portalClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &portalClient{base: portalURL + "/portal/api/v1", c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends a JSON request and decodes a JSON answer into out when it is
// not nil. It returns the status and the raw body.
func (p *portalClient) do(t *testing.T, method, path string, in, out any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+path, body)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := p.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode, b
}

// portalClientCreated is the portal's answer to POST /clients.
type portalClientCreated struct {
	ClientID      string   `json:"client_id"`
	ClientSecret  string   `json:"client_secret"`
	TokenEndpoint string   `json:"token_endpoint"`
	Catalogue     []string `json:"catalogue"`
	Policy        string   `json:"policy"`
}

// signUp creates a developer and logs in.
func (p *portalClient) signUp(t *testing.T, email, password string) {
	t.Helper()
	cred := map[string]string{"email": email, "password": password}
	if st, b := p.do(t, "POST", "/signup", cred, nil); st != http.StatusCreated && st != http.StatusOK {
		t.Fatalf("signup: %d %s", st, b)
	}
	if st, b := p.do(t, "POST", "/login", cred, nil); st != http.StatusOK && st != http.StatusNoContent {
		t.Fatalf("login: %d %s", st, b)
	}
}

func (p *portalClient) createClient(t *testing.T, entry, name string) portalClientCreated {
	t.Helper()
	var c portalClientCreated
	st, b := p.do(t, "POST", "/clients", map[string]any{"catalogue": []string{entry}, "client_name": name, "redirect_uris": []string{}}, &c)
	if st != http.StatusCreated || c.ClientID == "" || c.ClientSecret == "" {
		t.Fatalf("create client: %d %s", st, b)
	}
	return c
}

// clientCredentials gets an access token with client_secret_post.
func clientCredentials(t *testing.T, tokenURL, id, secret string) string {
	t.Helper()
	res, err := http.PostForm(tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token from %s: %d %s", tokenURL, res.StatusCode, b)
	}
	return tok.AccessToken
}

// jwtPart decodes the header (0) or claims (1) of a JWT without checking it.
func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

// call sends method to url with an optional bearer token.
func call(t *testing.T, method, url, token string) response {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}
}

// eventually polls f until it returns "" (success) or the deadline passes;
// the last message explains a failure.
func eventually(t *testing.T, what string, f func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60s: %s", what, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// execOutput runs a command and returns its combined output.
func execOutput(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
