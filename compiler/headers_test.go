package compiler

import "testing"

func TestCanonicalOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://app.example":         "https://app.example",
		"HTTPS://App.Example:443":     "https://app.example",
		"http://app.example:80":       "http://app.example",
		"http://app.example:8080":     "http://app.example:8080",
		"https://app.example:80":      "https://app.example:80",
		"http://[::1]:3000":           "http://[::1]:3000",
		"capacitor://localhost":       "capacitor://localhost",
		"https://app.example/":        "",
		"https://app.example:":        "",
		"https://app.example:0":       "",
		"https://app.example/x":       "",
		"https://app.example#":        "",
		"https://app.example?":        "",
		"//app.example":               "",
		"null":                        "",
		"https://user:pw@app.example": "",
	} {
		got, problem := canonicalOrigin(in)
		if got != want || (want == "") != (problem != "") {
			t.Errorf("canonicalOrigin(%q) = %q, %q; want %q", in, got, problem, want)
		}
	}
}
