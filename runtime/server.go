package runtime

import (
	"crypto/tls"
	"net"
	"reflect"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime/deadline"
)

// Listener returns ln as the gateway listener serves it: an Accept that
// waits out running out of file descriptors (retryAccept), each client
// capped at max_conns_per_client connections (clientConns), their
// deadlines armed lazily (runtime/deadline; fasthttp sets three per
// request), with TLS above them when the table names a certificate (see
// TLSConfig). scheme is then "https", else "http". The per-client cap
// and conns_exempt are those of the table at the time Listener is called,
// the listener's cap (max_conns, which the per-client default is a
// quarter of) that of the table New was given. Serve Server on it.
func (g *Gateway) Listener(ln net.Listener) (_ net.Listener, scheme string) {
	gw := &g.Current().Gateway
	ln = newRetryAccept(ln, g.log)
	if perClient := maxConnsPerClient(gw.MaxConnsPerClient, g.listenerCap); perClient > 0 {
		ln = newClientConns(ln, perClient, 0, gw.ConnsExempt, g.series.connsRefused, g.log.With().Str("listener", "gateway").Logger())
	}
	ln = deadline.Listener(ln)
	if cfg := g.TLSConfig(); cfg != nil {
		return tls.NewListener(ln, cfg), "https"
	}
	return ln, "http"
}

// Server returns a fasthttp server for the gateway listener (serve it on
// Listener), configured from the table's gateway settings: write_timeout,
// and read_timeout once a request's header is in, follow every reload
// (they are taken per request); idle_timeout, max_header_bytes and the
// read_timeout of a request's header are those of the table at the time
// Server is called, and max_conns (maxConns) that of the table New was
// given, as every upstream's max_inflight default is.
// Request bodies are streamed, and a request is decided on its header
// before its body is read: see expect and expectRefusal. A
// request the server cannot read is answered by requestError, and the
// parse error is logged without the request's bytes (fasthttpLogger).
func (g *Gateway) Server() *fasthttp.Server {
	gw := g.Current().Gateway
	serverRead := gw.ReadTimeout.D()
	return &fasthttp.Server{
		Handler:      g.Handler,
		ErrorHandler: g.requestError,
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			g.expectRefusal(h)
			return g.requestConfig(serverRead)
		},
		ExpectHandler:                g.expect,
		NoDefaultServerHeader:        true, // the gateway names no software; an upstream's Server passes through
		ReadTimeout:                  gw.ReadTimeout.D(),
		WriteTimeout:                 gw.WriteTimeout.D(),
		IdleTimeout:                  gw.IdleTimeout.D(),
		Concurrency:                  g.listenerCap,
		ReadBufferSize:               gw.MaxHeaderBytes,
		MaxRequestBodySize:           64 << 10,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		NoDefaultContentType:         true,
		LazyRequestTime:              true, // the handler reads the clock itself; ctx.Time is unused
		CloseOnShutdown:              true,
		SecureErrorLogMessage:        true,
		Logger:                       fasthttpLogger{g.log},
	}
}

// startupSettings names the settings that differ from a to b and take
// effect only when the process restarts: the cluster block (the node
// connects to Redis at start), the listen addresses and whether each
// listener serves TLS (certificates follow reloads), what Server fixes
// (idle_timeout, max_header_bytes, max_conns, and read_timeout for the
// header of a request), what Listener fixes (max_conns_per_client,
// conns_exempt), what the portal and admin listeners fix when they
// start (read_timeout, idle_timeout, max_header_bytes, and the portal's
// write_timeout), and shutdown_grace.
func startupSettings(ta, tb *table.Table) []string {
	a, b := &ta.Gateway, &tb.Gateway
	var names []string
	for _, s := range []struct {
		name    string
		changed bool
	}{
		{"cluster", !reflect.DeepEqual(ta.Cluster, tb.Cluster)},
		{"listen", a.Listen != b.Listen},
		{"portal_listen", a.PortalListen != b.PortalListen},
		{"admin_listen", a.AdminListen != b.AdminListen},
		{"tls", (a.TLS == nil) != (b.TLS == nil)},
		{"portal_tls", (a.PortalTLS == nil) != (b.PortalTLS == nil)},
		{"read_timeout", a.ReadTimeout != b.ReadTimeout},
		{"write_timeout", a.WriteTimeout != b.WriteTimeout},
		{"idle_timeout", a.IdleTimeout != b.IdleTimeout},
		{"max_header_bytes", a.MaxHeaderBytes != b.MaxHeaderBytes},
		{"max_conns", a.MaxConns != b.MaxConns},
		{"max_conns_per_client", a.MaxConnsPerClient != b.MaxConnsPerClient},
		{"conns_exempt", !slices.Equal(a.ConnsExempt, b.ConnsExempt)},
		{"shutdown_grace", a.ShutdownGrace != b.ShutdownGrace},
	} {
		if s.changed {
			names = append(names, s.name)
		}
	}
	return names
}

// maxInflight is the cap on the requests in flight to an upstream on
// this node: configured (upstream.max_inflight), else half of listener,
// the gateway listener's cap, so that one slow upstream leaves the other
// APIs half the connections; 0 (no cap) when the listener's is not known.
func maxInflight(configured, listener int) int {
	if configured > 0 {
		return configured
	}
	if listener <= 0 {
		return 0
	}
	return max(listener/2, 1)
}

// maxConns is the most client connections the gateway listener serves:
// configured (max_conns), else half of openFiles, the process's limit on
// open files, so that running out of connections leaves descriptors for
// upstream connections, the portal and the admin listener; else (no
// limit known) 0, fasthttp's own default.
func maxConns(configured, openFiles int) int {
	if configured > 0 {
		return configured
	}
	return openFiles / 2
}

// maxConnsPerClient is the most connections one client keeps open to
// the gateway listener: configured (max_conns_per_client), else a
// quarter of listenerMax, the listener's own cap (maxConns); 0 (no
// listener cap known) caps nothing.
func maxConnsPerClient(configured, listenerMax int) int {
	if configured > 0 {
		return configured
	}
	return (listenerMax + 3) / 4
}

// requestConfig applies the current table's timeouts to one request.
// The read timeout is re-armed only when it differs from serverRead, the
// server's own, which fasthttp has already armed for the request (from
// its first byte, or from the connection's opening for its first
// request): re-arming costs a clock read and a deadline change on every
// request.
func (g *Gateway) requestConfig(serverRead time.Duration) fasthttp.RequestConfig {
	gw := &g.cur.Load().table.Gateway
	c := fasthttp.RequestConfig{WriteTimeout: gw.WriteTimeout.D()}
	if rt := gw.ReadTimeout.D(); rt != serverRead {
		c.ReadTimeout = rt
	}
	return c
}
