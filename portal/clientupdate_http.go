package portal

import (
	"net/http"
	"strings"
)

// apiPatchClient changes a client's name or redirect URIs, or rotates
// its secret: PATCH /clients/{client_id} with any of client_name,
// redirect_uris (a list, or one string split on the separator) and
// rotate_secret. It answers the client as stored, with its secret.
func (s *Server) apiPatchClient(w http.ResponseWriter, r *http.Request, sess *session) {
	var req struct {
		ClientName   *string    `json:"client_name"`
		RedirectURIs stringList `json:"redirect_uris"`
		RotateSecret bool       `json:"rotate_secret"`
	}
	if aerr := decode(r, &req); aerr != nil {
		writeError(w, aerr)
		return
	}
	ch := clientChange{Name: req.ClientName, RotateSecret: req.RotateSecret}
	if req.RedirectURIs.list != nil || req.RedirectURIs.single {
		ch.SetRedirects, ch.RedirectURIs = true, req.RedirectURIs.list
		if req.RedirectURIs.single {
			ch.RedirectURIs = splitRedirectURIs(req.RedirectURIs.list[0], s.table())
		}
	}
	if ch.Name == nil && !ch.SetRedirects && !ch.RotateSecret {
		writeError(w, errorf(http.StatusBadRequest, "invalid_request", "nothing to change: send client_name, redirect_uris or rotate_secret"))
		return
	}
	c, _, aerr := s.updateClient(r.Context(), s.registrant(r, sess), r.PathValue("client_id"), ch)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(s.table(), c, s.opts.Now(), true))
}

// editHTML is the client page's edit form.
func (s *Server) editHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PostFormValue("client_name")
	ch := clientChange{Name: &name, SetRedirects: true, RedirectURIs: splitRedirectURIs(r.PostFormValue("redirect_uris"), s.table())}
	s.changeHTML(w, r, sess, ch, "Client %s saved.")
}

// rotateHTML is the client page's secret rotation button.
func (s *Server) rotateHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	s.changeHTML(w, r, sess, clientChange{RotateSecret: true}, "Client %s has a new secret.")
}

// changeHTML applies ch and goes back to the client's page: once with
// the secret on screen when the provider issued a new one, else with
// done (a format for the client's name) as the flash. A failure shows
// the page again with the error, the provider's own words when it
// refused.
func (s *Server) changeHTML(w http.ResponseWriter, r *http.Request, sess *session, ch clientChange, done string) {
	id := r.PathValue("id")
	c, newSecret, aerr := s.updateClient(r.Context(), s.registrant(r, sess), id, ch)
	if aerr != nil {
		if aerr.Status == http.StatusNotFound && aerr.Code == "not_found" {
			s.message(w, r, http.StatusNotFound, "Not found", "You have no client with this ID.")
			return
		}
		msg := sentence(aerr.Description)
		if aerr.Provider { // the provider's own words (dcr: without the call's secrets, printable)
			msg = "The identity provider refused the change: " + aerr.Code + ": " + aerr.Description
		}
		d := s.clientData(r.Context(), s.table(), c, c.ClientName, true)
		d.Error = msg
		if ch.Name != nil { // keep what was typed
			d.ClientName, d.RedirectURIs = *ch.Name, r.PostFormValue("redirect_uris")
		}
		s.render(w, r, aerr.Status, "client", d)
		return
	}
	if newSecret {
		sess.NewSecret = c.ClientID
	}
	sess.Flash = strings.Replace(done, "%s", c.ClientName, 1)
	s.updateSession(r, sess)
	http.Redirect(w, r, clientPath(c.ClientID), http.StatusSeeOther)
}
