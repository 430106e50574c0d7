// Package portal is cuegate's developer portal: developers sign up, browse
// the catalogue and register OAuth clients at the identity provider by
// Dynamic Client Registration. It serves server-rendered HTML pages and a
// JSON API under /portal/api/v1 that does the same things.
//
// # Clients for several catalogue entries
//
// A client registered for several catalogue entries is registered once, at
// one provider, and bound to one policy. So the entries chosen together
// must all name the same policy and have identical (merged) dcr settings,
// and those whose APIs check tokens must take them from one identity
// provider (one issuer) with a signing algorithm in common; otherwise the
// request is refused with 400 invalid_request naming the entries that
// differ. The client is bound to that shared policy, and its
// registration expires at created_at + the policy's key_expires_in (never
// when that is zero).
//
// # Security
//
// Passwords are hashed with bcrypt. Sessions live in Options.Sessions: in
// memory by default (a restart logs everybody out), or in Redis, shared by
// the portal's nodes and kept through their restarts (see package
// sessions). When the session store fails, nobody is logged in: log-in,
// sign-up and the pages and endpoints for developers answer 503, pages for
// anyone are shown as to a visitor. The session token travels in HttpOnly,
// SameSite=Lax cookies, Secure when Options.Secure, on a TLS connection,
// or when a trusted proxy (portal.trusted_proxies) forwards the request
// with X-Forwarded-Proto: https; then the cookies are named with the
// __Host- prefix and every answer carries Strict-Transport-Security.
// Every HTML form carries a CSRF token: the session's synchroniser token
// (a hash of the session token) once logged in, before that a
// double-submit cookie (a nonce and its HMAC under a per-Server key);
// tokens are compared in constant time. Over plain HTTP a sibling
// subdomain or anyone on the path can plant cookies, and so log a visitor
// in to an account of theirs; only TLS, with its __Host- cookies, rules
// that out (see Server.csrfToken).
// Client names, email addresses and redirect URIs are refused when they
// hold control, bidi or invisible characters (see refusedRune) or exceed
// their length; redirect URIs must be https, http on a loopback host or a
// private-use scheme (see checkRedirectURIs). JSON endpoints take only
// Content-Type: application/json bodies, which a cross-site form cannot
// send.
//
// Failed logins are limited per account and client address, per client
// address, and per account from addresses it was not used from lately, so
// that guessing a developer's password does not lock them out where they
// usually log in (see Server.login); sign-up attempts (each costs a bcrypt
// hash and a state-file write) are limited per client address. An IPv6
// client address counts as its /64 (addressKey). An attempt holds its
// place under the limits while it runs, so a parallel burst gets no more
// tries than a sequence; past a limit the portal answers 429 with
// Retry-After. The bcrypt work of log-ins and sign-ups is bounded as a
// whole, two hashes per GOMAXPROCS at once and a short queue; past it the
// portal answers 503 with Retry-After. A developer may hold at most
// MaxClientsPerDeveloper clients (expired ones count until deleted), since
// each registration spends the operator's initial access token at the
// provider; past it the portal answers 409 too_many_clients.
//
// Concurrency: a Server is safe for concurrent use; it reads the current
// table through Options.Table on every request, so a hot swap changes the
// catalogue at once.
package portal

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/dcr"
	"github.com/cuegate/cuegate/portal/sessions"
	"github.com/cuegate/cuegate/portal/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configures a Server.
type Options struct {
	// Table returns the current compiled table; required.
	Table func() *table.Table
	// ConfigDir is the configuration directory the tables are compiled
	// from: the relative secret files they name are read from it.
	ConfigDir string
	// Store holds developers and clients; required.
	Store *store.Store
	// Logger receives one line per registration, deletion and failure;
	// it never receives passwords, secrets or tokens.
	Logger zerolog.Logger
	// Secure marks cookies Secure: set it when the portal is served over TLS.
	Secure bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// HTTPClient makes the DCR and discovery calls; http.DefaultClient when nil.
	HTTPClient *http.Client
	// BcryptCost is the cost of new password hashes; bcrypt.DefaultCost when 0.
	BcryptCost int
	// Sessions keeps the log-in sessions; in memory (sessions.Memory on
	// Now) when nil.
	Sessions sessions.Store
}

// MaxClientsPerDeveloper is how many clients one developer may hold.
const MaxClientsPerDeveloper = 20

