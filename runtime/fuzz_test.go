package runtime

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/ascii"
	"github.com/cuegate/cuegate/runtime/pathclean"
	"github.com/cuegate/cuegate/runtime/policy"
)

// upstreamView is the path a lenient upstream (Tomcat, Spring) serves for
// p, a path as the gateway sends it: each segment decoded, its parameters
// (from the first ";") dropped, dot segments resolved.
func upstreamView(p []byte) []string {
	dec, err := pathclean.Clean(nil, p)
	if err != nil {
		return nil
	}
	var out []string
	for _, seg := range strings.Split(string(dec[1:]), "/") {
		seg, _, _ = strings.Cut(seg, ";")
		switch seg {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	return out
}

// FuzzGrant: a path the gateway accepts and a grant path allows is, as a
// lenient upstream reads what the gateway sends, inside that grant path.
func FuzzGrant(f *testing.F) {
	for _, s := range [][2]string{
		{"/profiles/7", "/profiles"}, {"/profiles/..;/admin", "/profiles"},
		{"/profiles/%2e%2e%3b/admin", "/profiles"}, {"/profiles;x/../admin", "/profiles"},
		{"/a/b;c/d", "/a/b"}, {"/", "/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, raw, grant string) {
		path, err := pathclean.Clean(nil, []byte(raw))
		if err != nil {
			return
		}
		g, err := pathclean.Clean(nil, []byte(grant))
		if err != nil || bytes.ContainsRune(g, ';') {
			return // the grant paths an operator writes have no parameters
		}
		if len(g) > 1 {
			g = bytes.TrimSuffix(g, []byte("/")) // as the compiler writes them
		}
		if !policy.Allows(&table.Grant{Paths: []string{string(g)}}, nil, path) {
			return
		}
		sent, inside := upstreamView(pathclean.Append(nil, path)), upstreamView(g)
		if len(sent) < len(inside) {
			t.Fatalf("%q (granted by %q) reads upstream as %q", raw, g, sent)
		}
		for i := range inside {
			if inside[i] != "" && sent[i] != inside[i] {
				t.Fatalf("%q (granted by %q) reads upstream as %q", raw, g, sent)
			}
		}
	})
}

// recorder is a fasthttp upstream that records what reaches it: fasthttp
// parses leniently, so it shows what a lenient upstream would get.
type recorder struct {
	mu   sync.Mutex
	hits []recorded
}

type recorded struct {
	uri   string
	keys  []string
	auths int
}

func (rc *recorder) handle(ctx *fasthttp.RequestCtx) {
	h := recorded{uri: string(ctx.Request.Header.RequestURI())}
	for _, k := range ctx.Request.Header.PeekKeys() {
		h.keys = append(h.keys, string(k))
		if strings.EqualFold(string(k), "Authorization") {
			h.auths++
		}
	}
	rc.mu.Lock()
	rc.hits = append(rc.hits, h)
	rc.mu.Unlock()
}

func (rc *recorder) take() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	h := rc.hits
	rc.hits = nil
	return h
}

// FuzzRequest sends a request made of fuzz bytes (the request line's
// method and target and the header fields) through the gateway's server
// to a recording upstream. Whatever reaches the upstream is inside the
// API's listen path and, for the JWT API, inside the grant of its policy,
// has one Authorization field, and only valid field names.
func FuzzRequest(f *testing.F) {
	rc := &recorder{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	up := &fasthttp.Server{Handler: rc.handle, DisableHeaderNamesNormalizing: true}
	go up.Serve(ln) //nolint:errcheck
	f.Cleanup(func() { up.Shutdown() })
	e := newEnv(f, envOptions{extra: `apis: fz: {
	name:        "Fuzz"
	listen_path: "/fz"
	upstream: targets: ["http://` + ln.Addr().String() + `/base"]
	auth: jwt: {idp: "dev", default_policies: ["fzpol"]}
}
apis: fzk: {
	name:              "Fuzz keyless"
	listen_path:       "/fzk"
	strip_listen_path: false
	upstream: targets: ["http://` + ln.Addr().String() + `"]
	auth: keyless: true
}
policies: fzpol: {name: "Fuzz", access: fz: {paths: ["/granted"]}}
`})
	tok := e.token("fuzzer", nil)
	addr := e.addr()
	for _, s := range []string{
		"GET /fz/granted/x HTTP/1.1\r\nAuthorization: Bearer " + tok + "\r\n",
		"GET /fz/granted/..;/admin HTTP/1.1\r\nAuthorization: Bearer " + tok + "\r\n",
		"GET /fz/granted/x HTTP/1.1\r\nAuthorization: Bearer " + tok + "\r\nauthorization: Bearer x\r\n",
		"POST /fz/granted/x HTTP/1.1\r\nAuthorization: Bearer " + tok + "\r\nConnection: Authorization, Content-Length\r\nContent-Length: 2\r\n\r\nhi",
		"GET /fzk/a HTTP/1.1\r\nX_Forwarded_For: 1.2.3.4\r\nX Y: z\r\n",
		"GET /fzk/..%3B/fz/admin HTTP/1.1\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head string) {
		if !strings.Contains(head, "\r\n\r\n") {
			head += "Host: gw\r\nConnection: close\r\n\r\n"
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		// Close with a reset: tens of thousands of connections a minute in
		// TIME_WAIT would exhaust the loopback's ports and stall the fuzzer.
		c.(*net.TCPConn).SetLinger(0) //nolint:errcheck
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
		c.Write([]byte(head))                           //nolint:errcheck
		c.(*net.TCPConn).CloseWrite()                   //nolint:errcheck
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(resp)
		resp.Read(bufio.NewReader(c)) //nolint:errcheck // any answer, or none
		for _, h := range rc.take() {
			checkRecorded(t, head, h)
		}
	})
}

func checkRecorded(t *testing.T, head string, h recorded) {
	t.Helper()
	path, _, _ := strings.Cut(h.uri, "?")
	view := upstreamView([]byte(path))
	switch {
	case len(view) > 0 && view[0] == "fzk":
		if h.auths > 1 {
			t.Fatalf("%q reached the upstream with %d Authorization fields", head, h.auths)
		}
	case len(view) > 1 && view[0] == "base" && view[1] == "granted":
		if h.auths != 1 {
			t.Fatalf("%q reached the upstream with %d Authorization fields", head, h.auths)
		}
	default:
		t.Fatalf("%q reached the upstream as %q, read as %q: outside the listen path and grant", head, h.uri, view)
	}
	for _, k := range h.keys {
		if !ascii.All(k, &ascii.FieldName) {
			t.Fatalf("%q reached the upstream with the field name %q", head, k)
		}
	}
}
