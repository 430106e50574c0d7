package runtime

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/ascii"
)

var (
	portalCookieMark = []byte(table.CookieMark)
	hdrCookie        = []byte("Cookie")
)

// passCookies sets the Cookie fields of h, a request header about to go
// upstream, to the client's as it sent them, without the portal's cookies
// (table.PortalCookies): a browser sends the portal's session to every
// port of its host, so an upstream would otherwise get the developer's
// portal session. fasthttp parses the Cookie fields once asked for the
// header's keys (checkHeader, stripHeaders) and would send them rebuilt,
// without the cookies it cannot parse and with quoted values unquoted;
// passCookies replaces them by the fields as received (nextField), less
// the portal's pairs, added as fields fasthttp does not parse; a field it
// did not read is not sent. buf is scratch, returned for reuse.
func passCookies(h *fasthttp.RequestHeader, buf []byte) []byte {
	v, rest, ok := nextField(h.RawHeaders(), hdrCookie)
	if !ok {
		if hasCookies(h) { // parsed from a field the scan did not read: none is sent
			h.DelBytes(hdrCookie)
		}
		return buf
	}
	// The received header is a buffer of its own, which neither DelBytes
	// nor AddBytesKV (which copies the value) touches.
	h.DelBytes(hdrCookie)
	wasDisabled := h.DisableSpecialHeader() // added as plain fields, not parsed
	for ; ok; v, rest, ok = nextField(rest, hdrCookie) {
		if buf = appendOtherCookies(buf[:0], v); len(buf) > 0 {
			h.AddBytesKV(hdrCookie, buf)
		}
	}
	if !wasDisabled {
		h.EnableSpecialHeader()
	}
	return buf
}

// hasCookies reports whether fasthttp holds a cookie of h.
func hasCookies(h *fasthttp.RequestHeader) bool {
	for range h.Cookies() {
		return true
	}
	return false
}

// nextField returns the value of the first field named name (in any
// case) of the header block raw, as received (after the request line,
// one field a line: checkHeader refused folded lines), white space
// trimmed, and the lines after it; ok is false when there is none.
func nextField(raw, name []byte) (value, rest []byte, ok bool) {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) > len(name) && line[len(name)] == ':' && ascii.EqualFold(line[:len(name)], name) {
			return bytes.Trim(line[len(name)+1:], " \t\r"), raw, true
		}
	}
	return nil, nil, false
}

// appendOtherCookies appends to dst the pairs of the Cookie field value
// v but the portal's, each as sent, separated by the ";" that separated
// them, without the white space before the first.
func appendOtherCookies(dst, v []byte) []byte {
	first := true
	for rest := v; rest != nil; {
		var pair, name []byte
		if pair, name, rest = nextCookie(rest); isPortalCookie(name) {
			continue
		}
		if first {
			pair = bytes.TrimLeft(pair, " \t")
		} else {
			dst = append(dst, ';')
		}
		first = false
		dst = append(dst, pair...)
	}
	return dst
}

// nextCookie splits the first pair off a Cookie field value: the pair as
// sent, its name (white space trimmed), and what follows its ";", nil
// after the last pair.
func nextCookie(v []byte) (pair, name, rest []byte) {
	pair, rest, _ = bytes.Cut(v, semicolon)
	name, _, _ = bytes.Cut(pair, equals)
	return pair, bytes.TrimSpace(name), rest
}

var (
	semicolon = []byte(";")
	equals    = []byte("=")
)

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
		if pair, _, _ := bytes.Cut(v, semicolon); ascii.ContainsFold(pair, portalCookieMark) {
			return k, true
		}
	}
	return nil, false
}
