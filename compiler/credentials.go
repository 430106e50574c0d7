package compiler

import (
	"net/url"
	"reflect"
	"regexp"
	"strings"

	"github.com/cuegate/cuegate/schema"
)

// checkURLCredentials refuses every URL of the configuration with
// credentials before its host ("https://user:password@host"), without
// repeating it: the compiled table, the admin listener's /table and
// cuegate diff would show them (and an upstream target's are never sent).
// No other error about the field is then reported (errorf), so that none
// quotes it; warnings about it say nothing of its value.
func (c *compilation) checkURLCredentials(raw *schema.Config) {
	walkConfig(raw, func(at fieldPath, v reflect.Value) bool {
		if v.Type() != reflect.TypeFor[schema.URL]() {
			return true
		}
		if hasCredentials(v.String()) {
			c.errorf(at, "the URL has credentials before its host (user:password@), or an \"@\" there that reads as such; it is not shown here, and would be in the table, /table and cuegate diff: send credentials in a header where the setting has one (upstream.secret_headers, gateway.tracing.headers)")
			c.reported = append(c.reported, at)
		}
		return false
	})
}

// hasCredentials reports whether the absolute URL raw has user
// information: an "@" in its authority (what comes between "://" and the
// first "/", "?" or "#"), or, in a URL that does not parse, anywhere (a
// password may hold a "/", "?" or "#", or a byte a URL cannot hold).
func hasCredentials(raw string) bool {
	_, rest, ok := strings.Cut(raw, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if ok && strings.Contains(rest, "@") {
		return true
	}
	_, err := url.Parse(raw)
	return err != nil && strings.Contains(raw, "@")
}

// urlUserinfo matches what may be the user information of a URL quoted in
// a message: from "://" to the last "@" before the double quote that ends
// the quoted value, or the line's end. Escapes (\") and other quotes (')
// are within it: a password may hold them (and white space, which the
// schema then refuses); a match that runs past its URL redacts more, never
// less.
var urlUserinfo = regexp.MustCompile(`://(?:\\.|[^"\\\n])*@`)

// redactUserinfo replaces in s what may be the user information of a URL
// (urlUserinfo): a diagnostic of CUE's (a value the schema refused, a
// conflict) may quote a URL whole.
func redactUserinfo(s string) string {
	return urlUserinfo.ReplaceAllLiteralString(s, "://"+redacted+"@")
}
