package jsonlog

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// zerologString is how zerolog writes s as a field value.
func zerologString(s string) string {
	var buf bytes.Buffer
	l := zerolog.New(&buf)
	l.Log().Str("k", s).Send()
	return strings.TrimSuffix(strings.TrimPrefix(buf.String(), `{"k":`), "}\n")
}

func checkString(t *testing.T, s string) {
	t.Helper()
	want := zerologString(s)
	if got := string(AppendString([]byte("x"), s)); got != "x"+want {
		t.Errorf("AppendString(%q) = %s, want x%s as zerolog writes it", s, got, want)
	}
	if got := string(AppendString([]byte("x"), []byte(s))); got != "x"+want {
		t.Errorf("AppendString([]byte(%q)) = %s, want x%s as zerolog writes it", s, got, want)
	}
}

func TestAppendStringAsZerolog(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "plain", "/api/hello", `quote " and \ backslash`, "tab\tnl\ncr\rbs\bff\f",
		"\x00\x01\x1f\x7f", "ünïcödé ✓ 𝄞", "bad \xff utf-8 \xc3", "\xe2\x82", "mix\xe2\x82\xacend\"\x80",
		"</script>&", strings.Repeat("a", 300) + "\x01",
	} {
		checkString(t, s)
	}
}

func FuzzAppendStringAsZerolog(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff\xfe", "é\n", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

func TestStampAsZerologTimestamp(t *testing.T) {
	t.Parallel()
	var s Stamp
	for _, now := range []time.Time{
		time.Date(2026, 11, 27, 11, 43, 22, 999_999_999, time.UTC),
		time.Date(2026, 11, 27, 11, 43, 23, 0, time.UTC),
		time.Date(2026, 11, 27, 11, 43, 23, 500, time.FixedZone("X", 5400)),
	} {
		var buf bytes.Buffer
		l := zerolog.New(&buf)
		l.Log().Time(zerolog.TimestampFieldName, now).Send()
		want := strings.TrimSuffix(strings.TrimPrefix(buf.String(), `{"time":"`), "\"}\n")
		if got := s.Text(now); got != want {
			t.Errorf("Text(%v) = %s, want %s", now, got, want)
		}
	}
}
