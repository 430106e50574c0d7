package runtime

import (
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/auth"
	"github.com/cuegate/cuegate/runtime/policy"
)

// checkClaims refuses, with 403, a token without the API's scopes (with
// the RFC 6750 insufficient_scope challenge on resp, unless nil) or whose
// claims do not match. It does not allocate.
func checkClaims(ru *apiRules, c *auth.Claims, resp *fasthttp.ResponseHeader) (errorResponse, bool) {
	rules := ru.jwt
	if !policy.HasAll(c, rules.Scopes) {
		return ru.lacksScopes.refuse(resp), false
	}
	if len(rules.ScopesAny) > 0 && !slices.ContainsFunc(rules.ScopesAny, c.HasScope) {
		return ru.lacksAny.refuse(resp), false
	}
	for i := range rules.Claims {
		m := &rules.Claims[i]
		found := false
		c.EachString(m.Claim, func(v string) bool {
			_, found = slices.BinarySearch(m.Values, v)
			return !found
		})
		if !found {
			return ru.claimRefusals[i], false
		}
	}
	return errorResponse{}, true
}

// refuse sets the challenge on resp, unless nil, and returns the 403.
func (s *scopeRefusal) refuse(resp *fasthttp.ResponseHeader) errorResponse {
	if resp != nil {
		resp.SetBytesKV(hdrWWWAuthenticate, s.challenge)
	}
	return s.answer
}
