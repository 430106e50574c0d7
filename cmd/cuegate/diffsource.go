package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cuegate/cuegate/internal/budget"
)

// compileAtRevision compiles dir as of the git revision rev: the
// directory's files at rev are written to a temporary directory, which is
// removed again. Findings name the files as "rev:path/in/repo".
func compileAtRevision(b budget.Budget, rev, dir string) ([]byte, error) {
	if strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("--git %q: a revision does not start with -", rev)
	}
	out, err := git(dir, "rev-parse", "--show-toplevel", "--show-prefix")
	if err != nil {
		return nil, err
	}
	top, prefix, _ := strings.Cut(strings.TrimSuffix(string(out), "\n"), "\n")
	archive, err := git(top, "archive", "--format=tar", rev+":"+prefix)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "cuegate-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := untar(archive, tmp); err != nil {
		return nil, fmt.Errorf("--git %s: %w", rev, err)
	}
	return compileSide(b, "old", tmp, rev+":"+strings.TrimSuffix(prefix, "/"))
}

// git runs git in dir and returns its output; a failure carries git's
// own message.
func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// untar writes the regular files of a tar archive under dir; anything
// else (links, devices) is skipped, and a name that would leave dir is an
// error.
func untar(archive []byte, dir string) error {
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("archive entry %q is outside the directory", h.Name)
		}
		name := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}

// maxTableBytes bounds the table a node's GET /table may answer;
// tableTimeout bounds the whole request.
const (
	maxTableBytes = 64 << 20
	tableTimeout  = 30 * time.Second
)

// tableClient fetches a node's table. It never follows a redirect: the
// admin token is for the node asked, and a 3xx is an error.
var tableClient = &http.Client{
	Timeout: tableTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// fetchTable reads the table a node serves at base's /table, with token
// as the bearer token when it is not empty. A URL with credentials
// (user:password@) is refused. The error names the URL, never the token.
func fetchTable(base, token string) ([]byte, error) {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return nil, errors.New("--against: not a URL; want the admin listener's http:// or https:// URL")
	case u.User != nil:
		u.User = nil // a user name alone may be a secret too
		return nil, fmt.Errorf("--against %s: a URL with credentials (user@ or user:password@) is refused; set %s to the node's gateway.admin_token", u, adminTokenEnv)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("--against %s: want the admin listener's http:// or https:// URL", u)
	}
	if !strings.HasSuffix(u.Path, "/table") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/table"
	}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := tableClient.Do(req)
	if err != nil {
		return nil, err // *url.Error: "Get "URL": cause", the URL redacted
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTableBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("GET %s: %w", u, err)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("GET %s: %s: set %s to the node's gateway.admin_token", u, resp.Status, adminTokenEnv)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, fmt.Errorf("GET %s: %s: redirects are not followed; give the admin listener's own URL", u, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	case len(body) > maxTableBytes:
		return nil, fmt.Errorf("GET %s: the table is over %d MiB", u, maxTableBytes>>20)
	}
	return body, nil
}
