package portal

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/printable"
)

// referenceView is an API's reference as its page shows it: the
// compiled reference with each operation's URL at the gateway and a curl
// command that calls it.
type referenceView struct {
	*table.Reference
	// BaseURL is the gateway's public URL and the API's listen path.
	BaseURL string
	Groups  []tagView
}

type tagView struct {
	Name, Description string
	Operations        []operationView
}

type operationView struct {
	table.Operation
	// Anchor is the operation's id on the page.
	Anchor string
	URL    string
	Curl   string
}

// reference is e's reference with t's gateway applied; nil when e names
// no document.
func reference(t *table.Table, e *table.CatalogueEntry) *referenceView {
	if e.Reference == nil {
		return nil
	}
	v := &referenceView{Reference: e.Reference, BaseURL: t.Gateway.PublicURL}
	if a := t.APIs[e.API]; a != nil {
		v.BaseURL += strings.TrimSuffix(a.ListenPath, "/")
	}
	n := 0
	for _, tag := range e.Reference.Tags {
		g := tagView{Name: tag.Name, Description: tag.Description}
		if g.Name == "" {
			g.Name = "Other operations"
		}
		for _, op := range tag.Operations {
			n++
			url := v.BaseURL + op.Path
			g.Operations = append(g.Operations, operationView{Operation: op, Anchor: fmt.Sprintf("op-%d", n), URL: url, Curl: operationCurl(op, url)})
		}
		v.Groups = append(v.Groups, g)
	}
	return v
}

// operationCurl is a curl command for op at url with the access token of
// the client page's first step ($ACCESS_TOKEN), and a JSON body to fill
// in when the operation takes one.
func operationCurl(op table.Operation, url string) string {
	var b strings.Builder
	b.WriteString("curl")
	if op.Method != http.MethodGet {
		b.WriteString(" -X " + op.Method)
	}
	b.WriteString(` -H "Authorization: Bearer $ACCESS_TOKEN"`)
	if op.RequestBody != nil {
		for _, m := range op.RequestBody.Content {
			if m.Type == "application/json" || strings.HasSuffix(m.Type, "+json") {
				b.WriteString(" \\\n  -H " + shellQuote("Content-Type: "+m.Type) + " -d '{}'")
				break
			}
		}
	}
	b.WriteString(" \\\n  " + shellQuote(url))
	return b.String()
}

// entryHTML is an API's page: what it is, its limits, and its reference.
func (s *Server) entryHTML(w http.ResponseWriter, r *http.Request) {
	t := s.table()
	e := t.Portal.Catalogue[r.PathValue("id")]
	if e == nil {
		s.message(w, r, http.StatusNotFound, "Not found", "There is no API at this address.")
		return
	}
	item := catalogueItemOf(t, e, t.Portal.UnavailableEntries(s.opts.ConfigDir))
	s.render(w, r, http.StatusOK, "entry", &pageData{Title: e.Name, Entry: item, Reference: reference(t, e)})
}

// apiOpenAPI serves an API's OpenAPI document as JSON.
func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	e := s.table().Portal.Catalogue[r.PathValue("id")]
	if e == nil || e.Reference == nil {
		writeError(w, errorf(http.StatusNotFound, "not_found", "no OpenAPI document for API %q", printable.Clip(r.PathValue("id"), maxEcho)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", `"`+e.Reference.SHA256+`"`)
	w.Write(e.Reference.Document)
}
