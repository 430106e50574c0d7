package runtime

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
)

// portalCookieMark is in the name of every portal cookie.
var portalCookieMark = []byte(table.SessionCookie[:len("cuegate_")])

// dropPortalCookies removes the portal's cookies (table.PortalCookies)
// from h, a request header about to go upstream: a browser sends the
// portal's session to every port of its host, so an upstream would
// otherwise get the developer's portal session. A request without one
// keeps its Cookie header as the client wrote it.
func dropPortalCookies(h *fasthttp.RequestHeader) {
	for _, v := range h.PeekAll(fasthttp.HeaderCookie) {
		if bytes.Contains(v, portalCookieMark) {
			for _, name := range table.PortalCookies {
				h.DelCookie(name)
			}
			return
		}
	}
}

// dropPortalSetCookies removes from h, an answer's header, the cookies an
// upstream set under a portal cookie's name: a browser would take one for
// the portal's own, which would plant a session of the upstream's choice.
func dropPortalSetCookies(h *fasthttp.ResponseHeader) {
	for _, name := range table.PortalCookies {
		h.DelCookie(name)
	}
}
