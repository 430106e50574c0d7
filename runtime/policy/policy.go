// Package policy decides, for one request to an API that checks tokens,
// which of the table's policies apply to the token's identity, whether
// they grant the request, and whose rate limit and quota count it. It
// reads only what it is given: no clock, no I/O, no HTTP types.
//
// The rules:
//
//   - The policies come from the first source that names any: the portal
//     registration of the identity, else the policy claim, else the API's
//     default policies. A policy ID not in the table refuses the request.
//   - A registration holds for identities in the namespace (Namespace:
//     issuer and identity claim) of its catalogue entries' APIs; for one
//     in another (another provider's client with the same ID, a user
//     whose sub is a client's ID) the claim is read instead. A revoked or
//     expired registration refuses every namespace's identities, and so
//     does one none of whose entries has an API that checks tokens.
//   - A policy grants the request when it grants the API, the grant's
//     methods and paths allow it (Allows) and the token carries the
//     grant's scopes. When only grants whose scopes the token lacks would
//     allow it, the refusal is Scope, with the first such grant's scopes.
//   - Of the granting policies, the most generous limits win, rate and
//     quota each on its own: a granting policy without a rate limit (or
//     quota) lifts it; otherwise the highest Requests/Per (or Max/Period)
//     applies, ties to the policy listed first.
package policy

import (
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

// Refusal is why a request is refused; None when it is not.
type Refusal uint8

// The refusals, in the order the rules are applied.
const (
	None          Refusal = iota
	Revoked               // the identity's registration was deleted
	Expired               // the identity's registration has expired
	Unmatched             // no catalogue entry of the registration has an API that checks tokens
	UnknownPolicy         // a source names a policy the table does not have (Decision.Unknown)
	NoPolicy              // no source names a policy
	Denied                // no applying policy grants the method and path
	Scope                 // only a grant needing scopes the token lacks would (Decision.Needs)
)

// Namespace is where an identity names one caller: the issuer of the
// token and the claim the API takes the identity from. A user whose sub
// equals a client's client_id is not that client, so a portal
// registration, made for the APIs of its catalogue entries, holds only
// for identities in their namespaces.
type Namespace struct{ Issuer, Claim string }

// Claims reads the string values of a token's claim, calling f for each
// until it returns false, and its scopes (auth.Claims implements it).
type Claims interface {
	EachString(name string, f func(string) bool)
	Scopes
}

// Input is what one request's decision reads. Its maps and slices are
// read, never kept or modified.
type Input struct {
	// Policies are the table's policies by ID.
	Policies map[string]*table.Policy
	// EntryNamespace is, per portal catalogue entry whose API checks
	// tokens, the namespace of that API's identities.
	EntryNamespace map[string]Namespace
	// API is the ID of the API requested.
	API string
	// Namespace is the namespace of the request's identity.
	Namespace Namespace
	// Registration is the identity's portal registration, when
	// Registered.
	Registration table.Binding
	Registered   bool
	// Claims and PolicyClaim are the token's claims and the name of the
	// claim that names policies.
	Claims      Claims
	PolicyClaim string
	// Defaults are the API's default policies.
	Defaults []string
	// Now is the time the registration's expiry is checked against.
	Now time.Time
	// Method and Path are the request's method and its cleaned path below
	// the API's listen path.
	Method, Path []byte
}

// Decision is the outcome of Set.Decide.
type Decision struct {
	Refusal Refusal
	// Unknown is the policy ID the table does not have (UnknownPolicy).
	Unknown string
	// Needs is the grant whose scopes would have allowed the request
	// (Scope); shared with the table, read only.
	Needs *table.Grant
	// Policy is the policy the request is logged under: the one whose
	// rate limit applies, else whose quota applies, else the first that
	// grants it; nil when none grants it.
	Policy *table.Policy
	// Rate and Quota are the policies whose rate limit and quota count the
	// request; nil when the request is not limited by one.
	Rate, Quota *table.Policy
}

// Set holds the policies that apply to one request. Its buffer is kept
// from one Decide to the next, so that a Set reused for many requests
// does not allocate. The zero Set is ready; a Set is not safe for
// concurrent use.
type Set struct {
	pols     []*table.Policy
	policies map[string]*table.Policy // of the Decide running
	unknown  string
	// collect is s.add, made once: a method value passed through an
	// interface (Claims) would otherwise be allocated per request.
	collect func(string) bool
}

// Decide resolves the policies of in's identity and decides on the
// request. On a refusal but UnknownPolicy, d.Unknown is "".
func (s *Set) Decide(in *Input) (d Decision) {
	if d.Refusal = s.resolve(in); d.Refusal != None {
		d.Unknown = s.unknown
	} else {
		d.Rate, d.Quota, d.Policy, d.Needs = choose(s.pols, in.API, in.Method, in.Path, in.Claims)
		switch {
		case d.Needs != nil:
			d.Refusal = Scope
		case d.Policy == nil:
			d.Refusal = Denied
		}
	}
	s.reset()
	return d
}

// reset empties s for the next Decide, keeping its buffer.
func (s *Set) reset() {
	clear(s.pols)
	s.pols, s.policies, s.unknown = s.pols[:0], nil, ""
}

// resolve fills s.pols from the first source that names policies.
func (s *Set) resolve(in *Input) Refusal {
	s.policies = in.Policies
	if reg := &in.Registration; in.Registered {
		switch {
		case reg.Revoked:
			return Revoked
		case !reg.ExpiresAt.IsZero() && !in.Now.Before(reg.ExpiresAt):
			return Expired
		}
		switch whereHolds(reg.Catalogue, in.Namespace, in.EntryNamespace) {
		case here:
			if !s.add(reg.Policy) {
				return UnknownPolicy
			}
		case nowhere:
			return Unmatched
		}
	}
	if len(s.pols) == 0 && in.Claims != nil {
		if s.collect == nil {
			s.collect = s.addNamed
		}
		if in.Claims.EachString(in.PolicyClaim, s.collect); s.unknown != "" {
			return UnknownPolicy
		}
	}
	if len(s.pols) == 0 {
		for _, id := range in.Defaults {
			if !s.add(id) {
				return UnknownPolicy
			}
		}
	}
	if len(s.pols) == 0 {
		return NoPolicy
	}
	return None
}

// addNamed adds the policy a claim value names; an empty value names none.
func (s *Set) addNamed(id string) bool {
	return id == "" || s.add(id)
}

// add adds the policy id, or records it as unknown and returns false.
func (s *Set) add(id string) bool {
	p := s.policies[id]
	if p == nil {
		s.unknown = id
		return false
	}
	s.pols = append(s.pols, p)
	return true
}

// holds is where a registration holds (whereHolds).
type holds uint8

// Where a registration holds.
const (
	here      holds = iota // for the request's identity namespace
	elsewhere              // for other namespaces only
	nowhere                // no entry of its has an API that checks tokens
)

// whereHolds tells where a registration for catalogue holds for an
// identity in ns; entryNamespace is Input.EntryNamespace.
func whereHolds(catalogue []string, ns Namespace, entryNamespace map[string]Namespace) holds {
	where := nowhere
	for _, e := range catalogue {
		if at, ok := entryNamespace[e]; ok {
			if at == ns {
				return here
			}
			where = elsewhere
		}
	}
	return where
}
