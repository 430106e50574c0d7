package portal

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/internal/printable"
	"github.com/cuegate/cuegate/portal/store"
)

// normaliseEmail returns the canonical form of an address, or an error.
func normaliseEmail(email string) (string, *apiError) {
	email = strings.TrimSpace(email)
	if p := printable.Problem(email, maxEmailLen); p != "" {
		return "", errorf(http.StatusBadRequest, "invalid_request", "the email address %s", p)
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return "", errorf(http.StatusBadRequest, "invalid_request", "%q is not an email address", email)
	}
	return strings.ToLower(email), nil
}

func checkPassword(pw string) *apiError {
	switch {
	case len(pw) < 8:
		return errorf(http.StatusBadRequest, "invalid_request", "the password must have at least 8 characters")
	case len(pw) > 72:
		return errorf(http.StatusBadRequest, "invalid_request", "the password must have at most 72 bytes")
	}
	return nil
}

// hashPassword returns the bcrypt hash of a new password after checking its
// length (8 characters to 72 bytes); a cost below bcrypt.MinCost means
// bcrypt.DefaultCost. A password of the wrong length gives
// an error matching ErrInvalid.
func hashPassword(password string, cost int) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", inputError{err}
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}

// NormaliseEmail returns the canonical (lower-case) form of a developer's
// email address, or an error matching ErrInvalid when it is not one.
func NormaliseEmail(email string) (string, error) {
	e, err := normaliseEmail(email)
	if err != nil {
		return "", inputError{err}
	}
	return e, nil
}

// signup creates an account and makes the client address known for it
// (see login); a client address over its sign-up limit gets a 429 with
// RetryAfter, and an attempt that finds the portal busy hashing other
// passwords a 503 with RetryAfter (errBusy), which does not count. Every
// other attempt counts against its address, whatever its outcome; against
// portal.signups_per_hour only an account created, so that failed
// attempts cannot spend the portal's allowance. The portal-wide slot is
// taken last, once the attempt holds a hashing slot.
func (s *Server) signup(r *http.Request, email, password string) (string, *apiError) {
	t := s.table()
	if t.Portal.Signup != "open" {
		return "", errorf(http.StatusForbidden, "access_denied", "sign-up is by invitation only: ask the operator for an account")
	}
	addr := s.addressOf(r)
	place := addressKey(addr)
	slots := addressSlots(s.signups, s.signupsByNetwork, addr)
	now := s.opts.Now()
	if wait := reserveAll(slots, now); wait > 0 {
		s.metrics.signupsLimited.Inc()
		s.opts.Logger.Info().Str("address", addr).Msg("portal: sign-up limited")
		return "", tooMany(wait, "too many sign-ups from your address: try again in %s", wait.Round(time.Second))
	}
	if !s.hashing.acquire(r.Context()) {
		releaseAll(slots)
		return "", s.errBusy()
	}
	defer s.hashing.release()
	all, wait, first := reservePortalWide(s.signupsAll, t.Portal.SignupsPerHour, signupsPerHour, now)
	if wait > 0 {
		releaseAll(slots)
		s.metrics.signupsLimited.Inc()
		s.portalWideRefused("portal.signups_per_hour", addr, wait, first)
		return "", tooMany(wait, "this portal took as many sign-ups as it may in an hour: try again in %s", wait.Round(time.Second))
	}
	created := false
	defer func() { // also when Add panics: no slot is left pending
		commitAll(slots)
		if created {
			all.l.commit(all.key)
		} else {
			all.l.release(all.key)
		}
	}()
	acc, err := s.accounts().Add(email, password)
	created = err == nil
	var aerr *apiError
	switch {
	case errors.As(err, &aerr): // a bad email or password
		return "", aerr
	case errors.Is(err, store.ErrExists):
		return "", errorf(http.StatusConflict, "account_exists", "an account with this email exists: log in instead")
	case err != nil:
		s.opts.Logger.Error().Err(err).Msg("portal: sign-up not stored")
		return "", errorf(http.StatusInternalServerError, "server_error", "the account could not be stored")
	}
	s.places.remember(acc.Email, place, s.opts.Now())
	s.metrics.signups.Inc()
	s.opts.Logger.Info().Str("developer", acc.Email).Msg("portal: developer signed up")
	return acc.Email, nil
}

