package runtime

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPassCookies: the portal's cookies leave each Cookie field,
// a field of them alone goes, and every other byte of the fields is
// written as the client sent it.
func TestPassCookies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, fields, want string }{
		{"none sent", "", ""},
		{"no portal cookie", "Cookie: a=\"x y\"; b=c\\d\r\n", "Cookie: a=\"x y\"; b=c\\d\r\n"},
		{"none fasthttp can parse", "cOOKIE: b=c\\d\r\n", "Cookie: b=c\\d\r\n"},
		{"a line ended by a bare LF", "Cookie: a=\"q\"; cuegate_csrf=x\nX-A: 1\r\n", "Cookie: a=\"q\"\r\n"},
		{"an empty field first", "Cookie: \r\nCookie: cuegate_session=s; a=1\r\n", "Cookie: a=1\r\n"},
		{"several fields", "Cookie: a=1; cuegate_session=s;b=2\r\nCookie: __Host-cuegate_csrf=c\r\nCookie: cuegate_device=d; e=\"f\"\r\n",
			"Cookie: a=1;b=2\r\nCookie: e=\"f\"\r\n"},
		{"only portal cookies", "Cookie: cuegate_session=s; __Host-cuegate_session=t\r\n", ""},
		{"names near the portal's pass", "Cookie: cuegate_sessionx=1; xcuegate_session=2; cuegate_session =3\r\n",
			"Cookie: cuegate_sessionx=1; xcuegate_session=2\r\n"},
		{"empty pairs kept", "Cookie: a=1;;cuegate_csrf=x;\r\n", "Cookie: a=1;;\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h fasthttp.RequestHeader
			raw := "GET / HTTP/1.1\r\nHost: gw\r\n" + tc.fields + "\r\n"
			if err := h.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				t.Fatal(err)
			}
			h.PeekKeys() // as checkHeader does: fasthttp parses the cookies
			passCookies(&h, nil)
			var got strings.Builder
			for _, l := range strings.SplitAfter(string(h.Header()), "\r\n") {
				if strings.HasPrefix(l, "Cookie:") {
					got.WriteString(l)
				}
			}
			if got.String() != tc.want {
				t.Errorf("Cookie fields sent:\n%q\nwant\n%q", got.String(), tc.want)
			}
		})
	}
}

// TestPassCookiesFailsClosed: cookies fasthttp holds from a field the
// scan of the received header did not read are not sent.
func TestPassCookiesFailsClosed(t *testing.T) {
	t.Parallel()
	var h fasthttp.RequestHeader
	if err := h.Read(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost: gw\r\n\r\n"))); err != nil {
		t.Fatal(err)
	}
	h.SetCookie("cuegate_session", "s") // as if parsed from a field the scan missed
	passCookies(&h, nil)
	if got := string(h.Header()); strings.Contains(got, "Cookie") {
		t.Errorf("sent %q", got)
	}
}

// FuzzPassCookies: whatever Cookie fields a client sends, the fields
// passCookies leaves hold no pair named as one of the portal's cookies,
// and every other pair, in order, as sent.
func FuzzPassCookies(f *testing.F) {
	for _, seed := range []string{
		"a=1; cuegate_session=s; b=2",
		"cuegate_session=s",
		" __Host-cuegate_csrf=c ;a=\"q\"",
		"=cuegate_device=d; x",
		"a=1;;b",
	} {
		f.Add(seed, "c=3")
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		var raw strings.Builder
		raw.WriteString("GET / HTTP/1.1\r\nHost: gw\r\n")
		for _, v := range []string{first, second} {
			raw.WriteString("Cookie: " + v + "\r\n")
		}
		raw.WriteString("\r\n")
		var h fasthttp.RequestHeader
		if err := h.Read(bufio.NewReader(strings.NewReader(raw.String()))); err != nil || folded(h.RawHeaders()) {
			return // refused before passCookies runs
		}
		var want []string
		for v, rest, ok := nextField(h.RawHeaders(), hdrCookie); ok; v, rest, ok = nextField(rest, hdrCookie) {
			for p := range strings.SplitSeq(string(v), ";") {
				if name, _, _ := strings.Cut(p, "="); !isPortalCookie([]byte(strings.TrimSpace(name))) {
					want = append(want, strings.TrimSpace(p))
				}
			}
		}
		h.PeekKeys() // as checkHeader does
		passCookies(&h, nil)
		var got []string
		for _, line := range strings.Split(string(h.Header()), "\r\n") {
			v, ok := strings.CutPrefix(line, "Cookie: ")
			if !ok {
				continue
			}
			for p := range strings.SplitSeq(v, ";") {
				name, _, _ := strings.Cut(p, "=")
				if isPortalCookie([]byte(strings.TrimSpace(name))) {
					t.Fatalf("a portal cookie passed: %q from %q", p, raw.String())
				}
				got = append(got, strings.TrimSpace(p))
			}
		}
		if !slices.Equal(trimEmpty(got), trimEmpty(want)) {
			t.Fatalf("pairs sent %q, want %q (from %q)", got, want, raw.String())
		}
	})
}

// trimEmpty drops empty pairs, which a field of portal cookies alone
// leaves none of.
func trimEmpty(pairs []string) []string {
	return slices.DeleteFunc(slices.Clone(pairs), func(p string) bool { return p == "" })
}
