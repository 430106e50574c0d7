package dcr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

// The secrets of TestProviderWordsRedacted: each ends in a tail that no
// encoding changes, by which the test finds it in any form.
const (
	echoedToken  = "iat/+<&>=Tok-Tail1"
	echoedRAT    = "rat/+<&>=Rat-Tail2"
	echoedSecret = "cs/+<&>=Sec-Tail3"
)

var echoedTails = []string{"tok-tail1", "rat-tail2", "sec-tail3"} // lower case

// echoes are refusals that repeat what the provider saw and knows, each
// in a form a provider or a proxy in front of it might use.
var echoes = []struct {
	name string
	body func(said string) string
}{
	{"plain text", func(said string) string { return "401 Unauthorized: " + said }},
	{"upper case", func(said string) string { return strings.ToUpper("denied: " + said) }},
	{"error_description", func(said string) string {
		b, _ := json.Marshal(map[string]string{"error": "invalid_client", "error_description": said})
		return string(b)
	}},
	{"JSON without error fields", func(said string) string {
		b, _ := json.Marshal(map[string]string{"message": said})
		return strings.ReplaceAll(string(b), "/", `\/`)
	}},
	{"JSON escapes as .NET writes them", func(said string) string {
		b, _ := json.Marshal(map[string]string{"title": "Unauthorized", "detail": said})
		return strings.NewReplacer("+", `\u002B`, "=", `\u003D`).Replace(string(b))
	}},
	{"HTML", func(said string) string {
		return "<html><p>" + strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(said) + "</p></html>"
	}},
	{"form encoded", func(said string) string { return "error=access_denied&request=" + url.QueryEscape(said) }},
	{"html/template", func(said string) string { return "<p>" + template.HTMLEscapeString(said) + "</p>" }},
}

// TestProviderWordsRedacted: whatever secret of the call a provider's
// refusal repeats, in whichever form, is shown as [redacted]: the
// initial access token of a registration (Bearer, or SSWS for Okta), and
// the registration access token and client secret of an update, a read
// or a deletion.
func TestProviderWordsRedacted(t *testing.T) {
	t.Parallel()
	token := &table.Secret{Env: testutil.Env(t, "DCR_TEST_TOKEN", echoedToken)}
	managed := Registration{ClientID: "c", ClientSecret: echoedSecret, RegistrationClientURI: "/register/c", RegistrationAccessToken: echoedRAT}
	calls := map[string]func(Registrar, *Registration) error{
		"register": func(r Registrar, _ *Registration) error {
			_, err := r.Register(context.Background(), Request{ClientName: "x"})
			return err
		},
		"update": func(r Registrar, reg *Registration) error {
			_, err := r.Update(context.Background(), reg, Request{ClientName: "x"})
			return err
		},
		"read":   func(r Registrar, reg *Registration) error { _, err := r.Read(context.Background(), reg); return err },
		"delete": func(r Registrar, reg *Registration) error { return r.Delete(context.Background(), reg) },
	}
	for _, echo := range echoes {
		t.Run(echo.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) bool {
				said := fmt.Sprintf("Authorization %q", r.Header.Get("Authorization"))
				if r.Method != http.MethodPost { // about a client the provider knows
					said += fmt.Sprintf(", client secret %s, token %s", echoedSecret, echoedRAT)
				}
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, echo.body(said))
				return true
			})
			for _, provider := range []string{"other", "gluu", "keycloak", "okta", "hydra"} {
				reg := managed
				reg.RegistrationClientURI = f.URL + reg.RegistrationClientURI
				if provider == "okta" { // managed by client ID with the initial access token
					reg.RegistrationClientURI = ""
				}
				s := table.DCR{Provider: provider, RegistrationEndpoint: f.URL + "/register", InitialAccessToken: token}
				r, _ := New(&s, "", f.Client())
				for op, call := range calls {
					err := call(r, &reg)
					pe, ok := errors.AsType[*ProviderError](err)
					if !ok {
						t.Errorf("%s %s: %v, want a ProviderError", provider, op, err)
						continue
					}
					msg := strings.ToLower(pe.Error())
					for _, tail := range echoedTails {
						if strings.Contains(msg, tail) {
							t.Errorf("%s %s: the error repeats a secret: %q", provider, op, pe.Error())
						}
					}
					if !strings.Contains(msg, strings.ToLower(redacted)) {
						t.Errorf("%s %s: %q, want the secrets shown as %s", provider, op, pe.Error(), redacted)
					}
				}
			}
		})
	}
}

