package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

func (b *bench) buildCuegate() (string, error) {
	if b.o.Cuegate != "" {
		return filepath.Abs(b.o.Cuegate)
	}
	bin := filepath.Join(b.dir, "cuegate")
	args := []string{"build", "-o", bin}
	overlay, err := b.overlay()
	if err != nil {
		return "", err
	}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.Command("go", append(args, "./cmd/cuegate")...)
	cmd.Dir = b.o.Repo
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Fprintf(os.Stderr, "building cuegate in %s ...\n", b.o.Repo)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build cuegate: %w", err)
	}
	return bin, nil
}

// pprofEnv names the address where a profiled process serves
// net/http/pprof.
const pprofEnv = "CUEGATE_LOADTEST_PPROF"

// pprofSource is added to package main of cmd/cuegate at build time (go
// build -overlay) when profiling: the repository is not changed, and the
// binary is the real one plus net/http/pprof on a loopback port of its own,
// named by $CUEGATE_LOADTEST_PPROF.
const pprofSource = `package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("` + pprofEnv + `"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
}
`

// overlay writes the go build -overlay file for cuegate, or returns ""
// when there is nothing to overlay: pprofSource when profiling, and every
// file under -overlay-dir in place of the repository file at the same
// relative path (to measure a proposed change without committing it).
func (b *bench) overlay() (string, error) {
	repo, err := filepath.Abs(b.o.Repo)
	if err != nil {
		return "", err
	}
	replace := map[string]string{}
	if b.o.Profile != "" {
		src := filepath.Join(b.dir, "zz_loadtest_pprof.go")
		if err := os.WriteFile(src, []byte(pprofSource), 0o644); err != nil {
			return "", err
		}
		replace[filepath.Join(repo, "cmd", "cuegate", "zz_loadtest_pprof.go")] = src
	}
	if b.o.OverlayDir != "" {
		root, err := filepath.Abs(b.o.OverlayDir)
		if err != nil {
			return "", err
		}
		err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			replace[filepath.Join(repo, rel)] = path
			fmt.Fprintf(os.Stderr, "overlay: %s replaces %s\n", path, rel)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	if len(replace) == 0 {
		return "", nil
	}
	out, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", err
	}
	file := filepath.Join(b.dir, "overlay.json")
	return file, os.WriteFile(file, out, 0o644)
}

// pprof picks the address a profiled child serves net/http/pprof at and
// the environment that tells it so; "" and nil when not profiling.
func (b *bench) pprof() (addr string, env []string, err error) {
	if b.o.Profile == "" {
		return "", nil, nil
	}
	if addr, err = freePort(); err != nil {
		return "", nil, err
	}
	return addr, []string{pprofEnv + "=" + addr}, nil
}
