package compiler

import (
	"cmp"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/idna"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/ascii"
	"github.com/cuegate/cuegate/schema"
)

// buildHeaders compiles an API's header rules, claim headers and CORS.
func (c *compilation) buildHeaders(a *table.API, id string, r schema.API) {
	up := apiPath(id, "upstream")
	a.Upstream.RequestHeaders = c.headerRules(r.Upstream.Request_headers, toUpstream, up.field("request_headers"))
	a.ResponseHeaders = c.headerRules(r.Response_headers, toClient, apiPath(id, "response_headers"))
	a.Upstream.SecretHeaders = c.secretHeaders(r.Upstream.Secret_headers, a, up.field("secret_headers"))
	a.Upstream.ClaimHeaders = c.claimHeaders(r.Upstream.Claim_headers, a, up.field("claim_headers"))
	a.CORS = c.cors(r.Cors, a, apiPath(id, "cors"))
}

// headerRules checks and compiles a set/remove pair of headers sent dir:
// names are tokens that may be edited, set values hold no control
// character, and no name appears twice (in any case).
func (c *compilation) headerRules(r *schema.HeaderRules, dir direction, at fieldPath) *table.HeaderRules {
	if r == nil {
		return nil
	}
	out := &table.HeaderRules{}
	seen := map[string]fieldPath{}
	for i, name := range r.Remove {
		q := at.field("remove").index(i)
		if canon, ok := c.headerName(name, q, dir, false, seen); ok {
			out.Remove = append(out.Remove, canon)
		}
	}
	for _, name := range sortedKeys(r.Set) {
		q := at.field("set").key(name)
		canon, ok := c.headerName(name, q, dir, true, seen)
		if !ok {
			continue
		}
		if v := r.Set[name]; strings.ContainsFunc(v, isControl) {
			c.errorf(q, "value of header %s holds a control character", canon)
		} else {
			out.Set = append(out.Set, table.Header{Name: canon, Value: v})
		}
	}
	slices.SortFunc(out.Set, func(x, y table.Header) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// secretHeaders compiles an API's secret headers: their names as
// request_headers.set's, repeating none of its names.
func (c *compilation) secretHeaders(m map[string]schema.Secret, a *table.API, at fieldPath) []table.SecretHeader {
	if len(m) == 0 {
		return nil
	}
	seen := upstreamHeaderNames(a)
	var out []table.SecretHeader
	for _, name := range sortedKeys(m) {
		q := at.key(name)
		s := m[name]
		c.checkSecret(&s, q)
		if canon, ok := c.headerName(name, q, toUpstream, true, seen); ok {
			out = append(out, table.SecretHeader{Name: canon, Secret: secret(&s)})
		}
	}
	return out
}

// claimHeaders compiles an API's claim headers, which only an API that
// checks tokens has; their names may not repeat the request header
// rules' nor the secret headers'.
func (c *compilation) claimHeaders(m map[string]string, a *table.API, at fieldPath) []table.ClaimHeader {
	if len(m) == 0 {
		return nil
	}
	if a.JWT == nil {
		c.errorf(at, "claim_headers needs auth: jwt: a keyless API has no claims")
		return nil
	}
	seen := upstreamHeaderNames(a)
	var out []table.ClaimHeader
	for _, name := range sortedKeys(m) {
		q := at.key(name)
		c.checkClaimPath(m[name], q)
		if canon, ok := c.headerName(name, q, toUpstream, true, seen); ok {
			out = append(out, table.ClaimHeader{Name: canon, Claim: m[name]})
		}
	}
	slices.SortFunc(out, func(x, y table.ClaimHeader) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// upstreamHeaderNames are the names a's request headers and secret
// headers edit already, for headerName's seen (nil positions).
func upstreamHeaderNames(a *table.API) map[string]fieldPath {
	seen := map[string]fieldPath{}
	if rh := a.Upstream.RequestHeaders; rh != nil {
		for _, h := range rh.Set {
			seen[h.Name] = nil
		}
		for _, name := range rh.Remove {
			seen[name] = nil
		}
	}
	for _, h := range a.Upstream.SecretHeaders {
		seen[h.Name] = nil
	}
	return seen
}

// direction is which way a header the configuration edits goes.
type direction bool

const (
	toUpstream direction = false // request_headers, secret_headers, claim_headers
	toClient   direction = true  // response_headers
)

// headerName checks a header name the configuration edits in messages
// sent dir and returns it canonical. set tells a name to set from one
// to remove; seen holds the names already edited, to refuse a repeat (a
// nil position: from request_headers or secret_headers, for
// claim_headers).
func (c *compilation) headerName(name string, at fieldPath, dir direction, set bool, seen map[string]fieldPath) (string, bool) {
	if !c.checkHeaderName(name, dir, at) {
		return "", false
	}
	canon := textproto.CanonicalMIMEHeaderKey(name)
	if why := uneditable(canon, dir, set); why != "" {
		c.errorf(at, "header %s cannot be edited: %s", canon, why)
		return "", false
	}
	if prev, dup := seen[canon]; dup {
		where := "in request_headers or secret_headers"
		if prev != nil {
			where = "at " + c.where(prev)
		}
		c.errorf(at, "header %s is already edited %s: name each header once", canon, where)
		return "", false
	}
	seen[canon] = at
	return canon, true
}

// uneditable returns why the header canon (canonical) cannot be set (or
// removed, !set) in messages sent dir; "" when it can.
func uneditable(canon string, dir direction, set bool) string {
	if why, ok := fixedHeaders[canon]; ok && (set || canon != "Authorization") {
		return why
	}
	if table.HopByHop([]byte(canon)) {
		return "it is hop-by-hop"
	}
	if dir == toClient {
		if why, ok := answerHeaders[canon]; ok || strings.HasPrefix(canon, "X-Ratelimit-") {
			return cmp.Or(why, "the gateway reports the limits in it")
		}
		if set && strings.HasPrefix(canon, "Access-Control-") {
			return "CORS headers come from the API's cors settings (an API without cors may remove them)"
		}
		return ""
	}
	if set && table.ClientSpoofable([]byte(canon)) {
		return "the gateway strips it from every client, as an upstream may trust it to name the client or rewrite the request (it may be removed)"
	}
	return ""
}

// answerHeaders are the headers of the gateway's own answers (a 401, 403,
// 405 or 429) that response_headers may neither set nor remove, and why;
// X-RateLimit-* too.
var answerHeaders = map[string]string{
	"Www-Authenticate": "the gateway's 401 and 403 answers carry their challenge in it",
	"Retry-After":      "the gateway's 429 and 503 answers say in it when to try again",
	"Allow":            "the gateway's 405 answers list the API's methods in it",
	"Content-Type":     "it describes the body, the gateway's own answers' too",
	"Content-Encoding": "it describes how the body is encoded",
}

// fixedHeaders are the headers no rule may set (nor remove, but
// Authorization), and why, besides the hop-by-hop ones (table.HopByHop).
var fixedHeaders = map[string]string{
	"Host":              "the gateway sends the target's host",
	"Authorization":     "it carries the token the gateway validated (it may be removed)",
	"Connection":        "it is hop-by-hop",
	"Transfer-Encoding": "it frames the body",
	"Content-Length":    "it frames the body",
	"Expect":            "the gateway handles it",
	"X-Request-Id":      "the gateway sets it",
	"X-Forwarded-For":   "the gateway sets it",
	"X-Forwarded-Proto": "the gateway sets it",
	"X-Forwarded-Host":  "the gateway sets it",
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// cors compiles an API's CORS settings: canonical origins, and the
// methods, headers and max age a preflight answers with.
func (c *compilation) cors(r *schema.CORS, a *table.API, at fieldPath) *table.CORS {
	if r == nil {
		return nil
	}
	out := &table.CORS{
		Credentials:   r.Credentials,
		MaxAge:        c.duration(r.Max_age, true, at.field("max_age")),
		Headers:       c.headerList(r.Headers, at.field("headers")),
		ExposeHeaders: c.headerList(r.Expose_headers, at.field("expose_headers")),
		Methods:       sortedUnique(r.Methods),
	}
	if r.Methods == nil {
		out.Methods = a.Methods
		if out.Methods == nil {
			out.Methods = table.MethodsOf(nil).Names()
		}
	}
	for i, o := range r.Origins {
		q := at.field("origins").index(i)
		switch canon, err := canonicalOrigin(o); {
		case o == "*" && r.Credentials:
			c.errorf(q, `origin "*" cannot be used with credentials: true (browsers refuse it): list the origins`)
		case o == "*":
			out.AnyOrigin = true
		case err != "":
			c.errorf(q, "invalid origin %q: %s", o, err)
		default:
			out.Origins = append(out.Origins, canon)
		}
	}
	if len(r.Origins) == 0 {
		c.errorf(at.field("origins"), "origins is empty: no browser could call this API across origins")
	}
	out.Origins = sortedUnique(out.Origins)
	return out
}

// checkHeaderName reports whether name is a valid name of a header sent
// dir, and an error at at when it is not: one sent upstream is as the
// gateway takes them from clients (ascii.FieldName: see the runtime's
// checkHeader), one for clients an RFC 9110 token without "_"
// (ascii.HeaderToken).
func (c *compilation) checkHeaderName(name string, dir direction, at fieldPath) bool {
	class, rule := &ascii.FieldName, ascii.FieldNameRule
	if dir == toClient {
		class, rule = &ascii.HeaderToken, ascii.HeaderTokenRule
	}
	if !ascii.All(name, class) {
		c.errorf(at, "invalid header name %q: %s", name, rule)
		return false
	}
	return true
}

// headerList checks a list of header names for a CORS header ("*"
// among them) and returns them canonical, sorted, without repeats.
func (c *compilation) headerList(names []string, at fieldPath) []string {
	if names == nil {
		return nil
	}
	out := make([]string, 0, len(names))
	for i, n := range names {
		if c.checkHeaderName(n, toClient, at.index(i)) {
			out = append(out, textproto.CanonicalMIMEHeaderKey(n))
		}
	}
	return sortedUnique(out)
}

// canonicalOrigin returns o, which must be scheme://host[:port], as a
// browser sends it: scheme and host in lower case, a host name in
// ASCII (an internationalised one in its punycode form), a port as a
// number and without the scheme's default. It returns what is wrong
// instead when o is not one, or when no browser could send it.
func canonicalOrigin(o string) (string, string) {
	const want = "want scheme://host[:port], as a browser sends it in Origin (no path, not even /)"
	u, err := url.Parse(o)
	switch {
	case err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", want
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(o, "#"):
		return "", want
	case strings.HasSuffix(u.Host, ":"):
		return "", want
	}
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	host, problem := originHost(u.Hostname(), strings.HasPrefix(u.Host, "["))
	if problem != "" {
		return "", problem
	}
	if port != "" {
		n, err := strconv.Atoi(port) // url.Parse let digits only through
		if err != nil || n < 1 || n > 65535 {
			return "", "port " + port + " is not 1 to 65535"
		}
		if port = strconv.Itoa(n); scheme == "http" && n == 80 || scheme == "https" && n == 443 {
			port = ""
		}
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, ""
}

// originHost returns the host of an origin as a browser sends it: an IP
// address in its one textual form (an IPv6 one, bracketed tells it,
// in brackets), or a host name in lower-case ASCII. It returns what is
// wrong instead.
func originHost(h string, bracketed bool) (string, string) {
	if bracketed {
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", "host [" + h + "] is not an IPv6 address (without a zone)"
		}
		return "[" + a.String() + "]", ""
	}
	if !isASCII(h) {
		ascii, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return "", "host " + strconv.Quote(h) + " is not a valid internationalised name: write the punycode (xn--) form a browser sends"
		}
		h = ascii
	}
	h = strings.ToLower(h)
	labels := strings.Split(h, ".")
	if last := labels[len(labels)-1]; last != "" && (strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x")) {
		// A browser reads a host that ends in a number as an IPv4 address.
		if a, err := netip.ParseAddr(h); err != nil || !a.Is4() {
			return "", "host " + h + " is not an IPv4 address as a browser sends it (four numbers 0 to 255 without leading zeros)"
		}
		return h, ""
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return "", "host " + strconv.Quote(h) + " is not a host name (labels of letters, digits, - and _ between dots) nor an IP address: no browser sends it (a wildcard is not a pattern: list each origin)"
		}
	}
	return h, ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
