// What of a provider's words may be shown: never a secret of the call,
// only printable text.

package dcr

import (
	"bytes"
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

// bodyText is the text of an answer without error and error_description,
// trimmed, with redact (a secrets.redactor) applied where no escape can
// hide a secret from it: JSON (a problem document, Okta's errorSummary, a
// message) is decoded, every name, string and number in it redacted, and
// written again (a lone string as its text); other text is redacted as
// sent.
func bodyText(raw []byte, redact func(string) string) string {
	if !json.Valid(raw) {
		return redact(strings.TrimSpace(string(raw)))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // as written: a number may be a secret's digits
	var v any
	dec.Decode(&v) //nolint:errcheck // valid JSON decodes
	if s, ok := v.(string); ok {
		return strings.TrimSpace(redact(s))
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(redactJSON(v, redact)) //nolint:errcheck // decoded JSON encodes: its numbers are valid, the ones redacted are strings
	return strings.TrimSpace(b.String())
}

// redactJSON applies redact to every name, string and number of v, a
// decoded JSON value; a number it changes becomes a string.
func redactJSON(v any, redact func(string) string) any {
	switch v := v.(type) {
	case string:
		return redact(v)
	case json.Number:
		if r := redact(string(v)); r != string(v) {
			return r
		}
	case []any:
		for i, x := range v {
			v[i] = redactJSON(x, redact)
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[redact(k)] = redactJSON(x, redact)
		}
		return out
	}
	return v
}

// showable makes e's words, redacted already, fit to show and log: each
// clipped to maxErrorText bytes, and both replaced by a fixed code for the
// status and a fixed sentence when either is not printable text.
func (e *ProviderError) showable() {
	e.Code = truncate(e.Code, maxErrorText)
	e.Description = truncate(e.Description, maxErrorText)
	limit := maxErrorText + len("…")
	if printable.Problem(e.Code, limit) != "" || printable.Problem(e.Description, limit) != "" {
		e.Code = fallbackCode(e.Status)
		e.Description = http.StatusText(e.Status) + " (the identity provider's own words are not shown: they are not printable text)"
	}
}
