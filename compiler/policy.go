package compiler

import (
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// maxLimitWindow is the longest quota period: the in-memory limiter
// adds it to the current time in nanoseconds since 1970, which must not
// overflow.
const maxLimitWindow = 100 * 365 * 24 * time.Hour

// buildPolicy compiles one policy; the APIs its grants name are checked
// once every API is built (see checkPolicies).
func (c *compilation) buildPolicy(id string, r schema.Policy) *table.Policy {
	pol := &table.Policy{ID: id, Name: r.Name, Access: make(map[string]*table.Grant, len(r.Access))}
	for _, api := range sortedKeys(r.Access) {
		g := r.Access[api]
		paths := make([]string, len(g.Paths))
		for i, gp := range g.Paths {
			lp, ok := cleanListenPath(string(gp)) // without a trailing slash
			if !ok {
				c.warnf(policyPath(id, "access").key(api).field("paths").index(i), "path %q is not a clean path: requests are matched on the cleaned path, so this grant can never match it", gp)
			}
			paths[i] = lp
		}
		scopes := c.scopeList(g.Scopes, policyPath(id, "access").key(api).field("scopes"))
		pol.Access[api] = &table.Grant{Methods: sortedUnique(g.Methods), Paths: sortedUnique(paths), Scopes: scopes}
	}
	if r.Rate != nil {
		pol.Rate = &table.Rate{Requests: r.Rate.Requests, Per: c.duration(string(r.Rate.Per), true, policyPath(id, "rate", "per"))}
	}
	if r.Quota != nil {
		at := policyPath(id, "quota", "period")
		pol.Quota = &table.Quota{Max: r.Quota.Max, Period: c.duration(string(r.Quota.Period), true, at)}
		if pol.Quota.Period.D() > maxLimitWindow {
			c.errorf(at, "a quota period of at most %s (a century): the limiters count windows on a clock that a longer one runs past", maxLimitWindow)
		}
	}
	if r.Key_expires_in != "" {
		pol.KeyExpiresIn = c.duration(string(r.Key_expires_in), true, policyPath(id, "key_expires_in"))
	}
	if len(r.Access) == 0 {
		c.warnf(policyPath(id, "access"), "policy grants no API: an identity with it is refused everywhere")
	}
	return pol
}
