package compiler

import "testing"

func TestCanonicalOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://app.example":           "https://app.example",
		"HTTPS://App.Example:443":       "https://app.example",
		"http://app.example:80":         "http://app.example",
		"http://app.example:8080":       "http://app.example:8080",
		"https://app.example:80":        "https://app.example:80",
		"http://[::1]:3000":             "http://[::1]:3000",
		"capacitor://localhost":         "capacitor://localhost",
		"https://app.example/":          "",
		"https://app.example:":          "",
		"https://app.example:0":         "",
		"https://app.example/x":         "",
		"https://app.example#":          "",
		"https://app.example?":          "",
		"//app.example":                 "",
		"null":                          "",
		"https://user:pw@app.example":   "",
		"https://app.example:0443":      "https://app.example",
		"http://app.example:08080":      "http://app.example:8080",
		"https://*.example.com":         "",
		"https://app.*":                 "",
		"https://bücher.example":        "https://xn--bcher-kva.example",
		"https://BÜCHER.example":        "https://xn--bcher-kva.example",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
		"https://my_app.example":        "https://my_app.example",
		"https://app..example":          "",
		"https://app.example.":          "",
		"https://-x.example":            "https://-x.example",
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080",
		"http://127.1":                  "",
		"http://0127.0.0.1":             "",
		"http://0x7f.0.0.1":             "",
		"http://[0:0::1]":               "http://[::1]",
		"http://[fe80::1%25eth0]":       "",
		"http://[127.0.0.1]":            "",
		"https://app.example!":          "",
	} {
		got, problem := canonicalOrigin(in)
		if got != want || (want == "") != (problem != "") {
			t.Errorf("canonicalOrigin(%q) = %q, %q; want %q", in, got, problem, want)
		}
	}
}
