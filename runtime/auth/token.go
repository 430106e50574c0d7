package auth

import (
	"bytes"
	"encoding/base64"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fastjson"

	"github.com/cuegate/cuegate/compiler/table"
)

// scratch is the working memory of one token's verification, pooled:
// parsed values point into it until it is put back.
type scratch struct {
	header, claims fastjson.Parser
	seg            []byte   // the decoded segment being read
	keys           [][]byte // parseObject's
	packer
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// pooledTokenBytes is the largest token whose scratch goes back to
// scratchPool. A parser grows with the values of what it parsed (some 80
// times a token's size for one packed with tiny values), and a pooled
// scratch keeps that until the collector drops it: a larger token's
// scratch goes to bigScratches, which keeps a few.
const pooledTokenBytes = 4 << 10

// bigScratches holds scratches that parsed tokens over pooledTokenBytes,
// for the next such tokens: a few, so that what they keep is bounded, and
// a flood of such tokens does not make a new one each.
var bigScratches = make(chan *scratch, 8)

// getScratch returns a scratch for parsing raw.
func getScratch(raw []byte) *scratch {
	if len(raw) > pooledTokenBytes {
		select {
		case s := <-bigScratches:
			return s
		default:
			return new(scratch)
		}
	}
	return scratchPool.Get().(*scratch)
}

// putScratch gives back s, which parsed raw.
func putScratch(s *scratch, raw []byte) {
	if len(raw) <= pooledTokenBytes {
		scratchPool.Put(s)
		return
	}
	select {
	case bigScratches <- s:
	default:
	}
}

// token is a token split and parsed as golang-jwt's parser does, with
// its rules and in its order of errors; the header and claims are
// parsed with fastjson (see parseObject). It points into the scratch
// that parsed it.
type token struct {
	signed string // header.claims, the signed part
	sig    []byte
	header
	claims *fastjson.Object // nil: none (JSON null)
}

// header is what verification reads of a JOSE header.
type header struct {
	method      jwt.SigningMethod
	badTyp      bool // typ is present and not a JWT type (typOK)
	crit        bool // crit is present
	hasKID      bool
	kidIsString bool
	kid         []byte // when kidIsString
}

// parse splits raw into its three base64url segments (unpadded; line
// breaks ignored, as encoding/base64 does) and parses it. The error is
// errMalformed, or errUnsupportedAlg when the header names no algorithm
// golang-jwt knows, which takes precedence only over a malformed
// signature segment.
func (s *scratch) parse(raw []byte) (*token, *Error) {
	h, rest, ok1 := bytes.Cut(raw, []byte{'.'})
	c, sig, ok2 := bytes.Cut(rest, []byte{'.'})
	if !ok1 || !ok2 || bytes.IndexByte(sig, '.') >= 0 {
		return nil, errMalformed
	}
	t := &token{}
	b, ok := s.decode(h)
	if !ok {
		return nil, errMalformed
	}
	o, ok := parseObject(&s.header, b, &s.keys)
	if !ok {
		return nil, errMalformed
	}
	t.header = readHeader(o)
	if b, ok = s.decode(c); !ok {
		return nil, errMalformed
	}
	if t.claims, ok = parseObject(&s.claims, b, &s.keys); !ok {
		return nil, errMalformed
	}
	if t.method == nil {
		return nil, errUnsupportedAlg
	}
	if t.sig, ok = s.decode(sig); !ok {
		return nil, errMalformed
	}
	t.signed = string(raw[:len(h)+1+len(c)])
	return t, nil
}

// decode returns seg base64url-decoded into s.seg.
func (s *scratch) decode(seg []byte) ([]byte, bool) {
	n := base64.RawURLEncoding.DecodedLen(len(seg))
	s.seg = slices.Grow(s.seg[:0], n)[:n]
	n, err := base64.RawURLEncoding.Decode(s.seg, seg)
	return s.seg[:n], err == nil
}

// readHeader reads the members of a header verification looks at; o may
// be nil.
func readHeader(o *fastjson.Object) (h header) {
	if alg := get(o, "alg"); alg != nil && alg.Type() == fastjson.TypeString {
		h.method = jwt.GetSigningMethod(string(alg.GetStringBytes()))
	}
	if typ := get(o, "typ"); typ != nil {
		h.badTyp = !typOK(typ.GetStringBytes()) // nil when not a string
	}
	h.crit = get(o, "crit") != nil
	if kid := get(o, "kid"); kid != nil {
		h.hasKID = true
		if kid.Type() == fastjson.TypeString {
			h.kidIsString, h.kid = true, asText(kid.GetStringBytes())
		}
	}
	return h
}

// get returns the member name of o, or nil; o may be nil.
func get(o *fastjson.Object, name string) *fastjson.Value {
	if o == nil {
		return nil
	}
	return o.Get(name)
}

// typOK reports whether typ is "JWT" or "at+jwt", in any case (by
// strings.ToLower), with or without "application/".
func typOK(typ []byte) bool {
	s := strings.TrimPrefix(strings.ToLower(string(asText(typ))), "application/")
	return s == "jwt" || s == "at+jwt"
}

// numericDate is a NumericDate claim as golang-jwt reads it; set is false
// when it is absent or 0.
type numericDate struct {
	t   time.Time
	set bool
}

// nanos returns d in Unix nanoseconds (see nanos), 0 when not set.
func (d numericDate) nanos() int64 {
	if !d.set {
		return 0
	}
	return nanos(d.t)
}

// dates are a token's exp, nbf and iat.
type dates struct{ exp, nbf, iat numericDate }

// failures are the claim rules a token breaks, in the order they are
// reported.
type failures uint8

const (
	failType    failures = 1 << iota // a claim of the wrong type
	failExp                          // expired
	failNbf                          // not valid yet
	failIat                          // issued in the future
	failIss                          // wrong issuer
	failAud                          // wrong audience
	failMissing                      // a required claim is missing
)

// checkClaims applies golang-jwt's claim rules as verify's parser options
// set them (exp required, nbf, iat, issuer, audience when the API names
// one, leeway) and reports the first failure in failures' order; a
// missing claim is reported as exp's if exp is absent, else as iss's if
// iss is, else as aud's.
func checkClaims(o *fastjson.Object, idp *table.IdP, rules *table.JWTAuth, now time.Time) (d dates, _ *Error) {
	leeway := idp.Leeway.D()
	var fail failures
	fail |= date(o, "exp", &d.exp)
	switch {
	case !d.exp.set && fail == 0:
		fail |= failMissing
	case d.exp.set && !now.Before(d.exp.t.Add(leeway)):
		fail |= failExp
	}
	if fail |= date(o, "nbf", &d.nbf); d.nbf.set && now.Before(d.nbf.t.Add(-leeway)) {
		fail |= failNbf
	}
	if fail |= date(o, "iat", &d.iat); d.iat.set && now.Before(d.iat.t.Add(-leeway)) {
		fail |= failIat
	}
	if rules.Audience != "" {
		fail |= audience(get(o, "aud"), rules.Audience)
	}
	if idp.Issuer != "" {
		fail |= issuer(get(o, "iss"), idp.Issuer)
	}
	if fail == 0 {
		return d, nil
	}
	for _, r := range reported {
		if fail&r.fail != 0 {
			return d, r.err
		}
	}
	switch {
	case get(o, "exp") == nil:
		return d, errNoExpiry
	case get(o, "iss") == nil:
		return d, errIssuer
	}
	return d, errAudience
}

// reported is the error of each failure but failMissing, in the order
// they are reported.
var reported = [...]struct {
	fail failures
	err  *Error
}{
	{failType, errClaims},
	{failExp, errExpired},
	{failNbf, errNotYetValid},
	{failIat, errIssuedFuture},
	{failIss, errIssuer},
	{failAud, errAudience},
}

// issuer applies golang-jwt's rule to iss: a string, which must be want;
// absent or "" it is missing.
func issuer(iss *fastjson.Value, want string) failures {
	if iss == nil {
		return failMissing
	}
	s := iss.GetStringBytes()
	switch {
	case iss.Type() != fastjson.TypeString:
		return failType
	case len(s) == 0:
		return failMissing
	case !textIs(s, want):
		return failIss
	}
	return 0
}

// audience applies golang-jwt's rule to aud: a string or a list of
// strings, of which one must be want; absent, of another type, empty or
// [""] it is missing.
func audience(aud *fastjson.Value, want string) failures {
	var list []*fastjson.Value
	switch {
	case aud == nil:
	case aud.Type() == fastjson.TypeString:
		list = []*fastjson.Value{aud}
	case aud.Type() == fastjson.TypeArray:
		list = aud.GetArray()
	}
	found := false
	for _, e := range list {
		if e.Type() != fastjson.TypeString {
			return failType
		}
		found = found || textIs(e.GetStringBytes(), want)
	}
	switch {
	case len(list) == 0 || len(list) == 1 && len(list[0].GetStringBytes()) == 0:
		return failMissing
	case !found:
		return failAud
	}
	return 0
}

// textIs reports whether the decoded JSON string s reads as want (see
// appendText).
func textIs(s []byte, want string) bool {
	return string(asText(s)) == want
}

// date reads the NumericDate claim name into d as golang-jwt does: any
// JSON number of seconds, its fraction kept, then truncated to
// jwt.TimePrecision; absent or 0, it is not set. Any other value is of the
// wrong type.
func date(o *fastjson.Object, name string, d *numericDate) failures {
	v := get(o, name)
	switch {
	case v == nil:
		return 0
	case v.Type() != fastjson.TypeNumber:
		return failType
	}
	f, _ := number(v) // in range: parseObject checked
	if f != 0 {
		round, frac := math.Modf(f)
		d.t, d.set = time.Unix(int64(round), int64(frac*1e9)).Truncate(jwt.TimePrecision), true
	}
	return 0
}
