package portal

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/printable"
)

func TestRedirectURIProblem(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		uri, want string // want: "" for allowed, else the start of the reason
	}{
		{"https://app.example/cb", ""},
		{"https://app.example:8443/cb?x=1", ""},
		{"HTTPS://APP.EXAMPLE/cb", ""},
		{"http://127.0.0.1:8080/cb", ""},
		{"http://[::1]:8080/cb", ""},
		{"http://localhost/cb", ""},
		{"http://LOCALHOST:3000/cb", ""},
		{"com.example.app:/oauth2redirect", ""},
		{"com.example.app://cb", ""},
		{"http://app.example/cb", "uses http on a host that is not loopback"},
		{"http://127.0.0.1.nip.io/cb", "uses http on a host that is not loopback"},
		{"http://localhost.evil.example/cb", "uses http on a host that is not loopback"},
		{"http://[::ffff:127.0.0.1]/cb", "uses http on a host that is not loopback"},
		{"http:/cb", "uses http on a host that is not loopback"},
		{"https:cb", "has no host"},
		{"https:///cb", "has no host"},
		{"javascript:alert(1)", `has the scheme "javascript"`},
		{"JavaScript:alert(1)", `has the scheme "javascript"`},
		{"data:text/html,<script>alert(1)</script>", `has the scheme "data"`},
		{"file:///etc/passwd", `has the scheme "file"`},
		{"vbscript:msgbox", `has the scheme "vbscript"`},
		{"blob:https://app.example/uuid", `has the scheme "blob"`},
		{"myapp:/cb", `has the scheme "myapp"`},
		{"com.:/cb", `has the scheme "com."`},
		{".com.example:/cb", "is not an absolute URI"},
		{"/cb", "is not an absolute URI"},
		{"app.example/cb", "is not an absolute URI"},
		{"https://app.example/cb#frag", "has a fragment"},
		{"https://app.example/cb#", "has a fragment"},
		{"https://user:pw@app.example/cb", "has user information"},
		{"https://user@app.example/cb", "has user information"},
		{"https://app.example/c b", "contains a space"},
		{"https://app.example/cb\u00a0", "contains a space"},
		{"https://app.example/\x00", "contains the control character U+0000"},
		{"https://app.example/\u202e", "contains the control character U+202E"},
		{"https://app.example/cb\u200b", "contains the invisible character U+200B"},
		{"https://app\u00ad.example/cb", "contains the invisible character U+00AD"},
		{"https://app.example/" + strings.Repeat("a", maxRedirectURILen), "is longer than 2000 bytes"},
	} {
		if got := redirectURIProblem(tt.uri); !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("redirectURIProblem(%q) = %q, want %q", tt.uri, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 4, "abcd…"},
		{"ééé", 3, "é…"}, // not inside a character
	} {
		if got := printable.Clip(tt.in, tt.n); got != tt.want {
			t.Errorf("printable.Clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestDeveloperTextIsChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	many := make([]string, maxRedirectURIs+1)
	for i := range many {
		many[i] = fmt.Sprintf("https://app.example/cb%d", i)
	}
	huge := "javascript:" + strings.Repeat("x", 10_000)
	tests := []struct {
		name string
		body map[string]any
		code string
		desc string
	}{
		{"NUL in name", map[string]any{"client_name": "app\x00"}, "invalid_client_metadata", "client_name contains the control character U+0000 at byte 3: only printable text is allowed"},
		{"ESC in name", map[string]any{"client_name": "\x1b]0;pwned\x07"}, "invalid_client_metadata", "client_name contains the control character U+001B at byte 0: only printable text is allowed"},
		{"newline in name", map[string]any{"client_name": "app\nrevoked client x"}, "invalid_client_metadata", "client_name contains the control character U+000A at byte 3: only printable text is allowed"},
		{"bidi override in name", map[string]any{"client_name": "app\u202e"}, "invalid_client_metadata", "client_name contains the control character U+202E at byte 3: only printable text is allowed"},
		{"zero-width space in name", map[string]any{"client_name": "my\u200bapp"}, "invalid_client_metadata", "client_name contains the invisible character U+200B at byte 2: only printable text is allowed"},
		{"tag characters in name", map[string]any{"client_name": "app\U000e0041\U000e0042"}, "invalid_client_metadata", "client_name contains the invisible character U+E0041 at byte 3: only printable text is allowed"},
		{"long name", map[string]any{"client_name": strings.Repeat("x", maxClientNameLen+1)}, "invalid_client_metadata", "client_name is longer than 200 bytes"},
		{"too many redirects", map[string]any{"client_name": "x", "redirect_uris": many}, "invalid_redirect_uri", "at most 10 redirect_uris are allowed, not 11"},
		{"javascript redirect", map[string]any{"client_name": "x", "redirect_uris": []string{"https://app.example/cb", "javascript:alert(1)"}},
			"invalid_redirect_uri", `redirect_uris[1] "javascript:alert(1)" has the scheme "javascript": ` + allowedRedirects},
		{"huge redirect", map[string]any{"client_name": "x", "redirect_uris": []string{huge}},
			"invalid_redirect_uri", `redirect_uris[0] "` + huge[:maxEcho] + `…" is longer than 2000 bytes`},
		{"huge catalogue entry", map[string]any{"client_name": "x", "catalogue": []string{strings.Repeat("y", 10_000)}},
			"invalid_request", `unknown API "` + strings.Repeat("y", maxEcho) + `…"`},
	}
	for _, tt := range tests {
		if _, ok := tt.body["catalogue"]; !ok {
			tt.body["catalogue"] = []string{"gluu_api"}
		}
		var aerr apiError
		if resp := e.api(dev, "POST", "/clients", tt.body, &aerr); resp.StatusCode != 400 || aerr.Code != tt.code || aerr.Description != tt.desc {
			t.Errorf("%s: %d %s %q\nwant 400 %s %q", tt.name, resp.StatusCode, aerr.Code, aerr.Description, tt.code, tt.desc)
		}
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d provider calls for refused requests", n)
	}
	if n := len(e.store.Clients("")); n != 0 {
		t.Errorf("%d clients stored for refused requests", n)
	}

	for _, email := range []string{"\"a\u202e\"@example.com", "a\u0085@example.com", "b@exa\u200fmple.com"} {
		var aerr apiError
		if resp := e.api(e.browser(), "POST", "/signup", credentials{email, "correct horse"}, &aerr); resp.StatusCode != 400 ||
			!strings.HasPrefix(aerr.Description, "the email address contains the control character") {
			t.Errorf("sign-up as %q: %d %+v", email, resp.StatusCode, aerr)
		}
	}
	for _, email := range []string{"a\u200b@example.com", "\ufeffa@example.com", "a@exam\u2060ple.com", "a\U000e0061@example.com", "\"a\u200d\"@example.com"} {
		var aerr apiError
		if resp := e.api(e.browser(), "POST", "/signup", credentials{email, "correct horse"}, &aerr); resp.StatusCode != 400 ||
			!strings.HasPrefix(aerr.Description, "the email address contains the invisible character") {
			t.Errorf("sign-up as %q: %d %+v", email, resp.StatusCode, aerr)
		}
	}
	if n := len(e.store.Developers()); n != 1 {
		t.Errorf("%d developers stored, want 1", n)
	}
}
