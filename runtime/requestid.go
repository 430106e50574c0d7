package runtime

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/valyala/fasthttp"
)

// setRequestID keeps the client's X-Request-Id when it is 1 to 128
// printable bytes, and otherwise makes one (appendRequestID).
func (r *request) setRequestID(ctx *fasthttp.RequestCtx) {
	if id := ctx.Request.Header.PeekBytes(hdrRequestID); len(id) > 0 && len(id) <= 128 && printable(id) {
		r.rid = append(r.rid[:0], id...)
		return
	}
	r.rid = r.g.appendRequestID(r.rid[:0])
}

// appendRequestID appends a new request ID: the process's random prefix
// and a counter, 32 hex digits.
func (g *Gateway) appendRequestID(dst []byte) []byte {
	return appendHex64(append(dst, g.ridPrefix[:]...), g.ridSeq.Add(1))
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func appendHex64(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, digits[(v>>uint(shift))&15])
	}
	return dst
}

func initRequestIDPrefix(p *[16]byte) {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	hex.Encode(p[:], b[:])
}
