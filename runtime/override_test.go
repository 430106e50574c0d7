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
		{"_method%00=DELETE", true},    // PHP reads the key as a C string
		{"_method%00x=DELETE", true},   // likewise
		{"%u005Fmethod=DELETE", true},  // Jetty decodes %uXXXX
		{"%u005fmethod=DELETE", true},  //
		{"%u017Fmethod=DELETE", false}, // not ASCII: no name
		{"%u005", false},
		{"X-HTTP-Method-Override=DELETE", true}, // ASP.NET MVC reads the query too
		{"x-http-method=PUT", true},
		{"X-Method-Override=PUT", true},
		{"x-http-method-overrides=PUT", false},
		{"_method_and_more_than_24_bytes=1", false},
	} {
		if got := methodOverride([]byte(tt.query)); got != tt.want {
			t.Errorf("methodOverride(%q) = %v, want %v", tt.query, got, tt.want)
		}
	}
}
