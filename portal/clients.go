package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/printable"
	"github.com/cuegate/cuegate/portal/dcr"
	"github.com/cuegate/cuegate/portal/store"
)

// clientPath is the path of client clientID's resource relative to the
// pages' or the API's root: "/clients/" and the ID path-escaped, since a
// client ID, which the provider chooses, may hold "/", "?" or "#".
func clientPath(clientID string) string {
	return "/clients/" + url.PathEscape(clientID)
}

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
		return nil, errorf(http.StatusBadRequest, "invalid_request", "choose at least one API")
	}
	sel := &selection{ids: ids}
	for _, id := range ids {
		e := t.Portal.Catalogue[id]
		if e == nil {
			return nil, errorf(http.StatusBadRequest, "invalid_request", "unknown API %q", printable.Clip(id, maxEcho))
		}
		if e.DCR == nil {
			return nil, errorf(http.StatusBadRequest, "invalid_request", "API %q offers no credentials here: ask the operator", id)
		}
		if first := sel.entries; len(first) > 0 {
			if e.Policy != first[0].Policy {
				return nil, errorf(http.StatusBadRequest, "invalid_request",
					"APIs %q and %q come with different policies (%s, %s): get one client for each", first[0].ID, id, first[0].Policy, e.Policy)
			}
			if !reflect.DeepEqual(e.DCR, first[0].DCR) {
				return nil, errorf(http.StatusBadRequest, "invalid_request",
					"APIs %q and %q register clients differently: get one client for each", first[0].ID, id)
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
				"APIs %q and %q take tokens from different identity providers (%s, %s): get one client for each", first.ID, e.ID, firstIss, iss)
		}
		allowed = slices.DeleteFunc(allowed, func(alg string) bool { return !slices.Contains(api.JWT.Algorithms, alg) })
		if len(allowed) == 0 {
			return "", errorf(http.StatusBadRequest, "invalid_request",
				"APIs %q and %q accept tokens signed with different algorithms: get one client for each", first.ID, e.ID)
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

// createClient registers a client at the provider and stores it for
// who's account (the one its session was started for). On any error
// nothing is stored, and a client the provider created is deleted there
// again: also when that account was removed while the provider
// registered the client, so that no removed account, nor a later one
// under the same email, gets it.
func (s *Server) createClient(ctx context.Context, who registrant, catalogue []string, name string, redirects []string) (store.Client, *apiError) {
	if aerr := s.beginChange(); aerr != nil {
		return store.Client{}, aerr
	}
	defer s.endChange()
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
	res, aerr := s.reserveClient(who)
	if aerr != nil {
		return store.Client{}, aerr
	}
	defer s.release(res)
	log := s.opts.Logger.With().Str("developer", who.email).Strs("catalogue", sel.ids).Str("provider", sel.dcr.Provider).Logger()
	fail := func(aerr *apiError, err error) (store.Client, *apiError) {
		s.metrics.registrationsFail.Inc()
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
	if !dcr.NotSent(err) { // the provider was called: the attempt counts
		commitAll(res.slots)
		res.slots = nil // counted: not given back
	}
	if err != nil {
		return fail(registrationError(err), err)
	}
	now := s.opts.Now().UTC()
	c := store.Client{
		ClientID: r.ClientID, ClientSecret: r.ClientSecret, ClientName: name, RedirectURIs: redirects,
		Developer: who.email, Catalogue: sel.ids, Policy: sel.policy.ID, Provider: sel.dcr.Provider,
		RegistrationClientURI: r.RegistrationClientURI, RegistrationAccessToken: r.RegistrationAccessToken,
		TokenEndpoint: tokenEndpoint, TokenEndpointAuthMethod: r.TokenEndpointAuthMethod, CreatedAt: now,
	}
	if d := sel.policy.KeyExpiresIn.D(); d > 0 {
		c.ExpiresAt = now.Add(d)
	}
	s.named(res, c.ClientID)
	if err := s.opts.Store.AddClient(c, who.account); err != nil {
		// Registered at the provider but not stored: undo it there.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(sel.dcr.CallTimeout(), time.Second))
		defer cancel()
		msg := "the client could not be stored; it was deleted at the provider again"
		if derr := reg.Delete(dctx, r); derr != nil && !errors.Is(derr, dcr.ErrUnknownClient) {
			log.Error().Err(derr).Str("client_id", r.ClientID).Msg("portal: client registered but not stored, and not deleted at the provider")
			msg = fmt.Sprintf("the client could not be stored, and the identity provider did not delete it again: ask the operator to delete client %s there", r.ClientID)
		}
		switch {
		case errors.Is(err, store.ErrClosed):
			return fail(errorf(http.StatusServiceUnavailable, "temporarily_unavailable", "the portal is shutting down: %s; register again in a moment", msg), err)
		case errors.Is(err, store.ErrNotFound):
			return fail(errorf(http.StatusUnauthorized, "unauthorized", "your account was removed while the client was being registered: %s", msg), err)
		}
		return fail(errorf(http.StatusInternalServerError, "server_error", "%s", msg), err)
	}
	s.metrics.registrationsOK.Inc()
	log.Info().Str("client_id", c.ClientID).Str("policy", c.Policy).Msg("portal: client registered")
	return c, nil
}

// registrant is who asks for a client or a change of one: the
// developer's email, the creation time of the account its session was
// started for, and the client address, which the limits count by
// (addressSlots, addressKey).
type registrant struct {
	email   string
	account time.Time
	addr    string
}

// registrant returns who asks, in r, for a client in sess.
func (s *Server) registrant(r *http.Request, sess *session) registrant {
	return registrant{email: sess.Email, account: sess.Account, addr: s.addressOf(r)}
}

// reservation is one registration in flight for a developer; clientID
// is set once the provider has answered, before the client is stored.
// slots are its places under the registration limits until release
// gives them back, none once the provider is called (they are then
// counted); they are its registration's own, not shared.
type reservation struct {
	dev      string
	clientID string
	slots    []limitSlot
}

// reserveClient holds one of who's MaxClientsPerDeveloper places for a
// registration in flight, so that concurrent registrations cannot pass the
// cap together, and its places under the registration limits (per
// account, per address, per IPv6 /48 and portal-wide); release gives them
// back when the registration
// ends (those under the registration limits only when the provider was
// not called). A place
// is counted once: a reservation whose client is already in the store
// (stored, not yet released) is not counted again.
func (s *Server) reserveClient(who registrant) (*reservation, *apiError) {
	dev := who.email
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
	slots := append([]limitSlot{{s.registrations, dev}}, addressSlots(s.registrationsByPlace, s.registrationsByNetwork, who.addr)...)
	now := s.opts.Now()
	if wait := reserveAll(slots, now); wait > 0 {
		s.metrics.registrationsLimited.Inc()
		return nil, tooMany(wait, "too many clients were registered in the last hour by your account or from your address: register again in %s",
			wait.Round(time.Second))
	}
	all, wait, first := reservePortalWide(s.registrationsAll, s.table().Portal.RegistrationsPerHour, registrationsPerHour, now)
	if wait > 0 {
		releaseAll(slots)
		s.metrics.registrationsLimited.Inc()
		s.portalWideRefused("portal.registrations_per_hour", who.addr, wait, first)
		return nil, tooMany(wait, "this portal registered as many clients as it may in an hour: register again in %s", wait.Round(time.Second))
	}
	slots = append(slots, all)
	r := &reservation{dev: dev, slots: slots}
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

// release ends r: its place under MaxClientsPerDeveloper, and its places
// under the registration limits unless the provider was called.
func (s *Server) release(r *reservation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	releaseAll(r.slots)
	delete(s.registering[r.dev], r)
	if len(s.registering[r.dev]) == 0 {
		delete(s.registering, r.dev)
	}
}

// registrationError maps a driver error to what the developer sees: the
// provider's own error and description when it refused, and no detail of
// the settings when the operator must fix them, nor of a client left at
// the provider (the log has them).
func registrationError(err error) *apiError {
	var pe *dcr.ProviderError
	switch {
	case errors.Is(err, dcr.ErrSettings):
		return errorf(http.StatusInternalServerError, "server_error", "the portal's registration settings are not usable: ask the operator")
	case errors.Is(err, dcr.ErrLeftAtProvider):
		return errorf(http.StatusBadGateway, "server_error", "the identity provider's answer could not be used, and the client it registered may stay there: ask the operator to remove it")
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

// errNoClient answers a client id the developer does not have.
func errNoClient(id string) *apiError {
	return errorf(http.StatusNotFound, "not_found", "no client %q", printable.Clip(id, maxEcho))
}

// ownClient returns dev's client; another developer's is not found.
func (s *Server) ownClient(dev, id string) (store.Client, *apiError) {
	c, ok := s.opts.Store.Client(id)
	if !ok || c.Developer != dev {
		return store.Client{}, errNoClient(id)
	}
	return c, nil
}
