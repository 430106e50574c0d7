package runtime

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/ascii"
)

// portalCookieMark is in the name of every portal cookie.
var portalCookieMark = []byte(table.SessionCookie[:len("cuegate_")])

// dropPortalCookies removes the portal's cookies (table.PortalCookies)
// from h, a request header about to go upstream: a browser sends the
// portal's session to every port of its host, so an upstream would
// otherwise get the developer's portal session. The other cookies pass.
func dropPortalCookies(h *fasthttp.RequestHeader) {
	found := false
	for k := range h.Cookies() {
		if found = isPortalCookie(k); found {
			break
		}
	}
	if found {
		for _, name := range table.PortalCookies {
			h.DelCookie(name)
		}
	}
}

// isPortalCookie reports whether name is one of table.PortalCookies.
func isPortalCookie(name []byte) bool {
	for _, n := range table.PortalCookies {
		if string(name) == n {
			return true
		}
	}
	return false
}

// dropPortalSetCookies removes from h, an answer's header, the cookies an
// upstream set that a browser could take for one of the portal's: those
// whose name and value (before the first ";") hold a portal cookie's
// name in any case, the nameless ones ("=cuegate_session=x", which a
// browser sends back as cuegate_session=x) included. They would plant a
// session of the upstream's choice. buf is scratch, returned for reuse.
func dropPortalSetCookies(h *fasthttp.ResponseHeader, buf []byte) []byte {
	for {
		found := false
		for k, v := range h.Cookies() {
			if pair, _, _ := bytes.Cut(v, []byte(";")); ascii.ContainsFold(pair, portalCookieMark) {
				buf, found = append(buf[:0], k...), true
				break
			}
		}
		if !found {
			return buf
		}
		h.DelCookieBytes(buf)
	}
}
