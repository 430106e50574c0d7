package runtime

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/jsonlog"
	"github.com/cuegate/cuegate/internal/testutil"
)

func TestAccessLog(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	e := newEnv(t, envOptions{log: &logs})
	tok := e.token("log-client", map[string]any{"pol": "writer"})
	r := e.do("POST", "/users/a", tok, map[string]string{"X-Request-Id": "rid-log-1"})
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	var line map[string]any
	testutil.Eventually(t, "the access line", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "rid-log-1") {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	})
	want := map[string]any{
		"method": "POST", "path": "/users/a", "api": "users", "identity": "log-client",
		"policy": "writer", "status": float64(200), "bytes": float64(len("ok /v1/a")), "message": "request",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	for _, k := range []string{"duration_us", "upstream_duration_us"} {
		if _, ok := line[k]; !ok {
			t.Errorf("no %s in %v", k, line)
		}
	}
	e.do("GET", "/users/a", "garbage."+tok, nil)
	if strings.Contains(logs.String(), tok[10:]) {
		t.Fatal("the log contains the token")
	}
}

// The access line is written without zerolog for speed, but must stay the
// line zerolog writes through the command's logger (a jsonlog.Stamp hook).
func TestAccessLineAsZerolog(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 5, 123, time.Local)
	for _, r := range []request{
		{method: []byte("GET"), path: []byte("/api/hello"), api: "jwt_api", identity: "client-00042", policy: "bench_policy",
			status: 200, bytes: 2, upstream: 1234 * time.Microsecond, rid: []byte("16c38b5f6c4ef89b0000000000000001")},
		{method: []byte("BREW"), path: []byte("/nowhere"), status: 404, bytes: 42, rid: []byte("r")},
		{method: []byte("POST"), path: []byte("/a\"b\\c/%ff\x7f"), api: "users", identity: "ïd \"quoted\"\n\xff\xc3",
			policy: "p\tq", status: 502, bytes: 1 << 40, upstream: 30 * time.Second, rid: []byte("client's <id> \u2028")},
	} {
		r.g = &Gateway{}
		r.trace.TraceID = [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
		d := 1500 * time.Microsecond
		var want bytes.Buffer
		log := zerolog.New(&want)
		log.Info().
			Bytes("method", r.method).Bytes("path", r.path).
			Str("api", r.api).Str("identity", r.identity).Str("policy", r.policy).
			Int("status", r.status).Int64("bytes", r.bytes).
			Int64("duration_us", d.Microseconds()).
			Int64("upstream_duration_us", r.upstream.Microseconds()).
			Bytes("request_id", r.rid).Hex("trace_id", r.trace.TraceID[:]).
			Str(zerolog.TimestampFieldName, new(jsonlog.Stamp).Text(now)). // the hook
			Msg("request")
		if got := r.appendAccessLine(nil, now, d); string(got) != want.String() {
			t.Errorf("access line\n got %s\nwant %s", got, want.String())
		}
	}
}

func BenchmarkAccessLine(b *testing.B) {
	r := &request{g: &Gateway{}, method: []byte("GET"), path: []byte("/api/hello"), api: "jwt_api", identity: "client-00042",
		policy: "bench_policy", status: 200, bytes: 2, upstream: 300 * time.Microsecond, rid: []byte("16c38b5f6c4ef89b0000000000000001")}
	now := time.Now()
	var line []byte
	b.ReportAllocs()
	for b.Loop() {
		line = r.appendAccessLine(line[:0], now, time.Millisecond)
	}
}
