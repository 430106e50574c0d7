package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
)

// accessPath finds the path of TestServeAccessLog's requests in a line.
var accessPath = regexp.MustCompile(`/open/r[0-9]+\b`)

// TestServeAccessLog: the wiring of the access log (OpenLog: newLogger on
// a logwriter.Writer, access lines through Spread) writes one line per
// request, in each log format, and the logger's own lines beside them.
func TestServeAccessLog(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var out testutil.SyncBuffer
			lw, log, access := OpenLog(&out, format, 4<<10, time.Millisecond)
			n, err := Start(context.Background(), Options{ConfigDir: dir, Logger: log, AccessLog: access})
			if err != nil {
				t.Fatal(err)
			}
			const requests = 50
			for i := range requests {
				resp, err := http.Get(fmt.Sprintf("http://%s/open/r%d", n.GatewayAddr(), i))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if err := n.Shutdown(); err != nil {
				t.Fatal(err)
			}
			if err := lw.Close(); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for l := range strings.Lines(out.String()) {
				path := accessPath.FindString(l)
				if path == "" {
					continue
				}
				seen[path] = true
				if format == "json" && !strings.HasSuffix(l, `"message":"request"}`+"\n") {
					t.Errorf("access line %q", l)
				}
			}
			if len(seen) != requests {
				t.Errorf("%d of %d requests have an access line:\n%s", len(seen), requests, out.String())
			}
			if !strings.Contains(out.String(), "cuegate serving") {
				t.Errorf("no line of the logger's own:\n%s", out.String())
			}
		})
	}
}

// The JSON logger's "time" field is what zerolog's Timestamp() writes
// (RFC 3339, whole seconds), though formatted once per second.
func TestLoggerTimeField(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, _ := newLogger(&buf, &buf, "json")
	before := time.Now().Truncate(time.Second)
	for range 3 {
		log.Info().Str("k", "v").Msg("request")
	}
	after := time.Now()
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var v struct {
			Level, K, Time, Message string
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ts, err := time.Parse(time.RFC3339, v.Time)
		if err != nil || ts.Before(before) || ts.After(after) || v.Level != "info" || v.K != "v" || v.Message != "request" {
			t.Errorf("line %q: time %v (%v), want RFC 3339 between %v and %v", l, ts, err, before, after)
		}
		if !strings.HasSuffix(l, `","time":"`+v.Time+`","message":"request"}`) {
			t.Errorf("line %q: want the fields, then time, then message, as zerolog's Timestamp() orders them", l)
		}
	}
}
