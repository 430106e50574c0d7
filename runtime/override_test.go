package runtime

import "testing"

func TestMethodOverride(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		query string
		want  bool
	}{
		{"", false},
		{"_method=DELETE", true},
		{"a=1&_method=PUT", true},
		{"a=1;_method=PUT", true},
		{"_method", true},
		{"_method[]=PUT", true},
		{"_METHOD=put", true},
		{"%5Fmethod=PUT", true},
		{"%5f%6Dethod=PUT", true},
		{".method=PUT", true},       // PHP: "." reads as "_"
		{"+method=PUT", false},      // PHP drops leading spaces: "method"
		{"+_method=PUT", true},      // ... so this is "_method"
		{"%20%20_method=PUT", true}, // likewise
		{"_method%3D=PUT", false},   // the key is "_method="
		{"_methods=1", false},
		{"x_method=1", false},
		{"method=DELETE", false},
		{"q=_method", false},
		{"_meth", false},
		{"_meth%", false},
		{"&&", false},
	} {
		if got := methodOverride([]byte(tt.query)); got != tt.want {
			t.Errorf("methodOverride(%q) = %v, want %v", tt.query, got, tt.want)
		}
	}
}
