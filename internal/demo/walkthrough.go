package demo

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/cuegate/cuegate/internal/devidp"
)

// walkStep is one step of the printed walkthrough: prose, then shell
// commands meant to be pasted, in order, into one shell. The demo's test
// runs exactly these commands.
type walkStep struct {
	Text string
	Cmds []string
}

// walkthroughSteps returns the walkthrough for the addresses a.
func walkthroughSteps(a Addrs, config string) []walkStep {
	portal, gw, idp := "http://"+a.Portal, "http://"+a.Gateway, "http://"+a.IdP
	api := portal + "/portal/api/v1"
	cred := `'{"email":"dev@example.com","password":"demo-password-123"}'`
	field := func(v, name string) string {
		return fmt.Sprintf(`$(printf '%%s' "$%s" | tr -d '\n' | sed -E 's/.*"%s": *"([^"]+)".*/\1/')`, v, name)
	}
	code := `curl -s -o /dev/null -w '%{http_code}\n'`
	return []walkStep{
		{Text: "Sign up and create an OAuth client. In a browser: open " + portal + "/, sign up, choose\n" +
			"\"OAuth clients\" > \"New OAuth client\", pick \"Echo API\", name it, press Create, and set\n" +
			"CLIENT_ID and CLIENT_SECRET from the page. Or with the portal's JSON API:",
			Cmds: []string{
				`JAR=$(mktemp)`,
				`curl -s -c "$JAR" -H 'Content-Type: application/json' -d ` + cred + ` ` + api + `/signup; echo`,
				`curl -s -c "$JAR" -b "$JAR" -H 'Content-Type: application/json' -d ` + cred + ` ` + api + `/login; echo`,
				`CLIENT=$(curl -s -b "$JAR" -H 'Content-Type: application/json' -d '{"catalogue":["echo"],"client_name":"my app","redirect_uris":[]}' ` + api + `/clients); echo "$CLIENT"`,
				`CLIENT_ID=` + field("CLIENT", "client_id"),
				`CLIENT_SECRET=` + field("CLIENT", "client_secret"),
			}},
		{Text: "Get an access token from the provider (client_credentials, client_secret_post):",
			Cmds: []string{
				`TOKEN_RESPONSE=$(curl -s -d grant_type=client_credentials --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" ` + idp + `/token)`,
				`TOKEN=` + field("TOKEN_RESPONSE", "access_token"),
			}},
		{Text: "Call the Echo API through the gateway with the token (200), without it (401),\nand the keyless API, which needs none (200):",
			Cmds: []string{
				`curl -s -i -H "Authorization: Bearer $TOKEN" ` + gw + `/echo/hello`,
				code + ` ` + gw + `/echo/hello`,
				code + ` ` + gw + `/public/hello`,
			}},
		{Text: "A browser app on http://localhost:3000 may call the API: the gateway answers its\n" +
			"CORS preflight itself (204), before any token is checked:",
			Cmds: []string{
				`curl -s -i -X OPTIONS -H 'Origin: http://localhost:3000' -H 'Access-Control-Request-Method: GET' ` + gw + `/echo/hello`,
			}},
		{Text: "Watch the rate limit, 5 requests per 10 seconds, answer 429. Step 3 spent one of the\n" +
			"five, so four more pass and the fifth is refused (after a pause of over 10 seconds one or\n" +
			"two more pass: the window slides). The 429 says Retry-After: 12 (seconds), when one more\n" +
			"request passes, and X-RateLimit-Reset: 20, when all five do again, both counted from step 3:\n" +
			"the limit weighs the 10 seconds that held your calls by how much of them is still within\n" +
			"the last 10 seconds, so they drain away gradually, not all at once 10 seconds later.",
			Cmds: []string{
				`for i in 1 2 3 4; do ` + code + ` -H "Authorization: Bearer $TOKEN" ` + gw + `/echo/hello; done`,
				`curl -s -i -H "Authorization: Bearer $TOKEN" ` + gw + `/echo/hello | grep -iE '^(HTTP/|retry-after|x-ratelimit)'`,
			}},
		{Text: "Delete the client (in the portal, or as below): the gateway refuses its\nstill-valid token with 403 at once.",
			Cmds: []string{
				code + ` -b "$JAR" -X DELETE ` + api + `/clients/$CLIENT_ID`,
				`curl -s -H "Authorization: Bearer $TOKEN" ` + gw + `/echo/hello; echo`,
			}},
		{Text: "Edit " + filepath.Join(config, "quickstart.cue") + " (say, requests: 5 -> 50): the gateway\n" +
			"reloads it within a second, and http://" + a.Admin + "/status shows the new version."},
	}
}

var walkthrough = template.Must(template.New("").Funcs(template.FuncMap{
	"inc":    func(i int) int { return i + 1 },
	"indent": func(s string) string { return strings.ReplaceAll(s, "\n", "\n   ") },
}).Parse(`
cuegate demo is running on loopback.
{{.Banner}}

  Portal            http://{{.A.Portal}}/
  Gateway           http://{{.A.Gateway}}/   (/echo/ needs a token, /public/ does not)
  Admin             http://{{.A.Admin}}/status   /metrics   /readyz
  Identity provider http://{{.A.IdP}}   (development only)
  Echo upstream     http://{{.A.Echo}}/
  Configuration     {{.Config}}   (edit it: the gateway hot-swaps)
  State file        {{.State}}

Walkthrough: paste the commands, in order, into one shell. Ctrl-C here stops the demo.
{{range $i, $s := .Steps}}
{{inc $i}}. {{indent $s.Text}}
{{range $s.Cmds}}
   {{.}}{{end}}
{{end}}`))

// printWalkthrough writes the walkthrough to w in one write: a reader of w
// (the demo's test waits for "Walkthrough") sees all of it or none.
func printWalkthrough(w io.Writer, a Addrs, config, state string) {
	var buf bytes.Buffer
	walkthrough.Execute(&buf, struct { //nolint:errcheck // the template and its data are the program's own
		A                     Addrs
		Banner, Config, State string
		Steps                 []walkStep
	}{a, devidp.Banner, config, state, walkthroughSteps(a, config)})
	w.Write(buf.Bytes()) //nolint:errcheck // stdout: nowhere to report it
}
