package runtime

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestReloadLogsEveryChange: the swap's log line lists what changed, of
// every kind, and the compile time with its unit.
func TestReloadLogsEveryChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(e *env)
		want []string
	}{
		{"a policy", func(e *env) { e.editConfig(`requests: 2, per: "1m"`, `requests: 3, per: "1m"`) },
			[]string{"policy limited changed: rate.requests"}},
		{"a setting", func(e *env) { e.writeConfig(`gateway: max_body_bytes: 4096`) },
			[]string{"gateway changed: max_body_bytes"}},
		{"an API", func(e *env) { e.editConfig(`listen_path: "/public"`, `listen_path: "/open"`) },
			[]string{"api public changed: listen_path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var line struct {
				Changes     []string `json:"changes"`
				CompileTime string   `json:"compile_time"`
			}
			reloadLogged(t, tt.edit, &line)
			if !slices.Equal(line.Changes, tt.want) {
				t.Errorf("changes %q, want %q", line.Changes, tt.want)
			}
			if !regexp.MustCompile(`^[0-9.]+(ns|µs|ms|s|m)`).MatchString(line.CompileTime) {
				t.Errorf("compile_time %q has no unit", line.CompileTime)
			}
		})
	}
}

// reloadLogged makes an env, runs edit on it, reloads it and decodes the
// swap's log line into line.
func reloadLogged(t *testing.T, edit func(e *env), line any) {
	t.Helper()
	var logs testutil.SyncBuffer
	e := newEnv(t, envOptions{log: &logs})
	edit(e)
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	swapLine(t, logs.String(), line)
}

// swapLine decodes the last "configuration swapped" line of logs into v.
func swapLine(t *testing.T, logs string, v any) {
	t.Helper()
	found := false
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, "configuration swapped") {
			if err := json.Unmarshal([]byte(l), v); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("no swap logged:\n%s", logs)
	}
}
