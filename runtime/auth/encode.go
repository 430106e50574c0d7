package auth

import (
	"encoding/binary"
	"slices"
)

// The encoded form of Claims, as the spill keeps it: exp, nbf, iat and gen
// (8 bytes each), the index of alg in supportedAlgs with badAud as its
// high bit (1 byte), the number of idx entries (2 bytes), idx (2 bytes
// each), then blob. Little endian.
// The issuer and the scopes are derived from blob again when decoded.
const encodedFixed = 8*4 + 1 + 2

// badAudBit marks badAud in the encoded alg byte.
const badAudBit = 0x80

// encodedSize is the length of c's encoded form.
func encodedSize(c *Claims) int { return encodedFixed + 2*len(c.idx) + len(c.blob) }

// encodeClaims writes c's encoded form into b, of encodedSize(c) bytes.
// c.alg is one of supportedAlgs, as verify guarantees.
func encodeClaims(b []byte, c *Claims) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(c.exp))
	le.PutUint64(b[8:], uint64(c.nbf))
	le.PutUint64(b[16:], uint64(c.iat))
	le.PutUint64(b[24:], c.gen)
	b[32] = byte(slices.Index(supportedAlgs, c.alg))
	if c.badAud {
		b[32] |= badAudBit
	}
	le.PutUint16(b[33:], uint16(len(c.idx)))
	p := b[encodedFixed:]
	for i, x := range c.idx {
		le.PutUint16(p[2*i:], x)
	}
	copy(p[2*len(c.idx):], c.blob)
}

// decodeClaims returns new Claims from b, which encodeClaims wrote; they
// do not refer to b.
func decodeClaims(b []byte) *Claims {
	le := binary.LittleEndian
	c := &Claims{
		exp:    int64(le.Uint64(b[0:])),
		nbf:    int64(le.Uint64(b[8:])),
		iat:    int64(le.Uint64(b[16:])),
		gen:    le.Uint64(b[24:]),
		alg:    supportedAlgs[b[32]&^badAudBit],
		badAud: b[32]&badAudBit != 0,
		idx:    make([]uint16, le.Uint16(b[33:])),
	}
	p := b[encodedFixed:]
	for i := range c.idx {
		c.idx[i] = le.Uint16(p[2*i:])
	}
	c.blob = string(p[2*len(c.idx):])
	c.derive()
	return c
}
