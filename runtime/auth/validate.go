package auth

import (
	"crypto/sha256"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

// MaxTokenBytes is the largest token Validate parses.
const MaxTokenBytes = 8 << 10

// supportedAlgs are the asymmetric algorithms a token may be signed with;
// an API's allow-list is intersected with them, so none and HMAC can never
// be accepted whatever the configuration says.
var supportedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Error is a rejected token. Status is 401 for a token problem and 503 when
// the IdP's keys were never fetched. Description says what was wrong; it is
// made of fixed text and configuration names only, so it never contains the
// token or any other value taken from the request and is safe to put in a
// WWW-Authenticate header.
type Error struct {
	Status      int
	Description string
}

var _ error = (*Error)(nil)

func (e *Error) Error() string { return "auth: " + e.Description }

func invalid(desc string) *Error { return &Error{Status: http.StatusUnauthorized, Description: desc} }

// Token errors that carry no variable part are shared.
var (
	errMissing        = invalid("missing token")
	errTooLarge       = invalid("token too large")
	errMalformed      = invalid("malformed token")
	errUnsupportedAlg = invalid("unsupported signing algorithm")
	errSignature      = invalid("invalid signature")
	errUnknownKey     = invalid("unknown signing key")
	errTyp            = invalid("token type is not JWT or at+jwt")
	errCrit           = invalid("critical header parameters are not supported")
	errExpired        = invalid("token expired")
	errNoExpiry       = invalid("token has no expiry (exp)")
	errNotYetValid    = invalid("token not valid yet (nbf)")
	errIssuedFuture   = invalid("token issued in the future (iat)")
	errIssuer         = invalid("wrong issuer")
	errAudience       = invalid("wrong audience")
	errClaims         = invalid("malformed claims")
)

// Claims are the verified claims of one token. A *Claims is immutable and
// shared between goroutines (the Validator caches it).
type Claims struct {
	// blob holds the names (a dotted path for a nested claim) and values
	// of the string and string-list claims; idx locates them: per claim
	// nameStart, nameEnd, kind (0 string, 1 list), count, then start, end
	// per value.
	blob string
	idx  []uint16
	// exp, nbf and iat are Unix nanoseconds; 0 when absent (exp never is).
	exp, nbf, iat int64
	iss           string   // a part of blob
	scopes        []string // sorted, without repeats; substrings of blob
	alg           string   // a constant of the jwt package
	// badAud is set when aud is a list with an element that is not a
	// string: a token an API naming an audience refuses as malformed.
	badAud bool
	// gen is the generation of the key set that verified it; unique within
	// the KeySets, so it also names the IdP.
	gen uint64
}

// find returns the position in idx of the claim name, or -1.
func (c *Claims) find(name string) int {
	for i := 0; i < len(c.idx); i += 4 + 2*int(c.idx[i+3]) {
		if c.blob[c.idx[i]:c.idx[i+1]] == name {
			return i
		}
	}
	return -1
}

// String returns the string claim name (the identity claim).
func (c *Claims) String(name string) (string, bool) {
	i := c.find(name)
	if i < 0 || c.idx[i+2] != 0 {
		return "", false
	}
	return c.blob[c.idx[i+4]:c.idx[i+5]], true
}

// EachString calls f for the claim name when it is a string, or for each
// string in it when it is a list, until f returns false. It does not allocate.
func (c *Claims) EachString(name string, f func(string) bool) {
	i := c.find(name)
	if i < 0 {
		return
	}
	for j := i + 4; j < i+4+2*int(c.idx[i+3]); j += 2 {
		if !f(c.blob[c.idx[j]:c.idx[j+1]]) {
			return
		}
	}
}

// Expiry returns the token's exp.
func (c *Claims) Expiry() time.Time { return time.Unix(0, c.exp) }

// Validator checks bearer tokens against the KeySets and caches the tokens
// it accepted in two levels keyed by the token's SHA-256 (tokenCache,
// then spill), behind a memo of recent tokens (recentTable), until they
// expire or their IdP's key set changes. It is safe for concurrent use
// and may outlive table generations.
type Validator struct {
	keys   *KeySets
	recent atomic.Pointer[recentTable] // nil: no memo
	cache  *tokenCache                 // nil: no cache
	spill  *spill                      // nil when cache is
}

// NewValidator returns a Validator whose cache holds at most cacheBytes
// (split by splitBudget between the memo and the two levels): 0 means
// DefaultCacheBytes, a negative budget disables the cache.
func NewValidator(keys *KeySets, cacheBytes int64) *Validator {
	v := &Validator{keys: keys}
	if cacheBytes == 0 {
		cacheBytes = DefaultCacheBytes
	}
	if cacheBytes > 0 {
		recent, hot, spilled := splitBudget(cacheBytes)
		v.recent.Store(newRecentTable(recent))
		v.cache = newTokenCache(hot, cacheShards)
		v.spill = newSpill(spilled, cacheShards)
		runtime.AddCleanup(v, (*spill).free, v.spill)
	}
	return v
}

// hotShare is the part of the cache's budget that holds decoded Claims on
// the Go heap (the first level, where a hit costs no allocation), and
// recentShare the part that the recent-token memo in front of it takes;
// the rest holds encoded claims outside the heap (the second level, see
// spill).
const (
	hotShare    = 16
	recentShare = 64
)

// splitBudget returns the budgets of the memo and the two levels of a
// cache of budget bytes.
func splitBudget(budget int64) (recent, hot, spilled int64) {
	recent, hot = budget/recentShare, budget/hotShare
	return recent, hot, budget - recent - hot
}

// SetCacheBytes changes the cache's budget (0 means DefaultCacheBytes),
// dropping at once the entries that no longer fit; now is the time their
// expiry is judged at. It does not enable a cache NewValidator disabled.
func (v *Validator) SetCacheBytes(cacheBytes int64, now time.Time) {
	if v.cache == nil {
		return
	}
	if cacheBytes <= 0 {
		cacheBytes = DefaultCacheBytes
	}
	recent, hot, spilled := splitBudget(cacheBytes)
	if r := v.recent.Load(); r == nil || r.total != recent {
		v.recent.Store(newRecentTable(recent))
	}
	v.cache.setBudget(hot, now.UnixNano())
	v.spill.setBudget(spilled)
}

// Validate checks a raw token (the bytes after "Bearer ") for an API whose
// JWT rules are rules and whose IdP is idp, at time now. The returned *Claims
// is immutable and shared (cached); a repeat token costs no signature check
// (and, from the memo or the first level, no allocation), but is checked again for
// what depends on the API (alg allow-list, audience, issuer) and on now
// (exp, nbf, iat with the IdP's leeway). A failure is always an *Error.
// A token that names an unknown kid may wait up to 5s for a refetch of the
// keys: one in flight, or one it starts because the last started at least
// MinRefetch ago; otherwise it is refused at once.
func (v *Validator) Validate(token []byte, idp *table.IdP, rules *table.JWTAuth, now time.Time) (*Claims, error) {
	switch {
	case len(token) == 0:
		return nil, errMissing
	case len(token) > MaxTokenBytes:
		return nil, errTooLarge
	}
	f := v.keys.fetcher(idp.ID)
	if f == nil {
		return nil, unavailable(idp.ID)
	}
	var digest tokenDigest
	recent := v.recent.Load()
	if v.cache != nil {
		if c := recent.fresh(token, f); c != nil {
			err := check(c, idp, rules, now)
			if err == errExpired {
				recent.drop(token, c) // no API accepts it any more
			}
			if err != nil {
				return nil, err
			}
			return c, nil
		}
		digest = sha256.Sum256(token)
		if c := v.cached(&digest, f, now); c != nil {
			if err := check(c, idp, rules, now); err != nil {
				return nil, err
			}
			recent.put(token, c)
			return c, nil
		}
	}
	c, err := v.verify(token, f, idp, rules, now)
	if err != nil {
		return nil, err
	}
	if err := check(c, idp, rules, now); err != nil {
		return nil, err // the library and check agree; this is a second line
	}
	if v.cache != nil {
		v.cache.put(&digest, c, now.UnixNano())
		v.spill.put(&digest, encodedSize(c), func(b []byte) { encodeClaims(b, c) })
		recent.put(token, c)
	}
	return c, nil
}

// current reports whether c, cached claims or nil, were verified with f's
// present key set.
func (f *fetcher) current(c *Claims) bool {
	ks := f.keys.Load()
	return c != nil && ks != nil && ks.gen == c.gen
}

// cached returns the claims either level of the cache holds for digest
// when f's present key set verified them, or nil. Such a hit in the
// second level is decoded and moved to the first.
func (v *Validator) cached(digest *tokenDigest, f *fetcher, now time.Time) *Claims {
	c := v.cache.get(digest)
	spilled := c == nil && v.spill.get(digest, func(b []byte) { c = decodeClaims(b) })
	if !f.current(c) {
		return nil
	}
	if spilled {
		v.cache.put(digest, c, now.UnixNano())
	}
	return c
}

// check re-checks a verified token against the API's rules and the time.
// Its rules are the same as the parser options in verify, and so is the
// order in which it reports them (describe's).
func check(c *Claims, idp *table.IdP, rules *table.JWTAuth, now time.Time) error {
	leeway, t := int64(idp.Leeway.D()), now.UnixNano()
	switch {
	case !slices.Contains(rules.Algorithms, c.alg):
		return algNotAllowed(c.alg)
	case rules.Audience != "" && c.badAud:
		return errClaims
	case t >= c.exp+leeway:
		return errExpired
	case c.nbf != 0 && t < c.nbf-leeway:
		return errNotYetValid
	case c.iat != 0 && t < c.iat-leeway:
		return errIssuedFuture
	case c.iss != idp.Issuer:
		return errIssuer
	case rules.Audience != "" && !c.has("aud", rules.Audience):
		return errAudience
	}
	return nil
}

// has reports whether the claim name is the string s or a list holding it.
func (c *Claims) has(name, s string) bool {
	found := false
	c.EachString(name, func(v string) bool {
		found = v == s
		return !found
	})
	return found
}

// algNotAllowed refuses a token signed with alg, a constant of the jwt
// package (safe to show), that the API does not allow.
func algNotAllowed(alg string) *Error {
	return invalid("signing algorithm " + alg + " is not allowed")
}

func unavailable(idp string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Description: "signing keys of identity provider " + idp + " are not available yet"}
}

