package dcr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
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
