package portal

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cuegate/cuegate/portal/store"
)

// ErrInvalid is matched (errors.Is) by the error for an email address or
// a password that the portal does not accept.
var ErrInvalid = errors.New("portal: invalid email address or password")

// inputError is an email address or password that is not acceptable. It
// matches ErrInvalid and unwraps to the answer the portal gives for it.
type inputError struct{ *apiError }

func (e inputError) Error() string        { return "portal: " + e.Description }
func (e inputError) Is(target error) bool { return target == ErrInvalid }
func (e inputError) Unwrap() error        { return e.apiError }

// Accounts manages developer accounts for the operator. The operator
// handler and `cuegate developer` both go through it, so an account is
// checked, hashed and removed alike whichever way the operator takes.
//
// Concurrency: safe for concurrent use; the Store serialises the writes.
type Accounts struct {
	Store *store.Store
	// BcryptCost is the cost of new password hashes; bcrypt.DefaultCost when 0.
	BcryptCost int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Revoker tells the gateway's other nodes of a removal's revocations
	// before they are made; nil on a single node, or with no node running.
	Revoker Revoker
}

// Account is a developer account as the operator sees it.
type Account struct {
	Email   string    `json:"email"`
	Created time.Time `json:"created"`
	// Clients is how many OAuth clients the developer has registered.
	Clients int `json:"clients"`
}

// RevokedClient is a client revoked with its developer's account. Its
// registration at the identity provider remains.
type RevokedClient struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	Provider   string `json:"provider"`
}

// Removal is the outcome of removing an account.
type Removal struct {
	Email   string          `json:"email"`
	Revoked []RevokedClient `json:"revoked"`
}

func (a *Accounts) now() time.Time {
	if a.Now == nil {
		return time.Now().UTC()
	}
	return a.Now().UTC()
}

// Add creates an account for email (normalised to lower case) with a
// bcrypt hash of password (8 characters to 72 bytes). The error matches
// ErrInvalid for a bad email or password and store.ErrExists for a taken
// email; otherwise it is the store's.
func (a *Accounts) Add(email, password string) (Account, error) {
	email, err := NormaliseEmail(email)
	if err != nil {
		return Account{}, err
	}
	hash, err := hashPassword(password, a.BcryptCost)
	if err != nil {
		return Account{}, err
	}
	d := store.Developer{Email: email, PasswordHash: hash, Created: a.now()}
	if err := a.Store.AddDeveloper(d); err != nil {
		return Account{}, err
	}
	return Account{Email: email, Created: d.Created}, nil
}

// List returns every account, sorted by email.
func (a *Accounts) List() []Account {
	clients := map[string]int{}
	for _, c := range a.Store.Clients("") {
		clients[c.Developer]++
	}
	devs := a.Store.Developers()
	out := make([]Account, 0, len(devs))
	for _, d := range devs {
		out = append(out, Account{Email: d.Email, Created: d.Created, Clients: clients[d.Email]})
	}
	return out
}

// Remove deletes the account and revokes every client it registered: the
// gateway refuses their tokens at once (its other nodes first, through
// the Revoker), and a session of the developer ends with its next
// request. The registrations at the identity provider remain. The error
// matches ErrInvalid for a bad email, store.ErrNotFound for an unknown
// one, and ErrUnshared when the other nodes cannot be told (nothing was
// removed); otherwise it is the store's.
func (a *Accounts) Remove(email string) (Removal, error) {
	email, err := NormaliseEmail(email)
	if err != nil {
		return Removal{}, err
	}
	revoked, err := a.removeRevoked(email)
	if err != nil {
		return Removal{}, err
	}
	out := Removal{Email: email, Revoked: make([]RevokedClient, 0, len(revoked))}
	for _, c := range revoked {
		out.Revoked = append(out.Revoked, RevokedClient{ClientID: c.ClientID, ClientName: c.ClientName, Provider: c.Provider})
	}
	return out, nil
}

// removeAttempts bounds how often removeRevoked tries again after the
// account registered a client meanwhile.
const removeAttempts = 3

// removeRevoked removes email's account once its clients are revoked
// ahead (Revoker), again with the newcomers when a client is registered
// between the look and the removal, and returns the revoked clients.
func (a *Accounts) removeRevoked(email string) ([]store.Client, error) {
	var seen []string
	var releases []func()
	defer func() {
		for _, release := range releases {
			release()
		}
	}()
	for attempt := 1; ; attempt++ {
		var fresh []string
		for _, c := range a.Store.Clients(email) {
			if !slices.Contains(seen, c.ClientID) {
				fresh = append(fresh, c.ClientID)
			}
		}
		release, err := revokeAhead(context.Background(), a.Revoker, fresh)
		if err != nil {
			return nil, err
		}
		releases = append(releases, release)
		seen = append(seen, fresh...)
		revoked, err := a.Store.RemoveDeveloperIfClients(email, a.now(), seen)
		if errors.Is(err, store.ErrChanged) && attempt < removeAttempts {
			continue
		}
		return revoked, err
	}
}

