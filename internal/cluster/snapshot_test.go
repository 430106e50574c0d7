package cluster

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// FuzzDecodeSnapshot checks that decodeSnapshot never panics, that what
// it accepts has a positive version and unique, non-empty client IDs, and
// that an accepted snapshot survives encoding: decoding its encoding gives
// it back, and encoding that gives the same bytes.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSnapshot(b)
		if err != nil {
			if s != nil {
				t.Fatalf("decodeSnapshot returned %+v with the error %v", s, err)
			}
			return
		}
		if s.Version <= 0 {
			t.Fatalf("accepted version %d", s.Version)
		}
		seen := make(map[string]bool, len(s.Bindings))
		for i, bd := range s.Bindings {
			if bd.ClientID == "" || seen[bd.ClientID] {
				t.Fatalf("accepted bindings[%d] with client_id %q (empty or duplicate)", i, bd.ClientID)
			}
			seen[bd.ClientID] = true
		}
		enc, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("an accepted snapshot does not encode: %v", err)
		}
		again, err := decodeSnapshot(enc)
		if err != nil {
			t.Fatalf("the encoding of an accepted snapshot is refused: %v\n%s", err, enc)
		}
		if !sameSnapshot(s, again) {
			t.Fatalf("decode(encode(x)) != x:\n%+v\n%+v", s, again)
		}
		if enc2, _ := json.Marshal(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// sameSnapshot reports whether a and b hold the same bindings: the same
// instants of expiry, and no catalogue the same as an empty one (the
// encoding omits both).
func sameSnapshot(a, b *snapshot) bool {
	return a.Version == b.Version && slices.EqualFunc(a.Bindings, b.Bindings, func(x, y binding) bool {
		return x.ClientID == y.ClientID && x.Policy == y.Policy && x.Revoked == y.Revoked &&
			x.ExpiresAt.Equal(y.ExpiresAt) && slices.Equal(x.Catalogue, y.Catalogue)
	})
}
