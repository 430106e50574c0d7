package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/sessions"
	"github.com/cuegate/cuegate/portal/store"
)

const (
	sessionCookie = table.SessionCookie
	csrfCookie    = table.CSRFCookie
	csrfField     = "csrf_token"
)

// tokenLen is the length of a randomToken.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) sessionTTL() time.Duration {
	if ttl := s.table().Portal.SessionTTL.D(); ttl > 0 {
		return ttl
	}
	return defaultSessionTTL
}

// session is a request's logged-in developer: the stored record and the
// token it is stored under (the cookie's value), from which sessionCSRF
// derives the CSRF token of its forms. A handler that changes Flash or
// JustCreated stores the change with updateSession.
type session struct {
	sessions.Session
	token string
}

// sessionCSRF returns the CSRF token of the session stored under token:
// a hash of the token, so that the store keeps no secret of its own and
// every portal node sharing the store agrees on it, while the token
// cannot be recovered from a page that shows it.
func sessionCSRF(token string) string {
	sum := sha256.Sum256([]byte("cuegate portal session csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sealed reports whether rec, stored under token, carries its seal for
// the account d (sessionSeal).
func sealed(token string, rec sessions.Session, d store.Developer) bool {
	return validMAC(d, rec.Seal, sessionSeal(token, rec, d))
}

// sessionSeal returns the seal of rec, a session of the account d stored
// under token: accountMAC of the token and the expiry, as RFC 3339 text
// to the nanosecond (which, unlike a count of nanoseconds, does not
// wrap). A session store shared with other nodes (Redis) can thus neither
// make a session nor extend one.
func sessionSeal(token string, rec sessions.Session, d store.Developer) string {
	return accountMAC(d, "session", token, rec.Expires.UTC().Format(time.RFC3339Nano))
}

// startSession logs email in with a flash for the next page ("" for
// none), sets the session cookie and the device cookie (setDevice) and
// makes the new session the request's. An error is the session store's:
// nobody is logged in and no cookie is set.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, email, flash string) error {
	token, ttl := randomToken(), s.sessionTTL()
	d, _ := s.opts.Store.Developer(email) // gone meanwhile: the session is refused at its first use
	now := s.opts.Now()
	rec := sessions.Session{Email: email, Account: d.Created, Expires: now.Add(ttl), Flash: flash}
	rec.Seal = sessionSeal(token, rec, d)
	if err := s.opts.Sessions.Create(r.Context(), token, rec, ttl); err != nil {
		s.opts.Logger.Error().Err(err).Str("developer", email).Msg("portal: session not stored")
		return err
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, token, int(ttl.Seconds())))
	s.setDevice(w, r, d, now)
	if l := requestLookup(r); l != nil {
		*l = sessionLookup{done: true, sess: &session{Session: rec, token: token}}
	}
	return nil
}

// lookupKey is the request context key of the request's sessionLookup.
type lookupKey struct{}

// sessionLookup is a request's session, looked up once (done) by
// Server.session: every check of the request sees the same session, and
// a session store that fails costs one timeout, not one per check. It
// belongs to the request's goroutine.
type sessionLookup struct {
	done bool
	sess *session
	err  error
}

// withSessionLookup gives each request a sessionLookup.
func withSessionLookup(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), lookupKey{}, &sessionLookup{})))
	})
}

// requestLookup returns r's sessionLookup, nil outside withSessionLookup.
func requestLookup(r *http.Request) *sessionLookup {
	l, _ := r.Context().Value(lookupKey{}).(*sessionLookup)
	return l
}

// secure reports whether r reached the portal over TLS: the portal
// serves TLS (Options.Secure, or r came over a TLS connection), or r came
// through a trusted proxy that says it was received over https
// (X-Forwarded-Proto), as a TLS-terminating proxy does. It holds before
// a table is loaded, without the trusted proxies.
func (s *Server) secure(r *http.Request) bool {
	if s.opts.Secure || r.TLS != nil {
		return true
	}
	t := s.opts.Table()
	if t == nil {
		return false
	}
	_, viaProxy := trustedPeer(r, t.Portal.TrustedProxies)
	return viaProxy && r.Header.Get("X-Forwarded-Proto") == "https"
}

// cookieName is the name of the portal's cookie base, secure telling
// whether the request came over TLS (Server.secure): then it carries the
// __Host- prefix, with which a browser takes the cookie only from this
// host over https (Secure, Path=/, no Domain), so that a sibling
// subdomain cannot plant one. Every cookie the portal sets or reads goes
// through it.
func cookieName(base string, secure bool) string {
	if secure {
		return table.HostCookiePrefix + base
	}
	return base
}

