package compiler

import (
	"cmp"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
)

// checkRoutes reports two APIs that would serve the same method on the
// same listen path. An API whose listen path or methods the schema
// rejected takes no part.
func (c *compilation) checkRoutes(t *table.Table) {
	type claim struct {
		id      string
		methods table.MethodSet
	}
	byPath := map[string][]claim{}
	for _, id := range sortedKeys(t.APIs) {
		a := t.APIs[id]
		if c.broken(apiPath(id, "listen_path")) || c.broken(apiPath(id, "methods")) {
			continue
		}
		ms := table.MethodsOf(a.Methods)
		for _, other := range byPath[a.ListenPath] {
			if overlap := ms & other.methods; overlap != 0 {
				c.errorf(apiPath(id, "listen_path"), "listen path %q is already served by API %q (%s) for %s",
					a.ListenPath, other.id, c.where(apiPath(other.id, "listen_path")), overlap)
			}
		}
		byPath[a.ListenPath] = append(byPath[a.ListenPath], claim{id, ms})
	}
}

func (c *compilation) checkPolicies(t *table.Table) {
	for _, id := range sortedKeys(t.Policies) {
		pol := t.Policies[id]
		for _, api := range sortedKeys(pol.Access) {
			a, ok := t.APIs[api]
			if !ok {
				c.errorf(policyPath(id, "access").key(api), "unknown API %q (defined: %s)", api, list(t.APIs))
				continue
			}
			g := pol.Access[api]
			if a.Methods != nil && g.Methods != nil {
				for _, m := range g.Methods {
					if !slices.Contains(a.Methods, m) {
						c.warnf(policyPath(id, "access").key(api).field("methods"), "API %q does not serve %s: this grant can never match it", api, m)
					}
				}
			}
		}
	}
}

// warnUnused reports policies nothing in the configuration refers to. They
// may still be chosen by a token's policy claim, so this is a warning.
func (c *compilation) warnUnused(t *table.Table) {
	used := map[string]bool{}
	for _, a := range t.APIs {
		if a.JWT != nil {
			for _, pol := range a.JWT.DefaultPolicies {
				used[pol] = true
			}
		}
	}
	for _, e := range t.Portal.Catalogue {
		used[e.Policy] = true
	}
	for _, id := range sortedKeys(t.Policies) {
		if !used[id] {
			c.warnf(policyPath(id), "policy is not used by any API's default_policies or catalogue entry (only a token's policy claim can select it)")
		}
	}
}

// warnKeylessReach warns about a keyless API whose requests reach every
// upstream route of an API that checks tokens: the same target origin,
// and its path there (the target's path, with the listen path when it
// is not stripped) at or above the other's. GET /status/7 then reads what
// /orders/7 guards.
func (c *compilation) warnKeylessReach(t *table.Table) {
	ids := sortedKeys(t.APIs)
	places := make(map[string][]upstreamPlace, len(ids))
	for _, id := range ids {
		places[id] = upstreamPlaces(t.APIs[id])
	}
	for _, id := range ids {
		if !t.APIs[id].Keyless {
			continue
		}
		for _, other := range ids {
			if t.APIs[other].JWT != nil && reaches(places[id], places[other]) {
				c.warnf(apiPath(id, "upstream", "targets"), "this keyless API reaches every upstream route of API %q without the token %q checks (the same target, and its upstream paths include all of %q's): give its target the path of the routes it publishes, such as \"http://host:port/status\"", other, other, other)
				break
			}
		}
	}
}

// upstreamPlace is where an API sends requests through one target: the
// origin (scheme://host:port, in lower case), and the path its requests'
// upstream paths all start with, without a trailing "/".
type upstreamPlace struct{ origin, path string }

// reaches reports whether a place of a and one of b share an origin and
// a's upstream paths include all of b's.
func reaches(a, b []upstreamPlace) bool {
	for _, pa := range a {
		for _, pb := range b {
			if pa.origin == pb.origin && (pa.path == "" || pb.path == pa.path || strings.HasPrefix(pb.path, pa.path+"/")) {
				return true
			}
		}
	}
	return false
}

// defaultPorts are the ports of the URL schemes a target may have.
var defaultPorts = map[string]string{"http": "80", "https": "443"}

// upstreamPlaces returns the places API a sends requests to, one for
// each of its targets that parses.
func upstreamPlaces(a *table.API) []upstreamPlace {
	var out []upstreamPlace
	for _, target := range a.Upstream.Targets {
		u, err := url.Parse(target)
		if err != nil || u.Host == "" {
			continue
		}
		scheme := strings.ToLower(u.Scheme)
		port := cmp.Or(u.Port(), defaultPorts[scheme])
		path := strings.TrimSuffix(u.Path, "/")
		if !a.StripListenPath {
			path += strings.TrimSuffix(a.ListenPath, "/")
		}
		out = append(out, upstreamPlace{scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), path})
	}
	return out
}
