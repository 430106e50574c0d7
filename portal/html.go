package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/store"
)

type pageTemplate = *template.Template

var pageNames = []string{"catalogue", "signup", "login", "clients", "new", "details", "created", "client", "delete", "message", "entry"}

func parseTemplates() (map[string]pageTemplate, error) {
	funcs := template.FuncMap{
		"date":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"clientPath": clientPath,
		"thousands":  thousands,
	}
	out := make(map[string]pageTemplate, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// pageData is what every page template gets; each page uses some fields.
type pageData struct {
	Title      string
	User       string
	CSRF       string
	SignupOpen bool
	Flash      string
	Error      string

	Email        string
	Catalogue    []catalogueItem
	Selected     []catalogueItem
	Preselect    string
	Clients      []clientView
	Client       clientView
	ClientName   string
	RedirectURIs string
	Separator    string
	Limits       string
	// PolicyName is the client's policy's display name.
	PolicyName string
	// HideSecret keeps the client secret off the screen until asked for
	// (the detail page); the creation result page shows it.
	HideSecret bool
	TokenCurl  string
	Calls      []gatewayCall
	// NewSecret marks the one view of a client's page that shows the
	// secret the provider just issued.
	NewSecret bool
	// Entry and Reference are an API's page.
	Entry     catalogueItem
	Reference *referenceView
	// Nonce is the page's CSP script nonce, for its copy buttons.
	Nonce string
}

// Flash messages for pages reached without a session (after logging out)
// are named by a code in the redirect's query, ?m=<code>: only these fixed
// texts can be shown, never text from the request.
var flashMessages = map[string]string{
	"logged-out": "You are logged out.",
}

// Flashes kept in the session for the next page.
const (
	flashSignedUp = "Welcome — your account is ready."
	flashLoggedIn = "You are logged in."
)

// sentence makes an API error description ("wrong email or password") a
// sentence for a page ("Wrong email or password.").
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

func (s *Server) htmlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/catalogue", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /catalogue", s.catalogueHTML)
	mux.HandleFunc("GET /signup", s.signupForm)
	mux.HandleFunc("POST /signup", s.form(s.signupHTML))
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.form(s.loginHTML))
	mux.HandleFunc("POST /logout", s.form(s.logoutHTML))
	mux.HandleFunc("GET /clients", s.loggedIn(s.clientsHTML))
	mux.HandleFunc("GET /clients/new", s.loggedIn(s.newClientHTML))
	mux.HandleFunc("POST /clients/new", s.form(s.loggedIn(s.detailsHTML)))
	mux.HandleFunc("POST /clients", s.form(s.loggedIn(s.createHTML)))
	mux.HandleFunc("GET /clients/{id}", s.loggedIn(s.clientHTML))
	mux.HandleFunc("GET /clients/{id}/delete", s.loggedIn(s.confirmDeleteHTML))
	mux.HandleFunc("POST /clients/{id}/delete", s.form(s.loggedIn(s.deleteHTML)))
	mux.HandleFunc("POST /clients/{id}/edit", s.form(s.loggedIn(s.editHTML)))
	mux.HandleFunc("POST /clients/{id}/rotate", s.form(s.loggedIn(s.rotateHTML)))
	mux.HandleFunc("GET /catalogue/{id}", s.entryHTML)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := routeMethods(mux, r, "/"); allow != "" {
			w.Header().Set("Allow", allow)
			s.message(w, r, http.StatusMethodNotAllowed, "Method not allowed",
				fmt.Sprintf("This address takes %s requests, not %s: use the page's links and buttons.", allow, r.Method))
			return
		}
		s.message(w, r, http.StatusNotFound, "Not found", "There is no page at this address.")
	})
}

// routeMethods lists, as an Allow header does, the methods for which mux
// routes r's path to a pattern other than fallback (the catch-all that
// asks); "" when none does.
func routeMethods(mux *http.ServeMux, r *http.Request, fallback string) string {
	var allow []string
	probe := *r // mux.Handler reads the method, host and URL only: no deep copy
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe.Method = m
		if _, pattern := mux.Handler(&probe); pattern != fallback && pattern != "" {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

// render writes a page; the template runs into a buffer first so a failure
// gives a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	sess, _ := s.session(r) // a session store that fails shows the page as to a visitor
	if sess != nil {
		d.User = sess.Email
		if d.Flash == "" && sess.Flash != "" {
			d.Flash, sess.Flash = sess.Flash, ""
			s.updateSession(r, sess)
		}
	}
	if d.Flash == "" {
		d.Flash = flashMessages[r.URL.Query().Get("m")]
	}
	d.CSRF = s.csrfToken(w, r, sess)
	d.Nonce = rand.Text()
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy(d.Nonce))
	d.SignupOpen = s.table().Portal.Signup == "open"
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, d); err != nil {
		s.opts.Logger.Error().Err(err).Str("page", name).Msg("portal: page did not render")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	s.render(w, r, status, "message", &pageData{Title: title, Error: text})
}