// Login limits: failures allowed per window, per account and address,
// per account from places it was not used from lately, and per address;
// how long a place stays known, and how many per account. Sign-up limits:
// attempts allowed per window and address. See Server.login.
const (
	loginFailuresPerPlace   = 5
	loginFailuresPerAccount = 10
	loginFailuresPerAddress = 20
	loginWindow             = 15 * time.Minute
	knownPlaceTTL           = 30 * 24 * time.Hour
	knownPlacesPerAccount   = 8
	signupsPerAddress       = 10
	signupWindow            = time.Hour
	defaultSessionTTL       = 12 * time.Hour
	hashQueuePerSlot        = 8               // bcrypt work that may wait, per slot (Server.hashing)
	hashWait                = 5 * time.Second // how long it may wait
	busyRetry               = time.Second     // the Retry-After of errBusy
	maxJSONBody             = 64 << 10
	maxEmailLen             = 254 // RFC 5321's limit on a forward path
)

// Server is the portal. Create it with New.
type Server struct {
	opts      Options
	discovery *dcr.Discovery
	pages     map[string]pageTemplate
	handler   http.Handler
	dummyHash []byte // compared against for unknown accounts, to equalise timing
	csrfKey   []byte // signs anonymous CSRF tokens; random per Server

	mu sync.Mutex
	// registering holds each developer's registrations in flight, which
	// take a place under MaxClientsPerDeveloper until they end.
	registering map[string]map[*reservation]struct{}

	byPlace   *windowLimiter // failed logins by account and address
	byAccount *windowLimiter // failed logins by account, from places not known for it
	byAddress *windowLimiter // failed logins by address
	places    *knownPlaces   // where each account was used lately
	signups   *windowLimiter // sign-up attempts by address
	// hashing bounds the bcrypt work of log-ins and sign-ups: two running
	// per GOMAXPROCS, hashQueuePerSlot times that waiting at most hashWait.
	hashing *workSlots
}

