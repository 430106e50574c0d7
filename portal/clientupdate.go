package portal

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/cuegate/cuegate/portal/dcr"
	"github.com/cuegate/cuegate/portal/store"
)

// clientChange is a developer's change to a client: a new name (nil:
// unchanged), new redirect URIs (when SetRedirects), or a new secret.
type clientChange struct {
	Name         *string
	RedirectURIs []string
	SetRedirects bool
	RotateSecret bool
}

// registration is c as the driver manages it.
func registration(c store.Client) *dcr.Registration {
	return &dcr.Registration{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RegistrationClientURI: c.RegistrationClientURI,
		RegistrationAccessToken: c.RegistrationAccessToken, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod}
}

// updateClient sends the provider an RFC 7592 update of who's client id
// with ch applied, and only once the provider accepted it stores, in one
// atomic write, the name and redirect URIs as sent and the credentials
// as the provider answered (any secret, registration access token or URI
// it rotated, and its token endpoint auth method). A refusal changes
// nothing here; an answer granting more than asked (dcr.ErrWidened) is
// stored and answered 502. newSecret reports whether the provider issued a new
// secret; a rotation it did not honour is refused with 409 unsupported.
// One update or deletion of a client runs at a time (beginUpdate), and
// the changes that call the provider are limited per account and address
// of who (429).
func (s *Server) updateClient(ctx context.Context, who registrant, id string, ch clientChange) (c store.Client, newSecret bool, aerr *apiError) {
	if aerr := s.beginChange(); aerr != nil {
		return store.Client{}, false, aerr
	}
	defer s.endChange()
	dev := who.email
	c, aerr = s.ownClient(dev, id)
	if aerr != nil {
		return c, false, aerr
	}
	var name string
	if ch.Name != nil {
		if name, aerr = checkClientName(*ch.Name); aerr != nil {
			return c, false, aerr
		}
	}
	if ch.SetRedirects {
		if aerr = checkRedirectURIs(ch.RedirectURIs); aerr != nil {
			return c, false, aerr
		}
	}
	if !s.beginUpdate(id) {
		return c, false, errUpdating()
	}
	defer s.endUpdate(id)
	// Read again under the mark: a change that ended since the first read
	// may have rotated the registration access token, or deleted the client.
	if c, aerr = s.ownClient(dev, id); aerr != nil {
		return c, false, aerr
	}
	redirects := c.RedirectURIs
	if ch.Name == nil {
		name = c.ClientName
	}
	if ch.SetRedirects {
		redirects = ch.RedirectURIs
	}
	sel, aerr := choose(s.table(), c.Catalogue)
	if aerr != nil {
		return c, false, errorf(http.StatusConflict, "conflict", "this client's APIs have changed in the portal since it was registered (%s): delete it and register a new one", aerr.Description)
	}
	log := s.opts.Logger.With().Str("developer", dev).Str("client_id", id).Str("provider", sel.dcr.Provider).Logger()
	reg, err := dcr.New(sel.dcr, s.opts.ConfigDir, s.opts.HTTPClient)
	var r *dcr.Registration
	if err == nil {
		slots := []limitSlot{{s.updates, dev}, {s.updatesByPlace, addressKey(who.addr)}}
		if wait := reserveAll(slots, s.opts.Now()); wait > 0 {
			s.metrics.updatesLimited.Inc()
			return c, false, tooMany(wait, "too many client changes were made in the last hour by your account or from your address: try again in %s",
				wait.Round(time.Second))
		}
		// The provider may rotate the registration access token: the
		// answer must be stored even when the developer goes away.
		r, err = reg.Update(context.WithoutCancel(ctx), registration(c), dcr.Request{ClientName: name, RedirectURIs: redirects, AccessTokenSigningAlg: sel.signingAlg})
		if dcr.NotSent(err) {
			releaseAll(slots)
		} else { // the provider was called: the change counts
			commitAll(slots)
		}
	}
	var widened error // the change was made: its credentials are kept
	if errors.Is(err, dcr.ErrWidened) {
		widened, err = err, nil
	}
	if err != nil {
		log.Warn().Err(err).Msg("portal: client update failed")
		return c, false, updateError(err)
	}
	newSecret = r.ClientSecret != c.ClientSecret
	c, err = s.opts.Store.UpdateClient(id, func(sc *store.Client) {
		sc.ClientName, sc.RedirectURIs = name, slices.Clone(redirects)
		setCredentials(sc, r)
	})
	if err != nil {
		log.Error().Err(err).Msg("portal: client updated at the provider but not stored")
		return c, false, errorf(http.StatusInternalServerError, "server_error", "the identity provider accepted the change, but it could not be stored here: ask the operator")
	}
	if widened != nil {
		log.Error().Err(widened).Msg("portal: client updated, and the provider registered more grants or scopes than the settings ask for: the operator should narrow it there")
		return c, false, errorf(http.StatusBadGateway, "server_error", "the identity provider made the change but registered more grants or scopes than this portal asks for: ask the operator")
	}
	log.Info().Bool("new_secret", newSecret).Msg("portal: client updated")
	if ch.RotateSecret && !newSecret {
		return c, false, errorf(http.StatusConflict, "unsupported", "the identity provider does not issue a new client secret for this client: secret rotation is not supported")
	}
	return c, newSecret, nil
}

// setCredentials gives sc the credentials of r, its registration as the
// provider now has it: secret, registration access token and URI, and
// token endpoint auth method.
func setCredentials(sc *store.Client, r *dcr.Registration) {
	sc.ClientSecret, sc.RegistrationClientURI, sc.RegistrationAccessToken = r.ClientSecret, r.RegistrationClientURI, r.RegistrationAccessToken
	sc.TokenEndpointAuthMethod = r.TokenEndpointAuthMethod
}

