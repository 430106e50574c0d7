package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// startBaseline starts a baseline proxy role and waits until it proxies.
// When profiling, it serves net/http/pprof at pprof.
func (b *bench) startBaseline(role string) (p *Proc, addr, pprof string, err error) {
	if addr, err = freePort(); err != nil {
		return nil, "", "", err
	}
	pprof, env, err := b.pprof()
	if err != nil {
		return nil, "", "", err
	}
	p, err = startRole(b.dir, role, role, env, "-listen", addr, "-upstream", b.upAddr,
		"-jwks", b.idp.JWKSURL, "-issuer", b.idp.Issuer)
	if err != nil {
		return nil, "", "", err
	}
	b.procs = append(b.procs, p)
	// The golang-jwt baseline answers 401 without a token: any answer will
	// do; the bare proxy must answer 200.
	return p, addr, pprof, waitHTTP(p, "http://"+addr+"/", b.o.StartupTimeout, role == "jwtproxy")
}

// cuegateProc is one running cuegate with its config directory.
type cuegateProc struct {
	*Proc
	ports Ports
	dir   string
	pprof string // net/http/pprof address when profiling
}

// startCuegate starts bin (cuegate's binary or -against's) as name, with
// the Redis limiter when redis is not the zero Redis.
func (b *bench) startCuegate(name, bin string, redis Redis) (*cuegateProc, error) {
	cfg, err := os.MkdirTemp(b.dir, name+"-config-")
	if err != nil {
		return nil, err
	}
	var ports Ports
	for _, p := range []*string{&ports.Gateway, &ports.Portal, &ports.Admin} {
		if *p, err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := writeConfig(cfg, ports, b.idp, b.upAddr, redis); err != nil {
		return nil, err
	}
	if c := b.o.GatewayTokenCache; c != "" {
		src := fmt.Sprintf("package bench\n\ngateway: token_cache: %q\n", c)
		if err := os.WriteFile(filepath.Join(cfg, "token_cache.cue"), []byte(src), 0o644); err != nil {
			return nil, err
		}
	}
	if f := b.o.BConfig; f != "" && name == tCuegateB {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cfg, "b_config.cue"), src, 0o644); err != nil {
			return nil, err
		}
	}
	args := []string{"serve", "--config", cfg, "--state", filepath.Join(cfg, "state.json")}
	args = append(args, strings.Fields(b.o.ServeArgs)...)
	pprof, env, err := b.pprof()
	if err != nil {
		return nil, err
	}
	p, err := startProc(b.dir, name, env, bin, args...)
	if err != nil {
		return nil, err
	}
	b.procs = append(b.procs, p)
	if err := waitHTTP(p, "http://"+ports.Admin+"/readyz", b.o.StartupTimeout, false); err != nil {
		return nil, err
	}
	return &cuegateProc{Proc: p, ports: ports, dir: cfg, pprof: pprof}, nil
}

// preflight sends one request to t and checks the answer, so that a
// misconfigured target fails loudly instead of measuring error pages.
func preflight(t *Target) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+t.Addr+t.Path, nil)
	if err != nil {
		return err
	}
	if t.Tokens != nil {
		req.Header.Set("Authorization", string(t.Tokens[0]))
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("%s preflight: %w", t.Name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) != t.BodySize {
		return fmt.Errorf("%s preflight: GET %s: %s, %d bytes: %.200s", t.Name, t.Path, resp.Status, len(body), body)
	}
	return nil
}
