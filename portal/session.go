package portal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"
)

const (
	sessionCookie = "cuegate_session"
	csrfCookie    = "cuegate_csrf"
	csrfField     = "csrf_token"
)

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

// cookie makes a portal cookie for the response to r: Secure when the
// portal serves TLS, or when r came through a trusted proxy that says it
// was received over https (X-Forwarded-Proto), as a TLS-terminating proxy
// does.
func (s *Server) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	_, viaProxy := trustedPeer(r, s.table().Portal.TrustedProxies)
	secure := s.opts.Secure || (viaProxy && r.Header.Get("X-Forwarded-Proto") == "https")
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// session returns the request's live session, or nil.
func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[c.Value]
	if sess == nil {
		return nil
	}
	if s.opts.Now().After(sess.expires) {
		delete(s.sessions, c.Value)
		return nil
	}
	if _, ok := s.opts.Store.Developer(sess.email); !ok { // removed by the operator
		delete(s.sessions, c.Value)
		return nil
	}
	return sess
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, "", -1))
}

// csrfToken returns the token to embed in forms: the session's, or for an
// anonymous visitor the double-submit cookie's (set here when missing).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, sess *session) string {
	if sess != nil {
		return sess.csrf
	}
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, s.cookie(r, csrfCookie, tok, 0))
	return tok
}

// checkCSRF reports whether the form's token matches the session's, or
// for an anonymous visitor the double-submit cookie.
func (s *Server) checkCSRF(r *http.Request, sess *session) bool {
	got := r.PostFormValue(csrfField)
	want := ""
	if sess != nil {
		want = sess.csrf
	} else if c, err := r.Cookie(csrfCookie); err == nil {
		want = c.Value
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
