package pathclean

import (
	"bytes"
	"testing"
)

// FuzzClean: an accepted path starts with "/", has no dot segment (also
// before a ";"), no empty segment but a trailing one, and cleaning its
// re-encoding gives it back (Append and Clean agree, so cleaning is
// idempotent).
func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b/../c", "/a/%2e%2e/b", "/a/..;/b", "/a/..%3B/b", "/a/.;x/b",
		"/a/%252e%252e/b", "/a//b/./c/", "/a;b=c/d", "/%41%3b%2E", "/a/.../b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := Clean(nil, []byte(raw))
		if err != nil {
			return
		}
		if len(out) == 0 || out[0] != '/' {
			t.Fatalf("Clean(%q) = %q: no leading slash", raw, out)
		}
		segs := bytes.Split(out[1:], []byte("/"))
		for i, seg := range segs {
			if len(seg) == 0 && i != len(segs)-1 {
				t.Fatalf("Clean(%q) = %q: empty segment", raw, out)
			}
			if base, _, _ := bytes.Cut(seg, []byte(";")); isDots(base) {
				t.Fatalf("Clean(%q) = %q: dot segment %q", raw, out, seg)
			}
		}
		for _, c := range out {
			if c < 0x20 || c == 0x7f || c == '\\' {
				t.Fatalf("Clean(%q) = %q: byte %#x", raw, out, c)
			}
		}
		enc := Append(nil, out)
		again, err := Clean(nil, enc)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Clean(Append(Clean(%q))) = %q, %v; want %q (sent as %q)", raw, again, err, out, enc)
		}
	})
}
