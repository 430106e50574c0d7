package compiler

import (
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// buildAPI compiles one API and checks its listen path, targets and auth
// against the IdPs and policies already in t.
func (c *compilation) buildAPI(t *table.Table, id string, r schema.API) *table.API {
	a := &table.API{
		ID:              id,
		Name:            r.Name,
		ListenPath:      string(r.Listen_path),
		StripListenPath: r.Strip_listen_path,
		Upstream: table.Upstream{
			Targets:        strs(r.Upstream.Targets),
			Timeout:        c.duration(r.Upstream.Timeout, true, apiPath(id, "upstream", "timeout")),
			ConnectTimeout: c.duration(r.Upstream.Connect_timeout, true, apiPath(id, "upstream", "connect_timeout")),
			IdleTimeout:    c.duration(r.Upstream.Idle_timeout, true, apiPath(id, "upstream", "idle_timeout")),
			MaxInflight:    int(r.Upstream.Max_inflight),
			TraceContext:   r.Upstream.Trace_context,
		},
	}
	if lp, ok := cleanListenPath(a.ListenPath); ok {
		a.ListenPath = lp
	} else {
		c.errorf(apiPath(id, "listen_path"), "listen path %q is not a clean path (no //, . or .. segments, %%-escapes, ? or #): requests are matched on the cleaned path, so it could never match", r.Listen_path)
	}
	if r.Methods != nil {
		a.Methods = sortedUnique(r.Methods)
		if len(a.Methods) == 0 {
			c.warnf(apiPath(id, "methods"), "methods is empty: this route can never match")
		}
	}
	for i, target := range r.Upstream.Targets {
		at := apiPath(id, "upstream", "targets").index(i)
		// A target with credentials is refused by checkURLCredentials, and
		// this finding does not repeat it (errorf).
		if u, err := url.Parse(string(target)); err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			c.errorf(at, "invalid upstream target %q: want scheme://host[:port][/path] without query or fragment", target)
		}
	}
	jwt, keyless := r.Auth.Jwt, r.Auth.Keyless != nil && *r.Auth.Keyless
	switch {
	case jwt == nil && !keyless:
		c.errorf(apiPath(id, "auth"), "auth must set exactly one of jwt and keyless")
	case jwt != nil && keyless:
		c.errorf(apiPath(id, "auth", "keyless"), "auth must set exactly one of jwt and keyless, not both")
	case keyless:
		a.Keyless = true
	default:
		a.JWT = &table.JWTAuth{
			IdP:             jwt.Idp,
			Audience:        jwt.Audience,
			IdentityClaim:   jwt.Identity_claim,
			PolicyClaim:     jwt.Policy_claim,
			DefaultPolicies: slices.Clone(jwt.Default_policies),
		}
		if a.JWT.DefaultPolicies == nil {
			a.JWT.DefaultPolicies = []string{}
		}
		jwtAt := apiPath(id, "auth", "jwt")
		a.JWT.Scopes = c.scopeList(jwt.Scopes, jwtAt.field("scopes"))
		a.JWT.ScopesAny = c.scopeList(jwt.Scopes_any, jwtAt.field("scopes_any"))
		a.JWT.Claims = c.claimMatches(jwt.Claims, jwtAt.field("claims"))
		for i, pol := range jwt.Default_policies {
			if _, ok := t.Policies[pol]; !ok {
				c.errorf(apiPath(id, "auth", "jwt", "default_policies").index(i), "unknown policy %q (defined: %s)", pol, list(t.Policies))
			}
		}
		idp, ok := t.IdPs[jwt.Idp]
		if !ok {
			c.errorf(apiPath(id, "auth", "jwt", "idp"), "unknown IdP %q (defined: %s)", jwt.Idp, list(t.IdPs))
			break
		}
		a.JWT.Algorithms = idp.Algorithms
		if jwt.Algorithms != nil {
			a.JWT.Algorithms = sortedUnique(jwt.Algorithms)
			for i, alg := range jwt.Algorithms {
				if !slices.Contains(idp.Algorithms, string(alg)) && !c.broken(idpPath(jwt.Idp, "algorithms")) {
					c.errorf(apiPath(id, "auth", "jwt", "algorithms").index(i), "algorithm %s is not allowed by IdP %q (allowed: %s)", alg, jwt.Idp, strings.Join(idp.Algorithms, ", "))
				}
			}
		}
	}
	c.buildHeaders(a, id, r)
	return a
}

// cleanListenPath reports whether lp is a clean absolute path and returns
// it without a trailing slash ("/users/" and "/users" are the same prefix).
func cleanListenPath(lp string) (string, bool) {
	if strings.ContainsAny(lp, "%?#\\") {
		return lp, false
	}
	trimmed := lp
	if len(trimmed) > 1 {
		trimmed = strings.TrimSuffix(trimmed, "/")
	}
	return trimmed, path.Clean(trimmed) == trimmed
}
