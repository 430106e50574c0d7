//go:build unix

package node

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestSecretFileSwappedForAPipe: a reload whose admin token file became a
// named pipe returns (the pipe is not opened: opening it would wait for a
// writer while the reload lock is held) and keeps the token in force.
func TestSecretFileSwappedForAPipe(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	tokenFile := filepath.Join(dir, "admin.token")
	testutil.WriteFile(t, filepath.Join(dir, "token.cue"), testAdminTokenCUE, 0o600)
	testutil.WriteFile(t, tokenFile, testAdminToken+"\n", 0o600)
	n := startNode(t, dir, zerolog.Nop(), false)
	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(tokenFile, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Reload() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Reload still reading the admin token from a named pipe after a minute")
	}
	if code, _ := testutil.Get(t, n.admin+"/status", testAdminToken); code != 200 {
		t.Errorf("/status with the token in force: %d, want 200", code)
	}
}
