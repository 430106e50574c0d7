package auth

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"

	"filippo.io/bigmod"
	"github.com/golang-jwt/jwt/v5"
)

// rsaKey verifies RSASSA-PKCS1-v1_5 signatures (RS256, RS384, RS512) with
// its modulus prepared once, where crypto/rsa prepares it on every call.
// It accepts exactly the signatures rsa.VerifyPKCS1v15 accepts: it raises
// the signature to the public exponent and compares the whole encoded
// message with the one expected, parsing nothing out of it. An rsaKey is
// immutable and safe for concurrent use.
type rsaKey struct {
	n    *bigmod.Modulus
	e    uint
	size int // bytes of the modulus; a signature has exactly this many
}

// newRSAKey prepares pub, or returns nil when rsa.VerifyPKCS1v15 would
// refuse it (even modulus, exponent even, below 3 or at least 2³¹); such
// a key is left to crypto/rsa, which says why.
func newRSAKey(pub *rsa.PublicKey) *rsaKey {
	if pub.E < 3 || pub.E&1 == 0 || pub.E > 1<<31-1 {
		return nil
	}
	n, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil || n.Nat().IsOdd() == 0 {
		return nil
	}
	return &rsaKey{n: n, e: uint(pub.E), size: n.Size()}
}

// digestInfo is the DER prefix of the DigestInfo of each hash (RFC 8017
// §9.2, note 1).
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// verify reports whether sig is m's PKCS #1 v1.5 signature of signed; a
// hash without a digestInfo prefix verifies nothing.
func (k *rsaKey) verify(m *jwt.SigningMethodRSA, signed string, sig []byte) bool {
	prefix, known := digestInfo[m.Hash]
	if !known || len(sig) != k.size || k.size < 11+len(prefix)+m.Hash.Size() {
		return false
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.n)
	if err != nil { // sig ≥ n
		return false
	}
	em := bigmod.NewNat().ExpShortVarTime(s, k.e, k.n).Bytes(k.n)
	// EM = 0x00 ‖ 0x01 ‖ 0xff… ‖ 0x00 ‖ DigestInfo prefix ‖ hash
	hashAt := k.size - m.Hash.Size()
	padEnd := hashAt - len(prefix) - 1
	if em[0] != 0 || em[1] != 1 || em[padEnd] != 0 || !bytes.Equal(em[padEnd+1:hashAt], prefix) {
		return false
	}
	for _, b := range em[2:padEnd] {
		if b != 0xff {
			return false
		}
	}
	return digestEqual(m.Hash, signed, em[hashAt:])
}

// digestEqual reports whether want is h's digest of signed.
func digestEqual(h crypto.Hash, signed string, want []byte) bool {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256([]byte(signed))
		return bytes.Equal(d[:], want)
	case crypto.SHA384:
		d := sha512.Sum384([]byte(signed))
		return bytes.Equal(d[:], want)
	case crypto.SHA512:
		d := sha512.Sum512([]byte(signed))
		return bytes.Equal(d[:], want)
	}
	return false
}
