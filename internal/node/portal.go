package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal"
	"github.com/cuegate/cuegate/portal/sessions"
	"github.com/cuegate/cuegate/portal/store"
	"github.com/cuegate/cuegate/runtime"
	"github.com/cuegate/cuegate/runtime/limit"
)

// portalListener is the developer portal of a node: the state file it
// owns (locked for the process lifetime), its HTTP listener, and the
// operator's endpoints and series, which the admin listener serves.
type portalListener struct {
	store    *store.Store
	srv      *http.Server
	ln       net.Listener
	tls      bool
	operator http.Handler
	metrics  func(io.Writer)
	drain    func() error // waits for the client changes in flight (portal.Server.Drain)
}

// openState opens the portal's state file. A corrupt file, one of a newer
// schema, or one another cuegate holds stops start-up here, untouched.
// A change written but not durable (store.Store.OnNotDurable) is logged
// as a warning.
func openState(path string, log zerolog.Logger) (*store.Store, error) {
	st, err := store.Open(path)
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	st.OnNotDurable(func(err error) {
		log.Warn().Err(err).Msg("state file: a change was written and is served, but a crash of the machine before the next write may lose it")
	})
	return st, nil
}

// startPortal serves the portal for st on addr (the table's portal_listen
// unless overridden), over TLS when the table names portal_tls, with its
// sessions in sess (nil: in memory), telling the other nodes of
// deletions through rev (nil: none). The portal reads the current table
// through gw, so a hot swap changes its catalogue.
func startPortal(ctx context.Context, addr string, t *table.Table, gw *runtime.Gateway, st *store.Store, sess sessions.Store, rev portal.Revoker, o Options) (*portalListener, error) {
	tlsConf := gw.PortalTLSConfig() // follows the table: a reload rotates the certificate
	warnUnreadableSecrets(o.Logger, t, o.ConfigDir)
	usage, _ := gw.Limiter().(limit.Peeker) // the counts the gateway enforces
	p, err := portal.New(portal.Options{Table: gw.Current, ConfigDir: o.ConfigDir, Store: st, Sessions: sess, Logger: o.Logger,
		Secure: tlsConf != nil, Usage: usage, Revoker: rev, HTTPClient: &http.Client{Transport: gw.TracerProvider().Transport(nil, "dcr")}})
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("portal listener: %w", err)
	}
	ln = gw.SideListener(ln, "portal")
	pl := &portalListener{store: st, ln: ln, operator: p.OperatorHandler(), metrics: p.WritePrometheus, drain: p.Drain, srv: httpServer(p.Handler(), &t.Gateway, t.Gateway.WriteTimeout.D())}
	if tlsConf != nil {
		pl.ln, pl.tls = tls.NewListener(ln, tlsConf), true
	}
	return pl, nil
}

// warnUnreadableSecrets logs a warning for each initial access token of
// t's catalogue that cannot be read (portal.CheckSecrets), naming its
// reference and never a value: registrations with it fail until the
// operator fixes it.
func warnUnreadableSecrets(log zerolog.Logger, t *table.Table, configDir string) {
	for _, err := range portal.CheckSecrets(t, configDir) {
		log.Warn().Err(err).Msg("portal: client registrations will fail")
	}
}

// URL is the portal's base URL.
func (pl *portalListener) URL() string {
	if pl.tls {
		return "https://" + pl.ln.Addr().String()
	}
	return "http://" + pl.ln.Addr().String()
}