// verify parses and fully verifies a token with the key set of f, by
// golang-jwt's rules (see token) and with its signature methods.
func (v *Validator) verify(raw []byte, f *fetcher, idp *table.IdP, rules *table.JWTAuth, now time.Time) (*Claims, error) {
	if f.keys.Load() == nil && (!f.refetch() || f.keys.Load() == nil) {
		return nil, unavailable(idp.ID)
	}
	s := getScratch(raw)
	defer func() { putScratch(s, raw) }()
	t, err := s.parse(raw)
	if err != nil {
		return nil, err
	}
	alg := t.method.Alg()
	if !slices.Contains(rules.Algorithms, alg) || !slices.Contains(supportedAlgs, alg) {
		return nil, algNotAllowed(alg)
	}
	if err := t.header.check(); err != nil {
		return nil, err
	}
	ks := f.keys.Load()
	if t.kidIsString && ks.byKID[string(t.kid)] == nil {
		if fetch := f.refetching(); fetch != nil {
			// The wait for the key set holds no scratch: its parsers have
			// grown with the token, and a token may be made to grow them.
			putScratch(s, raw)
			s, t = nil, nil
			refetched := f.await(fetch)
			s = getScratch(raw)
			if t, err = s.parse(raw); err != nil { // as before: raw is the same
				return nil, err
			}
			if refetched {
				ks = f.keys.Load()
			}
		}
	}
	if err := ks.verify(t); err != nil {
		return nil, err
	}
	d, err := checkClaims(t.claims, idp, rules, now)
	if err != nil {
		return nil, err
	}
	c := &Claims{alg: alg, gen: ks.gen, exp: d.exp.nanos(), nbf: d.nbf.nanos(), iat: d.iat.nanos()}
	c.badAud = audience(get(t.claims, "aud"), "")&failType != 0
	var ok bool
	if c.blob, c.idx, ok = s.pack(t.claims); !ok {
		return nil, errClaims
	}
	c.derive()
	return c, nil
}

