package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/budget"
	"github.com/cuegate/cuegate/internal/node"
)

func init() {
	register(command{"serve", "serve the gateway from a configuration directory", runServe})
}

// logFlushPeriod is how long a log line may wait in the batch writer.
const logFlushPeriod = 100 * time.Millisecond

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "usage: cuegate serve --config DIR [--state FILE] [--listen ADDR] [--admin-listen ADDR] [--portal-listen ADDR] [--bindings-file FILE] [--log-format json|console] [--compile-timeout D] [--compile-memory SIZE]", stderr)
	config := fs.String("config", "", "configuration directory (required)")
	state := fs.String("state", "", "the portal's state file")
	logFormat := fs.String("log-format", "json", "log format: json or console")
	listen := fs.String("listen", "", "the gateway's address, instead of gateway.listen")
	adminListen := fs.String("admin-listen", "", "the admin listener's address, instead of gateway.admin_listen")
	portalListen := fs.String("portal-listen", "", "the portal's address, instead of gateway.portal_listen")
	bindingsFile := fs.String("bindings-file", "", "in a cluster, on a node without --state: where the last client bindings taken from Redis are kept (default: in the user's cache directory)")
	var b budget.Budget
	b.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if *config == "" || fs.NArg() != 0 || (*logFormat != "json" && *logFormat != "console") {
		fs.Usage()
		return exitUsage
	}
	if !budgetValid("serve", b, stderr) {
		return exitUsage
	}
	lw, log, logw := node.OpenLog(stderr, *logFormat, 64<<10, logFlushPeriod)
	defer lw.Close() //nolint:errcheck // nowhere left to report it

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	n, err := node.Start(ctx, node.Options{
		ConfigDir: *config, StatePath: *state, BindingsFile: *bindingsFile,
		Listen: *listen, AdminListen: *adminListen, PortalListen: *portalListen,
		Logger: log, AccessLog: logw, Watch: true, Compile: b.Compile,
	})
	lw.Flush() //nolint:errcheck // the log lines before what follows
	var diags table.Diagnostics
	switch {
	case errors.As(err, &diags):
		printDiagnostics(stderr, "text", diags, "error")
		return exitInvalid
	case err != nil:
		printError(stderr, "cuegate:", err)
		return exitUsage
	}
	for {
		select {
		case <-hup:
			log.Info().Msg("SIGHUP: reloading")
			n.RequestReload() // a compile never holds up SIGTERM
		case err := <-n.Err():
			log.Error().Err(err).Msg("listener failed")
			n.Shutdown() //nolint:errcheck
			return exitUsage
		case <-ctx.Done():
			log.Info().Msg("shutting down: finishing requests in flight")
			if err := n.Shutdown(); err != nil {
				log.Error().Err(err).Msg("shutdown")
				return exitUsage
			}
			log.Info().Msg("stopped")
			return exitOK
		}
	}
}
