package compiler

import (
	"slices"

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
