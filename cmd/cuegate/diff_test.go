package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestDiffAgainst: --against reads a node's GET /table with the admin
// token from the environment and compares DIR with it.
func TestDiffAgainst(t *testing.T) {
	const token = "admin-token-for-the-test"
	dir := t.TempDir()
	cfg := func(target string) {
		src := "package cfg\n\napis: users: {name: \"Users\", listen_path: \"/users\", auth: keyless: true, upstream: targets: [\"" + target + "\"]}\n"
		testutil.WriteFile(t, filepath.Join(dir, "cfg.cue"), src, 0o644)
	}
	cfg("http://127.0.0.1:9000")
	var served, stderr bytes.Buffer
	if code := run([]string{"compile", dir}, &served, &stderr); code != exitOK {
		t.Fatalf("compile: %d %s", code, stderr.String())
	}
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/table" {
			http.NotFound(w, r)
			return
		}
		w.Write(served.Bytes()) //nolint:errcheck
	}))
	defer node.Close()

	diff := func(url string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run([]string{"diff", "--against", url, dir}, &out, &errb)
		return code, out.String(), errb.String()
	}
	t.Setenv(adminTokenEnv, "")
	if code, _, errs := diff(node.URL); code != exitUsage || !strings.Contains(errs, "401 Unauthorized: set CUEGATE_ADMIN_TOKEN") {
		t.Errorf("without the token: %d %q", code, errs)
	}
	t.Setenv(adminTokenEnv, token)
	if code, out, errs := diff(node.URL); code != exitOK || out != "" {
		t.Errorf("the same configuration: %d %q %q", code, out, errs)
	}
	cfg("http://127.0.0.1:9001")
	code, out, errs := diff(node.URL + "/")
	if want := "api users: changed\n  upstream.targets: [\"http://127.0.0.1:9000\"] → [\"http://127.0.0.1:9001\"]\n"; code != exitChanged || out != want {
		t.Errorf("a change: %d %q %q, want %q", code, out, errs, want)
	}
	if strings.Contains(errs+out, token) {
		t.Error("the token was printed")
	}
	if code, _, errs := diff(node.URL + "/table/x"); code != exitUsage || !strings.Contains(errs, "404") {
		t.Errorf("a wrong path: %d %q", code, errs)
	}
}

// TestDiffAgainstRedirect: a node that redirects never gets the admin
// token to another host, and a redirect is an error.
func TestDiffAgainstRedirect(t *testing.T) {
	const token = "admin-token-for-the-redirect-test"
	var leaked bytes.Buffer
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.WriteString(r.Header.Get("Authorization") + ";")
	}))
	defer other.Close()
	node := httptest.NewServer(http.RedirectHandler(other.URL+"/table", http.StatusTemporaryRedirect))
	defer node.Close()
	t.Setenv(adminTokenEnv, token)
	var out, errb bytes.Buffer
	code := run([]string{"diff", "--against", node.URL, t.TempDir()}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "307 Temporary Redirect: redirects are not followed") {
		t.Errorf("diff = %d %q", code, errb.String())
	}
	if leaked.Len() > 0 {
		t.Errorf("the redirect was followed: %q", leaked.String())
	}
}

// TestDiffAgainstTooLarge: a table over maxTableBytes is an error, read
// no further than the bound.
func TestDiffAgainstTooLarge(t *testing.T) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for range maxTableBytes>>20 + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer node.Close()
	_, err := fetchTable(node.URL, "")
	if err == nil || !strings.Contains(err.Error(), "the table is over 64 MiB") {
		t.Errorf("fetchTable = %v", err)
	}
}

// TestDiffAgainstCredentials: a URL with credentials is refused, and no
// error repeats them.
func TestDiffAgainstCredentials(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"http://admin:s3cret-pass@127.0.0.1:1/",
		"https://s3cret-pass@node/",
		"ftp://admin:s3cret-pass@node/",
		"http://admin:s3cret-pass@node/%zz",
	} {
		_, err := fetchTable(u, "")
		if err == nil || strings.Contains(err.Error(), "s3cret-pass") {
			t.Errorf("fetchTable(%q) = %v", u, err)
		}
	}
	_, err := fetchTable("http://admin:s3cret-pass@127.0.0.1:1/", "")
	if want := "--against http://127.0.0.1:1/: a URL with credentials (user@ or user:password@) is refused"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("fetchTable = %v, want %q…", err, want)
	}
}

// TestErrorText: a name in an error cannot start a line of its own (a CI
// runner's "::error" command); a side that does not compile keeps one
// line a finding.
func TestErrorText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want string
	}{
		{errors.New("compile .: x\n::error title=i::y.cue is not a regular file"), `compile .: x\n::error title=i::y.cue is not a regular file`},
		{&sideError{Side: "old", Name: "HEAD:cfg", Diags: table.Diagnostics{
			{File: "HEAD:cfg/a\n::error::b.cue", Line: 1, Column: 2, Message: "m"},
			{File: "HEAD:cfg/c.cue", Line: 3, Column: 4, Message: "OpenAPI document m\n::error::x.yaml: no such file"},
		}}, "the old configuration (HEAD:cfg) does not compile:\n" +
			`  HEAD:cfg/a\n::error::b.cue:1:2: m` + "\n" +
			`  HEAD:cfg/c.cue:3:4: OpenAPI document m\n::error::x.yaml: no such file`},
	} {
		if got := errorText(tt.err); got != tt.want {
			t.Errorf("errorText:\n%s\nwant\n%s", got, tt.want)
		}
	}
}

// TestChangedFilesLargeDocument: a named file larger than a PEM bundle
// may be, as an OpenAPI document may, is compared by its contents: the
// same on both sides is no change, one byte apart is.
func TestChangedFilesLargeDocument(t *testing.T) {
	t.Parallel()
	oldDir, newDir := t.TempDir(), t.TempDir()
	doc := strings.Repeat("x", table.MaxPEMFileBytes+1)
	testutil.WriteFile(t, filepath.Join(oldDir, "same.yaml"), doc, 0o644)
	testutil.WriteFile(t, filepath.Join(newDir, "same.yaml"), doc, 0o644)
	testutil.WriteFile(t, filepath.Join(oldDir, "other.yaml"), doc, 0o644)
	testutil.WriteFile(t, filepath.Join(newDir, "other.yaml"), doc+"y", 0o644)
	changed, err := changedFiles(oldDir, newDir, []string{"other.yaml", "same.yaml"})
	if err != nil || !slices.Equal(changed, []string{"other.yaml"}) {
		t.Errorf("changedFiles = %v, %v; want [other.yaml]", changed, err)
	}
}
