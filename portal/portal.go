package portal

import (
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/dcr"
	"github.com/cuegate/cuegate/portal/sessions"
	"github.com/cuegate/cuegate/portal/store"
	"github.com/cuegate/cuegate/runtime/limit"
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
	// Usage reads the counts of the limiter the gateway enforces, for a
	// client's usage; a client shows none when nil.
	Usage limit.Peeker
	// Revoker tells the gateway's other nodes of a deletion before it is
	// made; nil on a single node.
	Revoker Revoker
}

// MaxClientsPerDeveloper is how many clients one developer may hold.
const MaxClientsPerDeveloper = 20

// The portal's limits and defaults. Login: failures allowed per window,
// per account and address, per account from places it was not used from
// lately, and per address; attempts per window and address; how long a
// place stays known, and how many per account (see Server.login).
// Sign-up: attempts per window and address, and per IPv6 /48.
// Registrations, client changes and RFC 7592 reads: per account, address
// and /48 as each says; portal-wide, the caps' defaults for a table that
// sets none. Then the session and tombstone defaults, the bcrypt queue
// and the bounds of input.
const (
	loginFailuresPerPlace     = 5
	loginFailuresPerAccount   = 10
	loginFailuresPerAddress   = 20
	loginsPerAddress          = 100 // log-ins run, failed or not
	loginWindow               = 15 * time.Minute
	knownPlaceTTL             = 30 * 24 * time.Hour
	knownPlacesPerAccount     = 8
	signupsPerAddress         = 10
	signupsPerNetwork         = 4 * signupsPerAddress // per IPv6 /48
	signupWindow              = time.Hour
	registrationsPerAccount   = 30                        // client registrations that call the provider, per registrationWindow and account
	registrationsPerPlace     = 120                       // and per client address
	registrationsPerNetwork   = 4 * registrationsPerPlace // and per IPv6 /48
	registrationWindow        = time.Hour
	registrationsPerHour      = 1000 // portal-wide, when the table sets none (portal.registrations_per_hour)
	signupsPerHour            = 200  // portal-wide, likewise (portal.signups_per_hour)
	updatesPerAccount         = 60   // client changes that call the provider, per registrationWindow and account
	updatesPerPlace           = 240  // and per client address
	readsPerAccount           = 120  // RFC 7592 reads a client page makes, per registrationWindow and account
	defaultSessionTTL         = 12 * time.Hour
	defaultTombstoneRetention = 48 * time.Hour
	hashQueuePerSlot          = 8               // bcrypt work that may wait, per slot (Server.hashing)
	hashWait                  = 5 * time.Second // how long it may wait
	busyRetry                 = time.Second     // the Retry-After of errBusy
	maxJSONBody               = 64 << 10
	maxEmailLen               = 254 // RFC 5321's limit on a forward path
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
	// updating holds the clients with an update in flight (beginUpdate).
	updating map[string]bool
	// changes counts the client changes in flight (beginChange); closing
	// is set once Drain was called, after which none begins, so that no
	// Add follows Drain's Wait.
	changes sync.WaitGroup
	closing bool
	// providerReads holds what the provider said of clients lately.
	providerReads providerReads

	byPlace   *windowLimiter // failed logins by account and address
	byAccount *windowLimiter // failed logins by account, from places not known for it
	byAddress *windowLimiter // failed logins by address
	logins    *windowLimiter // logins by address, failed or not
	places    *knownPlaces   // where each account was used lately
	// signups and signupsByNetwork bound sign-up attempts by address and
	// by an IPv6 address's /48 (networkKey).
	signups, signupsByNetwork *windowLimiter
	// signupsAll and registrationsAll bound sign-up attempts and
	// registrations portal-wide, in one window each (portalWide), to
	// portal.signups_per_hour and portal.registrations_per_hour.
	signupsAll, registrationsAll *windowLimiter
	// registrations, registrationsByPlace and registrationsByNetwork bound
	// the registrations that call the provider, by account, by client
	// address and by an IPv6 address's /48: each spends the operator's
	// initial access token, and each client deleted leaves a tombstone.
	registrations, registrationsByPlace, registrationsByNetwork *windowLimiter
	// updates and updatesByPlace bound the client changes (renames,
	// redirect URIs, secret rotations) that call the provider likewise:
	// each is an RFC 7592 call, some with the operator's API token.
	updates, updatesByPlace *windowLimiter
	// reads bounds the RFC 7592 reads client pages make, per account;
	// past it a page shows the client unchecked.
	reads *windowLimiter
	// hashing bounds the bcrypt work of log-ins and sign-ups: two running
	// per GOMAXPROCS, hashQueuePerSlot times that waiting at most hashWait.
	hashing *workSlots
	metrics portalMetrics
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
		opts:                   opts,
		discovery:              dcr.NewDiscovery(opts.HTTPClient),
		pages:                  pages,
		dummyHash:              dummy,
		csrfKey:                make([]byte, 32),
		registering:            map[string]map[*reservation]struct{}{},
		updating:               map[string]bool{},
		byPlace:                newWindowLimiter(loginFailuresPerPlace, loginWindow),
		byAccount:              newWindowLimiter(loginFailuresPerAccount, loginWindow),
		byAddress:              newWindowLimiter(loginFailuresPerAddress, loginWindow),
		logins:                 newWindowLimiter(loginsPerAddress, loginWindow),
		places:                 newKnownPlaces(knownPlacesPerAccount, knownPlaceTTL),
		signups:                newWindowLimiter(signupsPerAddress, signupWindow),
		signupsByNetwork:       newWindowLimiter(signupsPerNetwork, signupWindow),
		registrations:          newWindowLimiter(registrationsPerAccount, registrationWindow),
		registrationsByPlace:   newWindowLimiter(registrationsPerPlace, registrationWindow),
		registrationsByNetwork: newWindowLimiter(registrationsPerNetwork, registrationWindow),
		updates:                newWindowLimiter(updatesPerAccount, registrationWindow),
		updatesByPlace:         newWindowLimiter(updatesPerPlace, registrationWindow),
		reads:                  newWindowLimiter(readsPerAccount, registrationWindow),
		signupsAll:             newWindowLimiter(signupsPerHour, time.Hour),
		registrationsAll:       newWindowLimiter(registrationsPerHour, time.Hour),
		metrics:                newPortalMetrics(),
	}
	slots := 2 * runtime.GOMAXPROCS(0)
	s.hashing = newWorkSlots(slots, hashQueuePerSlot*slots, hashWait)
	rand.Read(s.csrfKey) // never fails (crypto/rand panics rather than return an error)
	s.handler = s.securityHeaders(s.needTable(s.sameOrigin(withSessionLookup(s.routes()))))
	return s, nil
}

