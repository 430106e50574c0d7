package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runningDemo is a Run started by startDemo.
type runningDemo struct {
	a              Addrs
	config         string
	stdout, stderr testutil.SyncBuffer
	cancel         context.CancelFunc
	stopped        chan struct{} // closed when Run returned, with err
	err            error
}

// startDemo runs the demo on free ports and waits for its walkthrough.
func startDemo(t *testing.T) *runningDemo {
	t.Helper()
	d := &runningDemo{
		a:       Addrs{Gateway: freeAddr(t), Portal: freeAddr(t), Admin: freeAddr(t), IdP: freeAddr(t), Echo: freeAddr(t)},
		stopped: make(chan struct{}),
	}
	dir := t.TempDir()
	d.config = filepath.Join(dir, "config")
	var ctx context.Context
	ctx, d.cancel = context.WithCancel(context.Background())
	go func() {
		d.err = Run(ctx, Options{Addrs: d.a, Dir: dir}, &d.stdout, &d.stderr)
		close(d.stopped)
	}()
	t.Cleanup(func() {
		if !d.stop() {
			t.Error("the demo did not stop within 60s of Ctrl-C")
		}
		if t.Failed() {
			t.Logf("demo stdout:\n%s\ndemo stderr:\n%s", d.stdout.String(), d.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.stdout.String(), "Walkthrough") {
		select {
		case <-d.stopped:
			t.Fatalf("the demo stopped before the walkthrough: %v", d.err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no walkthrough within 60s")
		}
	}
	return d
}

// stop cancels the demo (Ctrl-C) and reports whether it returned within
// 60 seconds.
func (d *runningDemo) stop() bool {
	d.cancel()
	select {
	case <-d.stopped:
		return true
	case <-time.After(60 * time.Second):
		return false
	}
}

// TestDemoWalkthrough runs the demo on free ports and follows the
// walkthrough with HTTP calls, then stops it as Ctrl-C would.
func TestDemoWalkthrough(t *testing.T) {
	d := startDemo(t)
	a := d.a
	out := d.stdout.String()
	for _, want := range []string{"http://" + a.Portal + "/", "http://" + a.Gateway + "/echo/hello", "http://" + a.IdP + "/token", "DEVELOPMENT-ONLY", "429"} {
		if !strings.Contains(out, want) {
			t.Errorf("the walkthrough does not mention %q", want)
		}
	}
	if !strings.Contains(d.stderr.String(), "development only") {
		t.Errorf("the log does not say the provider is development-only:\n%s", d.stderr.String())
	}

	// Step 1: sign up, log in and create a client with the JSON API.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	api := "http://" + a.Portal + "/portal/api/v1"
	cred := `{"email":"dev@example.com","password":"demo-password-123"}`
	for _, step := range []struct{ path, body string }{{"/signup", cred}, {"/login", cred}} {
		if st, b := postJSON(t, c, api+step.path, step.body); st >= 300 {
			t.Fatalf("%s: %d %s", step.path, st, b)
		}
	}
	st, b := postJSON(t, c, api+"/clients", `{"catalogue":["echo"],"client_name":"my app","redirect_uris":[]}`)
	clientID, clientSecret := jsonField(b, "client_id"), jsonField(b, "client_secret")
	if st != http.StatusCreated || clientID == "" {
		t.Fatalf("create client: %d %s", st, b)
	}
	if got := jsonField(b, "token_endpoint"); got != "http://"+a.IdP+"/token" {
		t.Errorf("token_endpoint %q, want the demo provider's", got)
	}

	// Step 2: rename the client: the provider takes the RFC 7592 update
	// and rotates the registration access token; the client's page reads
	// the client at the provider with the rotated token.
	req, _ := http.NewRequest("PATCH", api+"/clients/"+clientID, strings.NewReader(`{"client_name":"renamed app"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || jsonField(b, "client_name") != "renamed app" {
		t.Fatalf("rename: %d %s", res.StatusCode, b)
	}
	res, err = c.Get("http://" + a.Portal + "/clients/" + clientID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if page := string(b); res.StatusCode != http.StatusOK || !strings.Contains(page, "renamed app") || strings.Contains(page, "no longer knows") {
		t.Fatalf("client page after the rename: %d\n%s", res.StatusCode, page)
	}

	// Step 3: a token from the provider.
	res, err = http.PostForm("http://"+a.IdP+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	token := jsonField(b, "access_token")
	if res.StatusCode != 200 || token == "" {
		t.Fatalf("token: %d %s", res.StatusCode, b)
	}

	// Step 4: the API with and without a token, and the keyless API.
	gw := "http://" + a.Gateway
	if st, body := testutil.Get(t, gw+"/echo/hello", token); st != 200 || !strings.Contains(body, `"path": "/hello"`) {
		t.Fatalf("GET /echo/hello with the token: %d %s", st, body)
	}
	if st, body := testutil.Get(t, gw+"/echo/hello", ""); st != 401 {
		t.Errorf("GET /echo/hello without a token: %d %s", st, body)
	}
	if st, body := testutil.Get(t, gw+"/public/hello", ""); st != 200 {
		t.Errorf("GET /public/hello: %d %s", st, body)
	}

	// Step 5: at most 5 requests per 10 seconds, so seven quick calls
	// include a 429.
	var codes []int
	for range 7 {
		st, _ := testutil.Get(t, gw+"/echo/hello", token)
		codes = append(codes, st)
	}
	if codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Errorf("seven quick calls answered %v; the last should be 429", codes)
	}

	// Step 6: delete the client; its token is refused at once.
	req, _ = http.NewRequest("DELETE", api+"/clients/"+clientID, nil)
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("delete: %s", res.Status)
	}
	if st, body := testutil.Get(t, gw+"/echo/hello", token); st != http.StatusForbidden {
		t.Errorf("the deleted client's token: %d %s, want 403", st, body)
	}

	// Ctrl-C: the demo stops cleanly and frees its ports.
	if !d.stop() {
		t.Fatal("the demo did not stop within 60s of Ctrl-C")
	}
	if d.err != nil {
		t.Fatalf("demo returned %v", d.err)
	}
	for name, addr := range map[string]string{"gateway": a.Gateway, "portal": a.Portal, "admin": a.Admin, "idp": a.IdP, "echo": a.Echo} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("the %s address %s is still in use after the demo stopped: %v", name, addr, err)
			continue
		}
		ln.Close()
	}
}

func TestDemoBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	a := Addrs{Gateway: freeAddr(t), Portal: busy.Addr().String(), Admin: freeAddr(t), IdP: freeAddr(t), Echo: freeAddr(t)}
	var stdout, stderr bytes.Buffer
	err = Run(context.Background(), Options{Addrs: a, Dir: t.TempDir()}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--portal "+busy.Addr().String()) || !strings.Contains(err.Error(), "choose another") {
		t.Fatalf("demo with a busy portal port: %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("the demo printed a walkthrough before failing:\n%s", stdout.String())
	}
}

// TestDemoLoopbackOnly: every listener's address must be on loopback; any
// other is refused before anything starts, with an error naming its flag.
func TestDemoLoopbackOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flag string
		set  func(a *Addrs, addr string)
	}{
		{"--gateway", func(a *Addrs, addr string) { a.Gateway = addr }},
		{"--portal", func(a *Addrs, addr string) { a.Portal = addr }},
		{"--admin", func(a *Addrs, addr string) { a.Admin = addr }},
		{"--idp", func(a *Addrs, addr string) { a.IdP = addr }},
		{"--echo", func(a *Addrs, addr string) { a.Echo = addr }},
	}
	bad := []string{"0.0.0.0:18082", ":18082", "[::]:18082", "10.1.2.3:18082", "example.com:18082", "[::ffff:10.1.2.3]:18082"}
	for _, tc := range tests {
		for _, addr := range bad {
			t.Run(tc.flag+" "+addr, func(t *testing.T) {
				t.Parallel()
				a := Addrs{Gateway: "127.0.0.1:0", Portal: "127.0.0.1:0", Admin: "127.0.0.1:0", IdP: "127.0.0.1:0", Echo: "127.0.0.1:0"}
				tc.set(&a, addr)
				var stdout, stderr bytes.Buffer
				err := Run(context.Background(), Options{Addrs: a, Dir: t.TempDir()}, &stdout, &stderr)
				if want := tc.flag + " " + addr + " is not a loopback address"; err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want it to say %q", err, want)
				}
				if stdout.Len()+stderr.Len() != 0 {
					t.Errorf("the demo wrote before failing:\n%s%s", stdout.String(), stderr.String())
				}
			})
		}
	}
	for _, host := range []string{"127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1"} {
		if !isLoopback(host) {
			t.Errorf("isLoopback(%q) = false", host)
		}
	}
}

// TestDemoCompilesWithOptionsCompile: the configuration is compiled by the
// Compile it is given (cuegate demo's budgeted compile), not in process.
func TestDemoCompilesWithOptionsCompile(t *testing.T) {
	t.Parallel()
	a := Addrs{Gateway: freeAddr(t), Portal: freeAddr(t), Admin: freeAddr(t), IdP: freeAddr(t), Echo: freeAddr(t)}
	var compiled string
	compile := func(_ context.Context, dir string) (*table.Table, error) {
		compiled = dir
		return nil, errors.New("over budget")
	}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), Options{Addrs: a, Dir: t.TempDir(), Compile: compile}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "over budget") || compiled == "" {
		t.Fatalf("Run with a failing Compile: %v (compiled %q)", err, compiled)
	}
}

func postJSON(t *testing.T, c *http.Client, u, body string) (int, []byte) {
	t.Helper()
	res, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func jsonField(b []byte, name string) string {
	var m map[string]any
	json.Unmarshal(b, &m)
	s, _ := m[name].(string)
	return s
}

// TestDemoWalkthroughInShell pastes the printed walkthrough's commands,
// exactly as printed, into bash, and checks what they answer.
func TestDemoWalkthroughInShell(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed", "tr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walkthrough needs %s: %v", tool, err)
		}
	}
	d := startDemo(t)
	var script []string
	for _, s := range walkthroughSteps(d.a, d.config) {
		script = append(script, s.Cmds...)
		if !strings.Contains(d.stdout.String(), strings.Join(s.Cmds, "\n   ")) {
			t.Errorf("the printed walkthrough lacks the commands %q", s.Cmds)
		}
	}
	// Bounded, so that a request that hangs fails the test instead of
	// holding it until the test binary's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", strings.Join(script, "\n"))
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if err != nil {
		t.Fatalf("the walkthrough failed in bash: %v\n%s", err, out)
	}
	for _, want := range []string{
		"HTTP/1.1 200",     // the call with the token
		`"path": "/hello"`, // echoed by the upstream
		"\n401\n200\n",     // without a token, then the keyless API
		"HTTP/1.1 204",     // the CORS preflight
		"Access-Control-Allow-Origin: http://localhost:3000",
		"\n200\n200\n200\n200\nHTTP/1.1 429", // four pass after step 3's call, the fifth is refused
		"Retry-After: ",                      // with when to try again
		`"code":403`,                         // the deleted client's token
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, out)
		}
	}
}
