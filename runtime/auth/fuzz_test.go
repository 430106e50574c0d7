package auth

import (
	"strings"
	"testing"
	"time"
)

// FuzzValidate feeds arbitrary tokens to Validate: it must never panic,
// must answer with an *Error whose description does not repeat the token,
// and must accept only what the test keys signed.
func FuzzValidate(f *testing.F) {
	p, _, v := readyEnv(f, KeySetsOptions{MinRefetch: time.Hour})
	valid := rsaA.Mint(f, p.claimsAt(now), nil)
	for _, seed := range []string{
		valid,
		ecA.Mint(f, p.claimsAt(now), nil),
		edA.Mint(f, p.claimsAt(now), map[string]any{"typ": "at+jwt"}),
		"e30.e30.",
		"eyJhbGciOiJub25lIn0.e30.",
		"a.b.c",
		strings.Repeat("A", MaxTokenBytes+1),
	} {
		f.Add([]byte(seed))
	}
	idp, rules := p.idp(), rulesFor(allAlgs...)
	f.Fuzz(func(t *testing.T, token []byte) {
		c, err := v.Validate(token, idp, rules, now)
		if err == nil {
			if s, _ := c.String("sub"); s != "alice" {
				t.Fatalf("accepted a token with sub %q", s)
			}
			return
		}
		e, ok := err.(*Error)
		if !ok || (e.Status != 401 && e.Status != 503) {
			t.Fatalf("error %v (%T)", err, err)
		}
		if len(token) > 3 && strings.Contains(e.Description, string(token)) {
			t.Fatalf("description %q contains the token", e.Description)
		}
	})
}
