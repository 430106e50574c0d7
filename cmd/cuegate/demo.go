package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/examples/quickstart"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/node"
)

func init() {
	register(command{"demo", "run the quickstart on loopback with a development-only identity provider", runDemo})
}

// demoAddrs are the loopback addresses of the demo's five listeners.
type demoAddrs struct {
	Gateway, Portal, Admin, IdP, Echo string
}

// demoOverride is the CUE file the demo adds to its copy of the
// quickstart: it moves every listener to the addresses chosen by flags.
const demoOverride = `// Written by cuegate demo: the addresses chosen by its flags.
package %s

_addr: {
	idp:  %q
	echo: %q
}

gateway: {
	listen:        %q
	portal_listen: %q
	admin_listen:  %q
}
`

// cuePackage finds a CUE file's package clause.
var cuePackage = regexp.MustCompile(`(?m)^package\s+([A-Za-z_][A-Za-z0-9_]*)`)

// demoIATEnv is the environment variable the quickstart reads the
// provider's initial access token from.
const demoIATEnv = "CUEGATE_DEMO_IAT"

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var a demoAddrs
	fs.StringVar(&a.Gateway, "gateway", "127.0.0.1:8080", "gateway listen address")
	fs.StringVar(&a.Portal, "portal", "127.0.0.1:8081", "portal listen address")
	fs.StringVar(&a.Admin, "admin", "127.0.0.1:9090", "admin listen address (/status, /metrics)")
	fs.StringVar(&a.IdP, "idp", "127.0.0.1:8082", "development identity provider listen address")
	fs.StringVar(&a.Echo, "echo", "127.0.0.1:8083", "echo upstream listen address")
	config := fs.String("config", "", "quickstart-shaped configuration directory to copy and run (default: the built-in examples/quickstart)")
	dir := fs.String("dir", "", "working directory for the configuration copy and the state file (default: a new temporary directory, removed on exit)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cuegate demo [flags]")
		fmt.Fprintln(stderr, "\nRuns the quickstart on loopback: a DEVELOPMENT-ONLY identity provider, an echo")
		fmt.Fprintln(stderr, "upstream, the gateway and the portal, and prints a walkthrough. Ctrl-C stops it.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, a, *config, *dir, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "cuegate demo:", err)
		return exitUsage
	}
	return exitOK
}

// demo runs until ctx is done.
func demo(ctx context.Context, a demoAddrs, config, dir string, stdout, stderr io.Writer) error {
	if err := checkPorts(a); err != nil {
		return err
	}
	logw := zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly, NoColor: !isTerminal(stderr)}
	log := zerolog.New(logw).With().Timestamp().Logger()

	if dir == "" {
		tmp, err := os.MkdirTemp("", "cuegate-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	configDir := filepath.Join(dir, "config")
	var src fs.FS = quickstart.Files
	if config != "" {
		src = os.DirFS(config)
	}
	if err := writeDemoConfig(configDir, src, a); err != nil {
		return err
	}

	iat := randomHex(24)
	if err := os.Setenv(demoIATEnv, iat); err != nil {
		return err
	}
	idp, err := devidp.Listen(a.IdP, devidp.Options{InitialAccessToken: iat, Logger: &log})
	if err != nil {
		return err
	}
	defer idp.Close()

	echo, err := listenEcho(a.Echo)
	if err != nil {
		return err
	}
	defer echo.Close()

	state := filepath.Join(dir, "state.json")
	srv, err := node.Start(ctx, node.Options{ConfigDir: configDir, StatePath: state, Logger: log, AccessLog: logw, Watch: true})
	if err != nil {
		return err
	}
	printWalkthrough(stdout, a, configDir, state)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\ncuegate demo: stopping")
	return srv.Shutdown()
}

// checkPorts fails before anything starts when an address is taken, naming
// the flag that chooses it.
func checkPorts(a demoAddrs) error {
	for _, p := range []struct{ flag, addr string }{
		{"--gateway", a.Gateway}, {"--portal", a.Portal}, {"--admin", a.Admin}, {"--idp", a.IdP}, {"--echo", a.Echo},
	} {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("%s %s is not available (%v); choose another address with %s", p.flag, p.addr, errors.Unwrap(err), p.flag)
		}
		ln.Close()
	}
	return nil
}

// writeDemoConfig copies the CUE files of src into dst and adds the file
// that sets the addresses.
func writeDemoConfig(dst string, src fs.FS, a demoAddrs) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	files, err := fs.Glob(src, "*.cue")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("the configuration directory has no .cue files")
	}
	var first []byte
	for _, f := range files {
		b, err := fs.ReadFile(src, f)
		if err != nil {
			return err
		}
		if first == nil {
			first = b
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			return err
		}
	}
	pkg := "quickstart"
	if m := cuePackage.FindSubmatch(first); m != nil {
		pkg = string(m[1])
	}
	override := fmt.Sprintf(demoOverride, pkg, a.IdP, a.Echo, a.Gateway, a.Portal, a.Admin)
	return os.WriteFile(filepath.Join(dst, "zz_demo_addresses.cue"), []byte(override), 0o644)
}

// listenEcho serves the echo upstream: it answers every request with its
// method, path, query and headers as JSON (the Authorization header's value
// is never echoed).
func listenEcho(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("echo upstream: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := map[string]string{}
		for k, v := range r.Header {
			if k == "Authorization" {
				v = []string{"(present)"}
			}
			hdr[k] = strings.Join(v, ", ")
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"echo": true, "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "headers": hdr})
	})}
	go srv.Serve(ln)
	return srv, nil
}

// isTerminal reports whether w is a character device, where colours help.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// walkStep is one step of the printed walkthrough: prose, then shell
// commands meant to be pasted, in order, into one shell. The demo's test
// runs exactly these commands.
type walkStep struct {
	Text string
	Cmds []string
}

// walkthroughSteps returns the walkthrough for the addresses a.
func walkthroughSteps(a demoAddrs, config string) []walkStep {
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
		{Text: "Watch the rate limit (5 requests per 10 seconds) answer 429 with Retry-After:",
			Cmds: []string{
				`for i in 1 2 3 4 5 6 7; do ` + code + ` -H "Authorization: Bearer $TOKEN" ` + gw + `/echo/hello; done`,
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
func printWalkthrough(w io.Writer, a demoAddrs, config, state string) {
	var buf bytes.Buffer
	walkthrough.Execute(&buf, struct { //nolint:errcheck // the template and its data are the program's own
		A                     demoAddrs
		Banner, Config, State string
		Steps                 []walkStep
	}{a, devidp.Banner, config, state, walkthroughSteps(a, config)})
	w.Write(buf.Bytes()) //nolint:errcheck // stdout: nowhere to report it
}
