package testidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Key is a key pair that signs test tokens, with the kid and algorithm it
// signs them with. Change a copy's fields to sign with another kid or
// algorithm than its key fits (forgeries, confusions).
type Key struct {
	KID    string // the token header's kid; none when empty
	Alg    string // the algorithm's name, e.g. "RS256"
	Method jwt.SigningMethod
	Priv   crypto.Signer
}

// NewKey generates a key for alg: RS256 and PS256 (RSA 2048), ES256
// (P-256), ES384 (P-384) or EdDSA (Ed25519). It panics on another alg.
func NewKey(kid, alg string) Key {
	k := Key{KID: kid, Alg: alg, Method: jwt.GetSigningMethod(alg)}
	var err error
	switch alg {
	case "RS256", "PS256":
		k.Priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k.Priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k.Priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, k.Priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("algorithm %q is not one of RS256, PS256, ES256, ES384, EdDSA", alg)
	}
	if err != nil {
		panic("testidp: " + err.Error())
	}
	return k
}

// signingKey is the first signing key of every Server: an RSA key takes
// a while to generate, and tests start many servers.
var signingKey = sync.OnceValue(func() crypto.Signer { return NewKey("", "RS256").Priv })

// JWK is the public key of k as a JWK with k's kid; alg and use are left
// out when empty.
func (k Key) JWK(t testing.TB, alg, use string) json.RawMessage {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(k.Priv.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: k.KID, ALG: jwkset.ALG(alg), USE: jwkset.USE(use)},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(j.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Mint signs claims with k, setting the kid (unless k.KID is empty) and
// then header's fields, a nil value deleting the field.
func (k Key) Mint(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.Method, claims)
	if k.KID != "" {
		tok.Header["kid"] = k.KID
	}
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	out, err := tok.SignedString(k.Priv)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
