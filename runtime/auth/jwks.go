package auth

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// The RSA keys accepted for signing: a modulus of at least minRSABits and
// at most maxRSABits, and a public exponent of at most maxRSAExponent
// (providers use 65537). Beyond them preparing a key and checking a
// signature cost far more than any provider's keys need (a megabit
// modulus takes seconds to prepare; a large exponent multiplies every
// check).
const (
	minRSABits     = 2048
	maxRSABits     = 8192
	maxRSAExponent = 1<<16 + 1
)

// maxKeys is the most signing keys a key set gives (a token without a
// kid is checked against those that fit its algorithm, at most
// maxKIDlessKeys). Providers publish a handful.
const maxKeys = 64

// maxEntries is the most entries of a key set's "keys" parseJWKS reads,
// usable or not, so that a set of many unusable entries costs a bounded
// parse and report.
const maxEntries = 4 * maxKeys

// maxSkipsLogged is the most skipped keys a fetch logs one by one; the
// others are counted in one more line.
const maxSkipsLogged = 8

// key is one usable signing key of a key set.
type key struct {
	kid string
	alg string  // the JWK's alg, "" when it names none
	pub any     // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	rsa *rsaKey // pub prepared for PKCS #1 v1.5, nil when pub is not RSA
	der []byte  // PKIX encoding, to compare key sets
}

// keySet is an immutable set of signing keys, replaced whole on a refresh
// that changes it.
type keySet struct {
	gen   uint64 // unique per KeySets; cached tokens carry the gen they were checked with
	byKID map[string]*key
	all   []*key
	ids   []string // sorted kids
}

// skippedKey is a key of a JWKS that cannot verify signatures, and why.
type skippedKey struct {
	index  int
	kid    string
	reason string
}

// parseJWKS parses each key of a JWKS document on its own (with jwkset) and
// keeps the ones that can verify signatures: a malformed key, an encryption
// key (use "enc"), a key whose key_ops exclude "verify", a symmetric or
// private key, an RSA key shorter or longer than allowed, and the keys
// beyond maxKeys are skipped and reported, and do not affect the others;
// entries past maxEntries are not read, and reported once. A document that is not a JWKS,
// or that has no usable key, is an error.
func parseJWKS(body []byte) ([]*key, []skippedKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("key set is not JSON: %w", err)
	}
	var (
		keys    []*key
		skipped []skippedKey
		seen    = map[string]bool{}
	)
	for i, raw := range doc.Keys {
		if i == maxEntries {
			skipped = append(skipped, skippedKey{i, "", fmt.Sprintf("the key set has %d entries: those past %d are not read", len(doc.Keys), maxEntries)})
			break
		}
		if len(keys) == maxKeys {
			skipped = append(skipped, skippedKey{i, "", fmt.Sprintf("the key set gives more than %d keys", maxKeys)})
			continue
		}
		k, kid, err := parseJWK(raw)
		switch {
		case err != nil:
			skipped = append(skipped, skippedKey{i, kid, err.Error()})
		case k.kid != "" && seen[k.kid]:
			skipped = append(skipped, skippedKey{i, kid, "duplicate kid"})
		default:
			seen[k.kid] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("key set has no usable signing key (%d keys, %d skipped)", len(doc.Keys), len(skipped))
	}
	return keys, skipped, nil
}

// parseJWK parses one JWK. It returns the kid it could read even on error,
// for the report.
func parseJWK(raw json.RawMessage) (*key, string, error) {
	var meta struct {
		KID    string   `json:"kid"`
		Use    string   `json:"use"`
		KeyOps []string `json:"key_ops"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, "", errors.New("not a JSON object with string kid, use and key_ops")
	}
	if meta.Use != "" && meta.Use != "sig" {
		return nil, meta.KID, fmt.Errorf("use %q is not sig", meta.Use)
	}
	if meta.KeyOps != nil && !slices.Contains(meta.KeyOps, "verify") {
		return nil, meta.KID, errors.New("key_ops do not include verify")
	}
	j, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, meta.KID, err
	}
	pub := j.Key()
	switch p := pub.(type) {
	case *rsa.PublicKey:
		switch n := p.N.BitLen(); {
		case n < minRSABits:
			return nil, meta.KID, fmt.Errorf("RSA key of %d bits is shorter than %d", n, minRSABits)
		case n > maxRSABits:
			return nil, meta.KID, fmt.Errorf("RSA key of %d bits is longer than %d", n, maxRSABits)
		case p.E > maxRSAExponent:
			return nil, meta.KID, fmt.Errorf("RSA public exponent %d is above %d", p.E, maxRSAExponent)
		}
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() && p.Curve != elliptic.P384() && p.Curve != elliptic.P521() {
			return nil, meta.KID, errors.New("unsupported curve")
		}
	case ed25519.PublicKey:
	default:
		return nil, meta.KID, fmt.Errorf("%T is not a public signing key", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, meta.KID, err
	}
	k := &key{kid: meta.KID, alg: string(j.Marshal().ALG), pub: pub, der: der}
	if p, ok := pub.(*rsa.PublicKey); ok {
		k.rsa = newRSAKey(p)
	}
	return k, meta.KID, nil
}

// verifies reports whether sig is method's signature of signed by k.
func (k *key) verifies(method jwt.SigningMethod, signed string, sig []byte) bool {
	if m, ok := method.(*jwt.SigningMethodRSA); ok && k.rsa != nil {
		return k.rsa.verify(m, signed, sig)
	}
	return method.Verify(signed, sig, k.pub) == nil
}

// fits reports whether k can verify a token signed with alg: the key type
// (and curve) must be the one alg uses, and a JWK that names its alg must
// name this one.
func (k *key) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch p := k.pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return p.Curve == elliptic.P256()
		case "ES384":
			return p.Curve == elliptic.P384()
		case "ES512":
			return p.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// sameKeys reports whether two key lists hold the same keys, in any order,
// each as many times: a key set that repeats a key and replaces one copy
// is a change.
func sameKeys(a, b []*key) bool {
	if len(a) != len(b) {
		return false
	}
	return slices.EqualFunc(sortedKeys(a), sortedKeys(b), func(x, y *key) bool { return compareKeys(x, y) == 0 })
}

// sortedKeys returns a sorted copy of keys.
func sortedKeys(keys []*key) []*key {
	return slices.SortedFunc(slices.Values(keys), compareKeys)
}

// compareKeys orders keys by kid, alg and PKIX encoding.
func compareKeys(x, y *key) int {
	return cmp.Or(strings.Compare(x.kid, y.kid), strings.Compare(x.alg, y.alg), bytes.Compare(x.der, y.der))
}

func newKeySet(gen uint64, keys []*key) *keySet {
	s := &keySet{gen: gen, byKID: make(map[string]*key, len(keys)), all: keys}
	for _, k := range keys {
		if k.kid != "" {
			s.byKID[k.kid] = k
		}
		s.ids = append(s.ids, k.kid)
	}
	slices.Sort(s.ids)
	return s
}
