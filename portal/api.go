package portal

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stringList is a JSON list of strings that also accepts one string.
type stringList struct {
	list   []string
	single bool
}

// UnmarshalJSON leaves l unset for null: a list not given.
func (l *stringList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{list: []string{one}, single: true}
		return nil
	}
	return json.Unmarshal(b, &l.list)
}

// apiPrefix is where the JSON API lives.
const apiPrefix = "/portal/api/v1"

func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+apiPrefix+"/signup", s.jsonBody(s.apiSignup))
	mux.HandleFunc("POST "+apiPrefix+"/login", s.jsonBody(s.apiLogin))
	mux.HandleFunc("POST "+apiPrefix+"/logout", s.jsonBody(s.apiLogout))
	mux.HandleFunc("GET "+apiPrefix+"/catalogue", s.apiCatalogue)
	mux.HandleFunc("GET "+apiPrefix+"/clients", s.authed(s.apiListClients))
	mux.HandleFunc("POST "+apiPrefix+"/clients", s.jsonBody(s.authed(s.apiCreateClient)))
	mux.HandleFunc("GET "+apiPrefix+"/clients/{client_id}", s.authed(s.apiGetClient))
	mux.HandleFunc("DELETE "+apiPrefix+"/clients/{client_id}", s.authed(s.apiDeleteClient))
	mux.HandleFunc("PATCH "+apiPrefix+"/clients/{client_id}", s.jsonBody(s.authed(s.apiPatchClient)))
	mux.HandleFunc("GET "+apiPrefix+"/catalogue/{id}/openapi", s.apiOpenAPI)
	mux.HandleFunc(apiPrefix+"/", noEndpoint(func(path string) string {
		return allowedMethods(strings.TrimPrefix(path, apiPrefix))
	}))
}

// noEndpoint answers a request no route took: 405 with Allow when
// allowed(path) names the methods of an endpoint there, else 404.
func noEndpoint(allowed func(path string) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(r.URL.Path); allow != "" {
			w.Header().Set("Allow", allow)
			writeError(w, errorf(http.StatusMethodNotAllowed, "invalid_request", "%s takes %s, not %s", r.URL.Path, allow, r.Method))
			return
		}
		writeError(w, errorf(http.StatusNotFound, "not_found", "no such endpoint: %s %s", r.Method, r.URL.Path))
	}
}

// allowedMethods lists the methods of an API endpoint, "" for no endpoint.
func allowedMethods(path string) string {
	switch {
	case path == "/signup" || path == "/login" || path == "/logout":
		return "POST"
	case path == "/catalogue":
		return "GET, HEAD"
	case path == "/clients":
		return "GET, HEAD, POST"
	case strings.HasPrefix(path, "/clients/") && !strings.Contains(path[len("/clients/"):], "/"):
		return "GET, HEAD, DELETE, PATCH"
	case strings.HasPrefix(path, "/catalogue/") && strings.HasSuffix(path, "/openapi"):
		return "GET, HEAD"
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v != nil {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
}

func writeError(w http.ResponseWriter, e *apiError) {
	setRetryAfter(w, e.RetryAfter)
	writeJSON(w, e.Status, e)
}

// jsonBody refuses any body that is not application/json (a cross-site
// form cannot send one) and bounds its size.
func (s *Server) jsonBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			writeError(w, errorf(http.StatusUnsupportedMediaType, "invalid_request", "the body must be Content-Type: application/json"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
		h(w, r)
	}
}

// errTrailing is a body with more after its JSON value.
var errTrailing = errors.New("trailing data")

// decode reads the JSON body into v, a pointer to a struct whose fields
// all have json tags; an empty body leaves v as it is. A body that is not
// one JSON object of v's fields (an unknown field, a value of the wrong
// type, anything after the object) is refused with a description that
// names the field and what it takes.
func decode(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil // an empty body
	}
	var tooBig *http.MaxBytesError
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return nil
		}
		if !errors.As(err, &tooBig) {
			err = errTrailing
		}
	}
	fields := jsonFields(v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return errorf(http.StatusRequestEntityTooLarge, "invalid_request", "the body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, errTrailing):
		return errorf(http.StatusBadRequest, "invalid_request", "the body has more after its JSON object")
	case errors.As(err, &typeErr) && fields[typeErr.Field] != nil:
		return errorf(http.StatusBadRequest, "invalid_request", "field %q: want %s", typeErr.Field, wanted(fields[typeErr.Field]))
	case errors.As(err, &typeErr):
		return errorf(http.StatusBadRequest, "invalid_request", "the body must be a JSON object with the fields %s", strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errorf(http.StatusBadRequest, "invalid_request", "unknown field %s: the fields are %s", name, strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
	}
	return errorf(http.StatusBadRequest, "invalid_request", "the body is not valid JSON: %v", err)
}

// jsonFields maps the json names of the fields of the struct v points to
// to their types.
func jsonFields(v any) map[string]reflect.Type {
	t := reflect.TypeOf(v).Elem()
	out := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = f.Type
	}
	return out
}

// wanted says in words what a request field of type t takes.
func wanted(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[stringList]():
		return "a string or a list of strings"
	case reflect.TypeFor[string]():
		return "a string"
	}
	return t.String()
}

