package compiler

import (
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// buildPortal compiles the portal settings and the catalogue, checking
// each entry's API, policy and merged DCR settings against t.
func (c *compilation) buildPortal(t *table.Table, r *schema.Portal) {
	t.Portal = table.Portal{
		Signup:               r.Signup,
		RedirectURISeparator: r.Redirect_uri_separator,
		SessionTTL:           c.duration(r.Session_ttl, true, field("portal", "session_ttl")),
		TombstoneRetention:   c.duration(r.Tombstone_retention, true, field("portal", "tombstone_retention")),
		RegistrationsPerHour: int(r.Registrations_per_hour),
		SignupsPerHour:       int(r.Signups_per_hour),
		Catalogue:            make(map[string]*table.CatalogueEntry, len(r.Catalogue)),
	}
	t.Portal.TrustedProxies = c.prefixes(r.Trusted_proxies, field("portal", "trusted_proxies"))
	c.checkDCR(r.Dcr, field("portal", "dcr"))
	for _, id := range sortedKeys(r.Catalogue) {
		e := r.Catalogue[id]
		at := field("portal", "catalogue").key(id)
		entry := &table.CatalogueEntry{ID: id, Name: e.Name, Description: e.Description, API: e.Api, Policy: e.Policy}
		t.Portal.Catalogue[id] = entry
		a, apiOK := t.APIs[e.Api]
		if !apiOK {
			c.errorf(at.field("api"), "unknown API %q (defined: %s)", e.Api, list(t.APIs))
		} else if a.JWT == nil && !c.broken(apiPath(e.Api, "auth")) {
			c.warnf(at.field("api"), "API %q has no JWT auth: clients registered for it are never checked here, and a client registered for keyless APIs only is refused (403) on the APIs that check tokens", e.Api)
		}
		pol, polOK := t.Policies[e.Policy]
		switch {
		case !polOK:
			c.errorf(at.field("policy"), "unknown policy %q (defined: %s)", e.Policy, list(t.Policies))
		case apiOK && pol.Access[e.Api] == nil && !c.broken(policyPath(e.Policy, "access")):
			c.errorf(at.field("policy"), "policy %q does not grant API %q: every client registered here would be refused", e.Policy, e.Api)
		}
		c.checkDCR(e.Dcr, at.field("dcr"))
		entry.DCR = c.mergeDCR(at, r.Dcr, e.Dcr)
		c.warnOpenGrants(at, t.Portal.Signup, entry.DCR)
		if entry.DCR != nil && apiOK && a.JWT != nil {
			c.checkIdentityClaim(e.Api, a.JWT.IdentityClaim, entry.DCR.Provider)
		}
		if e.Openapi != "" {
			entry.Reference = c.reference(at.field("openapi"), e.Openapi)
		}
	}
}
