package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/rs/zerolog"
)

// TestSameKeys: two key lists are the same when they hold the same keys as
// many times each, in any order; a repeated key replaced in one copy is a
// change, so the new key is installed.
func TestSameKeys(t *testing.T) {
	t.Parallel()
	k := func(kid, alg, der string) *key { return &key{kid: kid, alg: alg, der: []byte(der)} }
	a, b, c := k("", "RS256", "A"), k("", "RS256", "B"), k("", "RS256", "C")
	tests := []struct {
		name string
		x, y []*key
		same bool
	}{
		{"both empty", nil, nil, true},
		{"same order", []*key{a, b}, []*key{a, b}, true},
		{"other order", []*key{a, b, c}, []*key{c, a, b}, true},
		{"equal copies", []*key{a, b}, []*key{k("", "RS256", "A"), k("", "RS256", "B")}, true},
		{"repeated key, same counts", []*key{a, a, b}, []*key{a, b, a}, true},
		{"one copy of a repeated key replaced", []*key{a, a}, []*key{a, b}, false},
		{"replaced the other way", []*key{a, b}, []*key{a, a}, false},
		{"counts differ", []*key{a, a, b}, []*key{a, b, b}, false},
		{"a key added", []*key{a}, []*key{a, b}, false},
		{"a key removed", []*key{a, b}, []*key{a}, false},
		{"kid differs", []*key{k("1", "RS256", "A")}, []*key{k("2", "RS256", "A")}, false},
		{"alg differs", []*key{k("1", "RS256", "A")}, []*key{k("1", "PS256", "A")}, false},
		{"material differs", []*key{k("1", "RS256", "A")}, []*key{k("1", "RS256", "B")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sameKeys(tc.x, tc.y); got != tc.same {
				t.Errorf("sameKeys = %v, want %v", got, tc.same)
			}
			if got := sameKeys(tc.y, tc.x); got != tc.same {
				t.Errorf("sameKeys, swapped = %v, want %v", got, tc.same)
			}
		})
	}
}

// TestSkipUnusableKeys: one malformed key and one encryption key in the set
// (as Keycloak publishes) do not stop the good key from working.
func TestSkipUnusableKeys(t *testing.T) {
	t.Parallel()
	testKeys(t)
	malformed := json.RawMessage(`{"kty":"RSA","kid":"broken","use":"sig","n":"!!not base64!!","e":"AQAB"}`)
	enc := rsaB.JWK(t, "RSA-OAEP", "enc")
	p := newProvider(t, malformed, enc, rsaA.JWK(t, "RS256", "sig"))
	k := readyKeys(t, KeySetsOptions{MinRefetch: time.Hour}, p.idp())
	v := NewValidator(k, 0)
	if _, err := v.Validate(p.token(t, rsaA), p.idp(), rulesFor("RS256"), now); err != nil {
		t.Fatalf("good key: %v", err)
	}
	_, err := v.Validate(p.token(t, rsaB), p.idp(), rulesFor("RS256"), now)
	wantErr(t, err, 401, "unknown signing key")
	if st := k.Status()["test"]; !slices.Equal(st.KeyIDs, []string{"rsa-a"}) || st.LastError != "" {
		t.Errorf("status %+v, want only rsa-a and no error", st)
	}
}