// authed passes the logged-in developer's email on, or answers 401.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, sess *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.session(r)
		if err != nil {
			writeError(w, errSessionStore(false))
			return
		}
		if sess == nil {
			writeError(w, errorf(http.StatusUnauthorized, "unauthorized", "log in first: POST %s/login", apiPrefix))
			return
		}
		h(w, r, sess)
	}
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// authenticate checks an email and password (signup, login), giving the
// account's email or the error.
type authenticate func(r *http.Request, email, password string) (string, *apiError)

func (s *Server) apiSignup(w http.ResponseWriter, r *http.Request) {
	s.apiCredentials(w, r, s.signup, http.StatusCreated)
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	s.apiCredentials(w, r, s.login, http.StatusOK)
}

// apiCredentials answers a JSON sign-up or login: check the body's
// credentials and start a session, answering status with the email.
func (s *Server) apiCredentials(w http.ResponseWriter, r *http.Request, check authenticate, status int) {
	var c credentials
	if aerr := decode(r, &c); aerr != nil {
		writeError(w, aerr)
		return
	}
	email, aerr := check(r, c.Email, c.Password)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if err := s.startSession(w, r, email, ""); err != nil {
		writeError(w, errSessionStore(status == http.StatusCreated))
		return
	}
	writeJSON(w, status, map[string]string{"email": email})
}

func setRetryAfter(w http.ResponseWriter, wait time.Duration) {
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.endSession(w, r); err != nil {
		writeError(w, errSessionStore(false))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiCatalogue(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, catalogue(s.table(), s.opts.ConfigDir))
}

func (s *Server) apiListClients(w http.ResponseWriter, r *http.Request, sess *session) {
	writeJSON(w, http.StatusOK, s.clientViews(sess.Email))
}

// clientViews is dev's clients as the list shows them (never nil: the
// API answers [] for none).
func (s *Server) clientViews(dev string) []clientView {
	t, now := s.table(), s.opts.Now()
	out := []clientView{}
	for _, c := range s.opts.Store.Clients(dev) {
		out = append(out, viewOf(t, c, now, false))
	}
	return out
}

func (s *Server) apiCreateClient(w http.ResponseWriter, r *http.Request, sess *session) {
	var req struct {
		Catalogue    stringList `json:"catalogue"`
		ClientName   string     `json:"client_name"`
		RedirectURIs stringList `json:"redirect_uris"`
	}
	if aerr := decode(r, &req); aerr != nil {
		writeError(w, aerr)
		return
	}
	redirects := req.RedirectURIs.list
	if req.RedirectURIs.single { // one string, perhaps several URIs split by the separator
		redirects = splitRedirectURIs(redirects[0], s.table())
	}
	c, aerr := s.createClient(r.Context(), s.registrant(r, sess), req.Catalogue.list, req.ClientName, redirects)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Location", apiPrefix+clientPath(c.ClientID))
	writeJSON(w, http.StatusCreated, viewOf(s.table(), c, s.opts.Now(), true))
}

func (s *Server) apiGetClient(w http.ResponseWriter, r *http.Request, sess *session) {
	c, aerr := s.ownClient(sess.Email, r.PathValue("client_id"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	c, state := s.readAtProvider(r.Context(), c)
	writeJSON(w, http.StatusOK, s.liveView(r.Context(), s.table(), c, state))
}

func (s *Server) apiDeleteClient(w http.ResponseWriter, r *http.Request, sess *session) {
	_, warning, aerr := s.deleteClient(r.Context(), sess.Email, r.PathValue("client_id"))
	switch {
	case aerr != nil:
		writeError(w, aerr)
	case warning != "":
		writeJSON(w, http.StatusOK, map[string]string{"client_id": r.PathValue("client_id"), "warning": warning})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
