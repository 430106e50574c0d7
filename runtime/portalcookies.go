package runtime

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/ascii"
)

var portalCookieMark = []byte(table.CookieMark)

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
// whose name and value (before the first ";") hold table.CookieMark in
// any case, the nameless ones ("=cuegate_session=x", which a browser
// sends back as cuegate_session=x) included. They would plant a session
// of the upstream's choice. buf is scratch, returned for reuse.
func dropPortalSetCookies(h *fasthttp.ResponseHeader, buf []byte) []byte {
	for {
		name, ok := portalSetCookie(h)
		if !ok {
			return buf
		}
		buf = append(buf[:0], name...) // DelCookieBytes moves what name points into
		h.DelCookieBytes(buf)
	}
}

// portalSetCookie returns the name of the first cookie h sets that
// dropPortalSetCookies drops, or false when it sets none.
func portalSetCookie(h *fasthttp.ResponseHeader) ([]byte, bool) {
	for k, v := range h.Cookies() {
		if pair, _, _ := bytes.Cut(v, []byte(";")); ascii.ContainsFold(pair, portalCookieMark) {
			return k, true
		}
	}
	return nil, false
}
