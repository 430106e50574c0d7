package auth

import (
	"crypto/rsa"
	"math/big"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// rsaMethods are the PKCS #1 v1.5 algorithms rsaKey prepares for.
var rsaMethods = []*jwt.SigningMethodRSA{jwt.SigningMethodRS256, jwt.SigningMethodRS384, jwt.SigningMethodRS512}

// rsaPriv returns rsaA's private key.
func rsaPriv(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	testKeys(t)
	return rsaA.Priv.(*rsa.PrivateKey)
}

// encodedMessage returns the EM a correct signature of signed with m
// opens to under priv (RFC 8017 §9.2).
func encodedMessage(priv *rsa.PrivateKey, m *jwt.SigningMethodRSA, signed string) []byte {
	h := m.Hash.New()
	h.Write([]byte(signed))
	k := priv.Size()
	em := make([]byte, k)
	em[1] = 1
	t := append(append([]byte{}, digestInfo[m.Hash]...), h.Sum(nil)...)
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xff
	}
	copy(em[k-len(t):], t)
	return em
}

// rawSign returns em^d mod n as k bytes: the signature that opens to em,
// whatever em holds. em must be below n.
func rawSign(priv *rsa.PrivateKey, em []byte) []byte {
	s := new(big.Int).Exp(new(big.Int).SetBytes(em), priv.D, priv.N)
	return s.FillBytes(make([]byte, priv.Size()))
}

// agree fails t unless rsaKey and crypto/rsa give the same verdict on sig,
// and returns it.
func agree(t *testing.T, priv *rsa.PrivateKey, m *jwt.SigningMethodRSA, signed string, sig []byte) bool {
	t.Helper()
	got := newRSAKey(&priv.PublicKey).verify(m, signed, sig)
	want := m.Verify(signed, sig, &priv.PublicKey) == nil
	if got != want {
		t.Fatalf("%s: rsaKey says %v, crypto/rsa says %v", m.Alg(), got, want)
	}
	return got
}

func TestRSAKeyMatchesCryptoRSA(t *testing.T) {
	t.Parallel()
	priv := rsaPriv(t)
	const signed = "header.claims"
	n := priv.N.Bytes()
	for _, m := range rsaMethods {
		em := encodedMessage(priv, m, signed)
		edit := func(f func(em []byte) []byte) []byte { return rawSign(priv, f(append([]byte{}, em...))) }
		padEnd := len(em) - len(digestInfo[m.Hash]) - m.Hash.Size() - 1
		cases := []struct {
			name string
			sig  []byte
			want bool
		}{
			{"correct", rawSign(priv, em), true},
			{"block type 2", edit(func(b []byte) []byte { b[1] = 2; return b }), false},
			{"a padding byte not 0xff", edit(func(b []byte) []byte { b[5] = 0xfe; return b }), false},
			{"no zero after the padding", edit(func(b []byte) []byte { b[padEnd] = 0xff; return b }), false},
			{"another hash's prefix", edit(func(b []byte) []byte { b[padEnd+15] ^= 7; return b }), false},
			{"a hash bit flipped", edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), false},
			{"garbage after a shorter padding", edit(func(b []byte) []byte {
				copy(b[3:], b[padEnd:]) // 0x00 01 ff 00 DigestInfo hash, then the garbage left behind
				return b
			}), false},
			{"signature one byte short", rawSign(priv, em)[1:], false},
			{"signature one byte long", append([]byte{0}, rawSign(priv, em)...), false},
			{"signature equal to the modulus", n, false},
			{"signature of all ones", func() []byte {
				b := make([]byte, len(n))
				for i := range b {
					b[i] = 0xff
				}
				return b
			}(), false},
			{"zero", make([]byte, len(n)), false},
		}
		for _, c := range cases {
			t.Run(m.Alg()+"/"+c.name, func(t *testing.T) {
				if got := agree(t, priv, m, signed, c.sig); got != c.want {
					t.Fatalf("verify = %v, want %v", got, c.want)
				}
			})
		}
	}
}

func TestNewRSAKeyLeavesRefusedKeysToCryptoRSA(t *testing.T) {
	t.Parallel()
	priv := rsaPriv(t)
	for _, c := range []struct {
		name string
		n    *big.Int
		e    int
	}{
		{"even exponent", priv.N, 65536},
		{"exponent 1", priv.N, 1},
		{"exponent of 2³¹", priv.N, 1 << 31},
		{"even modulus", new(big.Int).Add(priv.N, big.NewInt(1)), 65537},
	} {
		if k := newRSAKey(&rsa.PublicKey{N: c.n, E: c.e}); k != nil {
			t.Errorf("%s: prepared, want nil (crypto/rsa refuses the key)", c.name)
		}
	}
}

// FuzzRSAKeyMatchesCryptoRSA holds rsaKey to rsa.VerifyPKCS1v15 on
// signatures of any encoded message: the correct one with any bytes
// changed, the signed text changed, or the signature cut or extended.
func FuzzRSAKeyMatchesCryptoRSA(f *testing.F) {
	f.Add(uint8(0), "h.c", []byte{}, uint8(0))
	f.Add(uint8(1), "h.c", []byte{1, 2}, uint8(0))
	f.Add(uint8(2), "h.c", []byte{0xf0, 0x01}, uint8(1))
	f.Add(uint8(0), "h.c", []byte{20, 0}, uint8(2))
	priv := rsaPriv(f)
	f.Fuzz(func(t *testing.T, alg uint8, signed string, edits []byte, mode uint8) {
		m := rsaMethods[int(alg)%len(rsaMethods)]
		em := encodedMessage(priv, m, signed)
		for i := 0; i+1 < len(edits); i += 2 { // (position, xor) pairs
			em[1+int(edits[i])%(len(em)-1)] ^= edits[i+1] // em[0] stays 0, below n
		}
		sig := rawSign(priv, em)
		switch mode % 4 {
		case 1:
			signed += "x"
		case 2:
			sig = sig[1:]
		case 3:
			sig = append(sig, 0)
		}
		agree(t, priv, m, signed, sig)
	})
}

// BenchmarkRSAVerify compares a prepared key with crypto/rsa on one
// RS256 signature; report the ratio of the two.
func BenchmarkRSAVerify(b *testing.B) {
	priv := rsaPriv(b)
	m := jwt.SigningMethodRS256
	const signed = "header.claims"
	sig := rawSign(priv, encodedMessage(priv, m, signed))
	b.Run("crypto-rsa", func(b *testing.B) {
		for b.Loop() {
			if m.Verify(signed, sig, &priv.PublicKey) != nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("prepared", func(b *testing.B) {
		k := newRSAKey(&priv.PublicKey)
		for b.Loop() {
			if !k.verify(m, signed, sig) {
				b.Fatal("refused")
			}
		}
	})
}
