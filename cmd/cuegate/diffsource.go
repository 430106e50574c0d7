package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cuegate/cuegate/internal/gitexport"
	"github.com/cuegate/cuegate/internal/outbound"
)

// exportRevision writes dir as of the git revision rev into a temporary
// directory (gitexport.Export), which the caller removes, and returns it
// and the name its findings give it ("rev:path/in/repo").
func exportRevision(rev, dir string) (tmp, name string, err error) {
	tmp, err = os.MkdirTemp("", "cuegate-diff-")
	if err != nil {
		return "", "", err
	}
	name, err = gitexport.Export(rev, dir, tmp)
	if ge := (*gitexport.Error)(nil); errors.As(err, &ge) {
		err = fmt.Errorf("--git %w", err)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", "", err
	}
	return tmp, name, nil
}

// maxTableBytes bounds the table a node's GET /table may answer;
// tableTimeout bounds the whole request.
const (
	maxTableBytes = 64 << 20
	tableTimeout  = 30 * time.Second
)

// tableClient fetches a node's table. It never follows a redirect: the
// admin token is for the node asked, and a 3xx is an error.
var tableClient = outbound.NoRedirects(&http.Client{Timeout: tableTimeout})

// fetchTable reads the table a node serves at base's /table, with token
// as the bearer token when it is not empty. A URL with credentials
// (user:password@) is refused. The error names the URL, never the token.
func fetchTable(base, token string) ([]byte, error) {
	u, err := adminURL("--against", base)
	if err != nil {
		return nil, err
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

// adminURL parses raw, the admin listener's URL given with the flag
// named flag, refusing one with credentials (user@ or user:password@),
// which would be printed in messages and sent to whoever the URL leads
// to: the admin token goes in a header. The error repeats no credentials.
func adminURL(flag, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: not a URL; want the admin listener's http:// or https:// URL", flag)
	case u.User != nil:
		u.User = nil // a user name alone may be a secret too
		return nil, fmt.Errorf("%s %s: a URL with credentials (user@ or user:password@) is refused; set %s to the node's gateway.admin_token", flag, u, adminTokenEnv)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("%s %s: want the admin listener's http:// or https:// URL", flag, u)
	}
	return u, nil
}