// login checks the credentials. Failed logins are limited, each within
// loginWindow, per account and client address (addressKey: an IPv6
// client's /64) to loginFailuresPerPlace, per client address across
// accounts to loginFailuresPerAddress, and per account from the addresses
// it was not used from within knownPlaceTTL (logged in or signed up from:
// knownPlaces), by a browser without the account's device cookie
// (knownDevice), to loginFailuresPerAccount. Someone guessing a
// developer's password, for as long as they keep at it, locks the account
// only at their own address and at addresses and browsers new to the
// account: the developer keeps logging in from where they did lately, and
// from their browser anywhere, unless they share the guesser's address (a
// NAT, a /64). The limits and known places are kept in this Server's
// memory: each node of a portal counts its own, and a restart forgets
// them; the device cookie outlives both.
//
// Every attempt that runs bcrypt, whatever its outcome, counts besides
// against loginsPerAddress per client address and loginWindow, so that
// an account's own password does not buy unbounded bcrypt work and
// sessions.
//
// Each attempt first reserves a slot under that limit and a failure slot
// under each other, so that no more attempts than the limits allow run
// bcrypt at once or in a window; without a slot it gets a 429 with
// RetryAfter. It then takes a bcrypt
// slot (Server.hashing); without one it gives its failure slots back and
// gets a 503 with RetryAfter (errBusy). A failure keeps its slots; a
// success gives them back, clears the failures of its account and
// address, and makes the address known for the account.
func (s *Server) login(r *http.Request, email, password string) (string, *apiError) {
	now := s.opts.Now()
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > maxEmailLen { // no such account; not worth a limiter entry
		return "", errWrongCredentials()
	}
	addr := s.addressOf(r)
	place := addressKey(addr)
	if wait := s.logins.reserve(place, now); wait > 0 {
		s.metrics.loginsLimited.Inc()
		return "", tooMany(wait, "too many logins from your address: try again in %s", wait.Round(time.Second))
	}
	d, known := s.opts.Store.Developer(email)
	if !known {
		d = store.Developer{Email: email, PasswordHash: string(s.dummyHash)} // the same work as for an account
	}
	device := s.knownDevice(r, d, now) && known
	slots := []limitSlot{{s.byPlace, email + "\x00" + place}, {s.byAddress, place}}
	if !s.places.known(email, place, now) && !device {
		slots = append(slots, limitSlot{s.byAccount, email})
	}
	if wait := reserveAll(slots, now); wait > 0 {
		s.logins.release(place)
		s.metrics.loginsLimited.Inc()
		return "", tooMany(wait, "too many failed logins: try again in %s", wait.Round(time.Second))
	}
	if !s.hashing.acquire(r.Context()) {
		s.logins.release(place)
		releaseAll(slots)
		return "", s.errBusy()
	}
	s.logins.commit(place)
	wrong := bcrypt.CompareHashAndPassword([]byte(d.PasswordHash), []byte(password)) != nil || !known
	s.hashing.release()
	if wrong {
		commitAll(slots)
		s.metrics.loginsFailed.Inc()
		s.opts.Logger.Info().Str("developer", email).Str("address", addr).Msg("portal: failed login")
		return "", errWrongCredentials()
	}
	releaseAll(slots)
	s.byPlace.reset(slots[0].key)
	s.places.remember(email, place, now)
	s.metrics.loginsOK.Inc()
	return email, nil
}

// errBusy is the answer to a log-in or sign-up that finds the portal
// running and queueing as many bcrypt hashes as it lets (Server.hashing).
func (s *Server) errBusy() *apiError {
	s.metrics.passwordsBusy.Inc()
	e := errorf(http.StatusServiceUnavailable, "temporarily_unavailable", "the portal is busy checking other passwords: try again in a moment")
	e.RetryAfter = busyRetry
	return e
}

func errWrongCredentials() *apiError {
	return errorf(http.StatusUnauthorized, "invalid_grant", "wrong email or password")
}
