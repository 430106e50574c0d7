package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	goruntime "runtime"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/jsonlog"
	"github.com/cuegate/cuegate/internal/logwriter"
	"github.com/cuegate/cuegate/portal/store"
	"github.com/cuegate/cuegate/runtime"
	"github.com/cuegate/cuegate/runtime/watch"
)

func init() {
	register(command{"serve", "serve the gateway from a configuration directory", runServe})
}

// watchDebounce is how long the configuration directory must be quiet
// before a burst of changes is reloaded.
const watchDebounce = 150 * time.Millisecond

// logFlushPeriod is how long a log line may wait in the batch writer.
const logFlushPeriod = 100 * time.Millisecond

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "configuration directory (required)")
	state := fs.String("state", "", "the portal's state file")
	logFormat := fs.String("log-format", "json", "log format: json or console")
	var budget compileBudget
	budget.flags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cuegate serve --config DIR [--state FILE] [--log-format json|console] [--compile-timeout D] [--compile-memory SIZE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *config == "" || fs.NArg() != 0 || (*logFormat != "json" && *logFormat != "console") {
		fs.Usage()
		return exitUsage
	}
	if err := budget.valid(); err != nil {
		fmt.Fprintln(stderr, "cuegate serve:", err)
		return exitUsage
	}
	lw, log, logw := openLog(stderr, *logFormat, 64<<10, logFlushPeriod)
	defer lw.Close() //nolint:errcheck // nowhere left to report it

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	n, err := startServe(ctx, serveOptions{ConfigDir: *config, StatePath: *state, Logger: log, AccessLog: logw, Watch: true, Compile: budget.compile})
	lw.Flush() //nolint:errcheck // the log lines before what follows
	var diags table.Diagnostics
	switch {
	case errors.As(err, &diags):
		printDiagnostics(stderr, "text", diags, "error")
		return exitInvalid
	case err != nil:
		fmt.Fprintln(stderr, "cuegate:", err)
		return exitUsage
	}
	for {
		select {
		case <-hup:
			log.Info().Msg("SIGHUP: reloading")
			n.reload()
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

// openLog returns serve's log on w: a logwriter.Writer (buffers of size bytes,
// handed over at least every period, a spread shard per processor), the
// logger writing through it in order, and the gateway's access-log writer,
// which spreads its lines over the shards. The caller closes the
// logwriter.Writer.
func openLog(w io.Writer, format string, size int, period time.Duration) (*logwriter.Writer, zerolog.Logger, io.Writer) {
	lw := logwriter.New(w, size, goruntime.GOMAXPROCS(0), period)
	log, access := newLogger(lw, lw.Spread(), format)
	return lw, log, access
}

// newLogger returns the command's logger on w and the writer for the
// gateway's access log on access: JSON lines with a "time" field, or, for
// format "console", the same lines pretty-printed for humans.
func newLogger(w, access io.Writer, format string) (zerolog.Logger, io.Writer) {
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		access = zerolog.ConsoleWriter{Out: access, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Hook(&jsonlog.Stamp{}), access
}

// serveOptions configures startServe.
type serveOptions struct {
	// ConfigDir is compiled at start and on every reload.
	ConfigDir string
	// StatePath is the portal's state file. When set, the node serves the
	// portal on the table's portal_listen and binds its registered clients
	// into the gateway's policy resolution; when empty, no portal runs.
	StatePath string
	Logger    zerolog.Logger
	// AccessLog is the gateway's access log (runtime.Options.AccessLog);
	// nil means none.
	AccessLog io.Writer
	// Bindings is the registered clients for the gateway's policy
	// resolution when no portal runs on this node (StatePath empty); nil
	// means none.
	Bindings runtime.Bindings
	// Listen, AdminListen and PortalListen, when set, replace the table's
	// addresses (tests use "127.0.0.1:0").
	Listen, AdminListen, PortalListen string
	// Watch reloads when the configuration directory changes.
	Watch bool
	// Compile compiles ConfigDir at start and on every reload; nil means
	// compiler.Compile, in this process (serve passes a compileBudget's).
	Compile func(dir string) (*table.Table, error)
	// compiled, when set, is called right after the first compile (tests
	// use it to edit the configuration during start-up).
	compiled func()
}

// node is one running cuegate: the gateway and admin listeners over one
// runtime.Gateway, reloaded by a watcher on the configuration directory.
type node struct {
	gw        *runtime.Gateway
	compile   func(dir string) (*table.Table, error)
	configDir string
	reloadMu  sync.Mutex // serialises reload
	log       zerolog.Logger
	server    *fasthttp.Server
	admin     *http.Server
	gwLn      net.Listener
	adminLn   net.Listener
	watcher   *watch.Watcher
	portal    *portalListener // nil without a state file
	grace     time.Duration
	errc      chan error
	stop      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
	shutErr   error
}

// startServe compiles o.ConfigDir, binds the gateway and admin listeners
// and serves them in the background until Shutdown. A configuration with
// mistakes gives table.Diagnostics. ctx bounds start-up only.
//
// With o.Watch the watcher starts before the first compile: every change
// made after it starts is reported, so an edit that races start-up (a
// ConfigMap update during pod start) is either read by the first compile
// or reloaded once serving starts, never missed. (Reloading once after
// starting a watcher created later would cover it too, at the cost of a
// second compile on every start.)
func startServe(ctx context.Context, o serveOptions) (_ *node, err error) {
	var watcher *watch.Watcher
	if o.Watch {
		if watcher, err = watch.New(o.ConfigDir, watchDebounce, o.Logger); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				watcher.Close() //nolint:errcheck // start-up failed: err says why
			}
		}()
	}
	if o.Compile == nil {
		o.Compile = compiler.Compile
	}
	t, err := o.Compile(o.ConfigDir)
	if err != nil {
		return nil, err
	}
	if o.compiled != nil {
		o.compiled()
	}
	for _, w := range t.Warnings {
		o.Logger.Warn().Str("warning", w.String()).Msg("configuration warning")
	}
	token, err := adminToken(t, o.ConfigDir)
	if err != nil {
		return nil, err
	}
	var st *store.Store
	if o.StatePath != "" {
		if st, err = openState(o.StatePath); err != nil {
			return nil, err
		}
		o.Bindings = st
	}
	gw, err := runtime.New(t, runtime.Options{Logger: o.Logger, AccessLog: o.AccessLog, ConfigDir: o.ConfigDir, Bindings: o.Bindings})
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	n := &node{gw: gw, compile: o.Compile, configDir: o.ConfigDir, watcher: watcher, log: o.Logger, grace: t.Gateway.ShutdownGrace.D(), errc: make(chan error, 3), stop: make(chan struct{})}
	fail := func(err error) (*node, error) {
		n.closeListeners()
		gw.Close()
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	var lc net.ListenConfig
	if n.gwLn, err = lc.Listen(ctx, "tcp", cmp.Or(o.Listen, t.Gateway.Listen)); err != nil {
		return fail(fmt.Errorf("gateway listener: %w", err))
	}
	if n.adminLn, err = lc.Listen(ctx, "tcp", cmp.Or(o.AdminListen, t.Gateway.AdminListen)); err != nil {
		return fail(fmt.Errorf("admin listener: %w", err))
	}
	if st != nil {
		if n.portal, err = startPortal(ctx, cmp.Or(o.PortalListen, t.Gateway.PortalListen), t, gw, st, o); err != nil {
			return fail(err)
		}
	}

	gwLn, scheme := gw.Listener(n.gwLn)
	n.server = gw.Server()
	n.admin = &http.Server{Handler: adminHandler(gw, n.portal, token), ReadHeaderTimeout: 10 * time.Second}
	n.goServe("gateway", func() error { return n.server.Serve(gwLn) })
	n.goServe("admin", func() error { return n.admin.Serve(n.adminLn) })
	portalURL := "disabled (no --state)"
	if n.portal != nil {
		n.goServe("portal", func() error { return n.portal.srv.Serve(n.portal.ln) })
		portalURL = n.portal.URL()
	}
	if n.watcher != nil {
		n.wg.Add(1)
		go n.reloadOnChange()
	}
	o.Logger.Info().Str("config_dir", o.ConfigDir).Str("hash", t.Hash).Int("apis", len(t.APIs)).
		Str("gateway", scheme+"://"+n.GatewayAddr()).Str("admin", "http://"+n.AdminAddr()).Str("portal", portalURL).
		Msg("cuegate serving")
	return n, nil
}

func (n *node) goServe(name string, serve func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		err := serve()
		select {
		case <-n.stop:
		default:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.errc <- fmt.Errorf("%s listener: %w", name, err)
			}
		}
	}()
}

func (n *node) reloadOnChange() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case _, ok := <-n.watcher.Events():
			if !ok {
				return
			}
			n.reload()
		}
	}
}

