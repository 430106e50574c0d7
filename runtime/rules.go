package runtime

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
)

// apiRules are an API's scope and claim requirements, header edits and
// CORS, rendered once per table generation as the bytes the request path
// writes. An apiState has nil rules when its API uses none of them, so
// that they cost an API without them one nil check. Immutable.
type apiRules struct {
	jwt *table.JWTAuth // the scopes and claims the token must carry
	// lacksScopes and lacksAny answer a token without jwt.Scopes or
	// without any of jwt.ScopesAny; claimRefusals[i] one whose claim
	// jwt.Claims[i] does not match.
	lacksScopes, lacksAny scopeRefusal
	claimRefusals         []errorResponse

	claimHeaders []claimHeader
	request      headerEdits // of the request sent upstream
	response     headerEdits // of every answer
	cors         *corsRules
}

// claimHeader is a header set from a claim.
type claimHeader struct {
	name  []byte
	claim string
}

// headerEdits are header names to remove, then fields to set; names
// canonical. remove holds the names of set too: a field set replaces
// every field of its name, not the first only.
type headerEdits struct {
	remove [][]byte
	set    []field
}

type field struct{ name, value []byte }

// newAPIRules renders a's rules, reading its secret headers' values
// (relative files from configDir); nil when a has none. An error names
// the header and its reference, never a value.
func newAPIRules(a *table.API, configDir string) (*apiRules, error) {
	jwt := a.JWT
	scoped := jwt != nil && (len(jwt.Scopes) > 0 || len(jwt.ScopesAny) > 0 || len(jwt.Claims) > 0)
	if !scoped && a.CORS == nil && a.ResponseHeaders == nil && a.Upstream.RequestHeaders == nil &&
		len(a.Upstream.ClaimHeaders) == 0 && len(a.Upstream.SecretHeaders) == 0 {
		return nil, nil
	}
	request, err := newRequestEdits(a.Upstream, configDir)
	if err != nil {
		return nil, err
	}
	ru := &apiRules{
		request:  request,
		response: newHeaderEdits(a.ResponseHeaders),
		cors:     newCORSRules(a.CORS),
	}
	if scoped {
		ru.jwt = jwt
		ru.lacksScopes = newScopeRefusal(jwt.Scopes, "this API needs ")
		ru.lacksAny = newScopeRefusal(jwt.ScopesAny, "this API needs one of ")
		for _, m := range jwt.Claims {
			ru.claimRefusals = append(ru.claimRefusals, newError(403, "claim "+strconv.Quote(m.Claim)+" of the token does not match what this API requires"))
		}
	}
	for _, h := range a.Upstream.ClaimHeaders {
		ru.claimHeaders = append(ru.claimHeaders, claimHeader{[]byte(h.Name), h.Claim})
	}
	return ru, nil
}

// newRequestEdits renders the edits of the request sent to u: its
// request headers, then its secret headers, their values read now.
func newRequestEdits(u table.Upstream, configDir string) (headerEdits, error) {
	e := newHeaderEdits(u.RequestHeaders)
	for _, h := range u.SecretHeaders {
		v, err := h.Secret.ResolveToken(configDir, "secret_headers."+h.Name)
		if err != nil {
			return e, err
		}
		if !headerSafe(v, false) {
			return e, fmt.Errorf("secret_headers.%s: %s holds a control character, which a header value cannot", h.Name, h.Secret)
		}
		e.setField(h.Name, []byte(v))
	}
	return e, nil
}

func newHeaderEdits(r *table.HeaderRules) headerEdits {
	var e headerEdits
	if r == nil {
		return e
	}
	for _, name := range r.Remove {
		e.remove = append(e.remove, []byte(name))
	}
	for _, h := range r.Set {
		e.setField(h.Name, []byte(h.Value))
	}
	return e
}

// setField adds a field e sets, its name removed first.
func (e *headerEdits) setField(name string, value []byte) {
	e.remove = append(e.remove, []byte(name))
	e.set = append(e.set, field{[]byte(name), value})
}

// scopeRefusal is the 403 of a token that lacks scopes, rendered: its
// RFC 6750 §3.1 challenge, Bearer realm="cuegate",
// error="insufficient_scope", scope="<scopes>", and its JSON error.
type scopeRefusal struct {
	challenge []byte
	answer    errorResponse
}

// newScopeRefusal renders the refusal of a token without scopes; the
// error says "insufficient scope: " + need + the scopes, quoted.
func newScopeRefusal(scopes []string, need string) scopeRefusal {
	b := append([]byte(nil), `Bearer realm="cuegate", error="insufficient_scope", scope=`...)
	q := make([]string, len(scopes))
	for i, s := range scopes {
		q[i] = strconv.Quote(s)
	}
	return scopeRefusal{
		challenge: appendQuotedHeader(b, strings.Join(scopes, " ")),
		answer:    newError(403, "insufficient scope: "+need+strings.Join(q, ", ")),
	}
}

// newGrantRefusals renders, per grant of pols that needs scopes, the
// refusal of a request only that grant would allow.
func newGrantRefusals(pols map[string]*table.Policy) map[*table.Grant]scopeRefusal {
	out := map[*table.Grant]scopeRefusal{}
	for _, p := range pols {
		for _, gr := range p.Access {
			if gr != nil && len(gr.Scopes) > 0 {
				out[gr] = newScopeRefusal(gr.Scopes, "this method and path need ")
			}
		}
	}
	return out
}

// corsRules are an API's CORS answers, rendered.
type corsRules struct {
	any         bool     // "*": every origin, answered with "*"
	origins     [][]byte // canonical
	credentials bool
	methods     []byte // Access-Control-Allow-Methods of a preflight
	headers     []byte // Access-Control-Allow-Headers of a preflight
	expose      []byte // Access-Control-Expose-Headers
	maxAge      []byte // Access-Control-Max-Age, seconds
}

func newCORSRules(c *table.CORS) *corsRules {
	if c == nil {
		return nil
	}
	r := &corsRules{
		any:         c.AnyOrigin,
		credentials: c.Credentials,
		methods:     []byte(strings.Join(c.Methods, ", ")),
		headers:     []byte(strings.Join(c.Headers, ", ")),
		maxAge:      strconv.AppendInt(nil, int64(c.MaxAge.D().Seconds()), 10),
	}
	r.expose = []byte(strings.Join(exposed(c.ExposeHeaders), ", "))
	for _, o := range c.Origins {
		r.origins = append(r.origins, []byte(o))
	}
	return r
}

// gatewayHeaders are the response headers the gateway sets itself for
// the caller to read: every CORS answer exposes them.
var gatewayHeaders = []string{string(hdrRequestID), string(hdrRetryAfter), string(hdrRateLimit), string(hdrRateRemaining), string(hdrRateReset)}

// exposed is the Access-Control-Expose-Headers list of an API's CORS:
// its expose_headers, then those of gatewayHeaders they do not name (in
// any letter case).
func exposed(configured []string) []string {
	out := slices.Clone(configured)
	for _, g := range gatewayHeaders {
		if !slices.ContainsFunc(configured, func(c string) bool { return strings.EqualFold(c, g) }) {
			out = append(out, g)
		}
	}
	return out
}
