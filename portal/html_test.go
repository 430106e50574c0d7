package portal

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestHTMLWizard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	_, _, tok := e.page(b, "/signup")
	resp, body := e.post(b, "/signup", url.Values{"csrf_token": {tok}, "email": {"dev@example.com"}, "password": {"correct horse"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", resp.StatusCode, body)
	}
	if _, body, _ := e.page(b, resp.Header.Get("Location")); !strings.Contains(body, `<p class="flash" role="status">Welcome — your account is ready.</p>`) {
		t.Errorf("no welcome after sign-up:\n%s", body)
	}
	if _, body, _ := e.page(b, "/clients"); strings.Contains(body, "Welcome") {
		t.Error("the welcome is shown twice")
	}
	status, body, tok := e.page(b, "/clients/new?entry=gluu_api")
	if status != 200 || !strings.Contains(body, `value="gluu_api" checked`) || strings.Contains(body, "Unregistrable") {
		t.Fatalf("step 1: %d %s", status, body)
	}
	// Entries bound to different policies cannot go together.
	resp, body = e.post(b, "/clients/new", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api", "free"}})
	if resp.StatusCode != 400 || !strings.Contains(body, "different policies") {
		t.Errorf("mixed policies: %d", resp.StatusCode)
	}
	resp, body = e.post(b, "/clients/new", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api", "orders"}})
	if resp.StatusCode != 200 || !strings.Contains(body, `name="client_name"`) || !strings.Contains(body, "<code>;</code>") {
		t.Fatalf("step 2: %d %s", resp.StatusCode, body)
	}
	resp, body = e.post(b, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api", "orders"},
		"client_name": {"wizard app"}, "redirect_uris": {"https://app.example/cb; https://app.example/cb2 ;"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/clients/client-1" {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	status, body, _ = e.page(b, "/clients/client-1")
	if status != 200 || !strings.Contains(body, "is registered.") {
		t.Errorf("result page: %d %s", status, body)
	}
	for _, want := range []string{"client-1", `<code class="copy">secret-1</code>`, e.idp.URL + "/token",
		"--data-urlencode &#39;client_secret=secret-1&#39;",
		"<dd>Gold — 100 requests per minute, 10,000 per 30 days, keys expire after 365 days</dd>",
		`curl -H &#34;Authorization: Bearer $ACCESS_TOKEN&#34; &#39;https://gw.example/gluu-api/&#39;`,
		`&#39;https://gw.example/orders/&#39;`} {
		if !strings.Contains(body, want) {
			t.Errorf("result page lacks %q:\n%s", want, body)
		}
	}
	c, _ := e.store.Client("client-1")
	if len(c.RedirectURIs) != 2 || c.RedirectURIs[1] != "https://app.example/cb2" || len(c.Catalogue) != 2 {
		t.Errorf("stored %+v", c)
	}
	if !strings.Contains(e.requests()[0], `"redirect_uris":["https://app.example/cb","https://app.example/cb2"]`) {
		t.Errorf("provider got %s", e.requests()[0])
	}

	// Seen again, it is the detail page, where the secret is off the
	// screen until asked for and the token command does not spell it out.
	_, body, _ = e.page(b, "/clients/client-1")
	if strings.Contains(body, "is registered.") || strings.Count(body, "secret-1") != 1 ||
		!strings.Contains(body, `<details class="secret"><summary>Show client secret</summary><code class="copy">secret-1</code></details>`) ||
		!strings.Contains(body, "--data-urlencode &#39;client_secret=&#39;&#34;$CLIENT_SECRET&#34;") ||
		!strings.Contains(body, "<dd>Gold — 100 requests per minute") {
		t.Errorf("detail page:\n%s", body)
	}
	status, body, _ = e.page(b, "/clients")
	if status != 200 || !strings.Contains(body, "wizard app") {
		t.Errorf("list: %d", status)
	}
	status, body, tok = e.page(b, "/clients/client-1/delete")
	if status != 200 || !strings.Contains(body, "cannot be undone") {
		t.Errorf("confirm: %d", status)
	}
	resp, _ = e.post(b, "/clients/client-1/delete", url.Values{"csrf_token": {tok}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	_, body, tok = e.page(b, "/clients")
	if !strings.Contains(body, `<p class="flash" role="status">Client wizard app deleted.</p>`) {
		t.Errorf("no flash after delete:\n%s", body)
	}
	resp, _ = e.post(b, "/logout", url.Values{"csrf_token": {tok}})
	if status, _, _ := e.page(b, "/clients"); resp.StatusCode != http.StatusSeeOther || status != http.StatusSeeOther {
		t.Errorf("after logout /clients: %d", status)
	}
	if _, body, _ := e.page(b, resp.Header.Get("Location")); !strings.Contains(body, `<p class="flash" role="status">You are logged out.</p>`) {
		t.Errorf("no flash after logout:\n%s", body)
	}
}

var flashRE = regexp.MustCompile(`<p class="flash" role="status">([^<]*)</p>`)

func TestFlashCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct{ path, want string }{
		{"/login?m=logged-out", "You are logged out."},
		{"/login", ""},
		{"/login?m=unknown", ""},
		{"/login?m=%3Cb%3Ezq%20x%20q%3C%2Fb%3E", ""}, // text from the request is never shown
	} {
		_, body, _ := e.page(e.browser(), tt.path)
		got := ""
		if m := flashRE.FindStringSubmatch(body); m != nil {
			got = m[1]
		}
		if got != tt.want || strings.Contains(body, "zq x q") {
			t.Errorf("%s: flash %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestLoginErrorIsASentence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.developer("a@example.com")
	b := e.browser()
	_, _, tok := e.page(b, "/login")
	resp, body := e.post(b, "/login", url.Values{"csrf_token": {tok}, "email": {"a@example.com"}, "password": {"not the password"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `<p class="error" role="alert">Wrong email or password.</p>`) {
		t.Errorf("%d\n%s", resp.StatusCode, body)
	}
}

func TestSentence(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                            "",
		"wrong email or password":     "Wrong email or password.",
		"done.":                       "Done.",
		"élan?":                       "Élan?",
		`"x" is not an email address`: `"x" is not an email address.`,
	} {
		if got := sentence(in); got != want {
			t.Errorf("sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientNameIsEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, `<script>alert("x")</script>`, "gluu_api")
	for _, path := range []string{"/clients", "/clients/" + c.ClientID, "/clients/" + c.ClientID + "/delete"} {
		_, body, _ := e.page(dev, path)
		if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s does not escape the name:\n%s", path, body)
		}
	}
	_, _, tok := e.page(dev, "/clients/"+c.ClientID+"/delete")
	if resp, _ := e.post(dev, "/clients/"+c.ClientID+"/delete", url.Values{"csrf_token": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	_, body, _ := e.page(dev, "/clients")
	if strings.Contains(body, "<script>") || !strings.Contains(body, "Client &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; deleted.") {
		t.Errorf("the deletion message does not escape the name:\n%s", body)
	}
}

func TestHTMLShowsTheProvidersRefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(400)
		io.WriteString(w, `{"error":"invalid_client_metadata","error_description":"response_types <token> is not allowed"}`)
		return true
	})
	b := e.developer("a@example.com")
	_, _, tok := e.page(b, "/clients/new")
	resp, body := e.post(b, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}})
	if resp.StatusCode != 400 || !strings.Contains(body,
		"The identity provider refused the registration: invalid_client_metadata: response_types &lt;token&gt; is not allowed") {
		t.Errorf("%d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `value="x"`) {
		t.Error("the form lost the client name")
	}
	if len(e.store.Clients("")) != 0 {
		t.Error("a refused registration was stored")
	}
}

func TestPagesAnswerAWrongMethodWith405(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct {
		method, path string
		status       int
		allow, text  string
	}{
		{"GET", "/logout", 405, "POST", "This address takes POST requests, not GET"},
		{"GET", "/clients/x/rotate", 405, "POST", "This address takes POST requests, not GET"},
		{"GET", "/clients/x/edit", 405, "POST", "This address takes POST requests, not GET"},
		{"DELETE", "/clients/x", 405, "GET, HEAD", "This address takes GET, HEAD requests, not DELETE"},
		{"PUT", "/login", 405, "GET, HEAD, POST", "This address takes GET, HEAD, POST requests, not PUT"},
		{"POST", "/", 405, "GET, HEAD", "This address takes GET, HEAD requests, not POST"},
		{"POST", "/static/style.css", 405, "GET, HEAD", "This address takes GET, HEAD requests, not POST"},
		{"GET", "/nowhere", 404, "", "There is no page at this address."},
		{"POST", "/nowhere", 404, "", "There is no page at this address."},
		{"GET", "/clients/x/rotate/more", 404, "", "There is no page at this address."},
	} {
		req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
		resp, err := e.browser().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Allow") != tt.allow || !strings.Contains(string(b), tt.text) {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q and %q in\n%s", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.status, tt.allow, tt.text, b)
		}
	}
}

func TestFormTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	_, _, tok := e.page(b, "/login")
	resp, body := e.post(b, "/login", url.Values{"csrf_token": {tok}, "email": {strings.Repeat("a", maxJSONBody)}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "The form is larger than the 64 KiB a form may have.") {
		t.Errorf("a form over 64 KiB: %d\n%s", resp.StatusCode, body)
	}
}

// TestNoTokenCommandWithoutASecret: a client that does not authenticate
// by sending its secret (here tls_client_auth) is shown no copied
// command that would send an empty one.
func TestNoTokenCommandWithoutASecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"client_id":"mtls-1","token_endpoint_auth_method":"tls_client_auth"}`) //nolint:errcheck
		return true
	})
	dev := e.developer("a@example.com")
	if resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	status, body, _ := e.page(dev, "/clients/mtls-1")
	if status != 200 || strings.Contains(body, "Get an access token") || strings.Contains(body, "client_secret=") {
		t.Errorf("page of a tls_client_auth client: %d\n%s", status, body)
	}
}
