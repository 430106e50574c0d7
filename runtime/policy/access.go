package policy

import "github.com/cuegate/cuegate/compiler/table"

// choose picks, among pols, the policies that grant method on path (the
// cleaned path below the listen path) of the API api to a token with
// scopes (a grant that needs scopes the token lacks grants nothing), and
// of those the ones whose limits apply: the most generous, rate and quota
// each on its own. A granting policy without a rate limit lifts the rate
// limit (rate is nil), otherwise the highest Requests/Per applies;
// likewise a granting policy without a quota lifts the quota, otherwise
// the highest Max/Period applies. Ties go to the policy listed first.
// logged is the policy the request is logged under: rate, else quota, else
// the first granting policy; nil when none grants, and then needs is the
// first grant that would have granted the request with its scopes.
func choose(pols []*table.Policy, api string, method, path []byte, scopes Scopes) (rate, quota, logged *table.Policy, needs *table.Grant) {
	var first *table.Policy
	noRate, noQuota := false, false
	for _, p := range pols {
		gr, ok := p.Access[api]
		if !ok || !Allows(gr, method, path) {
			continue
		}
		if gr != nil && !HasAll(scopes, gr.Scopes) {
			if needs == nil {
				needs = gr
			}
			continue
		}
		if first == nil {
			first = p
		}
		if p.Rate == nil {
			noRate = true
		} else if rate == nil || ratio(p.Rate.Requests, p.Rate.Per) > ratio(rate.Rate.Requests, rate.Rate.Per) {
			rate = p
		}
		if p.Quota == nil {
			noQuota = true
		} else if quota == nil || ratio(p.Quota.Max, p.Quota.Period) > ratio(quota.Quota.Max, quota.Quota.Period) {
			quota = p
		}
	}
	if noRate {
		rate = nil
	}
	if noQuota {
		quota = nil
	}
	switch {
	case rate != nil:
		return rate, quota, rate, nil
	case quota != nil:
		return rate, quota, quota, nil
	case first != nil:
		return nil, nil, first, nil
	}
	return nil, nil, nil, needs
}

// Scopes tells whether a token carries a scope (auth.Claims implements
// it).
type Scopes interface {
	HasScope(scope string) bool
}

// HasAll reports whether s carries every scope of need; a nil s carries
// none.
func HasAll(s Scopes, need []string) bool {
	for _, n := range need {
		if s == nil || !s.HasScope(n) {
			return false
		}
	}
	return true
}

func ratio(n int64, per table.Duration) float64 {
	if per <= 0 {
		return float64(n)
	}
	return float64(n) / per.D().Seconds()
}

// Allows reports whether gr lets method reach path (below the listen
// path). Empty Methods or Paths allow all; a grant path allows itself and
// everything below it, bounded by segments ("/users" allows "/users/7",
// not "/usersx"). A nil gr allows all.
func Allows(gr *table.Grant, method, path []byte) bool {
	if gr == nil {
		return true
	}
	if len(gr.Methods) > 0 {
		ok := false
		for _, m := range gr.Methods {
			if string(method) == m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(gr.Paths) == 0 {
		return true
	}
	for _, p := range gr.Paths {
		if hasSegmentPrefix(path, p) {
			return true
		}
	}
	return false
}

// hasSegmentPrefix reports whether prefix (as the compiler writes grant
// paths: no trailing slash but for "/") is a segment-bounded prefix of
// path.
func hasSegmentPrefix(path []byte, prefix string) bool {
	if prefix == "/" {
		return true
	}
	if len(path) < len(prefix) || string(path[:len(prefix)]) != prefix {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}