// form parses a posted form, bounded in size, and checks its CSRF token.
func (s *Server) form(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
		var tooBig *http.MaxBytesError
		switch err := r.ParseForm(); {
		case errors.As(err, &tooBig):
			s.message(w, r, http.StatusRequestEntityTooLarge, "Form too large",
				fmt.Sprintf("The form is larger than the %d KiB a form may have.", tooBig.Limit>>10))
			return
		case err != nil:
			s.message(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
			return
		}
		sess, err := s.session(r)
		if err != nil {
			s.sessionStoreHTML(w, r, false)
			return
		}
		if !s.checkCSRF(r, sess) {
			s.message(w, r, http.StatusForbidden, "Form expired",
				"The form expired or was sent from another site. Go back, reload the page and try again.")
			return
		}
		h(w, r)
	}
}

// loggedIn sends visitors without a session to the login page.
func (s *Server) loggedIn(h func(w http.ResponseWriter, r *http.Request, sess *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.session(r)
		if err != nil {
			s.sessionStoreHTML(w, r, false)
			return
		}
		if sess == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r, sess)
	}
}

func (s *Server) setFlash(r *http.Request, sess *session, msg string) {
	sess.Flash = msg
	s.updateSession(r, sess)
}

func (s *Server) catalogueHTML(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "catalogue", &pageData{Title: "APIs", Catalogue: catalogue(s.table(), s.opts.ConfigDir)})
}

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	if s.table().Portal.Signup != "open" {
		s.message(w, r, http.StatusForbidden, "Sign up", "Sign-up is by invitation only: ask the operator for an account.")
		return
	}
	s.render(w, r, http.StatusOK, "signup", &pageData{Title: "Sign up"})
}

func (s *Server) signupHTML(w http.ResponseWriter, r *http.Request) {
	s.credentialsHTML(w, r, s.signup, "signup", "Sign up", flashSignedUp)
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", &pageData{Title: "Log in"})
}

func (s *Server) loginHTML(w http.ResponseWriter, r *http.Request) {
	s.credentialsHTML(w, r, s.login, "login", "Log in", flashLoggedIn)
}

// credentialsHTML handles a sign-up or login form: on success a session
// with flash and the client list, else the form page again with the error.
func (s *Server) credentialsHTML(w http.ResponseWriter, r *http.Request, check authenticate, page, title, flash string) {
	email, aerr := check(r, r.PostFormValue("email"), r.PostFormValue("password"))
	if aerr != nil {
		setRetryAfter(w, aerr.RetryAfter)
		s.render(w, r, aerr.Status, page, &pageData{Title: title, Error: sentence(aerr.Description), Email: r.PostFormValue("email")})
		return
	}
	if err := s.startSession(w, r, email, flash); err != nil {
		s.sessionStoreHTML(w, r, page == "signup")
		return
	}
	http.Redirect(w, r, "/clients", http.StatusSeeOther)
}

func (s *Server) logoutHTML(w http.ResponseWriter, r *http.Request) {
	if err := s.endSession(w, r); err != nil {
		s.sessionStoreHTML(w, r, false)
		return
	}
	http.Redirect(w, r, "/login?m=logged-out", http.StatusSeeOther)
}

func (s *Server) clientsHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, r, http.StatusOK, "clients", &pageData{Title: "OAuth clients", Clients: s.clientViews(sess.Email)})
}

// newClientHTML is step 1 of the wizard: choose catalogue entries.
func (s *Server) newClientHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, r, http.StatusOK, "new", &pageData{Title: "New OAuth client", Catalogue: registrable(s.table(), s.opts.ConfigDir), Preselect: r.URL.Query().Get("entry")})
}

// registrable is the catalogue entries a client can be registered for.
func registrable(t *table.Table, configDir string) []catalogueItem {
	return slices.DeleteFunc(catalogue(t, configDir), func(c catalogueItem) bool { return !c.Registrable })
}

// detailsHTML is step 2: client name and redirect URIs for the chosen
// entries, which must go together.
func (s *Server) detailsHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	t := s.table()
	ids := r.PostForm["catalogue"]
	if _, aerr := choose(t, ids); aerr != nil {
		s.render(w, r, aerr.Status, "new", &pageData{Title: "New OAuth client", Catalogue: registrable(t, s.opts.ConfigDir), Error: sentence(aerr.Description)})
		return
	}
	s.render(w, r, http.StatusOK, "details", s.detailsData(t, ids))
}

func (s *Server) detailsData(t *table.Table, ids []string) *pageData {
	d := &pageData{Title: "New OAuth client", Separator: redirectURISeparator(t)}
	for _, item := range catalogue(t, s.opts.ConfigDir) {
		if slices.Contains(ids, item.ID) {
			d.Selected = append(d.Selected, item)
			d.Limits = item.Limits
		}
	}
	return d
}

