package compiler

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzHasCredentials: a URL that Go's parser reads with user information,
// or cannot read and holds an "@", has credentials; the redaction of a
// message quoting one, its quotes and backslashes escaped as CUE's
// diagnostics quote values, leaves nothing of what comes before its last
// "@".
func FuzzHasCredentials(f *testing.F) {
	for _, seed := range []string{
		"https://u:p@host/x", "https://host/a@b", "http://ops:s3#cret@127.0.0.1:9000",
		"https://k:s3/cret@idp.example/certs", "https://ops:pa ss@api.example", "https://host?x=a@b",
		"https://ops:p4ss'w0rd@idp.example/", `https://ops:p4ss"w0rd@idp.example/`, `https://o\p@h/`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
			return
		}
		u, err := url.Parse(raw)
		if (err == nil && u.User != nil || err != nil && strings.Contains(raw, "@")) && !hasCredentials(raw) {
			t.Fatalf("hasCredentials(%q) = false", raw)
		}
		if !strings.Contains(raw, "@") {
			return
		}
		_, rest, _ := strings.Cut(raw, "://")
		before := rest[:strings.LastIndex(rest, "@")]
		quoted := strings.Trim(strconv.Quote(before), `"`) // as a diagnostic quotes it
		if got := redactUserinfo(`value ` + strconv.Quote(raw)); before != redacted && strings.Contains(got, "://"+quoted+"@") {
			t.Fatalf("redactUserinfo left %q in %q", quoted, got)
		}
	})
}
