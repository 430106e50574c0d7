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
)

// raw* mirror the schema; they are what CUE decodes into before the
// checks below turn them into a Table.
type rawConfig struct {
	Gateway  rawGateway           `json:"gateway"`
	IdPs     map[string]rawIdP    `json:"idps"`
	APIs     map[string]rawAPI    `json:"apis"`
	Policies map[string]rawPolicy `json:"policies"`
	Portal   rawPortal            `json:"portal"`
}

type rawGateway struct {
	Listen         string     `json:"listen"`
	PortalListen   string     `json:"portal_listen"`
	AdminListen    string     `json:"admin_listen"`
	PublicURL      string     `json:"public_url"`
	ReadTimeout    string     `json:"read_timeout"`
	WriteTimeout   string     `json:"write_timeout"`
	IdleTimeout    string     `json:"idle_timeout"`
	ShutdownGrace  string     `json:"shutdown_grace"`
	MaxHeaderBytes int        `json:"max_header_bytes"`
	MaxBodyBytes   int        `json:"max_body_bytes"`
	TLS            *table.TLS `json:"tls"`
	PortalTLS      *table.TLS `json:"portal_tls"`
	UpstreamCAFile *string    `json:"upstream_ca_file"`
	// RateLimitHeaders has a schema default.
	RateLimitHeaders bool          `json:"rate_limit_headers"`
	AdminToken       *table.Secret `json:"admin_token"`
}

type rawIdP struct {
	Issuer          string   `json:"issuer"`
	Discovery       string   `json:"discovery"`
	JWKSURI         string   `json:"jwks_uri"`
	Algorithms      []string `json:"algorithms"`
	Leeway          string   `json:"leeway"`
	RefreshInterval string   `json:"refresh_interval"`
}

type rawAPI struct {
	Name            string    `json:"name"`
	ListenPath      string    `json:"listen_path"`
	StripListenPath bool      `json:"strip_listen_path"`
	Methods         *[]string `json:"methods"`
	Upstream        struct {
		Targets        []string `json:"targets"`
		Timeout        string   `json:"timeout"`
		ConnectTimeout string   `json:"connect_timeout"`
		IdleTimeout    string   `json:"idle_timeout"`
	} `json:"upstream"`
	Auth struct {
		JWT *struct {
			IdP             string   `json:"idp"`
			Audience        string   `json:"audience"`
			Algorithms      []string `json:"algorithms"`
			IdentityClaim   string   `json:"identity_claim"`
			PolicyClaim     string   `json:"policy_claim"`
			DefaultPolicies []string `json:"default_policies"`
		} `json:"jwt"`
		Keyless *bool `json:"keyless"`
	} `json:"auth"`
}

type rawPolicy struct {
	Name   string                 `json:"name"`
	Access map[string]table.Grant `json:"access"`
	Rate   *struct {
		Requests int64  `json:"requests"`
		Per      string `json:"per"`
	} `json:"rate"`
	Quota *struct {
		Max    int64  `json:"max"`
		Period string `json:"period"`
	} `json:"quota"`
	KeyExpiresIn string `json:"key_expires_in"`
}

type rawDCR struct {
	Provider                *string       `json:"provider"`
	GrantTypes              *[]string     `json:"grant_types"`
	TokenEndpointAuthMethod *string       `json:"token_endpoint_auth_method"`
	ResponseTypes           *[]string     `json:"response_types"`
	IdPHost                 *string       `json:"idp_host"`
	RegistrationEndpoint    *string       `json:"registration_endpoint"`
	TokenEndpoint           *string       `json:"token_endpoint"`
	InitialAccessToken      *table.Secret `json:"initial_access_token"`
	Scope                   *string       `json:"scope"`
	Timeout                 *string       `json:"timeout"`
}

type rawPortal struct {
	Signup               string   `json:"signup"`
	RedirectURISeparator string   `json:"redirect_uri_separator"`
	SessionTTL           string   `json:"session_ttl"`
	TrustedProxies       []string `json:"trusted_proxies"`
	DCR                  *rawDCR  `json:"dcr"`
	Catalogue            map[string]struct {
		Name        string  `json:"name"`
		Description string  `json:"description"`
		API         string  `json:"api"`
		Policy      string  `json:"policy"`
		DCR         *rawDCR `json:"dcr"`
	} `json:"catalogue"`
}

