package tracing

import (
	"strconv"
	"strings"
	"testing"
)

func TestValidTracestate(t *testing.T) {
	t.Parallel()
	members := func(n int) string {
		m := make([]string, n)
		for i := range m {
			m[i] = "k" + strconv.Itoa(i) + "=v"
		}
		return strings.Join(m, ",")
	}
	for _, c := range []struct {
		name   string
		values []string
		want   bool
	}{
		{"one", []string{"congo=t61rcWkgMzE"}, true},
		{"several, spaces and empty members", []string{"rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,\t"}, true},
		{"several headers", []string{"rojo=1", "congo=2"}, true},
		{"multi-tenant key", []string{"0tenant@vendor=x", "a_b-c*d/e@sys=y z"}, true},
		{"32 members", []string{members(32)}, true},
		{"33 members", []string{members(33)}, false},
		{"over 512 characters", []string{"a=" + strings.Repeat("v", 256), "b=" + strings.Repeat("v", 253)}, false},
		{"upper-case key", []string{"Rojo=1"}, false},
		{"key starting with a digit", []string{"1abc=1"}, false},
		{"system ID too long", []string{"t@abcdefghijklmno=1"}, false},
		{"no value", []string{"rojo="}, false},
		{"no equals", []string{"rojo"}, false},
		{"value ending in a space", []string{"rojo=a b "}, true}, // the member is trimmed
		{"value with an equals", []string{"rojo=a=b"}, false},
		{"control character", []string{"rojo=a\x01b"}, false},
		{"non-ASCII", []string{"rojo=é"}, false},
		{"duplicate key", []string{"rojo=1", "rojo=2"}, false},
		{"value over 256", []string{"a=" + strings.Repeat("v", 257)}, false},
	} {
		values := make([][]byte, len(c.values))
		for i, v := range c.values {
			values[i] = []byte(v)
		}
		if got := ValidTracestate(values); got != c.want {
			t.Errorf("%s: ValidTracestate(%q) = %v, want %v", c.name, c.values, got, c.want)
		}
	}
}

// ValidTracestate is on the request path of every forwarded request
// that continues a caller's trace.
func TestValidTracestateAllocs(t *testing.T) {
	values := [][]byte{[]byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")}
	if n := testing.AllocsPerRun(100, func() { ValidTracestate(values) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func FuzzValidTracestate(f *testing.F) {
	f.Add("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "a@b=c")
	f.Add(",,", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		ValidTracestate([][]byte{[]byte(a), []byte(b)})
	})
}
