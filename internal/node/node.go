// Package node runs one cuegate serving process: it compiles a
// configuration directory, serves the gateway, admin and portal listeners
// over one runtime.Gateway, reloads the configuration when it changes,
// and shuts down gracefully. The serve and demo commands are thin shells
// around Start.
package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal"
	"github.com/cuegate/cuegate/portal/sessions"
	"github.com/cuegate/cuegate/portal/store"
	"github.com/cuegate/cuegate/runtime"
	"github.com/cuegate/cuegate/runtime/watch"
)

// Node is one running cuegate: the gateway and admin listeners (and the
// portal's, with a state file) over one runtime.Gateway, reloaded by a
// watcher on the configuration directory. Start returns it serving; the
// caller stops it with Shutdown. Its methods are safe for concurrent use.
type Node struct {
	gw        *runtime.Gateway
	cluster   *clusterNode // nil for one node
	compile   func(ctx context.Context, dir string) (*table.Table, error)
	configDir string
	reloadMu  sync.Mutex    // serialises Reload
	reloads   chan struct{} // capacity 1: a reload asked for (RequestReload), not yet begun
	started   inputs        // what the first compile read (zero: unknown), for the reloader
	// ending ends when Shutdown begins: the reloader and the listeners'
	// goroutines stop, and a compile in progress gives up.
	ending    context.Context
	end       context.CancelFunc
	log       zerolog.Logger
	server    *fasthttp.Server
	admin     *http.Server
	adminAuth *runtime.AdminGuard // takes the admin token of each reload
	gwLn      net.Listener
	adminLn   net.Listener
	watcher   *watch.Watcher
	portal    *portalListener // nil without a state file
	grace     time.Duration
	errc      chan error
	wg        sync.WaitGroup
	once      sync.Once
	shutErr   error
}

// Start compiles o.ConfigDir, binds the gateway and admin listeners (and,
// with o.StatePath, opens the state file and binds the portal's) and
// serves them in the background until Shutdown. A configuration with
// mistakes gives table.Diagnostics. ctx bounds start-up only. On error
// nothing is left open.
//
// With o.Watch the watcher starts before the first compile: every change
// made after it starts is reported, so an edit that races start-up (a
// ConfigMap update during pod start) is either read by the first compile
// or reloaded once serving starts, never missed. (Reloading once after
// starting a watcher created later would cover it too, at the cost of a
// second compile on every start.)
func Start(ctx context.Context, o Options) (_ *Node, err error) {
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
	cue, cueOK := cueInputs(o.ConfigDir) // before the compile: a change after it is reloaded
	t, err := compileFirst(&o)
	if err != nil {
		return nil, err
	}
	token, err := adminToken(t, o.ConfigDir, cmp.Or(o.AdminListen, t.Gateway.AdminListen))
	if err != nil {
		return nil, err
	}
	// What start-up opens is closed again, in reverse, when it fails.
	var (
		st *store.Store
		cl *clusterNode
		gw *runtime.Gateway
		n  *Node
	)
	defer func() {
		if err == nil {
			return
		}
		if n != nil {
			n.closeListeners()
		}
		if gw != nil {
			gw.Close()
		}
		if cl != nil {
			cl.stop()
		}
		if st != nil {
			st.Close()
		}
	}()
	if o.StatePath != "" {
		if st, err = openState(o.StatePath, o.Logger); err != nil {
			return nil, err
		}
		o.Bindings = st
	}
	ro := runtime.Options{Logger: o.Logger, AccessLog: o.AccessLog, ConfigDir: o.ConfigDir, Bindings: o.Bindings}
	if t.Cluster != nil {
		if cl, err = startCluster(t.Cluster, o.ConfigDir, st, o.BindingsFile, cmp.Or(o.Listen, t.Gateway.Listen), o.Logger); err != nil {
			return nil, err
		}
		ro.Limiter, ro.Cluster = cl.limiter, cl
		if st == nil {
			ro.Bindings = cl.follower
		}
	}
	if gw, err = runtime.New(t, ro); err != nil {
		return nil, err
	}
	n = &Node{gw: gw, cluster: cl, compile: o.Compile, configDir: o.ConfigDir, watcher: watcher, log: o.Logger, grace: t.Gateway.ShutdownGrace.D(), errc: make(chan error, 3), reloads: make(chan struct{}, 1)}
	if cueOK {
		n.started = inputs{cue, namedInputs(o.ConfigDir, t)}
	}
	n.ending, n.end = context.WithCancel(context.Background())
	if err = n.listen(ctx, t, st, o); err != nil {
		return nil, err
	}
	n.serve(t, token, o)
	return n, nil
}

// compileFirst compiles o.ConfigDir with o.Compile (compiler.Compile when
// nil, which it sets) and logs the table's warnings.
func compileFirst(o *Options) (*table.Table, error) {
	if o.Compile == nil {
		o.Compile = func(_ context.Context, dir string) (*table.Table, error) { return compiler.Compile(dir) }
	}
	t, err := o.Compile(context.Background(), o.ConfigDir)
	if err != nil {
		return nil, err
	}
	if o.compiled != nil {
		o.compiled()
	}
	for _, w := range t.Warnings {
		o.Logger.Warn().Str("warning", w.String()).Msg("configuration warning")
	}
	return t, nil
}

