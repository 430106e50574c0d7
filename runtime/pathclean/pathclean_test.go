package pathclean

import (
	"testing"
)

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, want string // want "" means refused
	}{
		{"/", "/"},
		{"/users", "/users"},
		{"/users/", "/users/"},
		{"/users/7", "/users/7"},
		{"//users//7", "/users/7"},
		{"/users/./7", "/users/7"},
		{"/users/.", "/users/"},
		{"/users/../admin", "/admin"},
		{"/users/7/..", "/users/"},
		{"/a/b/../../c", "/c"},
		{"/users/%2e%2e/admin", "/admin"},
		{"/users/%2E%2e/admin", "/admin"},
		{"/users/.%2e/admin", "/admin"},
		{"/%61dmin", "/admin"},
		{"/users/a%20b", "/users/a b"},
		{"/users/%3f", "/users/?"},
		{"/..", ""},
		{"/../admin", ""},
		{"/users/../../admin", ""},
		{"/%2e%2e/admin", ""},
		{"/users%2f..%2fadmin", ""},
		{"/users%2F7", ""},
		{"/users%5c..%5cadmin", ""},
		{"/users\\..\\admin", ""},
		{"/users/\\admin", ""},
		{"/users%00", ""},
		{"/users\x00/x", ""},
		{"/users\n", ""},
		{"/users%0a", ""},
		{"/users%7f", ""},
		{"/users/%252e%252e/admin", ""},
		{"/users/%25%32e%25%32e", ""},
		{"/users/100%25", ""},
		{"/users/%zz", ""},
		{"/users/%2", ""},
		{"/users/%", ""},
		// Dot segments with path parameters, which Tomcat and Spring read
		// as dot segments: refused in every spelling.
		{"/users/..;/admin", ""},
		{"/users/..;/..;/admin", ""},
		{"/users/..;jsessionid=1/admin", ""},
		{"/users/.;/admin", ""},
		{"/users/.;x", ""},
		{"/users/..;", ""},
		{"/users/%2e%2e;x=y/admin", ""},
		{"/users/%2E%2E;/admin", ""},
		{"/users/.%2e;/admin", ""},
		{"/users/%2e.;/admin", ""},
		{"/users/%2e;/admin", ""},
		{"/users/..%3b/admin", ""},
		{"/users/..%3B/admin", ""},
		{"/users/%2e%2e%3Bx=y/admin", ""},
		{"/users/.%3B/admin", ""},
		{"/users/..;a;b/admin", ""},
		{"/users/..%253b/admin", ""},
		{"/users/%252e%252e;/admin", ""},
		{"/..;/admin", ""},
		// Parameters elsewhere are data, kept and forwarded as they are.
		{"/users;v=1/7", "/users;v=1/7"},
		{"/users/7;jsessionid=1", "/users/7;jsessionid=1"},
		{"/users/%3B/7", "/users/;/7"},
		{"/users/;x/..", "/users/"},
		{"/users/...;/7", "/users/...;/7"},
		{"/users/.a;/7", "/users/.a;/7"},
		{"/users/a..;/7", "/users/a..;/7"},
		{"users", ""},
		{"", ""},
		{"*", ""},
	}
	for _, tt := range tests {
		got, err := Clean(nil, []byte(tt.raw))
		if tt.want == "" {
			if err == nil {
				t.Errorf("Clean(%q) = %q, want refused", tt.raw, got)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
}

func TestAppendRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/", "/users/a b", "/x/?#", "/é/;=@:"} {
		enc := Append(nil, []byte(p))
		dec, err := Clean(nil, enc)
		if err != nil || string(dec) != p {
			t.Errorf("Clean(Append(%q)) = %q (%q), %v", p, dec, enc, err)
		}
	}
	if got := string(Append(nil, []byte("/a b/?"))); got != "/a%20b/%3F" {
		t.Errorf("Append = %q", got)
	}
}

func TestCleanAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	raw := []byte("/users/%2e%2e/admin//x/./y")
	if n := testing.AllocsPerRun(100, func() { buf, _ = Clean(buf, raw) }); n != 0 {
		t.Fatalf("Clean allocates %v times", n)
	}
}

func TestStripParams(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"/a/b", "/a/b"},
		{"/private;x/y", "/private/y"},
		{"/private;/y", "/private/y"},
		{"/a;x=1;y=2/b;z", "/a/b"},
		{"/a;x", "/a"},
		{"/;x/a", "/a"},
		{"/;/private/x", "/private/x"},
		{"/a/;/;x/b", "/a/b"},
		{"/a;x/;y/b", "/a/b"},
		{"/app/;jsessionid=1", "/app/"},
		{"/;x", "/"},
		{"/", "/"},
	} {
		if got := string(StripParams(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("StripParams(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
