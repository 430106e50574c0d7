package runtime

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkErrorJSON fails t unless the error body for msg is one valid JSON
// object holding msg (each invalid UTF-8 byte as U+FFFD) and the status.
func checkErrorJSON(t *testing.T, msg string) {
	t.Helper()
	body := appendErrorJSON([]byte("prefix"), 403, msg)[len("prefix"):]
	if !json.Valid(body) || body[len(body)-1] != '\n' {
		t.Fatalf("error body for %q is not one JSON value and a newline: %q", msg, body)
	}
	var got struct {
		Error string `json:"error"`
		Code  int    `json:"code"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if want := validUTF8(msg); got.Error != want || got.Code != 403 {
		t.Fatalf("error body %q decodes to %q %d, want %q 403", body, got.Error, got.Code, want)
	}
}

// validUTF8 is s with each byte that is not part of valid UTF-8 replaced
// by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func TestErrorJSONHostileInput(t *testing.T) {
	t.Parallel()
	for _, msg := range []string{
		"", `unknown policy "ghost"`, `"},"code":200,"x":"`, `back\slash\`, "\x00\x01\x1f\x7f",
		"nl\ncr\rtab\tbs\bff\f", "</script><script>alert(1)</script>&amp;", "\u2028\u2029",
		"bad \xff utf-8 \xc3", "\xe2\x82", "\xed\xa0\x80 surrogate", "ünïcödé ✓ 𝄞",
	} {
		checkErrorJSON(t, msg)
	}
}

func FuzzErrorJSON(f *testing.F) {
	for _, s := range []string{"", `a"b\c`, "\xff\xfe\n", "\u2028<&>"} {
		f.Add(s)
	}
	f.Fuzz(checkErrorJSON)
}
