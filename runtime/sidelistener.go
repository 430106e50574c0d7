package runtime

import (
	"net"
	"slices"

	"golang.org/x/net/netutil"
)

// The caps of the admin and portal listeners (SideListener).
const (
	adminConns           = 64 // connections at once
	adminConnsPerClient  = 8
	portalConnsPerClient = 32
	minPortalConns       = 64
)

// SideListener returns ln as the admin or the portal listener (name
// "admin" or "portal") serves it: an Accept that waits out running out of
// file descriptors, a client (as max_conns_per_client counts them) capped
// at a few connections, closed past it, and the listener at a few dozen
// for the admin listener, an eighth of max_conns for the portal's, past
// which Accept waits for one to close. So neither listener, reachable off
// loopback, can take the file descriptors the gateway keeps for its
// upstreams and Redis. Clients in gateway.conns_exempt, and for the
// portal in portal.trusted_proxies (every developer behind one proxy is
// one client), are not capped one by one. The caps are those of the
// table current when it is called; refusals count in
// cuegate_side_conns_refused_total{listener=name}.
func (g *Gateway) SideListener(ln net.Listener, name string) net.Listener {
	t := g.Current()
	total, perClient, exempt := adminConns, adminConnsPerClient, t.Gateway.ConnsExempt
	if name == "portal" {
		total, perClient = max(g.listenerCap/8, minPortalConns), portalConnsPerClient
		exempt = slices.Concat(exempt, t.Portal.TrustedProxies)
	}
	refused := g.series.set.GetOrCreateCounter(`cuegate_side_conns_refused_total{listener="` + name + `"}`)
	return netutil.LimitListener(newClientConns(newRetryAccept(ln, g.log), perClient, exempt, refused, g.log), total)
}
