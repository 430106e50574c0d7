package node

import (
	"fmt"
	"net"
	"net/http"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime"
)

// OperatorPrefix is where the admin listener serves the portal's operator
// endpoints (portal.OperatorHandler), which `cuegate developer --admin`
// calls.
const OperatorPrefix = "/portal"

// adminHandler is the admin listener's handler, bound to bound: the
// runtime's, and when pl is not nil the portal's series after the
// runtime's on /metrics and under /portal/ the portal's operator
// endpoints; all of it behind a runtime.AdminGuard with token ("" for
// none).
func adminHandler(gw *runtime.Gateway, pl *portalListener, bound, token string) *runtime.AdminGuard {
	var h http.Handler
	if pl == nil {
		h = gw.AdminHandler()
	} else {
		mux := http.NewServeMux()
		mux.Handle("/", gw.AdminHandler(pl.metrics))
		mux.Handle(OperatorPrefix+"/", http.StripPrefix(OperatorPrefix, pl.operator))
		h = mux
	}
	g := runtime.NewAdminGuard(h, bound)
	g.SetToken(token)
	return g
}

// adminToken reads t's admin_token, "" when it has none. A token that
// cannot be read, or is empty, is an error that names its reference; so
// is no token when listen (the admin listener's address, which a flag may
// have set apart from the table) is not loopback.
func adminToken(t *table.Table, configDir, listen string) (string, error) {
	s := t.Gateway.AdminToken
	if s == nil {
		if host, port, err := net.SplitHostPort(listen); err == nil && !table.IsLoopbackHost(host) {
			return "", fmt.Errorf("admin listener %q can be reached from other machines, and it adds and removes developers: set gateway.admin_token, or listen on loopback (127.0.0.1:%s)", listen, port)
		}
		return "", nil
	}
	token, err := s.Resolve(configDir)
	if err == nil && token == "" {
		err = fmt.Errorf("secret %s is empty", s)
	}
	if err != nil {
		return "", fmt.Errorf("gateway.admin_token: %w", err)
	}
	return token, nil
}