// TestSkippedKeysLoggedBounded: a key set of many unusable entries costs
// a fetch maxSkipsLogged lines about them and one that counts the rest.
func TestSkippedKeysLoggedBounded(t *testing.T) {
	t.Parallel()
	testKeys(t)
	keys := slices.Repeat([]json.RawMessage{json.RawMessage(`42`)}, maxSkipsLogged+12)
	p := newProvider(t, append(keys, rsaA.JWK(t, "RS256", "sig"))...)
	var log testutil.SyncBuffer
	readyKeys(t, KeySetsOptions{MinRefetch: time.Hour, Logger: zerolog.New(&log)}, p.idp())
	if one, rest := strings.Count(log.String(), `"jwks key skipped"`), strings.Count(log.String(), `"more":12,`); one != maxSkipsLogged || rest != 1 {
		t.Errorf("%d lines one by one (want %d) and %d counting 12 more (want 1):\n%s", one, maxSkipsLogged, rest, log.String())
	}
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	testKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := string(rsaA.JWK(t, "RS256", "sig"))
	long := `{"kty":"RSA","kid":"long","e":"AQAB","n":"` + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, maxRSABits/8+1)) + `"}`
	var kidless map[string]any
	if err := json.Unmarshal(edA.JWK(t, "", ""), &kidless); err != nil {
		t.Fatal(err)
	}
	delete(kidless, "kid")
	one, _ := json.Marshal(kidless)
	many := `{"keys":[` + strings.Repeat(string(one)+",", maxKeys) + good + `]}`
	tests := []struct {
		name    string
		doc     string
		kids    []string
		skipped []string // reasons, by substring
		err     string
	}{
		{"all usable", `{"keys":[` + good + `,` + string(edA.JWK(t, "", "")) + `]}`, []string{"rsa-a", "ed-a"}, nil, ""},
		{"enc key", `{"keys":[` + string(ecA.JWK(t, "ECDH-ES", "enc")) + `,` + good + `]}`, []string{"rsa-a"}, []string{`use "enc"`}, ""},
		{"key_ops without verify", `{"keys":[{"kty":"EC","kid":"x","key_ops":["encrypt"]},` + good + `]}`, []string{"rsa-a"}, []string{"key_ops"}, ""},
		{"malformed key", `{"keys":[{"kty":"RSA","kid":"m","n":"%%%","e":"AQAB"},` + good + `]}`, []string{"rsa-a"}, []string{"decode"}, ""},
		{"not an object", `{"keys":[42,` + good + `]}`, []string{"rsa-a"}, []string{"not a JSON object"}, ""},
		{"unknown kty", `{"keys":[{"kty":"XYZ","kid":"u"},` + good + `]}`, []string{"rsa-a"}, []string{""}, ""},
		{"symmetric key", `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"},` + good + `]}`, []string{"rsa-a"}, []string{"symmetric"}, ""},
		{"short RSA key", `{"keys":[` + string(testidp.Key{KID: "short", Priv: small}.JWK(t, "", "")) + `,` + good + `]}`, []string{"rsa-a"}, []string{"1024 bits"}, ""},
		{"duplicate kid", `{"keys":[` + good + `,` + good + `]}`, []string{"rsa-a"}, []string{"duplicate"}, ""},
		{"long RSA key", `{"keys":[` + long + `,` + good + `]}`, []string{"rsa-a"}, []string{"8200 bits is longer than 8192"}, ""},
		{"large RSA exponent", `{"keys":[` + strings.Replace(strings.Replace(good, `"AQAB"`, `"f____w"`, 1), `"rsa-a"`, `"big-e"`, 1) + `,` + good + `]}`, []string{"rsa-a"}, []string{"exponent 2147483647 is above 65537"}, ""},
		{"more keys than maxKeys", many, slices.Repeat([]string{""}, maxKeys), []string{"more than 64 keys"}, ""},
		{"more entries than maxEntries", `{"keys":[` + good + strings.Repeat(`,42`, maxEntries+100) + `]}`, []string{"rsa-a"},
			append(slices.Repeat([]string{"not a JSON object"}, maxEntries-1), "those past 256 are not read"), ""},
		{"no usable key", `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`, nil, []string{""}, "no usable signing key"},
		{"empty set", `{"keys":[]}`, nil, nil, "no usable signing key"},
		{"not JSON", `<html>`, nil, nil, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, skipped, err := parseJWKS([]byte(tt.doc))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.kid)
			}
			if !slices.Equal(kids, tt.kids) {
				t.Errorf("kids %v, want %v", kids, tt.kids)
			}
			if len(skipped) != len(tt.skipped) {
				t.Fatalf("skipped %+v, want %d", skipped, len(tt.skipped))
			}
			for i, s := range skipped {
				if !strings.Contains(s.reason, tt.skipped[i]) {
					t.Errorf("skipped %d: %q, want %q", i, s.reason, tt.skipped[i])
				}
			}
		})
	}
}
