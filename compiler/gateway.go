package compiler

import (
	"net"
	"net/netip"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// buildGateway compiles the listener settings; public_url defaults to the
// listen address as a client on this machine dials it.
func (c *compilation) buildGateway(t *table.Table, g *schema.Gateway) {
	t.Gateway = table.Gateway{
		Listen:         g.Listen,
		PortalListen:   g.Portal_listen,
		AdminListen:    g.Admin_listen,
		PublicURL:      string(g.Public_url),
		ReadTimeout:    c.duration(g.Read_timeout, true, field("gateway", "read_timeout")),
		WriteTimeout:   c.duration(g.Write_timeout, true, field("gateway", "write_timeout")),
		IdleTimeout:    c.duration(g.Idle_timeout, true, field("gateway", "idle_timeout")),
		ShutdownGrace:  c.duration(g.Shutdown_grace, false, field("gateway", "shutdown_grace")),
		MaxHeaderBytes: int(g.Max_header_bytes),
		MaxBodyBytes:   int(g.Max_body_bytes),
		MaxConns:       int(g.Max_conns),
		ConnsExempt:    c.prefixes(g.Conns_exempt, field("gateway", "conns_exempt")),
		TLS:            tls(g.Tls),
		PortalTLS:      tls(g.Portal_tls),
		UpstreamCAFile: g.Upstream_ca_file,

		MaxConnsPerClient: int(g.Max_conns_per_client),
		RateLimitHeaders:  g.Rate_limit_headers,
		TokenCache:        c.size(g.Token_cache, 1<<20, 1<<40, field("gateway", "token_cache")),
	}
	for _, l := range []struct{ field, addr string }{
		{"listen", g.Listen}, {"portal_listen", g.Portal_listen}, {"admin_listen", g.Admin_listen},
	} {
		if _, port, err := net.SplitHostPort(l.addr); err != nil || port == "" {
			c.errorf(field("gateway", l.field), "invalid listen address %q: want host:port", l.addr)
		}
	}
	if t.Gateway.PublicURL == "" {
		scheme := "http"
		if g.Tls != nil {
			scheme = "https"
		}
		t.Gateway.PublicURL = scheme + "://" + clientHost(g.Listen)
	}
	t.Gateway.PublicURL = strings.TrimSuffix(t.Gateway.PublicURL, "/")
	c.checkAdmin(t, g)
	c.buildTracing(t, g.Tracing)
}

// checkAdmin sets the admin token and refuses an admin listener that
// other machines can reach without one: it can add and remove developers.
func (c *compilation) checkAdmin(t *table.Table, g *schema.Gateway) {
	t.Gateway.AdminToken = secret(g.Admin_token)
	at := field("gateway", "admin_token")
	c.checkSecret(g.Admin_token, at)
	host, port, err := net.SplitHostPort(g.Admin_listen)
	if err != nil || g.Admin_token != nil || table.IsLoopbackHost(host) || c.broken(at) {
		return
	}
	c.errorf(field("gateway", "admin_listen"), "%q can be reached from other machines, and the admin listener adds and removes developers: set gateway.admin_token: {env: \"NAME\"} (or {file: \"PATH\"}) so that it asks for a bearer token, or listen on loopback (\"127.0.0.1:%s\")", g.Admin_listen, port)
}

// clientHost is a listen address as a client on the same machine dials
// it: a wildcard host (":8080", "0.0.0.0:8080", "[::]:8080") is localhost.
func clientHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		return listen
	}
	return net.JoinHostPort("localhost", port)
}

// prefixes compiles a list of CIDR prefixes at the field at, masked
// ("10.1.2.3/8" is 10.0.0.0/8), an IPv4-mapped one as its IPv4 prefix.
func (c *compilation) prefixes(cidrs []schema.CIDR, at fieldPath) []netip.Prefix {
	var out []netip.Prefix
	for i, cidr := range cidrs {
		pfx, err := netip.ParsePrefix(string(cidr))
		if err != nil {
			c.errorf(at.index(i), "invalid value %q: want an IP prefix such as \"10.0.0.0/8\"", cidr)
			continue
		}
		if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
			// Addresses are compared unmapped: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		out = append(out, pfx.Masked())
	}
	return out
}
