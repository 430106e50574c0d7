package compiler

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzHasCredentials: a URL that Go's parser reads with user information,
// or cannot read and holds an "@", has credentials; the redaction of a
// message quoting one leaves nothing of what comes before its last "@".
func FuzzHasCredentials(f *testing.F) {
	for _, seed := range []string{
		"https://u:p@host/x", "https://host/a@b", "http://ops:s3#cret@127.0.0.1:9000",
		"https://k:s3/cret@idp.example/certs", "https://ops:pa ss@api.example", "https://host?x=a@b",
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
		if strings.ContainsAny(raw, "\"'`\n") || !strings.Contains(raw, "@") {
			return
		}
		_, rest, _ := strings.Cut(raw, "://")
		before := rest[:strings.LastIndex(rest, "@")]
		if got := redactUserinfo(`value "` + raw + `"`); before != redacted && strings.Contains(got, "://"+before+"@") {
			t.Fatalf("redactUserinfo left %q in %q", before, got)
		}
	})
}
