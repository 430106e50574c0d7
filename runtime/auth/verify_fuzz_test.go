package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fastjson"

	"github.com/cuegate/cuegate/internal/testidp"
)

// FuzzVerifyMatchesGolangJWT holds verify to oracleVerify, the verification
// with golang-jwt's parser it replaces: for any header and claims JSON,
// signed by any test key (or a forger's), tampered with or not, at any
// time, both accept with equal claims or both refuse with the same error.
// The intended differences: a repeated member name in any object of the
// header or claims, and nesting deeper than fastjson.MaxDepth, are
// malformed (encoding/json keeps the last member, and nests 10000 deep).
func FuzzVerifyMatchesGolangJWT(f *testing.F) {
	p, k, v := readyEnv(f, KeySetsOptions{MinRefetch: time.Hour})
	idp := p.idp()
	fetch := k.fetcher(idp.ID)
	signers := []testidp.Key{rsaA, ecA, ec384, edA, rsaB, rsaX}
	// The seeds (testdata) write the IdP's issuer, which varies, as $ISS.
	f.Fuzz(func(t *testing.T, header, claims string, signer, mode uint8, at int64) {
		claims = strings.ReplaceAll(claims, "$ISS", idp.Issuer)
		tok := mintRaw(header, claims, signers[int(signer)%len(signers)], mode)
		rules := rulesFor(allAlgs...)
		if mode&0x40 != 0 {
			rules.Audience = ""
		}
		when := now.Add(time.Duration(at%(1<<40)) * time.Second)
		want, wantErr := v.oracleVerify(string(tok), fetch, idp, rules, when)
		got, gotErr := v.verify(tok, fetch, idp, rules, when)
		if intendedDifference(tok) {
			if gotErr != errMalformed {
				t.Fatalf("repeated member or deep nesting: got %v, want %v", gotErr, errMalformed)
			}
			return
		}
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("verify says %v, golang-jwt says %v", gotErr, wantErr)
		}
		if gotErr == nil && !sameClaims(got, want) {
			t.Fatalf("claims differ:\n got %+v\nwant %+v", *got, *want)
		}
	})
}

// mintRaw returns a token of header and claims, signed by key with the
// algorithm the header names (with key's own when that cannot sign with
// key), then changed as mode says in its low 3 bits.
func mintRaw(header, claims string, key testidp.Key, mode uint8) []byte {
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	method := key.Method
	var h struct{ Alg string }
	if json.Unmarshal([]byte(header), &h) == nil && slices.Contains(supportedAlgs, h.Alg) {
		method = jwt.GetSigningMethod(h.Alg)
	}
	sig, err := method.Sign(signed, key.Priv)
	if err != nil {
		sig, _ = key.Method.Sign(signed, key.Priv)
	}
	tok := signed + "." + enc.EncodeToString(sig)
	switch mode & 7 {
	case 1: // a flipped signature bit
		sig[len(sig)/2] ^= 1
		tok = signed + "." + enc.EncodeToString(sig)
	case 2: // padded segments
		tok = base64.URLEncoding.EncodeToString([]byte(header)) + "." + base64.URLEncoding.EncodeToString([]byte(claims)) + "." + base64.URLEncoding.EncodeToString(sig)
	case 3: // line breaks, which the decoder skips
		tok = tok[:len(tok)/3] + "\r\n" + tok[len(tok)/3:]
	case 4: // header is the whole token
		tok = header
	case 5: // not base64
		tok = signed + ".*"
	case 6: // a fourth segment
		tok += ".e30"
	}
	return []byte(tok)
}

// intendedDifference reports whether a base64url segment of tok decodes
// to JSON with a repeated member name or nested deeper than
// fastjson.MaxDepth.
func intendedDifference(tok []byte) bool {
	for seg := range bytes.SplitSeq(tok, []byte(".")) {
		b, err := base64.RawURLEncoding.DecodeString(string(seg))
		if err == nil && json.Valid(b) {
			if depth, dup := scanJSON(json.NewDecoder(bytes.NewReader(b))); dup || depth > fastjson.MaxDepth {
				return true
			}
		}
	}
	return false
}

// scanJSON returns the nesting depth of the value dec reads, and whether
// an object in it repeats a member name (as encoding/json decodes names).
func scanJSON(dec *json.Decoder) (depth int, dup bool) {
	tok, err := dec.Token()
	if err != nil {
		return 0, false
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return 1, false
	}
	seen := map[string]bool{}
	for dec.More() {
		if d == '{' {
			name, _ := dec.Token()
			s, _ := name.(string)
			dup = dup || seen[s]
			seen[s] = true
		}
		inner, innerDup := scanJSON(dec)
		depth, dup = max(depth, inner), dup || innerDup
	}
	_, _ = dec.Token() // the closing delimiter
	return depth + 1, dup
}

// sameClaims reports whether a and b hold the same claims.
func sameClaims(a, b *Claims) bool {
	return a.blob == b.blob && slices.Equal(a.idx, b.idx) && slices.Equal(a.scopes, b.scopes) &&
		a.exp == b.exp && a.nbf == b.nbf && a.iat == b.iat && a.iss == b.iss && a.alg == b.alg && a.gen == b.gen
}

// TestDeepUnclosedNestingIsCheap: a token whose header or claims open
// thousands of arrays or objects and never close them is refused as
// malformed, with work in proportion to its length (fastjson's validator
// built an error text per level: gigabytes for 8 KiB), before any key or
// signature is looked at.
func TestDeepUnclosedNestingIsCheap(t *testing.T) {
	p, k, v := readyEnv(t, KeySetsOptions{MinRefetch: time.Hour})
	idp, fetch, rules := p.idp(), k.fetcher(p.idp().ID), rulesFor(allAlgs...)
	enc := base64.RawURLEncoding
	for _, tc := range []struct{ name, header, claims string }{
		{"header", strings.Repeat("[", 6000), "{}"},
		{"claims", `{"alg":"RS256"}`, strings.Repeat("[", 5900)},
		{"objects", strings.Repeat(`{"":`, 1500), "{}"},
		{"closed, 301 deep", strings.Repeat("[", 301) + strings.Repeat("]", 301), "{}"},
	} {
		tok := []byte(enc.EncodeToString([]byte(tc.header)) + "." + enc.EncodeToString([]byte(tc.claims)) + ".AAAA")
		var err error
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = v.verify(tok, fetch, idp, rules, now)
		runtime.ReadMemStats(&after)
		if err != errMalformed {
			t.Errorf("%s: %v, want %v", tc.name, err, errMalformed)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: refusing a %d-byte token allocated %d bytes", tc.name, len(tok), n)
		}
	}
}
