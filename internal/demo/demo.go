// Package demo runs the quickstart on loopback for `cuegate demo`: a
// development-only identity provider (internal/devidp), an echo upstream,
// and a node (internal/node) serving a copy of the quickstart
// configuration, and prints a walkthrough of it.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/examples/quickstart"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/node"
)

// Addrs are the loopback addresses of the demo's five listeners. Each is
// chosen by the `cuegate demo` flag of the same name in lower case
// (--gateway, --portal, --admin, --idp, --echo), which errors name. Each
// host must be a loopback IP address or "localhost": the demo's provider
// issues tokens to any client and its listeners are for one developer's
// machine.
type Addrs struct {
	Gateway, Portal, Admin, IdP, Echo string
}

// Options configure Run.
type Options struct {
	Addrs Addrs
	// Config is a quickstart-shaped configuration directory to copy and
	// run; empty means the embedded examples/quickstart. Run only reads it.
	Config string
	// Dir is the working directory for the configuration copy and the
	// state file; Run creates what it needs in it and leaves it in place.
	// Empty means a new temporary directory, which Run removes on return.
	Dir string
	// Compile compiles the configuration copy at start and on every
	// change of it; nil means in this process (see node.Options.Compile).
	// `cuegate demo` passes a budgeted compile, so that a runaway edit of
	// the copy fails one compile instead of the demo.
	Compile func(ctx context.Context, dir string) (*table.Table, error)
}

// IATEnv is the environment variable the quickstart reads the provider's
// initial access token from.
const IATEnv = "CUEGATE_DEMO_IAT"

// Run starts the provider, the echo upstream and the node, writes the
// walkthrough to stdout in one write, and runs until ctx is done; then it
// writes a stopping line to stdout, stops the node, and closes the echo
// upstream and the provider before it returns. Logs go to stderr. When an
// address is not loopback or is taken, Run fails before it starts anything
// or writes to stdout, with an error naming the flag that chooses the
// address.
//
// Run sets the process environment variable IATEnv, so only one Run may
// be in progress in a process at a time.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	a := o.Addrs
	if err := checkAddrs(a); err != nil {
		return err
	}
	logw := zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly, NoColor: !isTerminal(stderr)}
	log := zerolog.New(logw).With().Timestamp().Logger()

	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cuegate-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	configDir := filepath.Join(dir, "config")
	var src fs.FS = quickstart.Files
	if o.Config != "" {
		src = os.DirFS(o.Config)
	}
	if err := writeConfig(configDir, src, a); err != nil {
		return err
	}

	iat := randomHex(24)
	if err := os.Setenv(IATEnv, iat); err != nil {
		return err
	}
	idp, err := devidp.Listen(a.IdP, devidp.Options{InitialAccessToken: iat, Logger: &log})
	if err != nil {
		return err
	}
	defer idp.Close()

	echo, err := listenEcho(a.Echo)
	if err != nil {
		return err
	}
	defer echo.Close()

	state := filepath.Join(dir, "state.json")
	srv, err := node.Start(ctx, node.Options{ConfigDir: configDir, StatePath: state, Logger: log, AccessLog: logw, Watch: true, Compile: o.Compile})
	if err != nil {
		return err
	}
	printWalkthrough(stdout, a, configDir, state)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\ncuegate demo: stopping")
	return srv.Shutdown()
}

// checkAddrs fails when an address is not on loopback or is taken, naming
// the flag that chooses it. Every address is checked for its form before
// any for whether it is free, so that a mistyped flag is named whatever
// else this machine runs.
func checkAddrs(a Addrs) error {
	flags := []struct{ flag, addr string }{
		{"--gateway", a.Gateway}, {"--portal", a.Portal}, {"--admin", a.Admin}, {"--idp", a.IdP}, {"--echo", a.Echo},
	}
	notLoopback := func(flag, addr string) error {
		return fmt.Errorf("%s %s is not a loopback address: the demo listens only on this machine; give 127.0.0.1:PORT, [::1]:PORT or localhost:PORT", flag, addr)
	}
	for _, p := range flags {
		host, _, err := net.SplitHostPort(p.addr)
		var bad *net.AddrError // SplitHostPort's only error
		if errors.As(err, &bad) {
			return fmt.Errorf("%s %s: %s", p.flag, p.addr, bad.Err)
		}
		if !isLoopback(host) {
			return notLoopback(p.flag, p.addr)
		}
	}
	for _, p := range flags {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("%s %s is not available (%v); choose another address with %s", p.flag, p.addr, errors.Unwrap(err), p.flag)
		}
		bound, _ := netip.ParseAddrPort(ln.Addr().String())
		ln.Close()
		if !bound.Addr().IsLoopback() { // "localhost" resolved elsewhere
			return notLoopback(p.flag, p.addr)
		}
	}
	return nil
}

// isLoopback reports whether host is a loopback IP address or
// "localhost". An empty host, an unspecified address or any other name is
// not.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// isTerminal reports whether w is a character device, where colours help.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
