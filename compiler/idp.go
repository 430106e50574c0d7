package compiler

import (
	"net/url"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// buildIdP compiles one IdP; without jwks_uri its keys are found through
// discovery, by default the issuer's.
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
		idp.Discovery = defaultDiscovery(idp.Issuer)
	}
	c.warnKeysInClear(id, idp)
	if d := idp.Leeway.D(); d > maxLeeway {
		c.warnf(idpPath(id, "leeway"), "a leeway of %s accepts a token that long after it expired: clock skew between hosts is seconds (the default is 30s)", d)
	}
	return idp
}

// defaultDiscovery is the discovery document of an issuer that names
// neither jwks_uri nor discovery.
func defaultDiscovery(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// maxLeeway is the most leeway the compiler takes without a warning.
const maxLeeway = 5 * time.Minute

// warnKeysInClear warns when idp's keys are fetched over plain http from
// another machine: anyone on the network path could serve keys of their
// own and sign any token.
func (c *compilation) warnKeysInClear(id string, idp *table.IdP) {
	name, uri := "jwks_uri", idp.JWKSURI
	if uri == "" {
		name, uri = "discovery", idp.Discovery
	}
	if !cleartextRemote(uri) {
		return
	}
	at := idpPath(id, name)
	if name == "discovery" && idp.Discovery == defaultDiscovery(idp.Issuer) {
		at = idpPath(id, "issuer")
	}
	c.warnf(at, "the signing keys are fetched over plain http from another machine: anyone on the network path can serve keys of their own and sign any token; use https")
}

// cleartextRemote reports whether uri is plain http to a host other than
// this machine's loopback.
func cleartextRemote(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && strings.EqualFold(u.Scheme, "http") && !table.IsLoopbackHost(u.Hostname())
}