// sameOrigin refuses (403) a state-changing request a browser sends from
// another origin, as net/http.CrossOriginProtection tells (Sec-Fetch-Site,
// or an Origin whose host is not the one the client addressed: the Host,
// or a trusted proxy's X-Forwarded-Host, see addressedAs): the CSRF
// tokens alone do not stop a page on another port of the same host, which
// can plant the cookie of an anonymous token pair, from posting the login
// form. The check compares hosts and ports only, so an Origin is also held
// to the scheme the portal is served over (sameScheme). A request with
// neither header (not a browser's) passes.
func (s *Server) sameOrigin(h http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Check(s.addressedAs(r)) == nil && s.sameScheme(r) {
			h.ServeHTTP(w, r)
			return
		}
		const text = "This request came from another site or origin: the portal accepts changes only from its own pages."
		if strings.HasPrefix(r.URL.Path, apiPrefix+"/") {
			writeError(w, errorf(http.StatusForbidden, "cross_origin", "%s", text))
			return
		}
		s.message(w, r, http.StatusForbidden, "Refused", text)
	})
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
		hd.Set("Content-Security-Policy", contentSecurityPolicy(""))
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy is the portal's policy: nothing but its own
// styles and images, and, on a page (nonce not ""), its own scripts
// carrying the page's nonce.
func contentSecurityPolicy(nonce string) string {
	script := ""
	if nonce != "" {
		script = "script-src 'nonce-" + nonce + "'; connect-src 'none'; "
	}
	return "default-src 'none'; " + script + "style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
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
