package compiler

import (
	"reflect"
	"strings"

	"github.com/cuegate/cuegate/schema"
)

// checkURLCredentials refuses every URL of the configuration with
// credentials before its host ("https://user:password@host"), without
// repeating it: the compiled table, the admin listener's /table and
// cuegate diff would show them (and an upstream target's are never sent).
// The field is then left out of the other checks, so that none quotes it.
func (c *compilation) checkURLCredentials(raw *schema.Config) {
	walkConfig(raw, func(at fieldPath, v reflect.Value) bool {
		u, ok := v.Interface().(schema.URL)
		if ok && hasCredentials(string(u)) {
			c.errorf(at, "the URL has credentials before its host (user:password@), or an \"@\" there that reads as such; it is not shown here, and would be in the table, /table and cuegate diff: send credentials in a header where the setting has one (upstream.secret_headers, gateway.tracing.headers)")
			c.reported = append(c.reported, at)
		}
		return !ok
	})
}

// hasCredentials reports whether the authority of the absolute URL raw
// (what comes between "://" and the first "/", "?" or "#") holds an "@":
// user information, or, in a URL that does not parse, what may be a
// password with a byte a URL cannot hold.
func hasCredentials(raw string) bool {
	_, rest, ok := strings.Cut(raw, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return ok && strings.Contains(rest, "@")
}
