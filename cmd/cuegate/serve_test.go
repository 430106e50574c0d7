package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/node"
	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
)

// serveTestDir writes nodetest.Dir's configuration, with an invite-only
// portal, into a new directory and returns the directory.
func serveTestDir(t *testing.T) string {
	t.Helper()
	dir, _ := nodetest.Dir(t, nil)
	testutil.WriteFile(t, filepath.Join(dir, "invite.cue"), "package t\n\nportal: signup: \"invite\"\n", 0o644)
	return dir
}

// startTestNode serves dir, the portal too when state is not "", on
// loopback ports, compiling with compile (nil: in process), until the test
// ends.
func startTestNode(t *testing.T, dir, state string, compile func(context.Context, string) (*table.Table, error)) *node.Node {
	t.Helper()
	n, err := node.Start(context.Background(), node.Options{ConfigDir: dir, StatePath: state, Logger: zerolog.Nop(),
		PortalListen: "127.0.0.1:0", Compile: compile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() }) //nolint:errcheck
	return n
}

func TestServeExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "c.cue"), "package t\n\napis: x: listen_path: 7\n", 0o644)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "usage: cuegate serve"},
		{[]string{"--config", dir, "--log-format", "xml"}, exitUsage, "usage: cuegate serve"},
		{[]string{"--config", dir}, exitInvalid, "c.cue:3:"},
		{[]string{"--config", filepath.Join(dir, "missing")}, exitUsage, "cuegate:"},
	} {
		var stderr bytes.Buffer
		if code := runServe(tt.args, io.Discard, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("serve %q: exit %d, want %d; stderr:\n%s", tt.args, code, tt.code, stderr.String())
		}
	}
}

// logLines collects JSON log lines written to it, for tests that read
// what `cuegate serve` logs. Safe for concurrent use.
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
	buf   []byte
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		line, rest, ok := strings.Cut(string(l.buf), "\n")
		if !ok {
			return len(p), nil
		}
		l.buf = []byte(rest)
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			l.lines = append(l.lines, m)
		}
	}
}

// find returns the first line after index from whose message is msg.
func (l *logLines) find(from int, msg string) (map[string]any, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; i < len(l.lines); i++ {
		if l.lines[i]["message"] == msg {
			return l.lines[i], i
		}
	}
	return nil, -1
}

func (l *logLines) wait(t *testing.T, from int, msg string) (map[string]any, int) {
	t.Helper()
	var m map[string]any
	var i int
	testutil.Eventually(t, fmt.Sprintf("the log line %q", msg), func() bool {
		m, i = l.find(from, msg)
		return m != nil
	})
	return m, i
}

// TestServeSIGHUPReloads runs the serve command itself: SIGHUP makes it
// reload (here an unchanged configuration, so the watcher plays no part),
// and SIGTERM stops it cleanly. The signals are the process's: it runs
// alone, not in parallel.
func TestServeSIGHUPReloads(t *testing.T) {
	dir := serveTestDir(t)

	logs := &logLines{}
	done := make(chan int, 1)
	go func() { done <- runServe([]string{"--config", dir}, io.Discard, logs) }()
	var serving map[string]any
	testutil.Eventually(t, "serve to start", func() bool {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %v", code, logs.lines)
		default:
		}
		serving, _ = logs.find(0, "cuegate serving")
		return serving != nil
	})
	gwURL, _ := serving["gateway"].(string)
	if resp, err := http.Get(gwURL + "/open/x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET through serve: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	_, i := logs.wait(t, 0, "SIGHUP: reloading")
	logs.wait(t, i, "reload: configuration unchanged")

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("serve exited with %d after SIGTERM", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	logs.wait(t, i, "stopped")
}
