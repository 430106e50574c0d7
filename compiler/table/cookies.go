package table

// The names of the portal's cookies: CookieMark and a base name, and
// under TLS the "__Host-" prefix (HostCookiePrefix) before them. Browsers
// send a host's cookies to every port of it, so the gateway keeps the
// portal's cookies from upstreams: it removes PortalCookies from what it
// forwards, and drops an upstream's Set-Cookie with CookieMark in its
// name or value, which a browser could take for one of them.
const (
	CookieMark       = "cuegate_"
	SessionCookie    = CookieMark + "session"
	CSRFCookie       = CookieMark + "csrf"
	DeviceCookie     = CookieMark + "device"
	HostCookiePrefix = "__Host-"
)

// PortalCookies are the names the portal's cookies can have: each base
// name, bare and with HostCookiePrefix. Not to be modified.
var PortalCookies = portalCookies(SessionCookie, CSRFCookie, DeviceCookie)

func portalCookies(bases ...string) []string {
	var names []string
	for _, b := range bases {
		names = append(names, b, HostCookiePrefix+b)
	}
	return names
}
