package portal

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cuegate/cuegate/portal/sessions"
)

// deviceOf returns the device cookie w sets, nil for none.
func deviceOf(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == deviceCookie {
			return c
		}
	}
	return nil
}

// TestDeviceCookieOutlivesARestart: after a restart, which forgets the
// places an account logged in from, strangers who fill the account's
// limit for new places do not lock the developer out of a browser they
// logged in with; a browser without the cookie, or with one forged,
// another account's, or past knownPlaceTTL, counts as new.
func TestDeviceCookieOutlivesARestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const home = "198.51.100.1:1234"
	w := e.answerFrom(home, "", "/signup", credentials{"a@example.com", "correct horse"})
	own := deviceOf(w)
	if w.Code != http.StatusCreated || own == nil || !own.HttpOnly || own.MaxAge != int(knownPlaceTTL.Seconds()) {
		t.Fatalf("sign-up: %d, device cookie %+v", w.Code, own)
	}
	other := deviceOf(e.answerFrom(home, "", "/signup", credentials{"b@example.com", "correct horse"}))
	forged := *own
	forged.Value = own.Value[:len(own.Value)-1] + "A"
	if forged.Value == own.Value {
		forged.Value = own.Value[:len(own.Value)-1] + "B"
	}

	e = e.node(sessions.NewMemory(time.Now)) // a restart
	// Each guess comes from a /64 of its own.
	guess := func(round int) {
		for i := range loginFailuresPerAccount {
			e.callFrom(fmt.Sprintf("[2001:db8:%x:%x::1]:1234", round, i), "", "/login", credentials{"a@example.com", "guess"})
		}
	}
	guess(1)
	for _, tt := range []struct {
		name   string
		cookie *http.Cookie
		want   int
	}{
		{"none", nil, http.StatusTooManyRequests},
		{"forged", &forged, http.StatusTooManyRequests},
		{"another account's", other, http.StatusTooManyRequests},
		{"its own", own, http.StatusOK},
	} {
		var cookies []*http.Cookie
		if tt.cookie != nil {
			cookies = append(cookies, tt.cookie)
		}
		if w := e.answerFrom(home, "", "/login", credentials{"a@example.com", "correct horse"}, cookies...); w.Code != tt.want {
			t.Errorf("the developer at home with the device cookie %s, during the guessing: %d, want %d", tt.name, w.Code, tt.want)
		}
	}
	e.advance(knownPlaceTTL)
	guess(2)
	if w := e.answerFrom(home, "", "/login", credentials{"a@example.com", "correct horse"}, own); w.Code != http.StatusTooManyRequests {
		t.Errorf("a device cookie past knownPlaceTTL, during the guessing: %d, want 429", w.Code)
	}
}
