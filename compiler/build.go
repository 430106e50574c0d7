package compiler

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

func (c *compilation) build(raw *schema.Config) *table.Table {
	t := &table.Table{
		IdPs:     make(map[string]*table.IdP, len(raw.Idps)),
		APIs:     make(map[string]*table.API, len(raw.Apis)),
		Policies: make(map[string]*table.Policy, len(raw.Policies)),
	}
	c.buildGateway(t, &raw.Gateway)
	for _, id := range sortedKeys(raw.Idps) {
		t.IdPs[id] = c.buildIdP(id, raw.Idps[id])
	}
	for _, id := range sortedKeys(raw.Policies) {
		t.Policies[id] = c.buildPolicy(id, raw.Policies[id])
	}
	for _, id := range sortedKeys(raw.Apis) {
		if a := c.buildAPI(t, id, raw.Apis[id]); a != nil {
			t.APIs[id] = a
		}
	}
	c.checkRoutes(t)
	c.checkPolicies(t)
	c.buildPortal(t, &raw.Portal)
	c.warnUnused(t)
	return t
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// duration parses a duration the schema has already checked the form of;
// positive says zero is not allowed.
func (c *compilation) duration(s string, positive bool, at fieldPath) table.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		c.errorf(at, "invalid duration %q: %v", s, err)
	} else if positive && d <= 0 {
		c.errorf(at, "duration %q must be greater than zero", s)
	}
	return table.Duration(d)
}

func (c *compilation) buildGateway(t *table.Table, g *schema.Gateway) {
	t.Gateway = table.Gateway{
		Listen:         g.Listen,
		PortalListen:   g.Portal_listen,
		AdminListen:    g.Admin_listen,
		PublicURL:      string(g.Public_url),
		ReadTimeout:    c.duration(g.Read_timeout, true, field("gateway", "read_timeout")),
		WriteTimeout:   c.duration(g.Write_timeout, true, field("gateway", "write_timeout")),
		IdleTimeout:    c.duration(g.Idle_timeout, true, field("gateway", "idle_timeout")),
		ShutdownGrace:  c.duration(g.Shutdown_grace, false, field("gateway", "shutdown_grace")),
		MaxHeaderBytes: int(g.Max_header_bytes),
		MaxBodyBytes:   int(g.Max_body_bytes),
		TLS:            tls(g.Tls),
		PortalTLS:      tls(g.Portal_tls),
		UpstreamCAFile: g.Upstream_ca_file,

		RateLimitHeaders: g.Rate_limit_headers,
	}
	for _, l := range []struct{ field, addr string }{
		{"listen", g.Listen}, {"portal_listen", g.Portal_listen}, {"admin_listen", g.Admin_listen},
	} {
		if _, port, err := net.SplitHostPort(l.addr); err != nil || port == "" {
			c.errorf(field("gateway", l.field), "invalid listen address %q: want host:port", l.addr)
		}
	}
	if t.Gateway.PublicURL == "" {
		scheme := "http"
		if g.Tls != nil {
			scheme = "https"
		}
		t.Gateway.PublicURL = scheme + "://" + clientHost(g.Listen)
	}
	t.Gateway.PublicURL = strings.TrimSuffix(t.Gateway.PublicURL, "/")
	c.checkAdmin(t, g)
}

// checkAdmin sets the admin token and refuses an admin listener that
// other machines can reach without one: it can add and remove developers.
func (c *compilation) checkAdmin(t *table.Table, g *schema.Gateway) {
	t.Gateway.AdminToken = secret(g.Admin_token)
	at := field("gateway", "admin_token")
	c.checkSecret(g.Admin_token, at)
	host, port, err := net.SplitHostPort(g.Admin_listen)
	if err != nil || g.Admin_token != nil || isLoopback(host) || c.broken(at) {
		return
	}
	c.errorf(field("gateway", "admin_listen"), "%q can be reached from other machines, and the admin listener adds and removes developers: set gateway.admin_token: {env: \"NAME\"} (or {file: \"PATH\"}) so that it asks for a bearer token, or listen on loopback (\"127.0.0.1:%s\")", g.Admin_listen, port)
}

// isLoopback reports whether a listen address's host can be reached from
// this machine only: localhost or a loopback IP. An empty host, a
// wildcard, any other name or address can be reached from others.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// checkSecret checks a secret reference the schema let through: it names
// exactly one of env and file.
func (c *compilation) checkSecret(s *schema.Secret, at fieldPath) {
	if s != nil && (s.Env == "") == (s.File == "") {
		c.errorf(at, "a secret sets exactly one of env and file")
	}
}

// clientHost is a listen address as a client on the same machine dials
// it: a wildcard host (":8080", "0.0.0.0:8080", "[::]:8080") is localhost.
func clientHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		return listen
	}
	return net.JoinHostPort("localhost", port)
}

func (c *compilation) buildIdP(id string, r schema.IdP) *table.IdP {
	idp := &table.IdP{
		ID:              id,
		Issuer:          string(r.Issuer),
		JWKSURI:         string(r.Jwks_uri),
		Discovery:       string(r.Discovery),
		Algorithms:      sortedUnique(r.Algorithms),
		Leeway:          c.duration(r.Leeway, false, idpPath(id, "leeway")),
		RefreshInterval: c.duration(r.Refresh_interval, true, idpPath(id, "refresh_interval")),
	}
	if idp.JWKSURI != "" {
		idp.Discovery = ""
	} else if idp.Discovery == "" {
		idp.Discovery = strings.TrimSuffix(string(r.Issuer), "/") + "/.well-known/openid-configuration"
	}
	return idp
}

