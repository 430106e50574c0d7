package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/cuegate/cuegate/internal/printable"
)

// Limits on what a developer sends.
const (
	maxClientNameLen  = 200
	maxRedirectURIs   = 10
	maxRedirectURILen = 2000
	// maxEcho is how much of a refused value an error quotes.
	maxEcho = 60
)

// checkClientName returns the name without surrounding space, or an
// invalid_client_metadata error naming the field.
func checkClientName(name string) (string, *apiError) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errorf(http.StatusBadRequest, "invalid_client_metadata", "client_name is required")
	}
	if p := printable.Problem(name, maxClientNameLen); p != "" {
		return "", errorf(http.StatusBadRequest, "invalid_client_metadata", "client_name %s", p)
	}
	return name, nil
}

// checkRedirectURIs refuses more than maxRedirectURIs URIs, or one that
// is not a redirect URI a client may register (redirectURIProblem), with
// an invalid_redirect_uri error naming its index.
func checkRedirectURIs(uris []string) *apiError {
	if len(uris) > maxRedirectURIs {
		return errorf(http.StatusBadRequest, "invalid_redirect_uri", "at most %d redirect_uris are allowed, not %d", maxRedirectURIs, len(uris))
	}
	for i, u := range uris {
		if p := redirectURIProblem(u); p != "" {
			return errorf(http.StatusBadRequest, "invalid_redirect_uri", "redirect_uris[%d] %q %s", i, printable.Clip(u, maxEcho), p)
		}
	}
	return nil
}

const allowedRedirects = "use https, http on a loopback host (127.0.0.1, [::1], localhost), or a private-use scheme in reverse-domain form (com.example.app:/callback)"

// redirectURIProblem says why u may not be registered as a redirect URI,
// or "" when it may: an absolute URI of at most maxRedirectURILen bytes
// without spaces, control or invisible characters (printable.Problem), user
// information or fragment, whose scheme is https (with a host), http on a
// loopback host, or a private-use scheme in reverse-domain form (RFC 8252
// §7.1), which rules out javascript:, data:, file: and the like.
func redirectURIProblem(u string) string {
	if p := printable.Problem(u, maxRedirectURILen); p != "" {
		return p
	}
	if strings.ContainsFunc(u, unicode.IsSpace) {
		return "contains a space"
	}
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Scheme == "":
		return "is not an absolute URI"
	case strings.Contains(u, "#"):
		return "has a fragment (#...), which a redirect URI may not have"
	case p.User != nil:
		return "has user information (before @ in the host), which a redirect URI may not have"
	case p.Scheme == "https":
		if p.Hostname() == "" {
			return "has no host"
		}
	case p.Scheme == "http":
		if !loopbackHost(p.Hostname()) {
			return "uses http on a host that is not loopback: " + allowedRedirects
		}
	case !privateUseScheme(p.Scheme):
		return fmt.Sprintf("has the scheme %q: %s", printable.Clip(p.Scheme, maxEcho), allowedRedirects)
	}
	return ""
}

// loopbackHost reports whether host (without brackets) is a loopback
// host a native app listens on for its redirect (RFC 8252 §7.3).
func loopbackHost(host string) bool {
	return host == "127.0.0.1" || host == "::1" || strings.EqualFold(host, "localhost")
}

// privateUseScheme reports whether scheme is in reverse-domain form, as
// RFC 8252 §7.1 requires of a private-use URI scheme: two or more
// non-empty labels separated by dots.
func privateUseScheme(scheme string) bool {
	labels := strings.Split(scheme, ".")
	return len(labels) >= 2 && !slices.Contains(labels, "")
}
