package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/store"
)

// deviceCookie names the cookie that marks a browser an account logged in
// or signed up from: a login carrying it counts as from a known place
// (Server.login), wherever the browser is and after a restart, so that a
// stranger who fills the account's limit for new places does not lock
// the developer out of their own browser. It is kept through logout.
const deviceCookie = table.DeviceCookie

// accountMAC returns an HMAC of purpose and fields keyed by d's password
// hash, which only the state file holds: whoever can read or write what
// the portal keeps elsewhere (a session store, a browser) cannot make one
// for the account, nor keep one past the account's removal.
func accountMAC(d store.Developer, purpose string, fields ...string) string {
	m := hmac.New(sha256.New, []byte(d.PasswordHash))
	fmt.Fprintf(m, "cuegate portal %s\x00%s\x00%d", purpose, d.Email, d.Created.UnixNano())
	for _, f := range fields {
		fmt.Fprintf(m, "\x00%s", f)
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validMAC reports whether mac, as received, is want, the accountMAC of
// d's it should be, for an account with a password hash: without one,
// anybody could compute it.
func validMAC(d store.Developer, mac, want string) bool {
	return d.PasswordHash != "" && hmac.Equal([]byte(mac), []byte(want))
}

// setDevice marks r's browser as one d logged in from at now, for
// knownPlaceTTL: the cookie holds the time and accountMAC of it.
func (s *Server) setDevice(w http.ResponseWriter, r *http.Request, d store.Developer, now time.Time) {
	at := strconv.FormatInt(now.Unix(), 10)
	http.SetCookie(w, s.cookie(r, deviceCookie, at+"."+accountMAC(d, "device", at), int(knownPlaceTTL.Seconds())))
}

// knownDevice reports whether r carries the device cookie of d's account
// set within knownPlaceTTL before now.
func (s *Server) knownDevice(r *http.Request, d store.Developer, now time.Time) bool {
	at, mac, ok := strings.Cut(s.requestCookie(r, deviceCookie), ".")
	if !ok || len(at) > 19 {
		return false
	}
	unix, err := strconv.ParseInt(at, 10, 64)
	return err == nil && now.Sub(time.Unix(unix, 0)) < knownPlaceTTL && validMAC(d, mac, accountMAC(d, "device", at))
}
