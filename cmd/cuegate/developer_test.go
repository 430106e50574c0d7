package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
)

// cli runs cuegate with args and returns its exit code, stdout and stderr.
func cli(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// portalJSON posts body to the portal's JSON API and returns the status
// and the session cookie it set.
func portalJSON(t *testing.T, base, path, body string) (int, *http.Cookie) {
	t.Helper()
	resp, err := http.Post(base+"/portal/api/v1"+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "cuegate_session" && c.Value != "" {
			return resp.StatusCode, c
		}
	}
	return resp.StatusCode, nil
}

// TestDeveloperThroughRunningNode is the operator's journey on an
// invite-only portal while cuegate serve holds the state file.
func TestDeveloperThroughRunningNode(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	state, pw := filepath.Join(tmp, "state.json"), filepath.Join(tmp, "password")
	testutil.WriteFile(t, pw, "correct horse battery\n", 0o600)
	n := startTestNode(t, serveTestDir(t), state, nil)
	admin, portalURL := n.AdminAddr(), "http://"+n.PortalAddr()
	const dev = `{"email":"dev@example.com","password":"correct horse battery"}`

	// The state file is locked: a change without --admin is refused, and
	// the CLI says what to do; list reads the file all the same.
	code, _, stderr := cli("developer", "remove", "--state", state, "dev@example.com")
	if code != exitUsage || !strings.Contains(stderr, "in use by another process") || !strings.Contains(stderr, "pass --admin with its admin_listen address") {
		t.Fatalf("developer remove --state on a served file: exit %d\n%s", code, stderr)
	}
	if code, stdout, stderr := cli("developer", "list", "--state", state); code != exitOK || stdout != "EMAIL  CREATED  CLIENTS\n" {
		t.Fatalf("developer list --state on a served file: exit %d\n%s%s", code, stdout, stderr)
	}
	if status, _ := portalJSON(t, portalURL, "/signup", dev); status != http.StatusForbidden {
		t.Fatalf("sign-up on an invite-only portal: %d", status)
	}

	code, stdout, stderr := cli("developer", "add", "--admin", admin, "--password-file", pw, "Dev@Example.com")
	if code != exitOK || stdout != "added developer dev@example.com\n" {
		t.Fatalf("developer add --admin: exit %d\n%s%s", code, stdout, stderr)
	}
	status, session := portalJSON(t, portalURL, "/login", dev)
	if status != http.StatusOK || session == nil {
		t.Fatalf("login as the added developer: %d, session %v", status, session)
	}
	req, _ := http.NewRequest("GET", portalURL+"/portal/api/v1/clients", nil)
	req.AddCookie(session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("clients as the added developer: %d", resp.StatusCode)
	}

	for _, tt := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"list"}, exitOK, "dev@example.com", ""},
		{[]string{"add", "--password-file", pw, "dev@example.com"}, exitInvalid, "", "cuegate developer: store: already exists: developer dev@example.com\n"},
		{[]string{"add", "--password-file", pw, "not-an-email"}, exitInvalid, "", "is not an email address"},
		{[]string{"remove", "dev@example.com"}, exitOK, "removed developer dev@example.com\n", ""},
		{[]string{"remove", "dev@example.com"}, exitInvalid, "", "cuegate developer: store: not found: developer dev@example.com\n"},
	} {
		args := append([]string{"developer", tt.args[0], "--admin", "http://" + admin}, tt.args[1:]...)
		code, stdout, stderr := cli(args...)
		if code != tt.code || !strings.Contains(stdout, tt.out) || !strings.Contains(stderr, tt.err) {
			t.Errorf("%q: exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
		}
	}
	if status, _ := portalJSON(t, portalURL, "/login", dev); status != http.StatusUnauthorized {
		t.Errorf("login after remove: %d", status)
	}

	// The operator endpoints are on the admin listener only, beside its own.
	for url, want := range map[string]int{
		portalURL + "/portal/developers": http.StatusNotFound,
		"http://" + admin + "/healthz":   http.StatusOK,
	} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
		}
	}
}