// updateError is what the developer sees of a failed update.
func updateError(err error) *apiError {
	switch {
	case errors.Is(err, dcr.ErrUnknownClient):
		return errorf(http.StatusNotFound, "unknown_client", "the identity provider no longer knows this client: delete it here")
	case errors.Is(err, dcr.ErrTokenRefused):
		return errorf(http.StatusConflict, "registration_token_refused", "the identity provider does not recognise this client or its registration token: it cannot be changed here; delete it here")
	case errors.Is(err, dcr.ErrUnmanaged):
		return errorf(http.StatusConflict, "unsupported", "the identity provider gave no way to change this client")
	}
	return registrationError(err)
}

// errUpdating refuses a change of a client while another one runs.
func errUpdating() *apiError {
	return errorf(http.StatusConflict, "conflict", "another change of this client is in progress: try again in a moment")
}

// beginUpdate marks client id as being read at the provider, updated or
// deleted, or reports false when it already is; endUpdate clears the
// mark.
func (s *Server) beginUpdate(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.updating[id] {
		return false
	}
	s.updating[id] = true
	return true
}

func (s *Server) endUpdate(id string) {
	s.mu.Lock()
	delete(s.updating, id)
	s.mu.Unlock()
}

// providerState is what the provider says of a client on its page.
type providerState int

const (
	providerUnchecked providerState = iota // no way to read it, the read failed (logged) or did not run (readAtProviderNow), or the developer is past readsPerAccount
	providerKnows
	providerForgot  // dcr.ErrUnknownClient
	providerRefused // dcr.ErrTokenRefused
)

// status is what a client's view says of s (clientView.ProviderStatus).
func (s providerState) status() string {
	switch s {
	case providerForgot:
		return "unknown_client"
	case providerRefused:
		return "registration_token_refused"
	}
	return ""
}

// readAtProvider asks the provider about c (RFC 7592 §2.1), or returns
// its answer of the last providerReadTTL; past readsPerAccount an hour
// for c's developer, it says the client is unchecked. It returns c as
// stored once the read is over, with the credentials the provider rotated
// on it, or c itself when it is stored no longer.
func (s *Server) readAtProvider(ctx context.Context, c store.Client) (store.Client, providerState) {
	key := c.ClientID + "\x00" + c.RegistrationClientURI + "\x00" + c.RegistrationAccessToken
	now := s.opts.Now()
	state := s.providerReads.get(ctx, key, now, func() providerState {
		return s.readAtProviderNow(context.WithoutCancel(ctx), c.Developer, c.ClientID, now) // shared: not ended by one caller
	})
	if stored, aerr := s.ownClient(c.Developer, c.ClientID); aerr == nil {
		c = stored
	}
	return c, state
}

// readAtProviderNow asks the provider about dev's client id, unless dev
// is past readsPerAccount at now, and stores the credentials the answer
// rotated (RFC 7592 §2.1 lets a provider answer a read with a new client
// secret or registration access token; the old ones then no longer
// work). Since it may write the store and uses the registration access
// token, it is a client change (beginChange) of id (beginUpdate): while
// the portal drains or another change of id runs, it does not run and
// the client is unchecked.
func (s *Server) readAtProviderNow(ctx context.Context, dev, id string, now time.Time) providerState {
	if s.beginChange() != nil {
		return providerUnchecked
	}
	defer s.endChange()
	if !s.beginUpdate(id) {
		return providerUnchecked
	}
	defer s.endUpdate(id)
	// Read under the mark: a change that ended since the page read the
	// client may have rotated its registration access token, or deleted it.
	c, aerr := s.ownClient(dev, id)
	if aerr != nil {
		return providerUnchecked
	}
	sel, aerr := choose(s.table(), c.Catalogue)
	if aerr != nil {
		return providerUnchecked
	}
	if s.reads.reserve(dev, now) > 0 {
		return providerUnchecked
	}
	s.reads.commit(dev)
	reg, err := dcr.New(sel.dcr, s.opts.ConfigDir, s.opts.HTTPClient)
	var r *dcr.Registration
	if err == nil {
		r, err = reg.Read(ctx, registration(c))
	}
	switch {
	case err == nil:
		s.keepRotated(c, r)
		return providerKnows
	case errors.Is(err, dcr.ErrUnknownClient):
		return providerForgot
	case errors.Is(err, dcr.ErrTokenRefused):
		return providerRefused
	case !errors.Is(err, dcr.ErrUnmanaged):
		s.opts.Logger.Warn().Err(err).Str("client_id", id).Msg("portal: client could not be read at the provider")
	}
	return providerUnchecked
}

// keepRotated stores r, client c as the provider answered a read of it,
// when its credentials differ from c's.
func (s *Server) keepRotated(c store.Client, r *dcr.Registration) {
	if *r == *registration(c) {
		return
	}
	log := s.opts.Logger.With().Str("developer", c.Developer).Str("client_id", c.ClientID).Logger()
	if _, err := s.opts.Store.UpdateClient(c.ClientID, func(sc *store.Client) { setCredentials(sc, r) }); err != nil {
		log.Error().Err(err).Msg("portal: the provider rotated the client's credentials on a read, and they could not be stored")
		return
	}
	log.Info().Bool("new_secret", r.ClientSecret != c.ClientSecret).Bool("new_registration_token", r.RegistrationAccessToken != c.RegistrationAccessToken).
		Msg("portal: the provider rotated the client's credentials on a read; stored")
}
