package compiler

import (
	"regexp"

	"github.com/cuegate/cuegate/schema"
)

// maxIDLen bounds an ID's length in bytes.
const maxIDLen = 64

// idPattern is what an ID of an IdP, API, policy or catalogue entry may
// be: it is written into logs, metrics labels, spans, diffs and pages,
// so it holds no space, quote, markup or control character.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// checkIDs reports every ID of raw's idps, apis, policies and portal
// catalogue that is not an ID (idPattern, at most maxIDLen bytes), at
// its key.
func (c *compilation) checkIDs(raw *schema.Config) {
	groups := []struct {
		at  fieldPath
		ids []string
	}{
		{field("idps"), sortedKeys(raw.Idps)},
		{field("apis"), sortedKeys(raw.Apis)},
		{field("policies"), sortedKeys(raw.Policies)},
		{field("portal", "catalogue"), sortedKeys(raw.Portal.Catalogue)},
	}
	for _, g := range groups {
		for _, id := range g.ids {
			if len(id) > maxIDLen || !idPattern.MatchString(id) {
				c.errorf(g.at.key(id), "an ID is 1 to %d letters, digits, '_', '.' or '-', starting with a letter or digit", maxIDLen)
			}
		}
	}
}
