package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rival gateways are optional targets of scenario (a) (-rivals): other
// gateways validating the same tokens against the same JWKS in front of the
// same upstream, measured in the same run.
const tKrakenD = "krakend"

// rivalSpec says where a rival's binary comes from: built from the Go
// module proxy (Module at Version, main package Pkg inside it) into the
// user cache directory unless a binary is named by flag.
type rivalSpec struct {
	Module, Version, Pkg string
}

var rivalSpecs = map[string]rivalSpec{
	tKrakenD: {Module: "github.com/krakend/krakend-ce/v2", Version: "v2.12.1", Pkg: "./cmd/krakend-ce"},
}

// parseRivals splits the -rivals list and checks its names, and that
// scenarios (the -scenarios list) has (a), the scenario rivals join.
func parseRivals(list, scenarios string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			continue
		case n == "tyk":
			return nil, fmt.Errorf("-rivals: tyk is not supported yet: Tyk OSS needs Redis, an API definition and a policy file; see README.md")
		case rivalSpecs[n] == (rivalSpec{}):
			return nil, fmt.Errorf("-rivals: unknown gateway %q (have: %s)", n, tKrakenD)
		case !slices.Contains(out, n):
			out = append(out, n)
		}
	}
	if len(out) > 0 && !contains(scenarios, "a") {
		return nil, fmt.Errorf("-rivals %s: rival gateways join scenario (a) only, and -scenarios %q has no a", list, scenarios)
	}
	return out, nil
}

// rivalCachePath is where buildRival keeps a rival's binary:
// os.UserCacheDir()/cuegate-loadtest/NAME-VERSION/NAME.
func rivalCachePath(name string) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("%s: no cache directory for the build: %w (pass -%s BINARY)", name, err, name)
	}
	return filepath.Join(dir, "cuegate-loadtest", name+"-"+rivalSpecs[name].Version, name), nil
}

// rivalBinary returns the binary to run for rival name: bin when set,
// else the cached build, building it first when missing (see buildModule).
// Progress goes to log.
func rivalBinary(name, bin string, log io.Writer) (string, error) {
	if bin != "" {
		p, err := filepath.Abs(bin)
		if err != nil {
			return "", err
		}
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			return "", fmt.Errorf("-%s %s: not a file", name, bin)
		}
		return p, nil
	}
	out, err := rivalCachePath(name)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(out); err == nil && st.Mode().IsRegular() {
		return out, nil
	}
	spec := rivalSpecs[name]
	start := time.Now()
	fmt.Fprintf(log, "building %s %s from the Go module proxy into %s (once) ...\n", name, spec.Version, out)
	if err := buildModule(spec.Module, spec.Version, spec.Pkg, out, log); err != nil {
		return "", fmt.Errorf("%s: %w\n(build %s %s elsewhere and pass -%s BINARY)", name, err, spec.Module, spec.Version, name)
	}
	fmt.Fprintf(log, "built %s in %v\n", out, time.Since(start).Round(time.Second))
	return out, nil
}

// buildModule builds the main package pkg (relative to the module root) of
// module@version into the file out. It downloads the module's source from
// the Go module proxy (go mod download) and builds inside a writable copy
// of it, as the module's own main module: its replace directives apply,
// which `go install module@version` refuses. The copy is removed after;
// out is written through a temporary file and a rename, so that concurrent
// builds never leave half a binary. Commands and their output go to log.
func buildModule(module, version, pkg, out string, log io.Writer) error {
	work, err := os.MkdirTemp("", "cuegate-loadtest-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// Outside any module or workspace, and with no GOFLAGS=-mod=... meant
	// for another module.
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
	dl := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	dl.Dir, dl.Env, dl.Stderr = work, env, log
	fmt.Fprintf(log, "  go mod download -json %s@%s\n", module, version)
	raw, runErr := dl.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(raw, &info); err != nil && runErr == nil {
		return fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	switch {
	case info.Error != "": // it names module@version
		return fmt.Errorf("go mod download: %s", info.Error)
	case runErr != nil:
		return fmt.Errorf("go mod download %s@%s: %w", module, version, runErr)
	}
	src := filepath.Join(work, "src")
	if err := os.CopyFS(src, os.DirFS(info.Dir)); err != nil {
		return fmt.Errorf("copy %s: %w", info.Dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	build := exec.Command("go", "build", "-o", tmp, pkg)
	build.Dir, build.Env, build.Stdout, build.Stderr = src, env, log, log
	fmt.Fprintf(log, "  (in a copy of %s) go build -o %s %s\n", info.Dir, tmp, pkg)
	if err := build.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("go build %s in %s@%s: %w", pkg, module, version, err)
	}
	return os.Rename(tmp, out)
}

// krakendConfig returns a KrakenD CE configuration (format version 3)
// equivalent to cuegate's in scenario (a): one endpoint, path, proxying GETs
// unchanged (no-op encoding) to upstream, behind the JWT validator
// (auth/validator) with RS256, the JWKS at jwksURL fetched once and cached
// (cache: true), and the issuer and audience checked; and a per-client rate
// limit far above what the run reaches (qos/ratelimit/router, keyed by the
// Authorization header: one token per identity in (a), so per token is per
// client). KrakenD's access log stays on (its default, one line per
// request to stdout), as cuegate writes its access line for every request;
// its application log keeps only errors.
func krakendConfig(listen, upstream, path, jwksURL, issuer, audience string, rate int) ([]byte, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("krakend listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("krakend listen address %q: port: %w", listen, err)
	}
	backend := []string{"http://" + upstream}
	cfg := map[string]any{
		"version":   3,
		"name":      "cuegate loadtest rival",
		"listen_ip": host,
		"port":      port,
		"timeout":   "10s",
		"extra_config": map[string]any{
			"router":            map[string]any{"disable_access_log": false},
			"telemetry/logging": map[string]any{"level": "ERROR", "stdout": true},
		},
		"endpoints": []any{map[string]any{
			"endpoint":        path,
			"method":          "GET",
			"output_encoding": "no-op",
			"extra_config": map[string]any{
				"auth/validator": map[string]any{
					"alg":                  "RS256",
					"jwk_url":              jwksURL,
					"cache":                true,
					"disable_jwk_security": true, // the JWKS is served over plain HTTP on loopback
					"issuer":               issuer,
					"audience":             []string{audience},
				},
				"qos/ratelimit/router": map[string]any{
					"client_max_rate": rate,
					"client_capacity": rate,
					"every":           "1s",
					"strategy":        "header",
					"key":             "Authorization",
				},
			},
			"backend": []any{map[string]any{
				"host":        backend,
				"url_pattern": path,
				"encoding":    "no-op",
			}},
		}},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// startKrakenD writes krakend.json for scenario path into the run's
// directory and starts KrakenD on it, waiting until /__health answers.
func (b *bench) startKrakenD(path string) (*Proc, string, error) {
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg, err := krakendConfig(addr, b.upAddr, path, b.idp.JWKSURL, b.idp.Issuer, audience, rateLimit)
	if err != nil {
		return nil, "", err
	}
	file := filepath.Join(b.dir, "krakend.json")
	if err := os.WriteFile(file, cfg, 0o644); err != nil {
		return nil, "", err
	}
	p, err := startProc(b.dir, tKrakenD, nil, b.rivalBins[tKrakenD], "run", "-c", file)
	if err != nil {
		return nil, "", err
	}
	b.procs = append(b.procs, p)
	return p, addr, waitHTTP(p, "http://"+addr+"/__health", b.o.StartupTimeout, false)
}
