package runtime

import (
	"net"
	"slices"
)

// The caps of the admin and portal listeners (SideListener).
const (
	adminConns           = 256 // connections at once
	adminConnsPerClient  = 8
	portalConnsPerClient = 64
	minPortalConns       = 64
)

// SideListener returns ln as the admin or the portal listener (name
// "admin" or "portal") serves it: an Accept that waits out running out of
// file descriptors, a client (as max_conns_per_client counts them) capped
// at a few connections, and the clients together at a few hundred for the
// admin listener, an eighth of max_conns for the portal's; a connection
// past either cap is closed as soon as it is accepted. So neither
// listener, reachable off loopback, can take the file descriptors the
// gateway keeps for its upstreams and Redis. Clients in
// gateway.conns_exempt (a prober, a scraper), and for the portal in
// portal.trusted_proxies (every developer behind one proxy is one
// client), count against neither cap: clients that fill the listener
// cannot keep them out. The caps are those of the table current when it
// is called; refusals count in
// cuegate_side_conns_refused_total{listener=name}.
func (g *Gateway) SideListener(ln net.Listener, name string) net.Listener {
	t := g.Current()
	total, perClient, exempt := adminConns, adminConnsPerClient, t.Gateway.ConnsExempt
	if name == "portal" {
		total, perClient = max(g.listenerCap/8, minPortalConns), portalConnsPerClient
		exempt = slices.Concat(exempt, t.Portal.TrustedProxies)
	}
	refused := g.series.set.GetOrCreateCounter(`cuegate_side_conns_refused_total{listener="` + name + `"}`)
	return newClientConns(newRetryAccept(ln, g.log), perClient, total, exempt, refused, g.log.With().Str("listener", name).Logger())
}