// maxNanos bounds the times Claims keep (about the year 2116 either side
// of 1970), so that a leeway added to them cannot overflow.
const maxNanos = 1 << 62

// nanos returns t in Unix nanoseconds, clamped to ±maxNanos.
func nanos(t time.Time) int64 {
	switch s := t.Unix(); {
	case s >= maxNanos/int64(time.Second):
		return maxNanos
	case s <= -maxNanos/int64(time.Second):
		return -maxNanos
	}
	return t.UnixNano()
}

// check refuses a header whose typ is not a JWT's, or that names
// extensions the token's reader must understand (crit).
func (h *header) check() *Error {
	switch {
	case h.badTyp:
		return errTyp
	case h.crit:
		return errCrit
	}
	return nil
}

// verify checks t's signature with the key it names, or, without kid,
// with each key of its algorithm's type and curve until one fits.
func (ks *keySet) verify(t *token) *Error {
	alg := t.method.Alg()
	if t.hasKID {
		k := ks.byKID[string(t.kid)] // a kid that is not a string matches none
		switch {
		case k == nil:
			return errUnknownKey
		case !k.fits(alg):
			return invalid("signing algorithm " + alg + " does not fit the key")
		case !k.verifies(t.method, t.signed, t.sig):
			return errSignature
		}
		return nil
	}
	tried := 0
	for _, k := range ks.all {
		if !k.fits(alg) {
			continue
		}
		if tried++; tried > maxKIDlessKeys {
			return invalid("no kid, and more than " + strconv.Itoa(maxKIDlessKeys) + " keys for algorithm " + alg)
		}
		if k.verifies(t.method, t.signed, t.sig) {
			return nil
		}
	}
	if tried == 0 {
		return invalid("no signing key for algorithm " + alg)
	}
	return errSignature
}

// maxKIDlessKeys is how many keys fitting its algorithm a token without
// a kid is checked against, in the key set's order: a provider that
// names no kid publishes one or two, and a forged token must not cost a
// check per key of a large set.
const maxKIDlessKeys = 4
