// What of a provider's words may be shown: never a secret of the call,
// only printable text.

package dcr

import (
	"cmp"
	"encoding/json"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cuegate/cuegate/internal/printable"
)

// redacted stands for a secret in a provider's words.
const redacted = "[redacted]"

// secrets are the values a provider's words must never repeat to anyone:
// what a call sent or holds that would let its reader act as the portal
// or as the client.
type secrets []string

// secretsOf lists the secrets of a call sent with Authorization auth ("" for
// none) about reg (nil for a registration): auth and the token in it, and
// reg's client secret and registration access token.
func secretsOf(auth string, reg *Registration) secrets {
	s := secrets{auth}
	if _, tok, ok := strings.Cut(auth, " "); ok {
		s = append(s, tok)
	}
	if reg != nil {
		s = append(s, reg.ClientSecret, reg.RegistrationAccessToken)
	}
	return s
}

// redactor returns a function that replaces every secret in a text with
// "[redacted]", in each form a provider or a proxy in front of it may
// repeat it in (see formsOf), ignoring case.
func (s secrets) redactor() func(string) string {
	var forms []string
	for _, v := range s {
		if v != "" {
			forms = append(forms, formsOf(v)...)
		}
	}
	forms = slices.DeleteFunc(forms, func(f string) bool { return f == "" })
	if len(forms) == 0 {
		return func(text string) string { return text }
	}
	// Longest first: of two secrets at one place, the whole is replaced.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	forms = slices.Compact(forms)
	for i, f := range forms {
		forms[i] = regexp.QuoteMeta(f)
	}
	re, err := regexp.Compile("(?i)" + strings.Join(forms, "|"))
	if err != nil {
		return func(string) string { return redacted } // nothing of the text, rather than a secret in it
	}
	return func(text string) string { return re.ReplaceAllLiteralString(text, redacted) }
}

// head returns the first n bytes of v, fewer to end on a whole
// character.
func head(v string, n int) string {
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n]
}

// tail returns the last n bytes of v, fewer to begin on a whole
// character.
func tail(v string, n int) string {
	i := len(v) - n
	for i < len(v) && !utf8.RuneStart(v[i]) {
		i++
	}
	return v[i:]
}

// minShownPart is the length from which the start or the end of a
// secret, shown alone (a provider that cuts what it repeats short), is
// redacted too.
const minShownPart = 12

// formsOf returns v (when it is not UTF-8, as decoding repeats it, with
// U+FFFD) as sent, without base64's "=" padding, and as it
// reads once escaped for JSON (with and without HTML escapes, "/" as is
// or as "\/"), HTML (as html and html/template escape it) or a URL; and
// its first and last minShownPart bytes, for a v long enough that they
// say little of another text.
func formsOf(v string) []string {
	if !utf8.ValidString(v) { // as a provider that decodes it repeats it; its raw bytes would not be printable text
		return formsOf(strings.ToValidUTF8(v, "\uFFFD"))
	}
	forms := []string{v, strings.TrimRight(v, "="), html.EscapeString(v), template.HTMLEscapeString(v), url.QueryEscape(v), url.PathEscape(v)}
	if len(v) >= 2*minShownPart {
		forms = append(forms, head(v, minShownPart), tail(v, minShownPart))
	}
	for _, escapeHTML := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		enc.Encode(v) // a string always encodes
		j := strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:]
		forms = append(forms, j, strings.ReplaceAll(j, "/", `\/`))
	}
	return forms
}

// showable makes e's words fit to show and log: sec redacted in them,
// each clipped to maxErrorText bytes, and both replaced by a fixed code
// for the status and a fixed sentence when either is not printable text.
func (e *ProviderError) showable(sec secrets) {
	redact := sec.redactor()
	e.Code = truncate(redact(e.Code), maxErrorText)
	e.Description = truncate(redact(e.Description), maxErrorText)
	limit := maxErrorText + len("…")
	if printable.Problem(e.Code, limit) != "" || printable.Problem(e.Description, limit) != "" {
		e.Code = fallbackCode(e.Status)
		e.Description = http.StatusText(e.Status) + " (the identity provider's own words are not shown: they are not printable text)"
	}
}
