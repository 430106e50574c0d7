// Package sessionstest checks, for tests, what a Redis holds of the
// portal sessions kept in it.
package sessionstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/redis/rueidis"
)

// StoredSession returns the one session key c's Redis holds under prefix
// and its value. The test fails unless that key is the session of token
// (SessionKey), and neither key nor value holds the token.
func StoredSession(t testing.TB, c rueidis.Client, prefix, token string) (key, value string) {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Do(ctx, c.B().Keys().Pattern(prefix+"v1:session:*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	if want := SessionKey(prefix, token); len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys = %q, want [%q]", keys, want)
	}
	value, err = c.Do(ctx, c.B().Get().Key(keys[0]).Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(keys[0], token) || strings.Contains(value, token) {
		t.Errorf("the token is in Redis: key %q, value %q", keys[0], value)
	}
	return keys[0], value
}

// SessionKey returns the key of token's session under prefix: prefix,
// "v1:session:", then the token's SHA-256 in hex.
func SessionKey(prefix, token string) string {
	sum := sha256.Sum256([]byte(token))
	return prefix + "v1:session:" + hex.EncodeToString(sum[:])
}
