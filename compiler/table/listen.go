package table

import (
	"net/netip"
	"strings"
)

// IsLoopbackHost reports whether a listen address's host can be reached
// from this machine only: localhost or a loopback IP. An empty host, a
// wildcard, any other name or address can be reached from others.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