// reload compiles the configuration directory and applies the outcome to
// the gateway (a failure is logged and kept for /status; the last good
// table keeps serving) and, when it succeeded and a portal runs, checks
// the portal's registration secrets again. Reloads are serialised, so a
// later compile is never applied before an earlier one.
func (n *node) reload() error {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	start := time.Now()
	t, err := n.compile(n.configDir)
	err = n.gw.Apply(runtime.Compiled{Table: t, Err: err, Took: time.Since(start)})
	if err == nil && n.portal != nil {
		warnUnreadableSecrets(n.log, n.gw.Current(), n.portal.configDir)
	}
	return err
}

// Gateway is the node's runtime; the portal reads the table through its
// Current method.
func (n *node) Gateway() *runtime.Gateway { return n.gw }

// PortalAddr is the portal's bound address, empty when no portal runs.
func (n *node) PortalAddr() string {
	if n.portal == nil {
		return ""
	}
	return n.portal.ln.Addr().String()
}

// GatewayAddr and AdminAddr are the bound listener addresses.
func (n *node) GatewayAddr() string { return n.gwLn.Addr().String() }
func (n *node) AdminAddr() string   { return n.adminLn.Addr().String() }

// Err reports a listener that stopped on its own.
func (n *node) Err() <-chan error { return n.errc }

// Shutdown stops accepting connections and waits for the requests in
// flight, at most the table's shutdown_grace; then it closes the
// upstream pools and key fetchers. It is safe to call more than once.
func (n *node) Shutdown() error {
	n.once.Do(func() {
		close(n.stop)
		if n.watcher != nil {
			n.watcher.Close() //nolint:errcheck
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.grace)
		defer cancel()
		errs := []error{n.server.ShutdownWithContext(ctx), n.admin.Shutdown(ctx)}
		if n.portal != nil {
			errs = append(errs, n.portal.srv.Shutdown(ctx))
		}
		n.wg.Wait()
		n.gw.Close()
		if n.portal != nil {
			errs = append(errs, n.portal.store.Close())
		}
		if err := errors.Join(errs...); err != nil {
			n.shutErr = fmt.Errorf("shutdown within %s: %w", n.grace, err)
		}
	})
	return n.shutErr
}

func (n *node) closeListeners() {
	lns := []net.Listener{n.gwLn, n.adminLn}
	if n.portal != nil {
		lns = append(lns, n.portal.ln)
	}
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}
