package portal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

const (
	sessionCookie = "cuegate_session"
	csrfCookie    = "cuegate_csrf"
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

// startSession logs email in, sets the session cookie and returns the new
// session.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, email string) *session {
	id, ttl := randomToken(), s.sessionTTL()
	now := s.opts.Now()
	s.mu.Lock()
	for k, v := range s.sessions { // drop expired sessions while here
		if now.After(v.expires) {
			delete(s.sessions, k)
		}
	}
	sess := &session{email: email, csrf: randomToken(), expires: now.Add(ttl)}
	s.sessions[id] = sess
	s.mu.Unlock()
	http.SetCookie(w, s.cookie(r, sessionCookie, id, int(ttl.Seconds())))
	return sess
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

// cookieName is the name of the portal's cookie base for r: under TLS it
// carries the __Host- prefix, with which a browser takes the cookie only
// from this host over https (Secure, Path=/, no Domain), so that a sibling
// subdomain cannot plant one.
func (s *Server) cookieName(r *http.Request, base string) string {
	if s.secure(r) {
		return "__Host-" + base
	}
	return base
}

// cookie makes the portal cookie base for the response to r: HttpOnly,
// SameSite=Lax, Path=/, no Domain, and under TLS Secure and named with
// the __Host- prefix.
func (s *Server) cookie(r *http.Request, base, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: s.cookieName(r, base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode}
}

// requestCookie returns the value of r's portal cookie base ("" when none).
func (s *Server) requestCookie(r *http.Request, base string) string {
	c, err := r.Cookie(s.cookieName(r, base))
	if err != nil {
		return ""
	}
	return c.Value
}

// session returns the request's live session, or nil.
func (s *Server) session(r *http.Request) *session {
	id := s.requestCookie(r, sessionCookie)
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[id]
	if sess == nil {
		return nil
	}
	if s.opts.Now().After(sess.expires) {
		delete(s.sessions, id)
		return nil
	}
	if _, ok := s.opts.Store.Developer(sess.email); !ok { // removed by the operator
		delete(s.sessions, id)
		return nil
	}
	return sess
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	if id := s.requestCookie(r, sessionCookie); id != "" {
		s.mu.Lock()
		delete(s.sessions, id)
		s.mu.Unlock()
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, "", -1))
}

// The anonymous CSRF token (sign-up and login forms) is a double-submit
// cookie bound to the server: a random nonce and its HMAC-SHA256 under the
// Server's own key, "NONCE.MAC", as the cookie's value and the form's
// field. A value the Server did not make, such as one planted through a
// sibling subdomain, does not validate and is replaced.

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
// anonymous visitor the double-submit cookie's (set here when it is
// missing or not one this Server made).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, sess *session) string {
	if sess != nil {
		return sess.csrf
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
		want = sess.csrf
	} else if tok := s.requestCookie(r, csrfCookie); s.validCSRFToken(tok) {
		want = tok
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
