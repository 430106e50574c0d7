package portal

import (
	"fmt"
	"strings"
	"testing"
)

func TestTextProblem(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want string
	}{
		{"My app", ""},
		{"Ünï アプリ🚀", ""},
		{"tab\there", "contains the control character U+0009 at byte 3"},
		{"nul\x00", "contains the control character U+0000 at byte 3: only printable text is allowed"},
		{"esc\x1b[31mred", "contains the control character U+001B at byte 3"},
		{"line\r\nbreak", "contains the control character U+000D at byte 4"},
		{"del\x7f", "contains the control character U+007F at byte 3"},
		{"c1\u0085", "contains the control character U+0085 at byte 2"},
		{"csi\u009b", "contains the control character U+009B at byte 3"},
		{"bidi\u202egpj.exe", "contains the control character U+202E at byte 4"},
		{"isolate\u2066x", "contains the control character U+2066 at byte 7"},
		{"mark\u200f", "contains the control character U+200F at byte 4"},
		{"arabic mark\u061c", "contains the control character U+061C at byte 11"},
		{"line sep\u2028", "contains the control character U+2028 at byte 8"},
		{"para sep\u2029", "contains the control character U+2029 at byte 8"},
		{"zero\u200bwidth", "contains the invisible character U+200B at byte 4: only printable text is allowed"},
		{"zw\u200cnj", "contains the invisible character U+200C at byte 2"},
		{"zw\u200dj", "contains the invisible character U+200D at byte 2"},
		{"\ufeffbom", "contains the invisible character U+FEFF at byte 0"},
		{"word\u2060joiner", "contains the invisible character U+2060 at byte 4"},
		{"invisible\u2064plus", "contains the invisible character U+2064 at byte 9"},
		{"soft\u00adhyphen", "contains the invisible character U+00AD at byte 4"},
		{"tag\U000e0041", "contains the invisible character U+E0041 at byte 3"},
		{"tag\U000e0001", "contains the invisible character U+E0001 at byte 3"},
		{"tag\U000e007f", "contains the invisible character U+E007F at byte 3"},
		{"tag\U000e0000", "contains the invisible character U+E0000 at byte 3"},
		{"tag\U000e0002", "contains the invisible character U+E0002 at byte 3"},
		{"filler\u3164", "contains the invisible character U+3164 at byte 6"},
		{"filler\uffa0", "contains the invisible character U+FFA0 at byte 6"},
		{"grapheme\u034fjoiner", "contains the invisible character U+034F at byte 8"},
		{"mongolian\u180e", "contains the invisible character U+180E at byte 9"},
		{"selector\ufe0f", "contains the invisible character U+FE0F at byte 8"},
		{"selector\U000e0100", "contains the invisible character U+E0100 at byte 8"},
		{"interlinear\ufff9", "contains the invisible character U+FFF9 at byte 11"},
		{"cafe\u0301", ""}, // a combining accent shows on its letter
		{"a\u00a0b", ""},   // a no-break space shows as a space
		{"bad \xff utf-8", "is not valid UTF-8"},
		{strings.Repeat("x", 21), "is longer than 20 bytes"},
	} {
		if got := textProblem(tt.in, 20); !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("textProblem(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

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
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
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
