package runtime

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestAccessLog(t *testing.T) {
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
