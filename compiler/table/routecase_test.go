package table

import "testing"

func TestCaseShadowed(t *testing.T) {
	t.Parallel()
	ix := index(
		api("root", "/"),
		api("private", "/private"),
		api("upper", "/Foo"),
		api("lower", "/foo"),
		api("outer", "/api"),
		api("inner", "/api/v1"),
		api("secret", "/secret"),
		api("kelvin", "/kit"),
	)
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"/private/x", false},
		{"/PRIVATE/x", true},
		{"/Private", true},
		{"/private/X", false},
		{"/Privately/x", false}, // segment-bounded: no other API
		{"/Foo/x", false},       // two listen paths alike but for case
		{"/foo/x", false},
		{"/FOO/x", true},
		{"/api/V1/x", true},
		{"/API/x", true},
		{"/api/x", false},
		{"/ſecret/x", true},        // long s: upper case S
		{"/\u212Ait/x", true},      // Kelvin sign: lower case k
		{"/s\xffcret/x", false},    // invalid UTF-8 kept as it is
		{"/\xc5\xbf\xc5/x", false}, // a truncated sequence likewise
	} {
		if _, got := ix.CaseShadowed(nil, []byte(tt.path)); got != tt.want {
			t.Errorf("CaseShadowed(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
	unrouted := index(api("private", "/private"))
	if _, got := unrouted.CaseShadowed(nil, []byte("/PRIVATE/x")); got {
		t.Error("an unrouted path is shadowed")
	}
}

// TestCaseShadowedAllocs: the check on the request path allocates nothing
// when its scratch has capacity. (Not parallel: AllocsPerRun.)
func TestCaseShadowedAllocs(t *testing.T) {
	ix := index(api("root", "/"), api("inner", "/api/v1"))
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { dst, _ = ix.CaseShadowed(dst, []byte("/API/V1/x")) }); n != 0 {
		t.Errorf("CaseShadowed allocates %v times", n)
	}
}
