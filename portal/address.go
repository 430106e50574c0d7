package portal

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// clientAddress is r's client address: the connection's peer, or, when
// that peer is one of the trusted proxies and sends X-Forwarded-For, the
// last address in that header that is not a trusted proxy itself (the one
// the nearest trusted proxy saw). An entry is an address, with or without
// a port ("203.0.113.5", "203.0.113.5:40000", "[2001:db8::1]:40000",
// "[2001:db8::1]"), possibly in double quotes. The walk reaches only
// entries written by trusted proxies; when one of them is not an address
// (a proxy that writes some other form), unparsed is true and the client
// address is that entry, quoted (unparsedAddress): a key of its own, never
// the proxy's address, which would make every client one. An IPv4-mapped
// IPv6 address is given as IPv4; a peer that is not an IP address (a Unix
// socket) as it is.
func clientAddress(r *http.Request, trusted []netip.Prefix) (addr string, unparsed bool) {
	addr, viaProxy := trustedPeer(r, trusted)
	values := r.Header.Values("X-Forwarded-For")
	if !viaProxy || len(values) == 0 {
		return addr, false
	}
	hops := strings.Split(strings.Join(values, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseForwardedFor(hops[i])
		if !ok {
			return unparsedAddress(hops[i]), true
		}
		addr = hop.String()
		if !trustedProxy(hop, trusted) {
			break
		}
	}
	return addr, false
}

// parseForwardedFor returns the address of an X-Forwarded-For entry: an
// IP address, optionally with a port (IPv6 then in brackets), optionally
// in double quotes, with any surrounding space; IPv4-mapped IPv6 as IPv4.
func parseForwardedFor(entry string) (netip.Addr, bool) {
	s := strings.TrimSpace(entry)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// maxUnparsedAddress bounds how much of an X-Forwarded-For entry that is
// no address makes its client address.
const maxUnparsedAddress = 64

// unparsedAddress is the client address of an X-Forwarded-For entry that
// is no address: at most maxUnparsedAddress bytes of it, trimmed and
// quoted in ASCII after "x-forwarded-for:", which no address looks like
// and a log line shows safely.
func unparsedAddress(entry string) string {
	s := strings.TrimSpace(entry)
	return "x-forwarded-for:" + strconv.QuoteToASCII(s[:min(len(s), maxUnparsedAddress)])
}

// addressOf is r's client address (clientAddress) under the current
// table's trusted proxies; an X-Forwarded-For entry from a trusted proxy
// that is no address is counted and logged, since behind such a proxy the
// portal may not tell clients apart.
func (s *Server) addressOf(r *http.Request) string {
	addr, unparsed := clientAddress(r, s.table().Portal.TrustedProxies)
	if unparsed {
		s.metrics.forwardedUnparsed.Inc()
		s.opts.Logger.Warn().Str("address", addr).Str("peer", r.RemoteAddr).
			Msg("portal: a trusted proxy sent an X-Forwarded-For entry that is no IP address; the entry is taken as the client address")
	}
	return addr
}

// addressedAs returns r as the client addressed it: with the Host a
// trusted proxy (portal.trusted_proxies) names in X-Forwarded-Host (its
// last value, the nearest proxy's), which a proxy that rewrites Host
// sends; else r itself. The copy is for checks only: handlers get r.
func (s *Server) addressedAs(r *http.Request) *http.Request {
	fwd := r.Header.Values("X-Forwarded-Host")
	if len(fwd) == 0 {
		return r
	}
	if _, trusted := trustedPeer(r, s.table().Portal.TrustedProxies); !trusted {
		return r
	}
	last := fwd[len(fwd)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if last = strings.TrimSpace(last); last == "" {
		return r
	}
	c := *r
	c.Host = last
	return &c
}

// sameScheme reports whether r, a state-changing request a browser sent
// without Sec-Fetch-Site, names in its Origin the scheme the portal is
// served over to it (see Server.secure): an https page of the portal's
// host has the same host and default-port-less form as the http portal,
// and CrossOriginProtection compares no more than that. A safe method
// (GET, HEAD, OPTIONS), which CrossOriginProtection lets through, passes.
func (s *Server) sameScheme(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions:
		return true
	case r.Header.Get("Sec-Fetch-Site") != "" || origin == "":
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" {
		return true // no scheme to compare (CrossOriginProtection, which ran first, refused an Origin it could not parse)
	}
	want := "http"
	if s.secure(r) {
		want = "https"
	}
	return strings.EqualFold(u.Scheme, want)
}

// addressKey is what the sign-up and login limits count the client address
// addr by: an IPv4 address itself, an IPv6 address its /64, since one
// subscriber or host commonly holds a whole /64 and could otherwise take a
// fresh address, and a fresh allowance, for every attempt.
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil:
		return addr
	case a.Unmap().Is4():
		return a.Unmap().String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// networkKey is what the sign-up and registration limits count the
// client address addr by besides addressKey: an IPv6 address's /48, the
// network a site is commonly given, whose 65,536 /64s would otherwise
// each bring a fresh allowance; "" for an IPv4 address and one that does
// not parse, which addressKey alone counts.
func networkKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Unmap().Is4() {
		return ""
	}
	return netip.PrefixFrom(a, 48).Masked().String()
}

// trustedPeer returns the address of r's peer (the connection's other
// end), IPv4-mapped IPv6 as IPv4, and whether it is one of the trusted
// proxies.
func trustedPeer(r *http.Request, trusted []netip.Prefix) (string, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host, false
	}
	return peer.Unmap().String(), trustedProxy(peer, trusted)
}

// trustedProxy reports whether a is in one of the prefixes.
func trustedProxy(a netip.Addr, prefixes []netip.Prefix) bool {
	a = a.Unmap()
	return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
}