func (c *compilation) build(raw *rawConfig) *table.Table {
	t := &table.Table{
		IdPs:     make(map[string]*table.IdP, len(raw.IdPs)),
		APIs:     make(map[string]*table.API, len(raw.APIs)),
		Policies: make(map[string]*table.Policy, len(raw.Policies)),
	}
	c.buildGateway(t, &raw.Gateway)
	for _, id := range sortedKeys(raw.IdPs) {
		t.IdPs[id] = c.buildIdP(id, raw.IdPs[id])
	}
	for _, id := range sortedKeys(raw.Policies) {
		t.Policies[id] = c.buildPolicy(id, raw.Policies[id])
	}
	for _, id := range sortedKeys(raw.APIs) {
		if a := c.buildAPI(t, id, raw.APIs[id]); a != nil {
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

func (c *compilation) buildGateway(t *table.Table, g *rawGateway) {
	t.Gateway = table.Gateway{
		Listen:         g.Listen,
		PortalListen:   g.PortalListen,
		AdminListen:    g.AdminListen,
		PublicURL:      g.PublicURL,
		ReadTimeout:    c.duration(g.ReadTimeout, true, p("gateway", "read_timeout")),
		WriteTimeout:   c.duration(g.WriteTimeout, true, p("gateway", "write_timeout")),
		IdleTimeout:    c.duration(g.IdleTimeout, true, p("gateway", "idle_timeout")),
		ShutdownGrace:  c.duration(g.ShutdownGrace, false, p("gateway", "shutdown_grace")),
		MaxHeaderBytes: g.MaxHeaderBytes,
		MaxBodyBytes:   g.MaxBodyBytes,
		TLS:            g.TLS,
		PortalTLS:      g.PortalTLS,
		UpstreamCAFile: deref(g.UpstreamCAFile),

		RateLimitHeaders: g.RateLimitHeaders,
	}
	for _, l := range []struct{ field, addr string }{
		{"listen", g.Listen}, {"portal_listen", g.PortalListen}, {"admin_listen", g.AdminListen},
	} {
		if _, port, err := net.SplitHostPort(l.addr); err != nil || port == "" {
			c.errorf(p("gateway", l.field), "invalid listen address %q: want host:port", l.addr)
		}
	}
	if t.Gateway.PublicURL == "" {
		scheme := "http"
		if g.TLS != nil {
			scheme = "https"
		}
		t.Gateway.PublicURL = scheme + "://" + clientHost(g.Listen)
	}
	t.Gateway.PublicURL = strings.TrimSuffix(t.Gateway.PublicURL, "/")
	c.checkAdmin(t, g)
}

// checkAdmin sets the admin token and refuses an admin listener that
// other machines can reach without one: it can add and remove developers.
func (c *compilation) checkAdmin(t *table.Table, g *rawGateway) {
	t.Gateway.AdminToken = g.AdminToken
	at := p("gateway", "admin_token")
	c.checkSecret(g.AdminToken, at)
	host, port, err := net.SplitHostPort(g.AdminListen)
	if err != nil || g.AdminToken != nil || isLoopback(host) || c.broken(at) {
		return
	}
	c.errorf(p("gateway", "admin_listen"), "%q can be reached from other machines, and the admin listener adds and removes developers: set gateway.admin_token: {env: \"NAME\"} (or {file: \"PATH\"}) so that it asks for a bearer token, or listen on loopback (\"127.0.0.1:%s\")", g.AdminListen, port)
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
func (c *compilation) checkSecret(s *table.Secret, at fieldPath) {
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

func (c *compilation) buildIdP(id string, r rawIdP) *table.IdP {
	idp := &table.IdP{
		ID:              id,
		Issuer:          r.Issuer,
		JWKSURI:         r.JWKSURI,
		Discovery:       r.Discovery,
		Algorithms:      sortedUnique(r.Algorithms),
		Leeway:          c.duration(r.Leeway, false, p("idps", id, "leeway")),
		RefreshInterval: c.duration(r.RefreshInterval, true, p("idps", id, "refresh_interval")),
	}
	if idp.JWKSURI != "" {
		idp.Discovery = ""
	} else if idp.Discovery == "" {
		idp.Discovery = strings.TrimSuffix(r.Issuer, "/") + "/.well-known/openid-configuration"
	}
	return idp
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

func (c *compilation) buildPolicy(id string, r rawPolicy) *table.Policy {
	pol := &table.Policy{ID: id, Name: r.Name, Access: make(map[string]*table.Grant, len(r.Access))}
	for _, api := range sortedKeys(r.Access) {
		g := r.Access[api]
		paths := make([]string, len(g.Paths))
		for i, gp := range g.Paths {
			lp, ok := cleanListenPath(gp) // without a trailing slash
			if !ok {
				c.warnf(p("policies", id, "access", api, "paths", i), "path %q is not a clean path: requests are matched on the cleaned path, so this grant can never match it", gp)
			}
			paths[i] = lp
		}
		pol.Access[api] = &table.Grant{Methods: sortedUnique(g.Methods), Paths: sortedUnique(paths)}
	}
	if r.Rate != nil {
		pol.Rate = &table.Rate{Requests: r.Rate.Requests, Per: c.duration(r.Rate.Per, true, p("policies", id, "rate", "per"))}
	}
	if r.Quota != nil {
		pol.Quota = &table.Quota{Max: r.Quota.Max, Period: c.duration(r.Quota.Period, true, p("policies", id, "quota", "period"))}
	}
	if r.KeyExpiresIn != "" {
		pol.KeyExpiresIn = c.duration(r.KeyExpiresIn, true, p("policies", id, "key_expires_in"))
	}
	if len(r.Access) == 0 {
		c.warnf(p("policies", id, "access"), "policy grants no API: an identity with it is refused everywhere")
	}
	return pol
}

func (c *compilation) buildAPI(t *table.Table, id string, r rawAPI) *table.API {
	a := &table.API{
		ID:              id,
		Name:            r.Name,
		ListenPath:      r.ListenPath,
		StripListenPath: r.StripListenPath,
		Upstream: table.Upstream{
			Targets:        r.Upstream.Targets,
			Timeout:        c.duration(r.Upstream.Timeout, true, p("apis", id, "upstream", "timeout")),
			ConnectTimeout: c.duration(r.Upstream.ConnectTimeout, true, p("apis", id, "upstream", "connect_timeout")),
			IdleTimeout:    c.duration(r.Upstream.IdleTimeout, true, p("apis", id, "upstream", "idle_timeout")),
		},
	}
	if lp, ok := cleanListenPath(r.ListenPath); ok {
		a.ListenPath = lp
	} else {
		c.errorf(p("apis", id, "listen_path"), "listen path %q is not a clean path (no //, . or .. segments, %%-escapes, ? or #): requests are matched on the cleaned path, so it could never match", r.ListenPath)
	}
	if r.Methods != nil {
		a.Methods = sortedUnique(*r.Methods)
		if len(a.Methods) == 0 {
			c.warnf(p("apis", id, "methods"), "methods is empty: this route can never match")
		}
	}
	for i, target := range r.Upstream.Targets {
		if u, err := url.Parse(target); err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			c.errorf(p("apis", id, "upstream", "targets", i), "invalid upstream target %q: want scheme://host[:port][/path] without query or fragment", target)
		}
	}
	jwt, keyless := r.Auth.JWT, r.Auth.Keyless != nil && *r.Auth.Keyless
	switch {
	case jwt == nil && !keyless:
		c.errorf(p("apis", id, "auth"), "auth must set exactly one of jwt and keyless")
	case jwt != nil && keyless:
		c.errorf(p("apis", id, "auth", "keyless"), "auth must set exactly one of jwt and keyless, not both")
	case keyless:
		a.Keyless = true
	default:
		a.JWT = &table.JWTAuth{
			IdP:             jwt.IdP,
			Audience:        jwt.Audience,
			IdentityClaim:   jwt.IdentityClaim,
			PolicyClaim:     jwt.PolicyClaim,
			DefaultPolicies: slices.Clone(jwt.DefaultPolicies),
		}
		if a.JWT.DefaultPolicies == nil {
			a.JWT.DefaultPolicies = []string{}
		}
		for i, pol := range jwt.DefaultPolicies {
			if _, ok := t.Policies[pol]; !ok {
				c.errorf(p("apis", id, "auth", "jwt", "default_policies", i), "unknown policy %q (defined: %s)", pol, list(t.Policies))
			}
		}
		idp, ok := t.IdPs[jwt.IdP]
		if !ok {
			c.errorf(p("apis", id, "auth", "jwt", "idp"), "unknown IdP %q (defined: %s)", jwt.IdP, list(t.IdPs))
			break
		}
		a.JWT.Algorithms = idp.Algorithms
		if jwt.Algorithms != nil {
			a.JWT.Algorithms = sortedUnique(jwt.Algorithms)
			for i, alg := range jwt.Algorithms {
				if !slices.Contains(idp.Algorithms, alg) && !c.broken(p("idps", jwt.IdP, "algorithms")) {
					c.errorf(p("apis", id, "auth", "jwt", "algorithms", i), "algorithm %s is not allowed by IdP %q (allowed: %s)", alg, jwt.IdP, strings.Join(idp.Algorithms, ", "))
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
		if c.broken(p("apis", id, "listen_path")) || c.broken(p("apis", id, "methods")) {
			continue
		}
		ms := table.MethodsOf(a.Methods)
		for _, other := range byPath[a.ListenPath] {
			if overlap := ms & other.methods; overlap != 0 {
				c.errorf(p("apis", id, "listen_path"), "listen path %q is already served by API %q (%s) for %s",
					a.ListenPath, other.id, c.where(p("apis", other.id, "listen_path")), overlap)
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
				c.errorf(p("policies", id, "access", api), "unknown API %q (defined: %s)", api, list(t.APIs))
				continue
			}
			g := pol.Access[api]
			if a.Methods != nil && g.Methods != nil {
				for _, m := range g.Methods {
					if !slices.Contains(a.Methods, m) {
						c.warnf(p("policies", id, "access", api, "methods"), "API %q does not serve %s: this grant can never match it", api, m)
					}
				}
			}
		}
	}
}

func (c *compilation) buildPortal(t *table.Table, r *rawPortal) {
	t.Portal = table.Portal{
		Signup:               r.Signup,
		RedirectURISeparator: r.RedirectURISeparator,
		SessionTTL:           c.duration(r.SessionTTL, true, p("portal", "session_ttl")),
		Catalogue:            make(map[string]*table.CatalogueEntry, len(r.Catalogue)),
	}
	for i, cidr := range r.TrustedProxies {
		pfx, err := netip.ParsePrefix(cidr)
		if err != nil {
			c.errorf(p("portal", "trusted_proxies", i), "invalid value %q: want an IP prefix such as \"10.0.0.0/8\"", cidr)
			continue
		}
		t.Portal.TrustedProxies = append(t.Portal.TrustedProxies, pfx.Masked())
	}
	c.checkDCR(r.DCR, p("portal", "dcr"))
	for _, id := range sortedKeys(r.Catalogue) {
		e := r.Catalogue[id]
		at := p("portal", "catalogue", id)
		entry := &table.CatalogueEntry{ID: id, Name: e.Name, Description: e.Description, API: e.API, Policy: e.Policy}
		t.Portal.Catalogue[id] = entry
		a, apiOK := t.APIs[e.API]
		if !apiOK {
			c.errorf(at.add("api"), "unknown API %q (defined: %s)", e.API, list(t.APIs))
		} else if a.JWT == nil && !c.broken(p("apis", e.API, "auth")) {
			c.warnf(at.add("api"), "API %q has no JWT auth: clients registered for it are never checked here, and a client registered for keyless APIs only is refused (403) on the APIs that check tokens", e.API)
		}
		pol, polOK := t.Policies[e.Policy]
		switch {
		case !polOK:
			c.errorf(at.add("policy"), "unknown policy %q (defined: %s)", e.Policy, list(t.Policies))
		case apiOK && pol.Access[e.API] == nil && !c.broken(p("policies", e.Policy, "access")):
			c.errorf(at.add("policy"), "policy %q does not grant API %q: every client registered here would be refused", e.Policy, e.API)
		}
		c.checkDCR(e.DCR, at.add("dcr"))
		entry.DCR = c.mergeDCR(at, r.DCR, e.DCR)
		if entry.DCR != nil && apiOK && a.JWT != nil {
			c.checkIdentityClaim(e.API, a.JWT.IdentityClaim, entry.DCR.Provider)
		}
	}
}

// checkDCR checks one dcr block, global or a catalogue entry's, on its own.
func (c *compilation) checkDCR(d *rawDCR, at fieldPath) {
	if d == nil {
		return
	}
	c.checkSecret(d.InitialAccessToken, at.add("initial_access_token"))
	if d.Timeout != nil {
		c.duration(*d.Timeout, true, at.add("timeout"))
	}
}

// mergeDCR overrides the global settings with the entry's, field by field,
// and checks that the result can register a client. at is the catalogue
// entry.
func (c *compilation) mergeDCR(at fieldPath, global, entry *rawDCR) *table.DCR {
	if global == nil && entry == nil {
		c.warnf(at, "no dcr settings here or in portal.dcr: developers cannot register clients for this entry")
		return nil
	}
	var m rawDCR
	for _, src := range []*rawDCR{global, entry} {
		if src != nil {
			m = overlay(m, *src)
		}
	}
	d := &table.DCR{
		Provider:                deref(m.Provider),
		TokenEndpointAuthMethod: deref(m.TokenEndpointAuthMethod),
		IdPHost:                 deref(m.IdPHost),
		RegistrationEndpoint:    deref(m.RegistrationEndpoint),
		TokenEndpoint:           deref(m.TokenEndpoint),
		InitialAccessToken:      m.InitialAccessToken,
		Scope:                   deref(m.Scope),
		Timeout:                 table.Duration(table.DefaultDCRTimeout),
	}
	if m.GrantTypes != nil {
		d.GrantTypes = sortedUnique(*m.GrantTypes)
	}
	if m.ResponseTypes != nil {
		d.ResponseTypes = append([]string{}, *m.ResponseTypes...)
	}
	if m.Timeout != nil {
		if v, err := time.ParseDuration(*m.Timeout); err == nil && v > 0 {
			d.Timeout = table.Duration(v)
		}
	}
	at = at.add("dcr")
	for _, f := range []struct {
		name string
		set  bool
	}{{"provider", d.Provider != ""}, {"registration_endpoint", d.RegistrationEndpoint != ""}} {
		if !f.set && !c.broken(p("portal", "dcr", f.name)) {
			c.errorf(at.add(f.name), "not set here or in portal.dcr: the portal needs it to register clients")
		}
	}
	c.warnProvider(at, d)
	return d
}

// warnProvider reports merged DCR settings that the provider is known to
// refuse or that leave developers without what they need.
func (c *compilation) warnProvider(at fieldPath, d *table.DCR) {
	if len(d.GrantTypes) == 0 {
		c.warnf(at.add("grant_types"), "no grant types: providers such as Hydra then register a client that cannot get tokens")
	}
	if d.TokenEndpoint == "" && d.IdPHost == "" {
		c.warnf(at.add("token_endpoint"), "neither dcr.token_endpoint nor dcr.idp_host is set: the portal cannot tell developers where to get tokens")
	}
	if d.Provider == "" || d.RegistrationEndpoint == "" {
		return
	}
	pr := providers[d.Provider]
	if pr.needsToken && d.InitialAccessToken == nil {
		c.warnf(at.add("initial_access_token"), "not set: %s refuses registrations without %s", d.Provider, pr.token)
	}
	if u, err := url.Parse(d.RegistrationEndpoint); err == nil && pr.registration != nil && !pr.registration.MatchString(u.Path) {
		c.warnf(at.add("registration_endpoint"), "%s registers clients at %s, not at %q", d.Provider, pr.registrationDoc, u.Path)
	}
	if d.Provider == "okta" && slices.Contains(d.ResponseTypes, "token") && !slices.Contains(d.GrantTypes, "implicit") {
		c.warnf(at.add("response_types"), "okta refuses response type token unless grant_types has implicit")
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
	if len(want) > 0 && !slices.Contains(want, claim) && !c.broken(p("apis", api, "auth", "jwt", "identity_claim")) {
		c.warnf(p("apis", api, "auth", "jwt", "identity_claim"), "%s access tokens carry the client id in %s, not in %q", provider, strings.Join(want, " or "), claim)
	}
}

// overlay returns base with every field that top sets replaced.
// Every field is a pointer, so cmp.Or picks top's when it is set.
func overlay(base, top rawDCR) rawDCR {
	return rawDCR{
		Provider:                cmp.Or(top.Provider, base.Provider),
		GrantTypes:              cmp.Or(top.GrantTypes, base.GrantTypes),
		TokenEndpointAuthMethod: cmp.Or(top.TokenEndpointAuthMethod, base.TokenEndpointAuthMethod),
		ResponseTypes:           cmp.Or(top.ResponseTypes, base.ResponseTypes),
		IdPHost:                 cmp.Or(top.IdPHost, base.IdPHost),
		RegistrationEndpoint:    cmp.Or(top.RegistrationEndpoint, base.RegistrationEndpoint),
		TokenEndpoint:           cmp.Or(top.TokenEndpoint, base.TokenEndpoint),
		InitialAccessToken:      cmp.Or(top.InitialAccessToken, base.InitialAccessToken),
		Scope:                   cmp.Or(top.Scope, base.Scope),
		Timeout:                 cmp.Or(top.Timeout, base.Timeout),
	}
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
			c.warnf(p("policies", id), "policy is not used by any API's default_policies or catalogue entry (only a token's policy claim can select it)")
		}
	}
}