// sortedUnique returns s as strings, sorted and without repeats; nil
// stays nil and an empty list stays empty.
func sortedUnique[S ~string](s []S) []string {
	out := strs(s)
	sort.Strings(out)
	return slices.Compact(out)
}

// strs converts a list of one of the schema's string types; nil stays nil
// and an empty list stays empty, as the table tells them apart.
func strs[S ~string](s []S) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// secret converts a secret reference the schema decoded.
func secret(s *schema.Secret) *table.Secret {
	return (*table.Secret)(s)
}

// tls converts a certificate and key pair the schema decoded.
func tls(t *schema.TLS) *table.TLS {
	if t == nil {
		return nil
	}
	return &table.TLS{CertFile: t.Cert_file, KeyFile: t.Key_file}
}

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
		pol.Access[api] = &table.Grant{Methods: sortedUnique(g.Methods), Paths: sortedUnique(paths)}
	}
	if r.Rate != nil {
		pol.Rate = &table.Rate{Requests: r.Rate.Requests, Per: c.duration(string(r.Rate.Per), true, policyPath(id, "rate", "per"))}
	}
	if r.Quota != nil {
		pol.Quota = &table.Quota{Max: r.Quota.Max, Period: c.duration(string(r.Quota.Period), true, policyPath(id, "quota", "period"))}
	}
	if r.Key_expires_in != "" {
		pol.KeyExpiresIn = c.duration(string(r.Key_expires_in), true, policyPath(id, "key_expires_in"))
	}
	if len(r.Access) == 0 {
		c.warnf(policyPath(id, "access"), "policy grants no API: an identity with it is refused everywhere")
	}
	return pol
}

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
		if u, err := url.Parse(string(target)); err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			c.errorf(apiPath(id, "upstream", "targets").index(i), "invalid upstream target %q: want scheme://host[:port][/path] without query or fragment", target)
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

func list[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	keys := sortedKeys(m)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(keys, ", ")
}

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

func (c *compilation) buildPortal(t *table.Table, r *schema.Portal) {
	t.Portal = table.Portal{
		Signup:               r.Signup,
		RedirectURISeparator: r.Redirect_uri_separator,
		SessionTTL:           c.duration(r.Session_ttl, true, field("portal", "session_ttl")),
		Catalogue:            make(map[string]*table.CatalogueEntry, len(r.Catalogue)),
	}
	for i, cidr := range r.Trusted_proxies {
		pfx, err := netip.ParsePrefix(string(cidr))
		if err != nil {
			c.errorf(field("portal", "trusted_proxies").index(i), "invalid value %q: want an IP prefix such as \"10.0.0.0/8\"", cidr)
			continue
		}
		t.Portal.TrustedProxies = append(t.Portal.TrustedProxies, pfx.Masked())
	}
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
		if entry.DCR != nil && apiOK && a.JWT != nil {
			c.checkIdentityClaim(e.Api, a.JWT.IdentityClaim, entry.DCR.Provider)
		}
	}
}

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
	pr := providers[d.Provider]
	if pr.needsToken && d.InitialAccessToken == nil {
		c.warnf(at.field("initial_access_token"), "not set: %s refuses registrations without %s", d.Provider, pr.token)
	}
	if u, err := url.Parse(d.RegistrationEndpoint); err == nil && pr.registration != nil && !pr.registration.MatchString(u.Path) {
		c.warnf(at.field("registration_endpoint"), "%s registers clients at %s, not at %q", d.Provider, pr.registrationDoc, u.Path)
	}
	if d.Provider == "okta" && slices.Contains(d.ResponseTypes, "token") && !slices.Contains(d.GrantTypes, "implicit") {
		c.warnf(at.field("response_types"), "okta refuses response type token unless grant_types has implicit")
	}
}

// provider is what cuegate knows of an identity provider's registration.
type provider struct {
	needsToken      bool   // registration needs an initial access token
	token           string // what that token is
	registration    *regexp.Regexp
	registrationDoc string
	claims          []string // the claims that carry the client id in access tokens
}

var providers = map[string]provider{
	"gluu": {
		needsToken: true, token: "an initial access token (Authorization: Bearer)",
		registration: regexp.MustCompile(`/register$`), registrationDoc: "/oxauth/restv1/register (or /jans-auth/restv1/register)",
		claims: []string{"client_id"},
	},
	"keycloak": {
		needsToken: true, token: "an initial access token (Authorization: Bearer)",
		registration: regexp.MustCompile(`^/(auth/)?realms/[^/]+/clients-registrations/openid-connect$`), registrationDoc: "/realms/{realm}/clients-registrations/openid-connect",
		claims: []string{"azp", "clientId"},
	},
	"okta": {
		needsToken: true, token: "an API token (sent as Authorization: SSWS <token>)",
		registration: regexp.MustCompile(`/oauth2/v1/clients$`), registrationDoc: "/oauth2/v1/clients",
		claims: []string{"cid"},
	},
	"hydra": {claims: []string{"client_id"}},
}

// checkIdentityClaim warns when an API published for a provider takes the
// identity from a claim that the provider's access tokens do not carry.
func (c *compilation) checkIdentityClaim(api, claim, provider string) {
	want := providers[provider].claims
	if len(want) > 0 && !slices.Contains(want, claim) && !c.broken(apiPath(api, "auth", "jwt", "identity_claim")) {
		c.warnf(apiPath(api, "auth", "jwt", "identity_claim"), "%s access tokens carry the client id in %s, not in %q", provider, strings.Join(want, " or "), claim)
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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
