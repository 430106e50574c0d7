package runtime

import (
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/auth"
)

// checkClaims refuses, with 403, a token without the API's scopes (with
// the RFC 6750 insufficient_scope challenge on resp, unless nil) or whose
// claims do not match. It does not allocate when the token passes.
func (r *request) checkClaims(ru *apiRules, c *auth.Claims, resp *fasthttp.ResponseHeader) (errorResponse, bool) {
	rules := ru.jwt
	for _, s := range rules.Scopes {
		if !c.HasScope(s) {
			return r.insufficientScope(resp, ru.scopeChallenge, "the token lacks "+missing(c, rules.Scopes)), false
		}
	}
	if len(rules.ScopesAny) > 0 && !slices.ContainsFunc(rules.ScopesAny, c.HasScope) {
		return r.insufficientScope(resp, ru.anyChallenge, "the token has none of "+quoted(rules.ScopesAny)), false
	}
	for i := range rules.Claims {
		m := &rules.Claims[i]
		found := false
		c.EachString(m.Claim, func(v string) bool {
			_, found = slices.BinarySearch(m.Values, v)
			return !found
		})
		if !found {
			r.buf = appendErrorJSON(r.buf[:0], 403, "claim "+strconv.Quote(m.Claim)+" of the token does not match what this API requires")
			return errorResponse{403, r.buf}, false
		}
	}
	return errorResponse{}, true
}

// insufficientScope sets challenge on resp, unless nil, and returns the
// 403 saying why.
func (r *request) insufficientScope(resp *fasthttp.ResponseHeader, challenge []byte, why string) errorResponse {
	if resp != nil {
		resp.SetBytesKV(hdrWWWAuthenticate, challenge)
	}
	r.buf = appendErrorJSON(r.buf[:0], 403, "insufficient scope: "+why)
	return errorResponse{403, r.buf}
}

// grantScope answers a request that only a grant needing scopes the
// token lacks would allow.
func (r *request) grantScope(resp *fasthttp.ResponseHeader, c *auth.Claims, needs []string) errorResponse {
	return r.insufficientScope(resp, scopeChallenge(needs), "this method and path need "+missing(c, needs))
}

// missing lists, quoted, the scopes of need that c lacks.
func missing(c *auth.Claims, need []string) string {
	return quoted(slices.DeleteFunc(slices.Clone(need), c.HasScope))
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
