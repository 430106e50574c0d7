package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/budget"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/runtime"
)

// runawayConfig evaluates a list of 1e8 numbers: gigabytes.
const runawayConfig = "package t\n\nimport \"list\"\n\n_big: list.Range(0, 1e8, 1)\n"

// TestBudgetedReloadKeepsServing: an edit that makes the running node's
// reload grow without bound fails at the budget; the last good table
// keeps serving and /status names the directory and the budget.
func TestBudgetedReloadKeepsServing(t *testing.T) {
	t.Parallel()
	if testutil.RaceEnabled {
		t.Skip("memory budgets do not apply under the race detector, which maps more address space than one allows")
	}
	dir := serveTestDir(t)
	b := budget.Budget{Timeout: 20 * time.Second, Memory: 256 << 20}
	n := startTestNode(t, dir, "", b.Compile)
	gw, admin := "http://"+n.GatewayAddr(), "http://"+n.AdminAddr()
	good := n.Gateway().Current().Hash

	file := filepath.Join(dir, "c.cue")
	testutil.WriteFile(t, file, runawayConfig, 0o644)
	n.Reload() //nolint:errcheck // /status reports it

	if code, body := testutil.Get(t, gw+"/open/x", ""); code != http.StatusOK || body != "ok" {
		t.Errorf("gateway after the runaway edit: %d %q, want 200 ok", code, body)
	}
	_, body := testutil.Get(t, admin+"/status", "")
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
	if d.File != "" || !strings.Contains(d.Message, "exceeded the 256 MiB memory budget") {
		t.Errorf("diagnostic %v, want no file and the 256 MiB memory budget", d)
	}
}
