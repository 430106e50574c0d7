// Signing keys, discovery and the JWKS.

package devidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

type key struct {
	kid    string
	alg    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

// RotateKey makes a fresh key of alg ("RS256", or "ES256"; "" means RS256)
// the signing key and returns its kid. Earlier keys stay in the JWKS, so
// tokens they signed remain verifiable until RetireKey.
func (p *Provider) RotateKey(alg string) (string, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "", "RS256":
		alg = "RS256"
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return "", fmt.Errorf("devidp: key algorithm %q: want RS256 or ES256", alg)
	}
	if err != nil {
		return "", fmt.Errorf("devidp: generate %s key: %w", alg, err)
	}
	return p.addKey(priv)
}

// addKey makes priv, an RSA or ECDSA P-256 key, the signing key and
// returns its kid.
func (p *Provider) addKey(priv crypto.Signer) (string, error) {
	k := &key{priv: priv}
	switch pk := priv.(type) {
	case *rsa.PrivateKey:
		k.alg, k.method = "RS256", jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		if pk.Curve != elliptic.P256() {
			return "", fmt.Errorf("devidp: an ECDSA key must be on P-256, not %s", pk.Curve.Params().Name)
		}
		k.alg, k.method = "ES256", jwt.SigningMethodES256
	default:
		return "", fmt.Errorf("devidp: a %T cannot sign: want an RSA or ECDSA P-256 key", priv)
	}
	k.kid = k.alg + "-" + randomString(8)
	p.mu.Lock()
	p.keys = append(p.keys, k)
	p.mu.Unlock()
	p.log.Info().Str("kid", k.kid).Str("alg", k.alg).Msg("devidp (development only): new signing key")
	return k.kid, nil
}

// RetireKey removes kid from the JWKS. The signing key cannot be retired.
func (p *Provider) RetireKey(kid string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.keys, func(k *key) bool { return k.kid == kid })
	switch {
	case i < 0:
		return fmt.Errorf("devidp: no key %q", kid)
	case i == len(p.keys)-1:
		return fmt.Errorf("devidp: key %q signs tokens; rotate before retiring it", kid)
	}
	p.keys = slices.Delete(p.keys, i, i+1)
	return nil
}

// SigningKID returns the kid of the key that signs new tokens.
func (p *Provider) SigningKID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1].kid
}

// Sign signs claims with the current signing key as the token endpoint
// would, for tests that need tokens the registration flow cannot produce
// (expired, wrong issuer, extra claims). The claims are used as given.
func (p *Provider) Sign(claims map[string]any) (string, error) {
	tok, _, err := p.sign(claims)
	return tok, err
}

// sign is Sign, also giving the kid of the key that signed.
func (p *Provider) sign(claims map[string]any) (tok, kid string, err error) {
	p.mu.Lock()
	k := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	t := jwt.NewWithClaims(k.method, jwt.MapClaims(claims))
	t.Header["kid"] = k.kid
	t.Header["typ"] = p.typ
	if tok, err = t.SignedString(k.priv); err != nil {
		return "", "", fmt.Errorf("devidp: sign: %w", err)
	}
	return tok, k.kid, nil
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuer,
		"jwks_uri":                              p.JWKSURL(),
		"token_endpoint":                        p.TokenURL(),
		"registration_endpoint":                 p.RegistrationURL(),
		"grant_types_supported":                 []string{"client_credentials"},
		"response_types_supported":              []string{"token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"subject_types_supported":               []string{"public"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	keys := make([]map[string]string, 0, len(p.keys))
	for _, k := range p.keys {
		keys = append(keys, publicJWK(k))
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func publicJWK(k *key) map[string]string {
	j := map[string]string{"kid": k.kid, "alg": k.alg, "use": "sig"}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		j["kty"] = "RSA"
		j["n"] = b64(pub.N.Bytes())
		j["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		// Go 1.26: the public key's uncompressed point is 0x04 || X || Y.
		pt, _ := pub.Bytes()
		size := (len(pt) - 1) / 2
		j["kty"] = "EC"
		j["crv"] = "P-256"
		j["x"] = b64(pt[1 : 1+size])
		j["y"] = b64(pt[1+size:])
	}
	return j
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
