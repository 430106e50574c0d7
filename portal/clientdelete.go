package portal

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/dcr"
	"github.com/cuegate/cuegate/portal/store"
)

// deleteClient removes dev's client: on the gateway's other nodes first
// (Options.Revoker; when they cannot be told, nothing is deleted), then
// locally (revoking it at this gateway at once), then at the provider,
// and returns the deleted client. A provider failure is logged and
// returned as a warning; the client stays deleted. Only a deletion the
// provider answered with a 2xx is confirmed (store.ConfirmDeleted), so
// that the tombstone may go once no token of the client can be valid.
func (s *Server) deleteClient(ctx context.Context, dev, id string) (c store.Client, warning string, aerr *apiError) {
	if aerr := s.beginChange(); aerr != nil {
		return store.Client{}, "", aerr
	}
	defer s.endChange()
	if _, aerr := s.ownClient(dev, id); aerr != nil {
		return store.Client{}, "", aerr
	}
	// An update in flight may be rotating the registration access token
	// the deletion would use.
	if !s.beginUpdate(id) {
		return store.Client{}, "", errUpdating()
	}
	defer s.endUpdate(id)
	release, err := revokeAhead(ctx, s.opts.Revoker, []string{id})
	if err != nil {
		s.opts.Logger.Warn().Err(err).Str("client_id", id).Msg("portal: deletion refused")
		return store.Client{}, "", errUnshared()
	}
	c, err = func() (store.Client, error) {
		defer release()
		return s.opts.Store.DeleteClient(id, s.opts.Now().UTC())
	}()
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, "", errNoClient(id)
	}
	if err != nil {
		s.opts.Logger.Error().Err(err).Str("client_id", id).Msg("portal: deletion not stored")
		return store.Client{}, "", errorf(http.StatusInternalServerError, "server_error", "the deletion could not be stored")
	}
	s.metrics.deletions.Inc()
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
		err = reg.Delete(context.WithoutCancel(ctx), registration(c))
	}
	switch {
	case errors.Is(err, dcr.ErrUnknownClient):
		// Gone there, or so a 404 says: no deletion to confirm, so the
		// tombstone stays.
		return c, "", nil
	case errors.Is(err, dcr.ErrUnmanaged):
		log.Info().Msg("portal: client deleted here; the provider gave no way to delete it there")
		return c, "The client is revoked at the gateway; the identity provider gave no way to delete it from here: ask the operator to remove it there.", nil
	case errors.Is(err, dcr.ErrTokenRefused):
		log.Warn().Err(err).Msg("portal: client deleted here; the provider refused its registration access token")
		return c, "The client is revoked at the gateway, but the identity provider refused its stored registration token, so the client may still exist there: ask the operator to remove it there.", nil
	case err != nil:
		log.Warn().Err(err).Msg("portal: client deleted here but not at the provider")
		return c, "The client is revoked at the gateway, but the identity provider did not delete it: ask the operator to remove it there.", nil
	}
	if err := s.opts.Store.ConfirmDeleted(id, s.opts.Now().UTC(), s.tombstoneRetention()); err != nil {
		log.Warn().Err(err).Msg("portal: the provider's deletion not recorded; the client stays refused for good")
	}
	return c, "", nil
}

// tombstoneRetention is portal.tombstone_retention (see
// store.ConfirmDeleted).
func (s *Server) tombstoneRetention() time.Duration {
	if r := s.table().Portal.TombstoneRetention.D(); r > 0 {
		return r
	}
	return defaultTombstoneRetention
}
