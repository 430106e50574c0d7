package auth

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cuegate/cuegate/compiler/table"
)

// The oracle: token verification as it was done with golang-jwt's parser
// and encoding/json into jwt.MapClaims, kept unchanged as test code.

// oracleVerify is verify as it was with golang-jwt's ParseWithClaims, the
// reference FuzzVerifyMatchesGolangJWT holds the package's verify to. It
// parses and fully verifies a token with the key set of f.
func (v *Validator) oracleVerify(token string, f *fetcher, idp *table.IdP, rules *table.JWTAuth, now time.Time) (*Claims, error) {
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
		ks, keyErr = f.oracleKeyFor(t)
		if keyErr != nil {
			return nil, keyErr
		}
		return ks.oracleLookup(t)
	})
	if err != nil {
		return nil, oracleDescribe(err, tok, claims, allowed)
	}
	c := &Claims{alg: tok.Method.Alg(), gen: ks.gen}
	// The parser has checked these claims' types; absent ones stay zero.
	if exp, _ := claims.GetExpirationTime(); exp != nil {
		c.exp = nanos(exp.Time)
	}
	if nbf, _ := claims.GetNotBefore(); nbf != nil {
		c.nbf = nanos(nbf.Time)
	}
	if iat, _ := claims.GetIssuedAt(); iat != nil {
		c.iat = nanos(iat.Time)
	}
	var ok bool
	if c.blob, c.idx, c.scopes, ok = oraclePack(claims); !ok {
		return nil, errClaims
	}
	c.iss, _ = c.String("iss")
	return c, nil
}

// oracleKeyFor checks the header and returns the key set to verify t with,
// refetching it once when t names a kid that is not in it.
func (f *fetcher) oracleKeyFor(t *jwt.Token) (*keySet, *Error) {
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

// oracleLookup returns the key (or keys, for a token without kid) that may verify
// t: of the key type and curve its algorithm uses.
func (ks *keySet) oracleLookup(t *jwt.Token) (any, error) {
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

// oracleDescribe turns a parser error into an *Error.
func oracleDescribe(err error, tok *jwt.Token, claims jwt.MapClaims, allowed []string) *Error {
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

// oraclePack lays out the string and string-list claims of m as blob and idx
// (see Claims), those of nested objects under their dotted path
// ("realm_access.roles"), and returns the token's scopes (tokenScopes).
// A path that more than one claim has, of any type (a literal top-level
// "a.b" and "b" nested in "a"), is ambiguous: neither is laid out, so
// the claim matches nothing and sets no header. ok is false when the
// claims take more than 2^16 − 1 bytes or a list has more elements,
// which a token of at most MaxTokenBytes cannot hold (its decoded payload
// is under 6 KiB, a string at most triples when invalid UTF-8 becomes
// U+FFFD, and a nested path repeats at most maxClaimDepth names).
func oraclePack(m map[string]any) (blob string, idx []uint16, scopes []string, ok bool) {
	type claim struct {
		path string
		v    any // string or []any
	}
	var claims []claim
	paths := map[string]int{}
	type object struct {
		prefix string
		m      map[string]any
	}
	level := []object{{"", m}}
	for depth := 1; depth <= maxClaimDepth && len(level) > 0; depth++ {
		var next []object
		for _, o := range level {
			for _, k := range slices.Sorted(maps.Keys(o.m)) {
				path := o.prefix + k
				paths[path]++
				switch v := o.m[k].(type) {
				case string, []any:
					claims = append(claims, claim{path, v})
				case map[string]any:
					next = append(next, object{path + ".", v})
				}
			}
		}
		level = next
	}
	var b []byte
	add := func(s string) {
		idx = append(idx, uint16(len(b)), uint16(len(b)+len(s)))
		b = append(b, s...)
	}
	for _, c := range claims {
		if paths[c.path] > 1 {
			continue
		}
		add(c.path)
		switch v := c.v.(type) {
		case string:
			idx = append(idx, 0, 1)
			add(v)
		case []any:
			at := len(idx)
			idx = append(idx, 1, 0)
			for _, e := range v {
				if s, isString := e.(string); isString {
					if idx[at+1] == math.MaxUint16 {
						return "", nil, nil, false
					}
					add(s)
					idx[at+1]++
				}
			}
		}
		if len(b) > math.MaxUint16 {
			return "", nil, nil, false
		}
	}
	blob = string(b)
	idx = slices.Clone(idx)
	return blob, idx, tokenScopes(blob, idx), true
}