func (s *Server) accounts() *Accounts {
	return &Accounts{Store: s.opts.Store, BcryptCost: s.opts.BcryptCost, Now: s.opts.Now, Revoker: s.opts.Revoker}
}

// OperatorHandler returns the operator's JSON endpoints for developer
// accounts, which do what `cuegate developer` does on the state file:
//
//	GET    /developers          → 200 [{"email", "created", "clients"}]
//	POST   /developers          {"email", "password"} → 201 {"email", "created", "clients"}
//	DELETE /developers/{email}  → 200 {"email", "revoked": [{"client_id", "client_name", "provider"}]}
//
// Errors are {"error", "error_description"}: 400 invalid_request, 404
// not_found, 409 account_exists or account_changed (clients registered
// during a removal, three times), 503 temporarily_unavailable (the
// gateway's other nodes cannot be told of a removal), 500 server_error.
// Bodies must be Content-Type: application/json. The handler has no authentication: serve
// it only where the operator alone can reach it (cuegate mounts it under
// /portal/ on the admin listener), never on the portal's listener. It
// refuses any request a browser sent (one with an Origin or
// Sec-Fetch-Site header), so that a web page cannot drive it through the
// operator's browser.
func (s *Server) OperatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /developers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.accounts().List())
	})
	mux.HandleFunc("POST /developers", s.jsonBody(s.operatorAdd))
	mux.HandleFunc("DELETE /developers/{email}", s.operatorRemove)
	mux.HandleFunc("/", noEndpoint(func(path string) string {
		switch rest, sub := strings.CutPrefix(path, "/developers/"); {
		case path == "/developers":
			return "GET, HEAD, POST"
		case sub && rest != "" && !strings.Contains(rest, "/"):
			return "DELETE"
		}
		return ""
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" {
			writeError(w, errorf(http.StatusForbidden, "access_denied", "the operator endpoints do not answer browsers"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) operatorAdd(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if aerr := decode(r, &c); aerr != nil {
		writeError(w, aerr)
		return
	}
	acc, err := s.accounts().Add(c.Email, c.Password)
	if err != nil {
		writeError(w, s.operatorError(err))
		return
	}
	s.opts.Logger.Info().Str("developer", acc.Email).Msg("portal: developer added by the operator")
	writeJSON(w, http.StatusCreated, acc)
}

func (s *Server) operatorRemove(w http.ResponseWriter, r *http.Request) {
	rm, err := s.accounts().Remove(r.PathValue("email"))
	if err != nil {
		writeError(w, s.operatorError(err))
		return
	}
	s.opts.Logger.Info().Str("developer", rm.Email).Int("revoked_clients", len(rm.Revoked)).Msg("portal: developer removed by the operator")
	writeJSON(w, http.StatusOK, rm)
}

// operatorAnswers are the Accounts errors the operator endpoints tell
// apart, with the status and code each is answered with.
var operatorAnswers = []struct {
	err    error
	status int
	code   string
}{
	{ErrInvalid, http.StatusBadRequest, "invalid_request"},
	{store.ErrExists, http.StatusConflict, "account_exists"},
	{store.ErrNotFound, http.StatusNotFound, "not_found"},
	{ErrUnshared, http.StatusServiceUnavailable, "temporarily_unavailable"},
	{store.ErrChanged, http.StatusConflict, "account_changed"},
}

// OperatorAnswer returns the status and error code the operator endpoints
// answer an Accounts error matching sentinel with (ErrInvalid,
// store.ErrExists, store.ErrNotFound), so that a client of the endpoints
// can match their answers against the same sentinels; ok is false for
// any other error.
func OperatorAnswer(sentinel error) (status int, code string, ok bool) {
	for _, a := range operatorAnswers {
		if a.err == sentinel {
			return a.status, a.code, true
		}
	}
	return 0, "", false
}

// operatorError is the answer for an Accounts error. Its description is
// the error's own text, which `cuegate developer` prints either way.
func (s *Server) operatorError(err error) *apiError {
	for _, a := range operatorAnswers {
		if errors.Is(err, a.err) {
			return &apiError{Status: a.status, Code: a.code, Description: err.Error()}
		}
	}
	s.opts.Logger.Error().Err(err).Msg("portal: operator's account change not stored")
	return &apiError{Status: http.StatusInternalServerError, Code: "server_error", Description: err.Error()}
}
