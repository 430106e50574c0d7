package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
)

// manyAPIs writes a keyless configuration of n APIs over 10 upstreams,
// with variant changing one API's upstream timeout, and compiles it.
func manyAPIs(tb testing.TB, n, variant int) (*table.Table, string) {
	tb.Helper()
	var b strings.Builder
	b.WriteString("package many\n\ngateway: {listen: \"127.0.0.1:0\", admin_listen: \"127.0.0.1:0\"}\nportal: {}\napis: {\n")
	for i := range n {
		timeout := "30s"
		if i == 0 {
			timeout = fmt.Sprintf("%ds", 10+variant)
		}
		fmt.Fprintf(&b, "\ta%d: {name: \"A%d\", listen_path: \"/a%d\", upstream: {targets: [\"http://127.0.0.1:%d\"], timeout: %q}, auth: keyless: true}\n",
			i, i, i, 20000+i%10, timeout)
	}
	b.WriteString("}\n")
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "many.cue"), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	t, err := compiler.Compile(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return t, dir
}

// BenchmarkSwap is the cost of building and swapping in a generation (the
// compile excluded) for 10 and 1,000 APIs.
func BenchmarkSwap(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t1, _ := manyAPIs(b, n, 1)
			t2, _ := manyAPIs(b, n, 2)
			g, err := New(t1, Options{Logger: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t := t1
				if i%2 == 0 {
					t = t2
				}
				if err := g.swap(t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReload is Reload end to end: compile the directory and swap.
func BenchmarkReload(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t, dir := manyAPIs(b, n, 1)
			g, err := New(t, Options{Logger: zerolog.Nop(), ConfigDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			path := filepath.Join(dir, "many.cue")
			src, _ := os.ReadFile(path)
			variants := [2][]byte{src, []byte(strings.Replace(string(src), `timeout: "11s"`, `timeout: "12s"`, 1))}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := os.WriteFile(path, variants[(i+1)%2], 0o644); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := reload(g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
