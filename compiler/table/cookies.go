package table

// The names of the portal's cookies. Under TLS each carries the "__Host-"
// prefix (HostCookiePrefix). Browsers send a host's cookies to every port
// of it, so the gateway keeps these names from upstreams both ways (see
// PortalCookies): an upstream would otherwise get a developer's portal
// session, or plant one.
const (
	SessionCookie    = "cuegate_session"
	CSRFCookie       = "cuegate_csrf"
	DeviceCookie     = "cuegate_device"
	HostCookiePrefix = "__Host-"
)

// PortalCookies are the names the portal's cookies can have: each base
// name, bare and with HostCookiePrefix. Not to be modified.
var PortalCookies = []string{
	SessionCookie, CSRFCookie, DeviceCookie,
	HostCookiePrefix + SessionCookie, HostCookiePrefix + CSRFCookie, HostCookiePrefix + DeviceCookie,
}
