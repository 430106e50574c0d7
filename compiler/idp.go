package compiler

import (
	"strings"

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
		idp.Discovery = strings.TrimSuffix(string(r.Issuer), "/") + "/.well-known/openid-configuration"
	}
	return idp
}