// TestProviderWordsRedactedEscaped: a JSON refusal without error and
// error_description that repeats a secret behind JSON escapes ("\u002B"
// for "+", as .NET writes it; every character as \uXXXX; "\/") shows it
// as [redacted], a short secret (redacted only whole) and a long one
// (whose start and end alone are redacted too) alike, wherever it is in
// the answer; the provider's other words are kept.
func TestProviderWordsRedactedEscaped(t *testing.T) {
	t.Parallel()
	const (
		short = "Zq9xW+v4k/Jt3" // shorter than 2*minShownPart
		long  = "Hq7Zx1Lm+Pw8Rt2Yk/Nb5Vc3Jd+Gf6Ds4Ah"
	)
	some := strings.NewReplacer("+", `\u002B`, "/", `\/`).Replace
	every := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		return b.String()
	}
	tests := []struct {
		name   string
		secret string
		escape func(string) string
		body   string // %s: the escaped secret
		want   string // kept of the provider's words
	}{
		{"short, some escaped", short, some, `{"title":"Bad token","status":400,"detail":"token %s may not register"}`, "may not register"},
		{"long, some escaped", long, some, `{"title":"Bad token","status":400,"detail":"token %s may not register"}`, "may not register"},
		{"short, every character escaped", short, every, `{"title":"Bad token","detail":"token %s may not register"}`, "Bad token"},
		{"long, every character escaped", long, every, `{"title":"Bad token","detail":"token %s may not register"}`, "Bad token"},
		{"in a member's name", long, every, `{"errorSummary":"Invalid token","errorCauses":[{"%s":"unknown"}]}`, "Invalid token"},
		{"in an array", short, some, `{"message":"refused","tokens":["%s"]}`, "refused"},
		{"a lone string", long, every, `"token %s may not register"`, "token [redacted] may not register"},
	}
	// unescaped undoes the escapes the test's answers use.
	unescaped := regexp.MustCompile(`\\u[0-9a-fA-F]{4}|\\/`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := &table.Secret{Env: testutil.Env(t, "DCR_TEST_TOKEN", tt.secret)}
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, tt.body, tt.escape(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")))
				return true
			})
			r, _ := New(&table.DCR{Provider: "other", RegistrationEndpoint: f.URL + "/register", InitialAccessToken: token}, "", f.Client())
			_, err := r.Register(context.Background(), Request{ClientName: "x"})
			pe, ok := errors.AsType[*ProviderError](err)
			if !ok {
				t.Fatalf("Register = %v, want a ProviderError", err)
			}
			shown := unescaped.ReplaceAllStringFunc(pe.Error(), func(e string) string {
				if e == `\/` {
					return "/"
				}
				n, _ := strconv.ParseUint(e[2:], 16, 32)
				return string(rune(n))
			})
			for part := range strings.FieldsFuncSeq(tt.secret, func(r rune) bool { return r == '+' || r == '/' }) {
				if strings.Contains(strings.ToLower(shown), strings.ToLower(part)) {
					t.Errorf("the error repeats %q of the secret: %q", part, pe.Error())
				}
			}
			if !strings.Contains(pe.Description, redacted) || !strings.Contains(pe.Description, tt.want) {
				t.Errorf("description %q, want %s and %q", pe.Description, redacted, tt.want)
			}
		})
	}
}

// TestProviderWordsPrintable: a refusal whose words are not printable
// text is shown as its status with a fixed code and sentence.
func TestProviderWordsPrintable(t *testing.T) {
	t.Parallel()
	const hidden = "(the identity provider's own words are not shown: they are not printable text)"
	tests := []struct {
		name   string
		status int
		body   string
		code   string
	}{
		{"bidi override in the description", 400, `{"error":"invalid_client_metadata","error_description":"name \u202egnp.exe"}`, "invalid_request"},
		{"escape sequence in the code", 401, `{"error":"bad\u001b[2J"}`, "invalid_token"},
		{"control character in the body", 500, "<html>boom\x07</html>", "server_error"},
		{"invalid UTF-8 in the body", 403, "denied \xff", "access_denied"},
		{"zero-width space", 400, `{"error":"invalid\u200bclient"}`, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, testidp.Reply(tt.status, tt.body))
			_, err := hydraAt(t, f).Register(context.Background(), Request{ClientName: "x"})
			wantProviderError(tt.status, tt.code, http.StatusText(tt.status)+" "+hidden)(t, err)
		})
	}
}

// TestProviderWordsRedactedInPart: the start or the end of a long secret
// repeated alone (a provider that cuts it short), or a base64 secret
// without its padding, is redacted too.
func TestProviderWordsRedactedInPart(t *testing.T) {
	t.Parallel()
	const secret = "c2VjcmV0LXZhbHVlLW9mLXRoZS1jbGllbnQ="
	sec := secrets{secret}
	for _, said := range []string{
		"token " + secret[:minShownPart] + "… invalid",
		"token …" + secret[len(secret)-minShownPart:] + " invalid",
		"token " + strings.TrimRight(secret, "=") + " invalid",
	} {
		if got := sec.redactor()(said); got == said || strings.Contains(got, secret[:minShownPart]) || strings.Contains(got, secret[len(secret)-minShownPart:]) {
			t.Errorf("redact(%q) = %q", said, got)
		}
	}
	if got := (secrets{"short-secret"}).redactor()("short-sec"); got != "short-sec" {
		t.Errorf("a part of a short secret redacted: %q", got)
	}
}

// TestRedactOddSecrets: a secret of any text redacts without failing: one
// whose 12th byte is inside a character, and one that is all padding
// (which must not redact everything).
func TestRedactOddSecrets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		secret, said, want string
	}{
		{"abcdefghijkü-0123456789-more-text", "invalid_client abcdefghijkü…", "invalid_client [redacted]ü…"},
		{"abcdefghijkü-0123456789-more-text", "invalid_client", "invalid_client"},
		{"==", "invalid_client", "invalid_client"},
		{"", "invalid_client", "invalid_client"},
		{"ab\xffcdefghijklmnopqrstuvwxyz0123", "bad token ab\uFFFDcdefghijklmnopqrstuvwxyz0123", "bad token [redacted]"},
	} {
		if got := (secrets{tt.secret}).redactor()(tt.said); got != tt.want {
			t.Errorf("secret %q: redact(%q) = %q, want %q", tt.secret, tt.said, got, tt.want)
		}
	}
}
