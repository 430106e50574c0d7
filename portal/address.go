package portal

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// clientAddress is r's client address: the connection's peer, or, when
// that peer is one of the trusted proxies, the last address in
// X-Forwarded-For that is not a trusted proxy itself (the one the nearest
// trusted proxy saw). Entries that are not addresses end the walk there:
// what lies before them is the client's own to invent. An IPv4-mapped
// IPv6 address is given as IPv4; a peer that is not an IP address (a
// Unix socket) as it is.
func clientAddress(r *http.Request, trusted []netip.Prefix) string {
	addr, viaProxy := trustedPeer(r, trusted)
	if !viaProxy {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap().String()
		if !trustedProxy(hop, trusted) {
			break
		}
	}
	return addr
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
