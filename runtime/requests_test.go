package runtime

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/cuegate/cuegate/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the want section of testdata/requests/*.txtar from what the gateway does")

// TestRequests runs the request cases in testdata/requests: each archive
// is one request through a gateway serving testdata/gateway.cue, and
// what the gateway and the upstream did must equal its "want" file. Run
// with -update to rewrite the want files. The archive's files:
//
//   - config.cue (optional): CUE appended to the configuration.
//   - bindings (optional): the portal's registrations, one a line: a
//     client ID, then a JSON object with "policy", "revoked",
//     "expires_in" (a Go duration from now, negative in the past) and
//     "catalogue" (default ["users_entry"]).
//   - request: the request line "METHOD TARGET" (the target is sent as
//     it is), then header lines "Name: value", and "token ID {claims}"
//     for an Authorization header with a token of the test IdP for the
//     client ID, its claims overridden by the JSON object (null removes
//     a claim; a Go duration string for exp, iat or nbf is that far from
//     now).
//   - want: the status, the response headers (but Date), the body, and
//     the request the upstream got ("upstream none" when it got none):
//     its method, target and headers. X-Request-Id, when generated, is
//     written <generated>, the test token <token> and the gateway's
//     address <gateway>; a trace ID the gateway made is <trace>, and a
//     span ID in a traceparent <span>.
//
// Cases with the same config.cue and bindings share a gateway, and run
// in parallel.
func TestRequests(t *testing.T) {
	t.Parallel()
	envs := map[string]*env{}
	for _, name := range testutil.Glob(t, "testdata/requests/*.txtar") {
		c := parseCase(t, name)
		key := c.config + "\x00" + c.bindings
		e := envs[key]
		if e == nil {
			e = newEnv(t, envOptions{extra: c.config})
			e.setBindings(c.bindings)
			envs[key] = e
		}
		t.Run(strings.TrimSuffix(filepath.Base(name), ".txtar"), func(t *testing.T) {
			t.Parallel()
			c.run(t, e)
		})
	}
}

// requestCase is one parsed archive.
type requestCase struct {
	file             string
	ar               *txtar.Archive
	config, bindings string
	request          string
}

func parseCase(t *testing.T, name string) *requestCase {
	t.Helper()
	ar, err := txtar.ParseFile(name)
	if err != nil {
		t.Fatal(err)
	}
	c := &requestCase{file: name, ar: ar}
	for _, f := range ar.Files {
		switch f.Name {
		case "config.cue":
			c.config = string(f.Data)
		case "bindings":
			c.bindings = string(f.Data)
		case "request":
			c.request = string(f.Data)
		case "want":
			// Compared by run.
		default:
			t.Fatalf("%s: unknown file %q (want config.cue, bindings, request, want)", name, f.Name)
		}
	}
	if c.request == "" {
		t.Fatalf("%s: no request", name)
	}
	return c
}

// setBindings registers the bindings of a case (see TestRequests).
func (e *env) setBindings(text string) {
	e.t.Helper()
	for line := range strings.Lines(text) {
		id, spec, _ := strings.Cut(strings.TrimSpace(line), " ")
		if id == "" {
			continue
		}
		var b struct {
			Policy    string   `json:"policy"`
			Revoked   bool     `json:"revoked"`
			ExpiresIn string   `json:"expires_in"`
			Catalogue []string `json:"catalogue"`
		}
		if err := json.Unmarshal([]byte(spec), &b); err != nil {
			e.t.Fatalf("binding %q: %v", line, err)
		}
		x := binding{policy: b.Policy, revoked: b.Revoked, catalogue: b.Catalogue}
		if b.ExpiresIn != "" {
			d, err := time.ParseDuration(b.ExpiresIn)
			if err != nil {
				e.t.Fatalf("binding %q: %v", line, err)
			}
			x.expiresAt = e.clock.Now().Add(d)
		}
		e.bindings.set(id, x)
	}
}

// caseHeader tells the echo upstream which case a request is of.
const caseHeader = "X-Test-Case"

func (c *requestCase) run(t *testing.T, e *env) {
	id := filepath.Base(c.file)
	method, target, hdr, token := e.parseRequest(t, c.request)
	hdr[caseHeader] = id
	r := e.do(method, target, token, hdr)
	hit, reached := e.hitOf(id)

	c.checkInvariants(t, r, hit, reached, hdr)
	got := normTrace(c.describe(e, r, hit, reached, token), c.request)
	testutil.CheckWant(t, c.file, c.ar, got, "the gateway did", *update)
}

// parseRequest reads a case's request file.
func (e *env) parseRequest(t *testing.T, text string) (method, target string, hdr map[string]string, token string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	method, target, ok := strings.Cut(lines[0], " ")
	if !ok {
		t.Fatalf("request line %q: want METHOD TARGET", lines[0])
	}
	hdr = map[string]string{}
	for _, l := range lines[1:] {
		if spec, ok := strings.CutPrefix(l, "token "); ok {
			token = e.tokenSpec(t, spec)
			continue
		}
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("request line %q: want Name: value or token ID {claims}", l)
		}
		hdr[k] = v
	}
	return method, target, hdr, token
}

// tokenSpec signs the token of "ID {claims}" (see TestRequests).
func (e *env) tokenSpec(t *testing.T, spec string) string {
	t.Helper()
	id, claims, _ := strings.Cut(spec, " ")
	extra := map[string]any{}
	if claims != "" {
		if err := json.Unmarshal([]byte(claims), &extra); err != nil {
			t.Fatalf("token %q: %v", spec, err)
		}
	}
	for _, k := range []string{"exp", "iat", "nbf"} {
		if s, ok := extra[k].(string); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				t.Fatalf("token %q: %s: %v", spec, k, err)
			}
			extra[k] = e.clock.Now().Add(d).Unix()
		}
	}
	return e.token(id, extra)
}

// checkInvariants holds every answer to what every case needs, whatever
// its want file says: an X-Request-Id, no Server of the gateway's own,
// and a refusal that is JSON with its status and reached no upstream.
func (c *requestCase) checkInvariants(t *testing.T, r response, hit upstreamHit, reached bool, sent map[string]string) {
	t.Helper()
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on the response")
	}
	if reached && hit.Header.Get("X-Request-Id") != r.header.Get("X-Request-Id") {
		t.Errorf("X-Request-Id %q to the upstream, %q to the client", hit.Header.Get("X-Request-Id"), r.header.Get("X-Request-Id"))
	}
	if s := r.header.Get("Server"); s != "" {
		t.Errorf("Server: %s; the gateway names no software of its own", s)
	}
	if r.status < 400 {
		return
	}
	var body struct {
		Error string `json:"error"`
		Code  int    `json:"code"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Code != r.status || body.Error == "" {
		t.Errorf("error body %q: %v", r.body, err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if reached {
		t.Errorf("a refused request reached the upstream: %+v", hit)
	}
}

// describe writes what the gateway and the upstream did, as a want file.
func (c *requestCase) describe(e *env, r response, hit upstreamHit, reached bool, token string) string {
	norm := strings.NewReplacer(e.addr(), "<gateway>")
	if token != "" {
		norm = strings.NewReplacer(e.addr(), "<gateway>", token, "<token>")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "status %d\n", r.status)
	writeHeaders(&b, "header", r.header, norm)
	fmt.Fprintf(&b, "body %s\n", strings.TrimSuffix(r.body, "\n"))
	if !reached {
		b.WriteString("upstream none\n")
		return b.String()
	}
	fmt.Fprintf(&b, "upstream %s %s\n", hit.Method, hit.URI)
	h := hit.Header.Clone()
	h.Del(caseHeader)
	writeHeaders(&b, "upstream-header", h, norm)
	return b.String()
}

// writeHeaders writes h sorted, one "prefix Name: value" line each, but
// Date, with generated request IDs as <generated>.
func writeHeaders(b *strings.Builder, prefix string, h map[string][]string, norm *strings.Replacer) {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if k == "Date" {
			continue
		}
		for _, v := range h[k] {
			if k == "X-Request-Id" && len(v) == 32 && strings.Trim(v, "0123456789abcdef") == "" {
				v = "<generated>"
			}
			fmt.Fprintf(b, "%s %s: %s\n", prefix, k, norm.Replace(v))
		}
	}
}

var (
	traceIDField = regexp.MustCompile(`"trace_id":"([0-9a-f]{32})"`)
	traceparent  = regexp.MustCompile(`\b00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})\b`)
)

// normTrace writes in s the trace IDs that are not in request, the IDs
// the gateway made, as <trace>, and every span ID of a traceparent as
// <span>.
func normTrace(s, request string) string {
	id := func(id string) string {
		if strings.Contains(request, id) {
			return id
		}
		return "<trace>"
	}
	s = traceIDField.ReplaceAllStringFunc(s, func(m string) string {
		return `"trace_id":"` + id(traceIDField.FindStringSubmatch(m)[1]) + `"`
	})
	return traceparent.ReplaceAllStringFunc(s, func(m string) string {
		sub := traceparent.FindStringSubmatch(m)
		return "00-" + id(sub[1]) + "-<span>-" + sub[2]
	})
}
