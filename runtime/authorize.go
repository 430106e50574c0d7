package runtime

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/auth"
	"github.com/cuegate/cuegate/runtime/policy"
)

// A token's claims are what policy decisions read.
var _ policy.Claims = (*auth.Claims)(nil)

// authorize validates the token and resolves the identity, then has
// package policy decide on its policies and access, and counts the limits
// of the policies chosen.
func (r *request) authorize(ctx *fasthttp.RequestCtx, gen *generation, st *apiState, sub []byte) (errorResponse, bool) {
	g, rules := r.g, st.api.JWT
	now := r.start // one clock read per request, unless the clock is injected
	if !g.systemClock {
		now = g.now()
	}
	claims, identity, e, ok := r.authenticate(g.validator, st, &ctx.Request.Header, &ctx.Response.Header, now)
	if !ok {
		return e, false
	}
	r.identity, r.claims = identity, claims
	if st.rules != nil && st.rules.jwt != nil {
		if e, ok := checkClaims(st.rules, claims, &ctx.Response.Header); !ok {
			return e, false
		}
	}

	in := policy.Input{
		Policies:       gen.table.Policies,
		EntryNamespace: gen.entryNS,
		API:            st.api.ID,
		Namespace:      st.ns,
		Claims:         claims,
		PolicyClaim:    rules.PolicyClaim,
		Defaults:       rules.DefaultPolicies,
		Now:            now,
		Method:         r.method,
		Path:           sub,
	}
	if g.opts.Bindings != nil {
		if g.opts.Cluster != nil && !g.opts.Cluster.BindingsReady() {
			return errBindingsNotReady, false
		}
		in.Registration, in.Registered = g.opts.Bindings.Binding(identity)
	}
	d := r.pols.Decide(&in)
	switch {
	case d.Refusal == policy.UnknownPolicy:
		return r.unknownPolicy(d.Unknown), false
	case d.Refusal == policy.Scope:
		s := gen.grantRefusals[d.Needs]
		return s.refuse(&ctx.Response.Header), false
	case d.Refusal != policy.None:
		return refusals[d.Refusal], false
	}
	r.policy = d.Policy.ID
	return r.countLimits(ctx, gen, st, now, d)
}

// authenticate validates the bearer token of h for st's API at now and
// resolves its identity. It returns the token's claims and identity, or
// false with the error to answer; resp, unless nil, gets the challenge of
// a 401. It uses r.buf and sets nothing else of r.
func (r *request) authenticate(v *auth.Validator, st *apiState, h *fasthttp.RequestHeader, resp *fasthttp.ResponseHeader, now time.Time) (claims *auth.Claims, identity string, e errorResponse, ok bool) {
	rules := st.api.JWT
	tok := bearer(h.PeekBytes(hdrAuthorization))
	if tok == nil {
		if resp != nil {
			resp.SetBytesKV(hdrWWWAuthenticate, bearerRealm)
		}
		return nil, "", errNoToken, false
	}
	claims, err := v.Validate(tok, st.idp, rules, now)
	if err != nil {
		var ae *auth.Error // Validate's failures always are one
		errors.As(err, &ae)
		return nil, "", r.authError(resp, ae.Status, ae.Description), false
	}
	identity, ok = claims.String(rules.IdentityClaim)
	if !ok || identity == "" {
		return nil, "", r.authError(resp, 401, "token has no "+rules.IdentityClaim+" claim"), false
	}
	return claims, identity, errorResponse{}, true
}

// refusals are the answers to package policy's refusals but
// UnknownPolicy, which names the policy (unknownPolicy), and Scope, which
// names the scopes (generation.grantRefusals).
var refusals = [...]errorResponse{
	policy.Revoked:   errRevoked,
	policy.Expired:   errExpired,
	policy.Unmatched: errUnmatched,
	policy.NoPolicy:  errNoPolicy,
	policy.Denied:    errDenied,
}

func (r *request) unknownPolicy(id string) errorResponse {
	r.policy = id
	return errorResponse{403, appendErrorJSON(r.buf[:0], 403, "unknown policy "+strconv.Quote(id))}
}

// authError sets the RFC 6750 challenge for a rejected token (401) on
// resp, unless nil, and returns the JSON error; a 503 (keys not yet
// fetched) has no challenge.
func (r *request) authError(resp *fasthttp.ResponseHeader, status int, desc string) errorResponse {
	if status == 401 && resp != nil {
		b := append(r.buf[:0], `Bearer realm="cuegate", error="invalid_token", error_description=`...)
		b = appendQuotedHeader(b, desc)
		resp.SetBytesKV(hdrWWWAuthenticate, b)
	}
	r.buf = appendErrorJSON(r.buf[:0], status, desc)
	return errorResponse{status, r.buf}
}

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(h []byte) []byte {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !bytes.EqualFold(h[:len(scheme)], []byte(scheme)) {
		return nil
	}
	tok := bytes.TrimSpace(h[len(scheme):])
	if len(tok) == 0 {
		return nil
	}
	return tok
}
