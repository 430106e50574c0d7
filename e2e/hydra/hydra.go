// Package hydra builds and runs an unmodified Ory Hydra for the end-to-end
// tests.
//
// Build compiles Hydra from the Go module proxy in a throwaway module (Hydra
// brings about 240 modules, which must stay out of cuegate's go.mod) and
// caches the binary under the user cache directory, keyed by version. Start
// runs it on loopback with in-memory storage, Dynamic Client Registration
// and JWT access tokens.
package hydra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Version is the Hydra release the tests run.
const Version = "v2.3.0"

// popReplace repeats Hydra's own replace of pop: a dependency's replace
// directives are ignored, so the building module must carry it.
const popReplace = "github.com/gobuffalo/pop/v6=github.com/ory/pop/v6@v6.2.1-0.20241121111754-e5dfc0f3344b"

// CachedPath is where Build puts the binary: os.UserCacheDir()/cuegate-e2e/
// hydra-<Version>/hydra. CUEGATE_E2E_HYDRA, when set, names a binary to use
// instead.
func CachedPath() (string, error) {
	if p := os.Getenv("CUEGATE_E2E_HYDRA"); p != "" {
		return p, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("hydra: %w", err)
	}
	return filepath.Join(dir, "cuegate-e2e", "hydra-"+Version, "hydra"), nil
}

// Cached reports the binary's path when it is already built.
func Cached() (string, bool) {
	p, err := CachedPath()
	if err != nil {
		return "", false
	}
	st, err := os.Stat(p)
	return p, err == nil && st.Mode().IsRegular()
}

// Build returns the cached binary, building it first when it is missing.
// Progress (the go commands and their output) goes to log. Concurrent
// builds are safe: each writes a temporary file and renames it into place.
func Build(ctx context.Context, log io.Writer) (string, error) {
	if p, ok := Cached(); ok {
		return p, nil
	}
	out, err := CachedPath()
	if err != nil {
		return "", err
	}
	if os.Getenv("CUEGATE_E2E_HYDRA") != "" {
		return "", fmt.Errorf("hydra: CUEGATE_E2E_HYDRA=%s does not exist", out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("hydra: %w", err)
	}
	work, err := os.MkdirTemp("", "cuegate-hydra-build-")
	if err != nil {
		return "", fmt.Errorf("hydra: %w", err)
	}
	defer os.RemoveAll(work)
	tmp := out + fmt.Sprintf(".tmp%d", os.Getpid())
	steps := [][]string{
		{"go", "mod", "init", "cuegate-e2e-hydra-build"},
		{"go", "mod", "edit", "-replace", popReplace},
		{"go", "get", "-tool", "github.com/ory/hydra/v2@" + Version},
		{"go", "build", "-tags", "sqlite,sqlite_omit_load_extension", "-o", tmp, "github.com/ory/hydra/v2"},
	}
	for _, s := range steps {
		fmt.Fprintf(log, "hydra build: %s\n", strings.Join(s, " "))
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Dir = work
		// The module is outside any workspace, needs cgo for SQLite, and
		// must not inherit a GOFLAGS=-mod=... meant for another module.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off", "GOFLAGS=-buildvcs=false")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("hydra: %s: %w", strings.Join(s, " "), err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("hydra: %w", err)
	}
	return out, nil
}

// Options configure a Hydra server.
type Options struct {
	// TokenHook is the URL Hydra calls before issuing a token; the claims
	// the hook returns (only `pol` is allowed) go into the access token.
	TokenHook string
	// Log receives Hydra's output.
	Log io.Writer
}

// Server is a running Hydra.
type Server struct {
	// PublicURL and AdminURL have no trailing slash; Issuer has one, as
	// Hydra writes it into tokens.
	PublicURL, AdminURL, Issuer string
	cmd                         *exec.Cmd
	done                        chan struct{}
	stopOnce                    sync.Once
}

// Start runs binary on two free loopback ports and waits until both report
// ready. Stop it with Stop.
func Start(ctx context.Context, binary, dir string, opts Options) (*Server, error) {
	pub, err := FreePort()
	if err != nil {
		return nil, err
	}
	adm, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		PublicURL: fmt.Sprintf("http://127.0.0.1:%d", pub),
		AdminURL:  fmt.Sprintf("http://127.0.0.1:%d", adm),
		done:      make(chan struct{}),
	}
	s.Issuer = s.PublicURL + "/"
	hook := ""
	if opts.TokenHook != "" {
		hook = fmt.Sprintf("  token_hook: %s\n  allowed_top_level_claims: [pol]\n", opts.TokenHook)
	}
	cfg := fmt.Sprintf(`dsn: memory
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
urls:
  self: {issuer: %s}
secrets:
  system: [cuegate-e2e-system-secret-0123456789abcdef]
oidc:
  dynamic_client_registration: {enabled: true}
webfinger:
  oidc_discovery: {client_registration_url: %s/oauth2/register}
strategies:
  access_token: jwt
oauth2:
%slog:
  level: info
`, pub, adm, s.Issuer, s.PublicURL, hook)
	cfgPath := filepath.Join(dir, "hydra.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("hydra: %w", err)
	}
	s.cmd = exec.Command(binary, "serve", "all", "--dev", "--sqa-opt-out", "-c", cfgPath)
	s.cmd.Dir = dir
	if opts.Log != nil {
		s.cmd.Stdout, s.cmd.Stderr = opts.Log, opts.Log
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("hydra: start: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	for _, u := range []string{s.PublicURL, s.AdminURL} {
		if err := s.waitReady(ctx, u+"/health/ready"); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("hydra: exited before %s was ready: %v", url, s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("hydra: %s not ready: %w", url, errors.Join(ctx.Err(), err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills Hydra and waits for it to exit.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("hydra: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// AddKey adds a signing key of alg with kid to the access-token key set at
// the admin API. Hydra signs new access tokens with the newest key.
func (s *Server) AddKey(ctx context.Context, alg, kid string) error {
	body := fmt.Sprintf(`{"alg":%q,"use":"sig","kid":%q}`, alg, kid)
	req, _ := http.NewRequestWithContext(ctx, "POST", s.AdminURL+"/admin/keys/hydra.jwt.access-token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("hydra: add key: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		return fmt.Errorf("hydra: add key: %s: %s", res.Status, bytes.TrimSpace(b))
	}
	return nil
}