func (s *Server) createHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	t := s.table()
	ids := r.PostForm["catalogue"]
	redirects := splitRedirectURIs(r.PostFormValue("redirect_uris"), t)
	c, aerr := s.createClient(r.Context(), s.registrant(r, sess), ids, r.PostFormValue("client_name"), redirects)
	if aerr != nil {
		d := s.detailsData(t, ids)
		d.Error = sentence(aerr.Description)
		if aerr.Provider { // the provider's own words (dcr: without the call's secrets, printable)
			d.Error = "The identity provider refused the registration: " + aerr.Code + ": " + aerr.Description
		}
		d.ClientName, d.RedirectURIs = r.PostFormValue("client_name"), r.PostFormValue("redirect_uris")
		if len(d.Selected) == 0 {
			s.message(w, r, aerr.Status, "Registration failed", d.Error)
			return
		}
		s.render(w, r, aerr.Status, "details", d)
		return
	}
	// Post/redirect/get: reloading the result page does not register again.
	sess.JustCreated = c.ClientID
	s.updateSession(r, sess)
	http.Redirect(w, r, clientPath(c.ClientID), http.StatusSeeOther)
}

// clientData is the data of a client's page: the creation result page, with
// the secret on screen, or the detail page, with the secret hidden until
// asked for and the token command reading it from $CLIENT_SECRET, the
// client's usage and what the provider says of it; a secret the provider
// rotated when asked is shown as a new one (NewSecret).
func (s *Server) clientData(ctx context.Context, t *table.Table, c store.Client, title string, hideSecret bool) *pageData {
	state, newSecret := providerUnchecked, false
	if hideSecret {
		secret := c.ClientSecret
		c, state = s.readAtProvider(ctx, c)
		newSecret = c.ClientSecret != secret
		hideSecret = !newSecret
	}
	scope := ""
	for _, id := range c.Catalogue {
		if e := t.Portal.Catalogue[id]; e != nil && e.DCR != nil {
			scope = e.DCR.Scope
			break
		}
	}
	d := &pageData{Title: title, Client: s.liveView(ctx, t, c, state), Calls: gatewayCalls(t, c),
		HideSecret: hideSecret, NewSecret: newSecret, PolicyName: c.Policy, ClientName: c.ClientName,
		RedirectURIs: strings.Join(c.RedirectURIs, redirectURISeparator(t)+" "), Separator: redirectURISeparator(t)}
	if c.TokenEndpoint != "" && sendsSecret(c.TokenEndpointAuthMethod) {
		d.TokenCurl = tokenCurl(c, scope, !hideSecret)
	}
	if p := t.Policies[c.Policy]; p != nil {
		d.Limits = limitsInWords(p)
		if p.Name != "" {
			d.PolicyName = p.Name
		}
	}
	return d
}

func (s *Server) clientHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	c, aerr := s.ownClient(sess.Email, r.PathValue("id"))
	if aerr != nil {
		s.message(w, r, http.StatusNotFound, "Not found", "You have no client with this ID.")
		return
	}
	// The first view after the wizard is its result page; the first after
	// a rotation shows the new secret.
	justCreated, newSecret := sess.JustCreated == c.ClientID, sess.NewSecret == c.ClientID
	if sess.JustCreated != "" || sess.NewSecret != "" {
		sess.JustCreated, sess.NewSecret = "", ""
		s.updateSession(r, sess)
	}
	switch {
	case justCreated:
		s.render(w, r, http.StatusOK, "created", s.clientData(r.Context(), s.table(), c, "Client created", false))
	case newSecret:
		d := s.clientData(r.Context(), s.table(), c, c.ClientName, false)
		d.NewSecret = true
		s.render(w, r, http.StatusOK, "client", d)
	default:
		s.render(w, r, http.StatusOK, "client", s.clientData(r.Context(), s.table(), c, c.ClientName, true))
	}
}

func (s *Server) confirmDeleteHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	c, aerr := s.ownClient(sess.Email, r.PathValue("id"))
	if aerr != nil {
		s.message(w, r, http.StatusNotFound, "Not found", "You have no client with this ID.")
		return
	}
	s.render(w, r, http.StatusOK, "delete", &pageData{Title: "Delete " + c.ClientName, Client: viewOf(s.table(), c, s.opts.Now(), false)})
}

func (s *Server) deleteHTML(w http.ResponseWriter, r *http.Request, sess *session) {
	c, warning, aerr := s.deleteClient(r.Context(), sess.Email, r.PathValue("id"))
	if aerr != nil {
		if aerr.Status == http.StatusNotFound {
			s.message(w, r, http.StatusNotFound, "Not found", "You have no client with this ID.")
			return
		}
		s.message(w, r, aerr.Status, "Delete failed", sentence(aerr.Description))
		return
	}
	s.setFlash(r, sess, strings.TrimSpace(fmt.Sprintf("Client %s deleted. %s", c.ClientName, warning)))
	http.Redirect(w, r, "/clients", http.StatusSeeOther)
}