// TestDeveloperAdminWithoutPortal: --admin pointed at a node that runs no
// portal, or at nothing, says so; --admin and --state exclude each other.
func TestDeveloperAdminWithoutPortal(t *testing.T) {
	t.Parallel()
	n := startTestNode(t, serveTestDir(t), "", nil)
	code, _, stderr := cli("developer", "list", "--admin", n.AdminAddr())
	if code != exitUsage || !strings.Contains(stderr, "404 Not Found") || !strings.Contains(stderr, "a cuegate serve with --state?") {
		t.Errorf("list --admin without a portal: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := cli("developer", "list", "--admin", n.AdminAddr(), "--state", "x.json"); code != exitUsage || !strings.Contains(stderr, "usage:") {
		t.Errorf("both --admin and --state: exit %d\n%s", code, stderr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if code, _, stderr := cli("developer", "list", "--admin", closed); code != exitUsage || !strings.Contains(stderr, "is cuegate serve running with admin_listen "+closed+"?") {
		t.Errorf("list --admin to a closed port: exit %d\n%s", code, stderr)
	}
}

// TestDeveloperOutputIsEscaped: text in a state file written before the
// portal refused control characters reaches the terminal escaped.
func TestDeveloperOutputIsEscaped(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state.json")
	st, err := store.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	for _, email := range []string{"dev@example.com", "evil\x1b]0;owned\x07@example.com"} {
		if err := st.AddDeveloper(store.Developer{Email: email, PasswordHash: "x", Created: created}); err != nil {
			t.Fatal(err)
		}
	}
	c := store.Client{ClientID: "id\r\nremoved developer root", ClientName: "app\x1b[2J\u202e", Provider: "other\x00",
		Developer: "dev@example.com", Policy: "basic", CreatedAt: time.Now()}
	if err := st.AddClient(c, created); err != nil {
		t.Fatal(err)
	}
	st.Close()

	_, list, _ := cli("developer", "list", "--state", state)
	code, removed, stderr := cli("developer", "remove", "--state", state, "dev@example.com")
	if code != exitOK {
		t.Fatalf("remove: exit %d\n%s", code, stderr)
	}
	for out, lines := range map[string]int{list: 3, removed: 2} {
		if strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && !unicode.IsPrint(r) }) || strings.Count(out, "\n") != lines {
			t.Errorf("raw control characters reach the terminal:\n%q", out)
		}
	}
	if !strings.Contains(list, `evil\x1b]0;owned\a@example.com`) {
		t.Errorf("list does not show the escaped email:\n%s", list)
	}
	if want := `revoked client id\r\nremoved developer root (app\x1b[2J\u202e); it remains registered at the other\x00 provider`; !strings.Contains(removed, want) {
		t.Errorf("remove output:\n%s\nwant it to contain\n%s", removed, want)
	}
}

// TestDeveloperAdminToken: cuegate developer --admin sends the node's
// gateway.admin_token from --admin-token-file, and without it says which
// setting the node wants.
func TestDeveloperAdminToken(t *testing.T) {
	t.Parallel()
	dir := serveTestDir(t)
	for name, content := range map[string]string{
		"token.cue":   "package t\n\ngateway: admin_token: file: \"admin.token\"\n",
		"admin.token": "0p3rator-t0ken\n",
	} {
		testutil.WriteFile(t, filepath.Join(dir, name), content, 0o600)
	}
	n := startTestNode(t, dir, filepath.Join(dir, "state.json"), nil)
	if code, _, stderr := cli("developer", "list", "--admin", n.AdminAddr()); code == exitOK || !strings.Contains(stderr, "needs its gateway.admin_token (pass --admin-token-file FILE") {
		t.Errorf("developer list --admin without the token: exit %d\n%s", code, stderr)
	}
	if code, stdout, stderr := cli("developer", "list", "--admin", n.AdminAddr(), "--admin-token-file", filepath.Join(dir, "admin.token")); code != exitOK {
		t.Errorf("developer list --admin --admin-token-file: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestDeveloperUsageNamesEverySubcommand: the usage text lists each
// registered subcommand.
func TestDeveloperUsageNamesEverySubcommand(t *testing.T) {
	t.Parallel()
	for _, c := range developerCommands {
		if !strings.Contains(developerUsage, "cuegate developer "+c.name+" ") {
			t.Errorf("the usage does not show developer %s", c.name)
		}
	}
}

// TestDeveloperAdminStaysWithItsNode: --admin follows no redirect (the
// password and the admin token are for that node alone), and a URL with
// credentials is refused without repeating them.
func TestDeveloperAdminStaysWithItsNode(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, `{}`) //nolint:errcheck
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	dir := t.TempDir()
	pw, token := filepath.Join(dir, "pw"), filepath.Join(dir, "token")
	testutil.WriteFile(t, pw, "correct horse battery", 0o600)
	testutil.WriteFile(t, token, "the-admin-token", 0o600)
	code, _, stderr := cli("developer", "add", "--admin", redirector.URL, "--admin-token-file", token, "--password-file", pw, "dev@example.com")
	if code == exitOK || !strings.Contains(stderr, "redirects are not followed") || reached.Load() != 0 {
		t.Errorf("add --admin to a redirect: exit %d, %d requests elsewhere\n%s", code, reached.Load(), stderr)
	}
	code, _, stderr = cli("developer", "list", "--admin", "http://ops:hunter2@127.0.0.1:1")
	if code != exitUsage || strings.Contains(stderr, "hunter2") || strings.Contains(stderr, "ops") || !strings.Contains(stderr, "credentials") {
		t.Errorf("list --admin with credentials: exit %d\n%s", code, stderr)
	}
}