// cookie makes the portal cookie base for the response to r: HttpOnly,
// SameSite=Lax, Path=/, no Domain, and under TLS Secure and named with
// the __Host- prefix.
func (s *Server) cookie(r *http.Request, base, value string, maxAge int) *http.Cookie {
	secure := s.secure(r)
	return &http.Cookie{Name: cookieName(base, secure), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// requestCookie returns the value of r's portal cookie base ("" when none).
func (s *Server) requestCookie(r *http.Request, base string) string {
	c, err := r.Cookie(cookieName(base, s.secure(r)))
	if err != nil {
		return ""
	}
	return c.Value
}

// session returns the request's live session, nil when there is none.
// An error means the session store could not tell: the request has no
// session then, and a page or endpoint for developers only answers
// errSessionStore; a page for anyone is shown as to a visitor. A session
// is live while the store keeps it, its Expires has not passed by the
// portal's clock and is within session_ttl of it (a shortened session_ttl
// ends the longer sessions), it carries its seal, and the account it was
// started for still exists (not removed by the operator, nor created
// again since); one that is not is deleted.
func (s *Server) session(r *http.Request) (*session, error) {
	l := requestLookup(r)
	if l == nil {
		l = &sessionLookup{}
	}
	if !l.done {
		l.sess, l.err = s.lookupSession(r)
		l.done = true
	}
	return l.sess, l.err
}

func (s *Server) lookupSession(r *http.Request) (*session, error) {
	token := s.requestCookie(r, sessionCookie)
	if len(token) != tokenLen { // none, or not one the portal made: not worth a call
		return nil, nil
	}
	rec, ok, err := s.opts.Sessions.Get(r.Context(), token)
	if err != nil {
		s.opts.Logger.Error().Err(err).Msg("portal: session store unavailable")
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	d, known := s.opts.Store.Developer(rec.Email)
	now := s.opts.Now()
	if now.After(rec.Expires) || rec.Expires.After(now.Add(s.sessionTTL())) ||
		!known || !d.Created.Equal(rec.Account) || !sealed(token, rec, d) {
		if err := s.opts.Sessions.Delete(r.Context(), token); err != nil {
			s.opts.Logger.Warn().Err(err).Msg("portal: ended session not deleted")
		}
		return nil, nil
	}
	return &session{Session: rec, token: token}, nil
}

// updateSession stores sess's Flash and JustCreated. A failure is logged
// and otherwise ignored: they are hints for the next page, and the
// session stays as it was.
func (s *Server) updateSession(r *http.Request, sess *session) {
	if err := s.opts.Sessions.Update(r.Context(), sess.token, sess.Session); err != nil {
		s.opts.Logger.Warn().Err(err).Str("developer", sess.Email).Msg("portal: session not updated")
	}
}

// endSession logs the request's developer out: deletes the session and
// the cookie. An error is the session store's: the session lives on, and
// the cookie is kept so that logging out can be tried again.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	if token := s.requestCookie(r, sessionCookie); len(token) == tokenLen {
		if err := s.opts.Sessions.Delete(r.Context(), token); err != nil {
			s.opts.Logger.Error().Err(err).Msg("portal: session not deleted at logout")
			return err
		}
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, "", -1))
	if l := requestLookup(r); l != nil {
		*l = sessionLookup{done: true}
	}
	return nil
}

// errSessionStore is the answer when the session store fails: the portal
// cannot tell who is logged in, so nobody is. signedUp tells that the
// request created an account all the same.
func errSessionStore(signedUp bool) *apiError {
	e := errorf(http.StatusServiceUnavailable, "temporarily_unavailable", "the portal cannot reach its session store; try again shortly")
	if signedUp {
		e.Description = "your account is created, but the portal cannot reach its session store to log you in; log in again shortly"
	}
	e.RetryAfter = sessionStoreRetry
	return e
}

// sessionStoreRetry is the Retry-After of errSessionStore.
const sessionStoreRetry = 5 * time.Second

// sessionStoreHTML answers a page with errSessionStore(signedUp).
func (s *Server) sessionStoreHTML(w http.ResponseWriter, r *http.Request, signedUp bool) {
	aerr := errSessionStore(signedUp)
	setRetryAfter(w, aerr.RetryAfter)
	s.message(w, r, aerr.Status, "Try again shortly", sentence(aerr.Description))
}

// newCSRFToken returns a fresh anonymous CSRF token.
func (s *Server) newCSRFToken() string {
	nonce := randomToken()
	return nonce + "." + s.csrfMAC(nonce)
}

func (s *Server) csrfMAC(nonce string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("cuegate portal csrf\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRFToken reports whether tok is an anonymous CSRF token this
// Server made.
func (s *Server) validCSRFToken(tok string) bool {
	nonce, mac, ok := strings.Cut(tok, ".")
	return ok && len(nonce) == tokenLen && hmac.Equal([]byte(mac), []byte(s.csrfMAC(nonce)))
}

// csrfToken returns the token to embed in forms: the session's, or for an
// anonymous visitor (sign-up and login forms) the double-submit cookie's,
// set here when it is missing or not one this Server made.
//
// The anonymous token is a random nonce and its HMAC-SHA256 under the
// Server's own key, "NONCE.MAC", as the cookie's value and the form's
// field. The MAC proves that this Server made the token, not that it made
// it for this browser: a value the Server did not make is refused and
// replaced, but anybody can fetch a valid token. What keeps another site
// from planting a token it knows in a visitor's browser, and then posting
// a login form with it (login CSRF: the visitor logged in to the
// attacker's account), is the cookie's name: under TLS (Server.secure)
// every portal cookie carries the __Host- prefix, which a browser takes
// only from this host over https, so neither a sibling subdomain nor
// plain HTTP can set it. Over plain HTTP nothing stops that: a sibling
// subdomain, or anyone on the network path, can plant a valid token, or a
// session cookie of their own account. Serve the portal over TLS.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, sess *session) string {
	if sess != nil {
		return sessionCSRF(sess.token)
	}
	if tok := s.requestCookie(r, csrfCookie); s.validCSRFToken(tok) {
		return tok
	}
	tok := s.newCSRFToken()
	http.SetCookie(w, s.cookie(r, csrfCookie, tok, 0))
	return tok
}

// checkCSRF reports whether the form's token matches the session's, or
// for an anonymous visitor the double-submit cookie, which must be one
// this Server made. Tokens are compared in constant time.
func (s *Server) checkCSRF(r *http.Request, sess *session) bool {
	got := r.PostFormValue(csrfField)
	want := ""
	if sess != nil {
		want = sessionCSRF(sess.token)
	} else if tok := s.requestCookie(r, csrfCookie); s.validCSRFToken(tok) {
		want = tok
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
