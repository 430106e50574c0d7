package auth

import (
	"errors"
	"hash/maphash"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cuegate/cuegate/compiler/table"
)

// MaxTokenBytes is the largest token Validate parses.
const MaxTokenBytes = 8 << 10

// DefaultCacheSize is the token cache size NewValidator uses for 0 (and
// the gateway's default). The cache is keyed by a 64-bit hash of the
// token, and an entry keeps the token itself, compared on every hit; an
// entry takes about the token's size plus 0.5 KiB.
const DefaultCacheSize = 100_000

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
	// of the string and string-list claims; idx locates them: per claim nameStart, nameEnd, kind (0
	// string, 1 list), count, then start, end per value. Two pointers per
	// cached token instead of a map of boxed values.
	blob          string
	idx           []uint32
	scopes        []string  // sorted, without repeats; substrings of blob
	exp, nbf, iat time.Time // zero when absent (exp never is)
	iss           string
	aud           []string
	alg           string
	// token is the raw token, to tell it from another with the same cache
	// key (a 64-bit hash).
	token string
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
func (c *Claims) Expiry() time.Time { return c.exp }

// Validator checks bearer tokens against the KeySets and caches the tokens
// it accepted, until they expire or their IdP's key set changes. It is safe
// for concurrent use and may outlive table generations.
type Validator struct {
	keys     *KeySets
	seed     maphash.Seed
	shards   []cacheShard
	perShard int
}

// cacheShard maps the hash of a token to its claims (which hold the token
// itself, compared on every hit): the token is hashed once per request,
// not again by the map.
type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]*Claims
}

// NewValidator returns a Validator whose cache holds at most cacheSize
// tokens: 0 means DefaultCacheSize, a negative size disables the cache.
func NewValidator(keys *KeySets, cacheSize int) *Validator {
	v := &Validator{keys: keys, seed: maphash.MakeSeed()}
	if cacheSize == 0 {
		cacheSize = DefaultCacheSize
	}
	if cacheSize > 0 {
		n := min(64, cacheSize)
		v.shards = make([]cacheShard, n)
		v.perShard = (cacheSize + n - 1) / n
		for i := range v.shards {
			v.shards[i].m = make(map[uint64]*Claims)
		}
	}
	return v
}

// Validate checks a raw token (the bytes after "Bearer ") for an API whose
// JWT rules are rules and whose IdP is idp, at time now. The returned *Claims
// is immutable and shared (cached); a repeat token costs no signature check
// and no allocation, but is checked again for what depends on the API (alg
// allow-list, audience, issuer) and on now (exp, nbf, iat with the IdP's
// leeway). A failure is always an *Error. A token that names an unknown kid
// may wait up to 5s for a refetch of the keys: one in flight, or one it
// starts because the last started at least MinRefetch ago; otherwise it is
// refused at once.
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
	var (
		shard *cacheShard
		key   uint64
	)
	if v.shards != nil {
		key = maphash.Bytes(v.seed, token)
		shard = &v.shards[key%uint64(len(v.shards))]
		shard.mu.RLock()
		c := shard.m[key]
		shard.mu.RUnlock()
		if ks := f.keys.Load(); c != nil && c.token == string(token) && ks != nil && ks.gen == c.gen {
			if err := check(c, idp, rules, now); err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	tok := string(token)
	c, err := v.verify(tok, f, idp, rules, now)
	if err != nil {
		return nil, err
	}
	if err := check(c, idp, rules, now); err != nil {
		return nil, err // the library and check agree; this is a second line
	}
	if shard != nil {
		v.store(shard, key, c, now)
	}
	return c, nil
}

// check re-checks a verified token against the API's rules and the time.
// Its rules are the same as the parser options in verify.
func check(c *Claims, idp *table.IdP, rules *table.JWTAuth, now time.Time) error {
	leeway := idp.Leeway.D()
	switch {
	case !slices.Contains(rules.Algorithms, c.alg):
		return invalid("signing algorithm " + c.alg + " is not allowed")
	case c.iss != idp.Issuer:
		return errIssuer
	case rules.Audience != "" && !slices.Contains(c.aud, rules.Audience):
		return errAudience
	case !now.Before(c.exp.Add(leeway)):
		return errExpired
	case !c.nbf.IsZero() && now.Before(c.nbf.Add(-leeway)):
		return errNotYetValid
	case !c.iat.IsZero() && now.Before(c.iat.Add(-leeway)):
		return errIssuedFuture
	}
	return nil
}

func unavailable(idp string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Description: "signing keys of identity provider " + idp + " are not available yet"}
}