// listen binds the gateway and admin listeners and, with a state file
// st, the portal's; closeListeners closes what it bound.
func (n *Node) listen(ctx context.Context, t *table.Table, st *store.Store, o Options) error {
	var lc net.ListenConfig
	var err error
	if n.gwLn, err = lc.Listen(ctx, "tcp", cmp.Or(o.Listen, t.Gateway.Listen)); err != nil {
		return fmt.Errorf("gateway listener: %w", err)
	}
	if n.adminLn, err = lc.Listen(ctx, "tcp", cmp.Or(o.AdminListen, t.Gateway.AdminListen)); err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	if st == nil {
		return nil
	}
	var (
		sess sessions.Store // nil: in memory
		rev  portal.Revoker // nil: a single node
	)
	if n.cluster != nil {
		sess, rev = n.cluster.sessions, n.cluster.publisher
	}
	n.portal, err = startPortal(ctx, cmp.Or(o.PortalListen, t.Gateway.PortalListen), t, n.gw, st, sess, rev, o)
	return err
}

// serve serves the bound listeners in the background, with the admin
// listener guarded by token, starts reloading on the watcher's changes,
// and logs where the node serves.
func (n *Node) serve(t *table.Table, token string, o Options) {
	gwLn, scheme := n.gw.Listener(n.gwLn)
	n.server = n.gw.Server()
	n.adminAuth = adminHandler(n.gw, n.portal, n.AdminAddr(), token)
	// No write timeout: net/http's counts the handler's run too, and an
	// operator's call may wait on Redis for longer than write_timeout.
	n.admin = httpServer(n.adminAuth, &t.Gateway, 0)
	n.goServe("gateway", func() error { return n.server.Serve(gwLn) })
	adminLn := n.gw.SideListener(n.adminLn, "admin")
	n.goServe("admin", func() error { return n.admin.Serve(adminLn) })
	portalURL := "disabled (no --state)"
	if n.portal != nil {
		n.goServe("portal", func() error { return n.portal.srv.Serve(n.portal.ln) })
		portalURL = n.portal.URL()
	}
	if n.watcher != nil {
		n.watcher.Also(t.WatchedFiles())
	}
	n.wg.Add(1)
	go n.reloadOnRequest()
	o.Logger.Info().Str("config_dir", o.ConfigDir).Str("hash", t.Hash).Int("apis", len(t.APIs)).
		Str("gateway", scheme+"://"+n.GatewayAddr()).Str("admin", "http://"+n.AdminAddr()).Str("portal", portalURL).
		Msg("cuegate serving")
}

// httpServer returns the server of the portal or admin listener: h, with
// the gateway's read and idle timeouts and header size as they are when
// it starts, a header read within 10 s, so that no connection is held
// open by a client that sends nothing, or sends slowly, and the write
// timeout write (0: none).
func httpServer(h http.Handler, gw *table.Gateway, write time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       gw.ReadTimeout.D(),
		WriteTimeout:      write,
		IdleTimeout:       gw.IdleTimeout.D(),
		MaxHeaderBytes:    gw.MaxHeaderBytes,
	}
}

func (n *Node) goServe(name string, serve func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		err := serve()
		select {
		case <-n.ending.Done():
		default:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.errc <- fmt.Errorf("%s listener: %w", name, err)
			}
		}
	}()
}

// Gateway is the node's runtime; the portal reads the table through its
// Current method.
func (n *Node) Gateway() *runtime.Gateway { return n.gw }

// PortalAddr is the portal's bound address, empty when no portal runs.
func (n *Node) PortalAddr() string {
	if n.portal == nil {
		return ""
	}
	return n.portal.ln.Addr().String()
}

// GatewayAddr and AdminAddr are the bound listener addresses.
func (n *Node) GatewayAddr() string { return n.gwLn.Addr().String() }
func (n *Node) AdminAddr() string   { return n.adminLn.Addr().String() }

// Err reports a listener that stopped on its own; the caller then calls
// Shutdown.
func (n *Node) Err() <-chan error { return n.errc }

// Shutdown stops accepting connections and waits for the requests in
// flight, at most the table's shutdown_grace (the gateway, admin and
// portal listeners each within it, at the same time), and for the portal's client
// changes in flight to store what the provider answered
// (portal.Server.Drain, within a bound of its own); then it closes the
// upstream pools, the key fetchers, the connection to the cluster's Redis
// and the state file. It is safe to call
// more than once, and from several goroutines: every call returns the
// first one's error.
func (n *Node) Shutdown() error {
	n.once.Do(func() {
		n.end() // a compile in progress gives up; no reload begins
		if n.watcher != nil {
			n.watcher.Close() //nolint:errcheck
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.grace)
		defer cancel()
		shutdowns := []func() error{func() error { return n.server.ShutdownWithContext(ctx) }, func() error { return n.admin.Shutdown(ctx) }}
		if n.portal != nil {
			shutdowns = append(shutdowns, func() error { return n.portal.srv.Shutdown(ctx) }, n.portal.drain) // the store and Redis still open
		}
		errs := make([]error, len(shutdowns))
		var wg sync.WaitGroup
		for i, shut := range shutdowns {
			wg.Go(func() { errs[i] = shut() }) // at once: a slow gateway request leaves the portal's its grace
		}
		wg.Wait()
		// A server whose Serve had not begun when it was shut down (a
		// Shutdown right after Start) would accept for ever: its
		// listener is closed under it.
		n.closeListeners()
		n.wg.Wait()
		n.gw.Close()
		if n.cluster != nil {
			n.cluster.stop()
		}
		if n.portal != nil {
			errs = append(errs, n.portal.store.Close())
		}
		if err := errors.Join(errs...); err != nil {
			n.shutErr = fmt.Errorf("shutdown within %s: %w", n.grace, err)
		}
	})
	return n.shutErr
}

func (n *Node) closeListeners() {
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
