package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cuegate/cuegate/internal/budget"
	"github.com/cuegate/cuegate/internal/demo"
)

func init() {
	register(command{"demo", "run the quickstart on loopback with a development-only identity provider", runDemo})
}

// demoUsage is what demo -h prints above the flags.
const demoUsage = `usage: cuegate demo [flags]

Runs the quickstart on loopback: a DEVELOPMENT-ONLY identity provider, an echo
upstream, the gateway and the portal, and prints a walkthrough. Ctrl-C stops it.
Every address must be on loopback (127.0.0.1, ::1 or localhost). The
configuration is compiled within a budget, as serve does, at start and on
every change of the demo's copy.
`

// runDemo parses the demo's flags and runs it until SIGINT or SIGTERM.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoUsage, stderr)
	var o demo.Options
	fs.StringVar(&o.Addrs.Gateway, "gateway", "127.0.0.1:8080", "gateway listen address")
	fs.StringVar(&o.Addrs.Portal, "portal", "127.0.0.1:8081", "portal listen address")
	fs.StringVar(&o.Addrs.Admin, "admin", "127.0.0.1:9090", "admin listen address (/status, /metrics)")
	fs.StringVar(&o.Addrs.IdP, "idp", "127.0.0.1:8082", "development identity provider listen address")
	fs.StringVar(&o.Addrs.Echo, "echo", "127.0.0.1:8083", "echo upstream listen address")
	fs.StringVar(&o.Config, "config", "", "quickstart-shaped configuration directory to copy and run (default: the built-in examples/quickstart)")
	fs.StringVar(&o.Dir, "dir", "", "working directory for the configuration copy and the state file (default: a new temporary directory, removed on exit)")
	var b budget.Budget
	b.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	if !budgetValid("demo", b, stderr) {
		return exitUsage
	}
	o.Compile = b.Compile
	// SIGHUP too: closing the terminal stops the demo as Ctrl-C does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := demo.Run(ctx, o, stdout, stderr); err != nil {
		printError(stderr, "cuegate demo:", err)
		return exitUsage
	}
	return exitOK
}