// New returns a portal server.
func New(opts Options) (*Server, error) {
	if opts.Table == nil || opts.Store == nil {
		return nil, errors.New("portal: Options.Table and Options.Store are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sessions == nil {
		opts.Sessions = sessions.NewMemory(opts.Now)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("cuegate-dummy-password"), opts.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:        opts,
		discovery:   dcr.NewDiscovery(opts.HTTPClient),
		pages:       pages,
		dummyHash:   dummy,
		csrfKey:     make([]byte, 32),
		registering: map[string]map[*reservation]struct{}{},
		byPlace:     newWindowLimiter(loginFailuresPerPlace, loginWindow),
		byAccount:   newWindowLimiter(loginFailuresPerAccount, loginWindow),
		byAddress:   newWindowLimiter(loginFailuresPerAddress, loginWindow),
		places:      newKnownPlaces(knownPlacesPerAccount, knownPlaceTTL),
		signups:     newWindowLimiter(signupsPerAddress, signupWindow),
	}
	slots := 2 * runtime.GOMAXPROCS(0)
	s.hashing = newWorkSlots(slots, hashQueuePerSlot*slots, hashWait)
	rand.Read(s.csrfKey) // never fails (crypto/rand panics rather than return an error)
	s.handler = s.securityHeaders(s.needTable(withSessionLookup(s.routes())))
	return s, nil
}

// needTable answers 503 until a table is loaded.
func (s *Server) needTable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Table() == nil {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "the portal is starting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Handler returns the portal's HTTP handler: HTML pages at /, the JSON API
// under /portal/api/v1.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.htmlRoutes(mux)
	s.apiRoutes(mux)
	return mux
}

// securityHeaders sets the headers every portal answer carries; under TLS
// (Server.secure) they include Strict-Transport-Security, so that browsers
// come back over https only.
func (s *Server) securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		if s.secure(r) {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// table returns the current table (needTable has checked it is loaded).
func (s *Server) table() *table.Table { return s.opts.Table() }

// apiError is a failure shown to the developer: an HTTP status and an
// OAuth-style error code and description.
type apiError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
	// Provider is set when the identity provider refused the request and
	// Code and Description are its own.
	Provider bool `json:"-"`
	// RetryAfter, when positive, is how long a limited client must wait;
	// the answer carries it as Retry-After (setRetryAfter).
	RetryAfter time.Duration `json:"-"`
}

// tooMany is a 429 that tells the client to wait for wait.
func tooMany(wait time.Duration, format string, args ...any) *apiError {
	e := errorf(http.StatusTooManyRequests, "too_many_attempts", format, args...)
	e.RetryAfter = wait
	return e
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// ---- accounts ----

var (
	signupsTotal      = metrics.NewCounter(`cuegate_portal_signups_total`)
	signupsLimited    = metrics.NewCounter(`cuegate_portal_signups_limited_total`)
	passwordsBusy     = metrics.NewCounter(`cuegate_portal_busy_total`)
	loginsOK          = metrics.NewCounter(`cuegate_portal_logins_total{result="ok"}`)
	loginsFailed      = metrics.NewCounter(`cuegate_portal_logins_total{result="failed"}`)
	loginsLimited     = metrics.NewCounter(`cuegate_portal_logins_total{result="limited"}`)
	registrationsOK   = metrics.NewCounter(`cuegate_portal_registrations_total{result="ok"}`)
	registrationsFail = metrics.NewCounter(`cuegate_portal_registrations_total{result="failed"}`)
	deletionsTotal    = metrics.NewCounter(`cuegate_portal_deletions_total`)
)

// normaliseEmail returns the canonical form of an address, or an error.
func normaliseEmail(email string) (string, *apiError) {
	email = strings.TrimSpace(email)
	if p := textProblem(email, maxEmailLen); p != "" {
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

// HashPassword returns the bcrypt hash of a new password after checking its
// length (8 characters to 72 bytes); a cost below bcrypt.MinCost means
// bcrypt.DefaultCost. A password of the wrong length gives
// an error matching ErrInvalid.
func HashPassword(password string, cost int) (string, error) {
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
// other attempt counts, whatever its outcome.
func (s *Server) signup(r *http.Request, email, password string) (string, *apiError) {
	t := s.table()
	if t.Portal.Signup != "open" {
		return "", errorf(http.StatusForbidden, "access_denied", "sign-up is by invitation only: ask the operator for an account")
	}
	addr := clientAddress(r, t.Portal.TrustedProxies)
	place := addressKey(addr)
	if wait := s.signups.reserve(place, s.opts.Now()); wait > 0 {
		signupsLimited.Inc()
		s.opts.Logger.Info().Str("address", addr).Msg("portal: sign-up limited")
		return "", tooMany(wait, "too many sign-ups from your address: try again in %s", wait.Round(time.Second))
	}
	if !s.hashing.acquire(r.Context()) {
		s.signups.release(place)
		return "", errBusy()
	}
	acc, err := s.accounts().Add(email, password)
	s.hashing.release()
	s.signups.commit(place)
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
	signupsTotal.Inc()
	s.opts.Logger.Info().Str("developer", acc.Email).Msg("portal: developer signed up")
	return acc.Email, nil
}

// login checks the credentials. Failed logins are limited, each within
// loginWindow, per account and client address (addressKey: an IPv6
// client's /64) to loginFailuresPerPlace, per client address across
// accounts to loginFailuresPerAddress, and per account from the addresses
// it was not used from within knownPlaceTTL (logged in or signed up from:
// knownPlaces) to loginFailuresPerAccount. Someone guessing a developer's
// password, for as long as they keep at it, locks the account only at
// their own address and at addresses new to the account: the developer
// keeps logging in from where they did lately, unless they share the
// guesser's address (a NAT, a /64). The limits and known places are kept
// in this Server's memory: each node of a portal counts its own, and a
// restart forgets them.
//
// Each attempt first reserves a failure slot under each limit, so that no
// more attempts than the limits allow run bcrypt at once or in a window;
// without a slot it gets a 429 with RetryAfter. It then takes a bcrypt
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
	addr := clientAddress(r, s.table().Portal.TrustedProxies)
	place := addressKey(addr)
	slots := []limitSlot{{s.byPlace, email + "\x00" + place}, {s.byAddress, place}}
	if !s.places.known(email, place, now) {
		slots = append(slots, limitSlot{s.byAccount, email})
	}
	if wait := reserveAll(slots, now); wait > 0 {
		loginsLimited.Inc()
		return "", tooMany(wait, "too many failed logins: try again in %s", wait.Round(time.Second))
	}
	if !s.hashing.acquire(r.Context()) {
		releaseAll(slots)
		return "", errBusy()
	}
	hash := s.dummyHash
	d, known := s.opts.Store.Developer(email)
	if known {
		hash = []byte(d.PasswordHash)
	}
	wrong := bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !known
	s.hashing.release()
	if wrong {
		commitAll(slots)
		loginsFailed.Inc()
		s.opts.Logger.Info().Str("developer", email).Str("address", addr).Msg("portal: failed login")
		return "", errWrongCredentials()
	}
	releaseAll(slots)
	s.byPlace.reset(slots[0].key)
	s.places.remember(email, place, now)
	loginsOK.Inc()
	return email, nil
}

// errBusy is the answer to a log-in or sign-up that finds the portal
// running and queueing as many bcrypt hashes as it lets (Server.hashing).
func errBusy() *apiError {
	passwordsBusy.Inc()
	e := errorf(http.StatusServiceUnavailable, "temporarily_unavailable", "the portal is busy checking other passwords: try again in a moment")
	e.RetryAfter = busyRetry
	return e
}

func errWrongCredentials() *apiError {
	return errorf(http.StatusUnauthorized, "invalid_grant", "wrong email or password")
}

// clientAddress is r's client address: the connection's peer, or, when
// that peer is one of the trusted proxies, the last address in
// X-Forwarded-For that is not a trusted proxy itself (the one the nearest
// trusted proxy saw). Entries that are not addresses end the walk there:
// what lies before them is the client's own to invent. An IPv4-mapped
// IPv6 address is given as IPv4; a peer that is not an IP address (a
// Unix socket) as it is.
func clientAddress(r *http.Request, trusted []netip.Prefix) string {
	addr, viaProxy := trustedPeer(r, trusted)
	if !viaProxy {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap().String()
		if !trustedProxy(hop, trusted) {
			break
		}
	}
	return addr
}

// addressKey is what the sign-up and login limits count the client address
// addr by: an IPv4 address itself, an IPv6 address its /64, since one
// subscriber or host commonly holds a whole /64 and could otherwise take a
// fresh address, and a fresh allowance, for every attempt.
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil:
		return addr
	case a.Unmap().Is4():
		return a.Unmap().String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// trustedPeer returns the address of r's peer (the connection's other
// end), IPv4-mapped IPv6 as IPv4, and whether it is one of the trusted
// proxies.
func trustedPeer(r *http.Request, trusted []netip.Prefix) (string, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host, false
	}
	return peer.Unmap().String(), trustedProxy(peer, trusted)
}

// trustedProxy reports whether a is in one of the prefixes.
func trustedProxy(a netip.Addr, prefixes []netip.Prefix) bool {
	a = a.Unmap()
	return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
}

// ---- catalogue and clients ----

// selection is a validated choice of catalogue entries for one client.
type selection struct {
	entries []*table.CatalogueEntry
	ids     []string
	policy  *table.Policy
	dcr     *table.DCR
	// signingAlg is the algorithm the client's access tokens are to be
	// signed with: one every chosen API accepts; "" when none checks tokens.
	signingAlg string
}

// choose checks that ids name catalogue entries that one client can cover:
// one policy and the same dcr settings for all (see the package comment),
// and one issuer and a token signing algorithm that all their APIs accept.
func choose(t *table.Table, ids []string) (*selection, *apiError) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 || ids[0] == "" && len(ids) == 1 {
		return nil, errorf(http.StatusBadRequest, "invalid_request", "choose at least one catalogue entry")
	}
	sel := &selection{ids: ids}
	for _, id := range ids {
		e := t.Portal.Catalogue[id]
		if e == nil {
			return nil, errorf(http.StatusBadRequest, "invalid_request", "unknown catalogue entry %q", clip(id, maxEcho))
		}
		if e.DCR == nil {
			return nil, errorf(http.StatusBadRequest, "invalid_request", "catalogue entry %q has no registration settings: ask the operator", id)
		}
		if first := sel.entries; len(first) > 0 {
			if e.Policy != first[0].Policy {
				return nil, errorf(http.StatusBadRequest, "invalid_request",
					"catalogue entries %q and %q grant different policies (%s, %s): register one client for each", first[0].ID, id, first[0].Policy, e.Policy)
			}
			if !reflect.DeepEqual(e.DCR, first[0].DCR) {
				return nil, errorf(http.StatusBadRequest, "invalid_request",
					"catalogue entries %q and %q register clients differently: register one client for each", first[0].ID, id)
			}
		}
		sel.entries = append(sel.entries, e)
	}
	sel.dcr = sel.entries[0].DCR
	alg, aerr := signingAlg(t, sel.entries)
	if aerr != nil {
		return nil, aerr
	}
	sel.signingAlg = alg
	sel.policy = t.Policies[sel.entries[0].Policy]
	if sel.policy == nil {
		return nil, errorf(http.StatusInternalServerError, "server_error", "policy %q is not configured", sel.entries[0].Policy)
	}
	return sel, nil
}

// signingAlg picks the algorithm for the access tokens of a client of
// entries: RS256 when all their APIs accept it (what providers sign with
// by default), else the first (in the compiler's sorted order) that all
// accept. It is "" when no API checks JWTs, and an error when the APIs
// take tokens from different IdPs (a client gets tokens from one, and the
// gateway binds it to one) or have no algorithm in common.
func signingAlg(t *table.Table, entries []*table.CatalogueEntry) (string, *apiError) {
	var allowed []string
	var first *table.CatalogueEntry // the first entry whose API checks JWTs
	var firstIss string             // the issuer of its IdP
	for _, e := range entries {
		api := t.APIs[e.API]
		if api == nil || api.JWT == nil {
			continue
		}
		if first == nil {
			first, firstIss, allowed = e, t.Issuer(api), slices.Clone(api.JWT.Algorithms)
			continue
		}
		if iss := t.Issuer(api); iss != firstIss {
			return "", errorf(http.StatusBadRequest, "invalid_request",
				"catalogue entries %q and %q take tokens from different identity providers (%s, %s): register one client for each", first.ID, e.ID, firstIss, iss)
		}
		allowed = slices.DeleteFunc(allowed, func(alg string) bool { return !slices.Contains(api.JWT.Algorithms, alg) })
		if len(allowed) == 0 {
			return "", errorf(http.StatusBadRequest, "invalid_request",
				"catalogue entries %q and %q accept tokens signed with different algorithms: register one client for each", first.ID, e.ID)
		}
	}
	switch {
	case first == nil:
		return "", nil
	case slices.Contains(allowed, "RS256"):
		return "RS256", nil
	}
	return allowed[0], nil
}

// redirectURISeparator is the configured separator of redirect URIs in
// one string, ";" when none is.
func redirectURISeparator(t *table.Table) string {
	if sep := t.Portal.RedirectURISeparator; sep != "" {
		return sep
	}
	return ";"
}

// splitRedirectURIs splits the form's redirect URIs on the configured
// separator, dropping blanks.
func splitRedirectURIs(s string, t *table.Table) []string {
	var out []string
	for part := range strings.SplitSeq(s, redirectURISeparator(t)) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// createClient registers a client at the provider and stores it. On any
// error nothing is stored, and a client the provider created is deleted
// there again.
func (s *Server) createClient(ctx context.Context, dev string, catalogue []string, name string, redirects []string) (store.Client, *apiError) {
	t := s.table()
	sel, aerr := choose(t, catalogue)
	if aerr != nil {
		return store.Client{}, aerr
	}
	if name, aerr = checkClientName(name); aerr != nil {
		return store.Client{}, aerr
	}
	if aerr = checkRedirectURIs(redirects); aerr != nil {
		return store.Client{}, aerr
	}
	res, aerr := s.reserveClient(dev)
	if aerr != nil {
		return store.Client{}, aerr
	}
	defer s.release(res)
	log := s.opts.Logger.With().Str("developer", dev).Strs("catalogue", sel.ids).Str("provider", sel.dcr.Provider).Logger()
	fail := func(aerr *apiError, err error) (store.Client, *apiError) {
		registrationsFail.Inc()
		log.Warn().Err(err).Msg("portal: registration failed")
		return store.Client{}, aerr
	}
	tokenEndpoint, err := s.discovery.TokenEndpoint(ctx, sel.dcr)
	if err != nil {
		return fail(errorf(http.StatusBadGateway, "server_error", "the identity provider's token endpoint could not be discovered"), err)
	}
	reg, err := dcr.New(sel.dcr, s.opts.ConfigDir, s.opts.HTTPClient)
	if err != nil {
		return fail(registrationError(err), err)
	}
	// A developer who goes away now must not leave a client at the
	// provider that is stored nowhere: the registration outlives the
	// request, bounded by the settings' timeout.
	r, err := reg.Register(context.WithoutCancel(ctx), dcr.Request{ClientName: name, RedirectURIs: redirects, AccessTokenSigningAlg: sel.signingAlg})
	if err != nil {
		return fail(registrationError(err), err)
	}
	now := s.opts.Now().UTC()
	c := store.Client{
		ClientID: r.ClientID, ClientSecret: r.ClientSecret, ClientName: name, RedirectURIs: redirects,
		Developer: dev, Catalogue: sel.ids, Policy: sel.policy.ID, Provider: sel.dcr.Provider,
		RegistrationClientURI: r.RegistrationClientURI, RegistrationAccessToken: r.RegistrationAccessToken,
		TokenEndpoint: tokenEndpoint, TokenEndpointAuthMethod: r.TokenEndpointAuthMethod, CreatedAt: now,
	}
	if d := sel.policy.KeyExpiresIn.D(); d > 0 {
		c.ExpiresAt = now.Add(d)
	}
	s.named(res, c.ClientID)
	if err := s.opts.Store.AddClient(c); err != nil {
		// Registered at the provider but not stored: undo it there.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(sel.dcr.CallTimeout(), time.Second))
		defer cancel()
		msg := "the client could not be stored; it was deleted at the provider again"
		if derr := reg.Delete(dctx, r); derr != nil {
			log.Error().Err(derr).Str("client_id", r.ClientID).Msg("portal: client registered but not stored, and not deleted at the provider")
			msg = fmt.Sprintf("the client could not be stored, and the identity provider did not delete it again: ask the operator to delete client %s there", r.ClientID)
		}
		if errors.Is(err, store.ErrClosed) {
			return fail(errorf(http.StatusServiceUnavailable, "temporarily_unavailable", "the portal is shutting down: %s; register again in a moment", msg), err)
		}
		return fail(errorf(http.StatusInternalServerError, "server_error", "%s", msg), err)
	}
	registrationsOK.Inc()
	log.Info().Str("client_id", c.ClientID).Str("policy", c.Policy).Msg("portal: client registered")
	return c, nil
}

// reservation is one registration in flight for a developer; clientID
// is set once the provider has answered, before the client is stored.
type reservation struct {
	dev      string
	clientID string
}

// reserveClient holds one of dev's MaxClientsPerDeveloper places for a
// registration in flight, so that concurrent registrations cannot pass the
// cap together; release gives it back when the registration ends. A place
// is counted once: a reservation whose client is already in the store
// (stored, not yet released) is not counted again.
func (s *Server) reserveClient(dev string) (*reservation, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := s.opts.Store.Clients(dev)
	held := len(stored)
	for r := range s.registering[dev] {
		if r.clientID == "" || !slices.ContainsFunc(stored, func(c store.Client) bool { return c.ClientID == r.clientID }) {
			held++
		}
	}
	if held >= MaxClientsPerDeveloper {
		return nil, errorf(http.StatusConflict, "too_many_clients",
			"you have reached the limit of %d clients per developer: delete one you no longer use, then register again", MaxClientsPerDeveloper)
	}
	r := &reservation{dev: dev}
	if s.registering[dev] == nil {
		s.registering[dev] = map[*reservation]struct{}{}
	}
	s.registering[dev][r] = struct{}{}
	return r, nil
}

// named records the client ID the provider gave r's registration.
func (s *Server) named(r *reservation, clientID string) {
	s.mu.Lock()
	r.clientID = clientID
	s.mu.Unlock()
}

func (s *Server) release(r *reservation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.registering[r.dev], r)
	if len(s.registering[r.dev]) == 0 {
		delete(s.registering, r.dev)
	}
}

// registrationError maps a driver error to what the developer sees: the
// provider's own error and description when it refused, and no detail of
// the settings when the operator must fix them (the log has it).
func registrationError(err error) *apiError {
	var pe *dcr.ProviderError
	switch {
	case errors.Is(err, dcr.ErrSettings):
		return errorf(http.StatusInternalServerError, "server_error", "the portal's registration settings are not usable: ask the operator")
	case errors.As(err, &pe):
		status := http.StatusBadRequest
		if pe.Status == http.StatusUnauthorized || pe.Status == http.StatusForbidden || pe.Status >= 500 {
			status = http.StatusBadGateway // the portal's credentials or the provider are at fault, not the request
		}
		return &apiError{Status: status, Code: pe.Code, Description: pe.Description, Provider: true}
	case errors.Is(err, dcr.ErrTimeout):
		return errorf(http.StatusGatewayTimeout, "temporarily_unavailable", "the identity provider did not answer in time")
	case errors.Is(err, dcr.ErrBadResponse):
		return errorf(http.StatusBadGateway, "server_error", "the identity provider's answer could not be used")
	default:
		return errorf(http.StatusBadGateway, "server_error", "the identity provider could not be reached")
	}
}

// CheckSecrets reads every initial access token that t's catalogue
// entries register clients with (a relative file from configDir), as a
// registration would, and returns one
// error for each reference (env:NAME or file:PATH) that cannot be read or
// is empty, naming the reference and the entries that use it — never a
// value. Such entries answer 500 to every registration until the operator
// fixes it, so a node calls this at start and after each reload and logs
// the errors as warnings. It returns nil for a nil table.
func CheckSecrets(t *table.Table, configDir string) []error {
	if t == nil {
		return nil
	}
	users := map[table.Secret][]string{} // reference → catalogue entry IDs
	for _, id := range slices.Sorted(maps.Keys(t.Portal.Catalogue)) {
		if e := t.Portal.Catalogue[id]; e.DCR != nil && e.DCR.InitialAccessToken != nil {
			ref := *e.DCR.InitialAccessToken
			users[ref] = append(users[ref], id)
		}
	}
	var errs []error
	for _, ref := range slices.SortedFunc(maps.Keys(users), func(a, b table.Secret) int { return strings.Compare(a.String(), b.String()) }) {
		if _, err := dcr.InitialAccessToken(&ref, configDir); err != nil {
			entries := "entry " + quoteAll(users[ref])
			if len(users[ref]) > 1 {
				entries = "entries " + quoteAll(users[ref])
			}
			errs = append(errs, fmt.Errorf("portal: catalogue %s cannot register clients: %w", entries, err))
		}
	}
	return errs
}

// quoteAll quotes ids and joins them with commas.
func quoteAll(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	return strings.Join(q, ", ")
}

// ownClient returns dev's client; another developer's is not found.
func (s *Server) ownClient(dev, id string) (store.Client, *apiError) {
	c, ok := s.opts.Store.Client(id)
	if !ok || c.Developer != dev {
		return store.Client{}, errorf(http.StatusNotFound, "not_found", "no client %q", clip(id, maxEcho))
	}
	return c, nil
}

// deleteClient removes dev's client locally (revoking it at the gateway at
// once), then at the provider, and returns the deleted client. A provider
// failure is logged and returned as a warning; the client stays deleted.
func (s *Server) deleteClient(ctx context.Context, dev, id string) (c store.Client, warning string, aerr *apiError) {
	if _, aerr := s.ownClient(dev, id); aerr != nil {
		return store.Client{}, "", aerr
	}
	c, err := s.opts.Store.DeleteClient(id, s.opts.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, "", errorf(http.StatusNotFound, "not_found", "no client %q", clip(id, maxEcho))
	}
	if err != nil {
		s.opts.Logger.Error().Err(err).Str("client_id", id).Msg("portal: deletion not stored")
		return store.Client{}, "", errorf(http.StatusInternalServerError, "server_error", "the deletion could not be stored")
	}
	deletionsTotal.Inc()
	log := s.opts.Logger.With().Str("developer", dev).Str("client_id", id).Logger()
	log.Info().Msg("portal: client deleted")
	settings := &table.DCR{Provider: c.Provider}
	for _, e := range c.Catalogue { // today's settings for the provider's own delete API
		if entry := s.table().Portal.Catalogue[e]; entry != nil && entry.DCR != nil && entry.DCR.Provider == c.Provider {
			settings = entry.DCR
			break
		}
	}
	reg, err := dcr.New(settings, s.opts.ConfigDir, s.opts.HTTPClient)
	if err == nil {
		err = reg.Delete(context.WithoutCancel(ctx), &dcr.Registration{ClientID: c.ClientID,
			RegistrationClientURI: c.RegistrationClientURI, RegistrationAccessToken: c.RegistrationAccessToken})
	}
	if err != nil {
		log.Warn().Err(err).Msg("portal: client deleted here but not at the provider")
		return c, "The client is revoked at the gateway, but the identity provider did not delete it: ask the operator to remove it there.", nil
	}
	return c, "", nil
}
