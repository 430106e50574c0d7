package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestParseErrorsDoNotLogCredentials: fasthttp's parse errors quote the
// request (or the offending line); the gateway's log must not receive the
// credentials in it.
func TestParseErrorsDoNotLogCredentials(t *testing.T) {
	t.Parallel()
	const secret = "SECRETTOKEN-abc.def.ghi"
	const get = "GET /public/x HTTP/1.1\r\nHost: a\r\n"
	tests := []struct{ name, request string }{
		{"line without colon", get + "Authorization: Bearer " + secret + "\r\nBad Header Line\r\n\r\n"},
		{"bad content-length", get + "Authorization: Bearer " + secret + "\r\nContent-Length: zz\r\n\r\n"},
		{"bad transfer-encoding", get + "Authorization: Bearer " + secret + "\r\nTransfer-Encoding: foo\r\n\r\n"},
		{"authorization without colon", get + "Authorization Bearer " + secret + "\r\n\r\n"},
		{"basic without colon", get + "Authorization Basic " + secret + "\r\n\r\n"},
		{"lower-case scheme", get + "authorization bearer " + secret + "\r\n\r\n"},
		{"control byte in authorization", get + "Authorization: Bearer " + secret + "\x01x\r\n\r\n"},
		{"control byte before the token", get + "Authorization: Bearer \x01" + secret + "\r\n\r\n"},
		{"proxy-authorization without colon", get + "Proxy-Authorization Bearer " + secret + "\r\n\r\n"},
		{"request line without version", "GET /public/x\r\nAuthorization: Bearer " + secret + "\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testutil.SyncBuffer
			e := newEnv(t, envOptions{log: &logs})
			if r := e.rawExchange(tt.request); r.status != 400 {
				t.Fatalf("status %d, want 400", r.status)
			}
			testutil.Eventually(t, "the parse error in the log", func() bool { return strings.Contains(logs.String(), "error when serving connection") })
			if l := logs.String(); strings.Contains(l, secret[6:]) {
				t.Fatalf("the log contains the token:\n%s", l)
			}
		})
	}
}

func TestRedactQuoted(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"no quotes", "no quotes"},
		{`missing colon: "Authorization Bearer x": size=9`, `missing colon: "[redacted]": size=9`},
		{`a "x\"y" b "z" c`, `a "[redacted]" b "[redacted]" c`},
		{`value "x\\" end`, `value "[redacted]" end`},
		{`unterminated "Bearer abc`, `unterminated "[redacted]"`},
		{`trailing backslash "abc\`, `trailing backslash "[redacted]"`},
		{`empty "" string`, `empty "[redacted]" string`},
	}
	for _, tt := range tests {
		if got := redactQuoted(tt.in); got != tt.want {
			t.Errorf("redactQuoted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRequestErrorsAreJSON: what fasthttp refuses before the handler runs
// is answered like the handler's errors.
func TestRequestErrorsAreJSON(t *testing.T) {
	t.Parallel()
	const get = "GET /public/x HTTP/1.1\r\nHost: a\r\n"
	tests := []struct {
		name, extra, request string
		status               int
	}{
		{"malformed header", "", get + "Bad Header Line\r\n\r\n", 400},
		{"malformed request line", "", "GET\r\n\r\n", 400},
		{"bad transfer-encoding", "", get + "Transfer-Encoding: foo\r\n\r\n", 400},
		{"header over max_header_bytes", "", get + "Authorization: Bearer " + strings.Repeat("a", 9000) + "\r\n\r\n", 431},
		{"header not finished within read_timeout", `gateway: read_timeout: "100ms"`, get + "X-Partial: 1\r\n", 408},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{extra: tt.extra})
			r := e.rawExchange(tt.request)
			checkJSONError(t, r, tt.status)
		})
	}
}

func checkJSONError(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %q)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	var body struct {
		Error string
		Code  int
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error == "" || body.Code != status {
		t.Errorf("body %q (%v), want {\"error\": ..., \"code\": %d}", r.body, err, status)
	}
}

func TestRequestErrorStatus(t *testing.T) {
	t.Parallel()
	timeout := fmt.Errorf("error when reading request headers: %w", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded})
	tests := []struct {
		err    error
		status int
	}{
		{&fasthttp.ErrSmallBuffer{}, 431},
		{fasthttp.ErrBodyTooLarge, 413},
		{timeout, 408},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, 408},
		{errors.New("cannot parse chunk size"), 400},
		{io.ErrUnexpectedEOF, 400},
	}
	g := &Gateway{notFound: newAPIMetrics(metrics.NewSet(), "")}
	for _, tt := range tests {
		var ctx fasthttp.RequestCtx
		counted := g.notFound.requests(tt.status)
		before := counted.Get()
		g.requestError(&ctx, tt.err)
		if counted.Get() != before+1 {
			t.Errorf("%v: cuegate_requests_total{api=\"\",status=\"%d\"} not counted", tt.err, tt.status)
		}
		r := response{ctx.Response.StatusCode(), http.Header{}, string(ctx.Response.Body())}
		for k, v := range ctx.Response.Header.All() {
			r.header.Add(string(k), string(v))
		}
		checkJSONError(t, r, tt.status)
	}
}

// TestMalformedChunkedBody: a chunked request body that breaks off into
// garbage is the client's fault: 400, not 502 "upstream unavailable".
func TestMalformedChunkedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.rawExchange("POST /public/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz-not-a-size\r\n\r\n")
	checkJSONError(t, r, 400)
}
