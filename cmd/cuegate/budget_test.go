package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/runtime"
)

// runawayConfig evaluates a list of 1e8 numbers: gigabytes.
const runawayConfig = "package t\n\nimport \"list\"\n\n_big: list.Range(0, 1e8, 1)\n"

// TestBudgetedReloadKeepsServing: an edit that makes the running node's
// reload grow without bound fails at the budget; the last good table
// keeps serving and /status names the file and the budget.
func TestBudgetedReloadKeepsServing(t *testing.T) {
	t.Parallel()
	if testutil.RaceEnabled {
		t.Skip("memory budgets do not apply under the race detector, which maps more address space than one allows")
	}
	dir := serveTestDir(t)
	budget := compileBudget{Timeout: 20 * time.Second, Memory: 256 << 20}
	n := startTestNode(t, dir, "", budget.compile)
	gw, admin := "http://"+n.GatewayAddr(), "http://"+n.AdminAddr()
	good := n.Gateway().Current().Hash

	file := filepath.Join(dir, "c.cue")
	if err := os.WriteFile(file, []byte(runawayConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	n.Reload() //nolint:errcheck // /status reports it

	if code, body := httpGet(t, gw+"/open/x"); code != http.StatusOK || body != "ok" {
		t.Errorf("gateway after the runaway edit: %d %q, want 200 ok", code, body)
	}
	_, body := httpGet(t, admin+"/status")
	var s runtime.Status
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.TableHash != good {
		t.Errorf("serving table %s, want the last good one %s", s.TableHash, good)
	}
	if s.LastError == nil || len(s.LastError.Diagnostics) != 1 {
		t.Fatalf("/status last_error = %+v, want one diagnostic", s.LastError)
	}
	d := s.LastError.Diagnostics[0]
	if d.File != file || d.Line != 1 || !strings.Contains(d.Message, "exceeded the 256 MiB memory budget") {
		t.Errorf("diagnostic %v, want %s:1:1 and the 256 MiB memory budget", d, file)
	}
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestBudgetedCompileMatchesInProcess: the child's table, warnings and
// errors are what compiler.Compile gives in this process.
func TestBudgetedCompileMatchesInProcess(t *testing.T) {
	t.Parallel()
	budget := compileBudget{Timeout: 20 * time.Second, Memory: defaultCompileMemory}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "c.cue"), []byte("package t\n\napis: x: listen_path: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"../../examples/gluu", "../../examples/quickstart", bad, filepath.Join(bad, "missing")} {
		want, wantErr := compiler.Compile(dir)
		got, err := budget.compile(dir)
		switch {
		case wantErr != nil:
			if err == nil || err.Error() != wantErr.Error() || errors.Is(err, table.ErrInvalid) != errors.Is(wantErr, table.ErrInvalid) {
				t.Errorf("%s: error %v, want %v", dir, err, wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", dir, err)
		case got.Hash != want.Hash || string(got.JSON()) != string(want.JSON()) || len(got.Warnings) != len(want.Warnings):
			t.Errorf("%s: the child's table differs from the in-process one", dir)
		}
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want byteSize
		text string
		bad  bool
	}{
		{in: "1GiB", want: 1 << 30, text: "1 GiB"},
		{in: "64 MiB", want: 64 << 20, text: "64 MiB"},
		{in: "1536MiB", want: 1536 << 20, text: "1536 MiB"},
		{in: "4096", want: 4096, text: "4 KiB"},
		{in: "1000B", want: 1000, text: "1000 B"},
		{in: "lots", bad: true},
		{in: "-1MiB", bad: true},
		{in: "1.5GiB", bad: true},
		{in: "99999999TiB", bad: true},
	} {
		var s byteSize
		err := s.Set(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && (s != tt.want || s.String() != tt.text)) {
			t.Errorf("Set(%q) = %d (%s), %v; want %d (%s), error %v", tt.in, s, s, err, tt.want, tt.text, tt.bad)
		}
	}
}
