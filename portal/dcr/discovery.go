package dcr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/outbound"
	"github.com/cuegate/cuegate/internal/printable"
)

// Discovery finds token endpoints in providers' discovery documents and
// caches them by IdP host.
type Discovery struct {
	hc    *http.Client
	mu    sync.Mutex
	cache map[string]string
}

// NewDiscovery returns a Discovery using hc (http.DefaultClient when
// nil), without following redirects (outbound.NoRedirects).
func NewDiscovery(hc *http.Client) *Discovery {
	return &Discovery{hc: outbound.NoRedirects(hc)}
}

// TokenEndpoint returns s.TokenEndpoint when set, else the token_endpoint
// of s.IdPHost's /.well-known/openid-configuration, else "".
func (d *Discovery) TokenEndpoint(ctx context.Context, s *table.DCR) (string, error) {
	if s.TokenEndpoint != "" || s.IdPHost == "" {
		return s.TokenEndpoint, nil
	}
	d.mu.Lock()
	ep, ok := d.cache[s.IdPHost]
	d.mu.Unlock()
	if ok {
		return ep, nil
	}
	url := strings.TrimSuffix(s.IdPHost, "/") + "/.well-known/openid-configuration"
	ctx, cancel := context.WithTimeout(ctx, s.CallTimeout())
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("dcr: discovery %s: %w", url, err)
	}
	hr.Header.Set("Accept", "application/json")
	resp, err := d.hc.Do(hr)
	if err != nil {
		return "", fmt.Errorf("dcr: discovery %s: %w", url, err)
	}
	defer resp.Body.Close()
	if err := redirected(http.MethodGet, url, resp.StatusCode); err != nil {
		return "", fmt.Errorf("dcr: discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dcr: discovery %s: status %d", url, resp.StatusCode)
	}
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&doc); err != nil || doc.TokenEndpoint == "" {
		return "", fmt.Errorf("dcr: discovery %s: no token_endpoint (%v)", url, err)
	}
	if p := tokenEndpointProblem(doc.TokenEndpoint, s.IdPHost); p != "" {
		return "", fmt.Errorf("%w: discovery %s: %s", ErrBadResponse, url, p)
	}
	d.mu.Lock()
	if d.cache == nil {
		d.cache = map[string]string{}
	}
	d.cache[s.IdPHost] = doc.TokenEndpoint
	d.mu.Unlock()
	return doc.TokenEndpoint, nil
}

// maxTokenEndpoint bounds a discovered token endpoint, which is stored
// with every client and shown in the command that carries its secret.
const maxTokenEndpoint = 2 << 10

// tokenEndpointProblem says why ep, the token endpoint the discovery
// document of idpHost names, may not be given to developers, or "" when
// it may: it must be printable, without user information, and pass
// outbound.URLProblem (a developer sends the client secret there).
func tokenEndpointProblem(ep, idpHost string) string {
	if p := printable.Problem(ep, maxTokenEndpoint); p != "" {
		return "the token_endpoint " + p
	}
	if u, err := url.Parse(ep); err == nil && u.User != nil {
		return "the token_endpoint is not an absolute http or https URL"
	}
	if p := outbound.URLProblem(ep, idpHost, "the identity provider"); p != "" {
		return "the token_endpoint " + p
	}
	return ""
}