// verify parses and fully verifies a token with the key set of f.
func (v *Validator) verify(token string, f *fetcher, idp *table.IdP, rules *table.JWTAuth, now time.Time) (*Claims, error) {
	if f.keys.Load() == nil && (!f.refetch() || f.keys.Load() == nil) {
		return nil, unavailable(idp.ID)
	}
	// Not nil even when empty: WithValidMethods(nil) would allow any alg.
	allowed := make([]string, 0, len(supportedAlgs))
	for _, a := range rules.Algorithms {
		if slices.Contains(supportedAlgs, a) {
			allowed = append(allowed, a)
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(allowed),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(idp.Issuer),
		jwt.WithLeeway(idp.Leeway.D()),
		jwt.WithTimeFunc(func() time.Time { return now }),
	}
	if rules.Audience != "" {
		opts = append(opts, jwt.WithAudience(rules.Audience))
	}
	var (
		keyErr *Error
		ks     *keySet
	)
	claims := jwt.MapClaims{}
	tok, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		ks, keyErr = f.keyFor(t)
		if keyErr != nil {
			return nil, keyErr
		}
		return ks.lookup(t)
	})
	if err != nil {
		return nil, describe(err, tok, claims, allowed)
	}
	c := &Claims{alg: tok.Method.Alg(), token: token, gen: ks.gen}
	// The parser has checked these claims' types; absent ones stay zero.
	if exp, _ := claims.GetExpirationTime(); exp != nil {
		c.exp = exp.Time
	}
	if nbf, _ := claims.GetNotBefore(); nbf != nil {
		c.nbf = nbf.Time
	}
	if iat, _ := claims.GetIssuedAt(); iat != nil {
		c.iat = iat.Time
	}
	c.iss, _ = claims.GetIssuer()
	c.aud, _ = claims.GetAudience()
	c.blob, c.idx, c.scopes = pack(claims)
	return c, nil
}

// keyFor checks the header and returns the key set to verify t with,
// refetching it once when t names a kid that is not in it.
func (f *fetcher) keyFor(t *jwt.Token) (*keySet, *Error) {
	if typ, ok := t.Header["typ"]; ok {
		s, _ := typ.(string)
		s = strings.TrimPrefix(strings.ToLower(s), "application/")
		if s != "jwt" && s != "at+jwt" {
			return nil, errTyp
		}
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	ks := f.keys.Load()
	if kid, ok := t.Header["kid"].(string); ok && ks.byKID[kid] == nil && f.refetch() {
		ks = f.keys.Load()
	}
	return ks, nil
}

// lookup returns the key (or keys, for a token without kid) that may verify
// t: of the key type and curve its algorithm uses.
func (ks *keySet) lookup(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, hasKID := t.Header["kid"]
	if hasKID {
		s, _ := kid.(string)
		k := ks.byKID[s]
		switch {
		case k == nil:
			return nil, errUnknownKey
		case !k.fits(alg):
			return nil, invalid("signing algorithm " + alg + " does not fit the key")
		}
		return k.pub, nil
	}
	var set jwt.VerificationKeySet
	for _, k := range ks.all {
		if k.fits(alg) {
			set.Keys = append(set.Keys, k.pub)
		}
	}
	if len(set.Keys) == 0 {
		return nil, invalid("no signing key for algorithm " + alg)
	}
	return set, nil
}

// describe turns a parser error into an *Error.
func describe(err error, tok *jwt.Token, claims jwt.MapClaims, allowed []string) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return errUnsupportedAlg // the only other cause: an alg the library does not know
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok != nil && tok.Method != nil && !slices.Contains(allowed, tok.Method.Alg()) {
			// Alg() of a method the library knows: a fixed name, safe to show.
			return invalid("signing algorithm " + tok.Method.Alg() + " is not allowed")
		}
		return errSignature
	case errors.Is(err, jwt.ErrInvalidType):
		return errClaims
	case errors.Is(err, jwt.ErrTokenExpired):
		return errExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errNotYetValid
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errIssuedFuture
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case claims["exp"] == nil:
			return errNoExpiry
		case claims["iss"] == nil:
			return errIssuer
		default:
			return errAudience
		}
	}
	return errMalformed
}

// store caches c under key (its token's hash) until it expires, making
// room when the shard is full: the expired ones among a few entries sampled
// at random (map iteration starts at a random place), else the first of
// them.
func (v *Validator) store(s *cacheShard, key uint64, c *Claims, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= v.perShard {
		var (
			first uint64
			freed bool
			n     int
		)
		for k, old := range s.m {
			if n == 0 {
				first = k
			}
			if !now.Before(old.exp) {
				delete(s.m, k)
				freed = true
			}
			if n++; n == 8 {
				break
			}
		}
		if !freed {
			delete(s.m, first)
		}
	}
	s.m[key] = c // a token with the same hash is replaced
}
