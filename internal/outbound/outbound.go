// Package outbound holds the rules of the HTTP calls cuegate makes to
// identity providers, collectors and nodes: a client follows no redirect,
// and a URL a remote party names in an answer is checked before it is
// called. Its functions are safe for concurrent use.
package outbound

import (
	"cmp"
	"net/http"
	"net/url"
)

// NoRedirects returns a copy of hc (http.DefaultClient when nil) that
// follows no redirect: the caller gets the 3xx. A followed redirect would
// take a call's credentials, or the trust put in its answer, wherever the
// answer points: to another host, or down to plain http.
func NoRedirects(hc *http.Client) *http.Client {
	c := *cmp.Or(hc, http.DefaultClient)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// URLProblem says why raw, a URL a remote party named in an answer from
// base (called baseName in the phrase), may not be called, or "" when it
// may: it must be an absolute http or https URL with a host name, and
// https unless base is http, since plain http can be changed on the way.
// The phrase follows the URL: "is not an absolute http or https URL".
func URLProblem(raw, base, baseName string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return "is not an absolute http or https URL"
	case u.Scheme == "http" && !isHTTP(base):
		return "is plain http, below the https of " + baseName
	}
	return ""
}

// isHTTP reports whether rawURL parses with the scheme http, in any case.
func isHTTP(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Scheme == "http"
}
