package compiler

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// checkDCR checks one dcr block, global or a catalogue entry's, on its own.
func (c *compilation) checkDCR(d *schema.DCR, at fieldPath) {
	if d == nil {
		return
	}
	c.checkSecret(d.Initial_access_token, at.field("initial_access_token"))
	if d.Timeout != "" {
		c.duration(string(d.Timeout), true, at.field("timeout"))
	}
}

// mergeDCR overrides the global settings with the entry's, field by field,
// and checks that the result can register a client. at is the catalogue
// entry.
func (c *compilation) mergeDCR(at fieldPath, global, entry *schema.DCR) *table.DCR {
	if global == nil && entry == nil {
		c.warnf(at, "no dcr settings here or in portal.dcr: developers cannot register clients for this entry")
		return nil
	}
	var m schema.DCR
	for _, src := range []*schema.DCR{global, entry} {
		if src != nil {
			m = overlay(m, *src)
		}
	}
	d := &table.DCR{
		Provider:                string(m.Provider),
		GrantTypes:              sortedUnique(m.Grant_types),
		TokenEndpointAuthMethod: string(m.Token_endpoint_auth_method),
		ResponseTypes:           strs(m.Response_types),
		IdPHost:                 string(m.Idp_host),
		RegistrationEndpoint:    string(m.Registration_endpoint),
		TokenEndpoint:           string(m.Token_endpoint),
		InitialAccessToken:      secret(m.Initial_access_token),
		Scope:                   deref(m.Scope),
		Timeout:                 table.Duration(table.DefaultDCRTimeout),
	}
	if m.Timeout != "" {
		if v, err := time.ParseDuration(string(m.Timeout)); err == nil && v > 0 {
			d.Timeout = table.Duration(v)
		}
	}
	at = at.field("dcr")
	for _, f := range []struct {
		name string
		set  bool
	}{{"provider", d.Provider != ""}, {"registration_endpoint", d.RegistrationEndpoint != ""}} {
		if !f.set && !c.broken(field("portal", "dcr", f.name)) {
			c.errorf(at.field(f.name), "not set here or in portal.dcr: the portal needs it to register clients")
		}
	}
	c.warnProvider(at, d)
	return d
}

// warnProvider reports merged DCR settings that the provider is known to
// refuse or that leave developers without what they need.
func (c *compilation) warnProvider(at fieldPath, d *table.DCR) {
	if len(d.GrantTypes) == 0 {
		c.warnf(at.field("grant_types"), "no grant types: providers such as Hydra then register a client that cannot get tokens")
	}
	if d.TokenEndpoint == "" && d.IdPHost == "" {
		c.warnf(at.field("token_endpoint"), "neither dcr.token_endpoint nor dcr.idp_host is set: the portal cannot tell developers where to get tokens")
	}
	if d.Provider == "" || d.RegistrationEndpoint == "" {
		return
	}
	for _, e := range []struct{ name, uri string }{
		{"registration_endpoint", d.RegistrationEndpoint}, {"token_endpoint", d.TokenEndpoint},
	} {
		if cleartextRemote(e.uri) {
			c.warnf(at.field(e.name), "plain http to another machine: the initial access token and the clients' secrets would cross the network in clear; use https")
		}
	}
	pr, ok := table.LookupProvider(d.Provider)
	if !ok {
		return
	}
	if pr.TokenRequired && d.InitialAccessToken == nil {
		c.warnf(at.field("initial_access_token"), "not set: %s refuses registrations without %s", pr.Name, pr.TokenDoc)
	}
	if u, err := url.Parse(d.RegistrationEndpoint); err == nil && pr.RegistrationPath != nil && !pr.RegistrationPath.MatchString(u.Path) {
		c.warnf(at.field("registration_endpoint"), "%s registers clients at %s, not at %q", pr.Name, pr.RegistrationDoc, u.Path)
	}
	if pr.TokenResponseNeedsImplicit && slices.Contains(d.ResponseTypes, "token") && !slices.Contains(d.GrantTypes, "implicit") {
		c.warnf(at.field("response_types"), "%s refuses response type token unless grant_types has implicit", pr.Name)
	}
}

// warnOpenGrants warns when a portal anyone can sign up to registers
// clients with a grant that hands a stranger's app other people's
// credentials: password (it collects users' passwords) or implicit
// (tokens in URLs).
func (c *compilation) warnOpenGrants(at fieldPath, signup string, d *table.DCR) {
	if signup != "open" || d == nil {
		return
	}
	for _, g := range []struct{ grant, why string }{
		{"password", "their apps would collect users' passwords"},
		{"implicit", "their apps would get tokens in URLs, which OAuth's security practice (RFC 9700) says not to use"},
	} {
		if slices.Contains(d.GrantTypes, g.grant) {
			c.warnf(at.field("dcr", "grant_types"), "grant type %q for clients that anyone who signs up registers: %s; offer it with portal.signup: \"invite\" only", g.grant, g.why)
		}
	}
}

// checkIdentityClaim warns when an API published for a provider takes the
// identity from a claim that the provider's access tokens do not carry.
func (c *compilation) checkIdentityClaim(api, claim, provider string) {
	pr, ok := table.LookupProvider(provider)
	if !ok || len(pr.IdentityClaims) == 0 || slices.Contains(pr.IdentityClaims, claim) {
		return
	}
	if at := apiPath(api, "auth", "jwt", "identity_claim"); !c.broken(at) {
		c.warnf(at, "%s access tokens carry the client id in %s, not in %q", provider, strings.Join(pr.IdentityClaims, " or "), claim)
	}
}

// overlay returns base with every field that top sets replaced. A field
// is unset when it is nil, or "" for a string the schema never lets be
// empty, so cmp.Or and orList pick top's when it is set: an empty list or
// scope still overrides.
func overlay(base, top schema.DCR) schema.DCR {
	return schema.DCR{
		Provider:                   cmp.Or(top.Provider, base.Provider),
		Grant_types:                orList(top.Grant_types, base.Grant_types),
		Token_endpoint_auth_method: cmp.Or(top.Token_endpoint_auth_method, base.Token_endpoint_auth_method),
		Response_types:             orList(top.Response_types, base.Response_types),
		Idp_host:                   cmp.Or(top.Idp_host, base.Idp_host),
		Registration_endpoint:      cmp.Or(top.Registration_endpoint, base.Registration_endpoint),
		Token_endpoint:             cmp.Or(top.Token_endpoint, base.Token_endpoint),
		Initial_access_token:       cmp.Or(top.Initial_access_token, base.Initial_access_token),
		Scope:                      cmp.Or(top.Scope, base.Scope),
		Timeout:                    cmp.Or(top.Timeout, base.Timeout),
	}
}

// orList is top when it is set (not nil, perhaps empty), else base.
func orList[S any](top, base []S) []S {
	if top != nil {
		return top
	}
	return base
}
