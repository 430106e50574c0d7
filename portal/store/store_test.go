package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestOpenCreatesFileWithMode0600(t *testing.T) {
	t.Parallel()
	s, path := openNew(t)
	addDevelopers(t, s, "a@example.com")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("lock file mode = %v (%v), want none for group and others", fi.Mode().Perm(), err)
	}
	var head struct{ Version int }
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &head); err != nil || head.Version != Version {
		t.Errorf("file version = %d (%v), want %d", head.Version, err, Version)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	s, path := openNew(t)
	c := client("c1", "a@example.com")
	c.ExpiresAt = t0.Add(time.Hour)
	c.RedirectURIs = []string{"https://app/cb"}
	steps := []error{
		s.AddDeveloper(Developer{Email: "a@example.com", PasswordHash: "h", Created: t0}),
		s.AddClient(c, t0),
		s.AddClient(client("c2", "a@example.com"), t0),
	}
	if _, err := s.DeleteClient("c2", t0); err != nil {
		steps = append(steps, err)
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, path)
	got, ok := s.Client("c1")
	if !ok || got.ClientSecret != "secret-c1" || !got.ExpiresAt.Equal(c.ExpiresAt) || got.RedirectURIs[0] != "https://app/cb" {
		t.Errorf("Client(c1) = %+v, %v", got, ok)
	}
	if _, ok := s.Client("c2"); ok {
		t.Error("deleted client c2 is back")
	}
	if bnd, found := s.Binding("c2"); !bnd.Revoked || !found {
		t.Errorf("Binding(c2) revoked=%v found=%v, want a tombstone", bnd.Revoked, found)
	}
	if d, ok := s.Developer("a@example.com"); !ok || d.PasswordHash != "h" {
		t.Errorf("Developer = %+v, %v", d, ok)
	}
}

func TestCorruptFileStopsOpenAndIsNotOverwritten(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"garbage":        "{not json",
		"empty":          "",
		"no version":     `{"developers": []}`,
		"newer version":  `{"version": 99}`,
		"unknown field":  `{"version": 2, "clients": [], "surprise": 1}`,
		"duplicate id":   `{"version": 2, "clients": [{"client_id": "a"}, {"client_id": "a"}]}`,
		"trailing data":  `{"version": 2} {}`,
		"wrong type":     `{"version": 2, "clients": {"a": {}}}`,
		"bad v1 migrate": `{"version": 1, "clients": {"": {}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := statePath(t)
			testutil.WriteFile(t, path, content, 0o600)
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Errorf("file changed to %q", b)
			}
			// The lock was released: a fixed file opens.
			os.WriteFile(path, []byte(`{"version": 2}`), 0o600)
			open(t, path)
		})
	}
}

func TestUnreadableFileStopsOpen(t *testing.T) {
	t.Parallel()
	path := statePath(t)
	if err := os.Mkdir(path, 0o700); err != nil { // reading a directory fails, even for root
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v, want an error naming %s", err, path)
	}
}

func TestSecondOpenerIsRefused(t *testing.T) {
	t.Parallel()
	s, path := openNew(t)
	_, err := Open(path)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open = %v, want ErrLocked naming the file", err)
	}

	// Another process is refused too.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpen$")
	cmd.Env = append(os.Environ(), "STORE_HELPER_PATH="+path)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another process") {
		t.Errorf("subprocess: err=%v output=%s", err, out)
	}

	s.Close()
	open(t, path) // released on Close
}

// TestHelperOpen is the subprocess of TestSecondOpenerIsRefused.
func TestHelperOpen(t *testing.T) {
	path := os.Getenv("STORE_HELPER_PATH")
	if path == "" {
		t.Skip("helper process only")
	}
	if _, err := Open(path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0)
}
