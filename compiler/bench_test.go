package compiler_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// writeConfig writes a valid configuration of n JWT APIs, each with its
// own policy, to dir: 500 APIs and their policies per file, and a
// catalogue entry for every tenth API.
func writeConfig(tb testing.TB, dir string, n int) {
	tb.Helper()
	const perFile = 500
	head := `package bench

idps: corp: {
	issuer:    "https://idp.example.com/"
	jwks_uri:  "https://idp.example.com/jwks"
	algorithms: ["RS256", "ES256"]
}
portal: dcr: {
	provider: "hydra"
	grant_types: ["client_credentials"]
	idp_host:              "https://idp.example.com/"
	registration_endpoint: "https://idp.example.com/oauth2/register"
}
`
	testutil.WriteFile(tb, filepath.Join(dir, "main.cue"), head, 0o644)
	for start := 0; start < n; start += perFile {
		var b strings.Builder
		b.WriteString("package bench\n")
		for i := start; i < min(n, start+perFile); i++ {
			fmt.Fprintf(&b, `
apis: api%[1]d: {
	name:        "API %[1]d"
	listen_path: "/svc/api%[1]d"
	methods: ["GET", "POST"]
	upstream: targets: ["http://10.0.%[2]d.%[3]d:8080", "http://10.1.%[2]d.%[3]d:8080"]
	auth: jwt: {idp: "corp", default_policies: ["pol%[1]d"]}
}
policies: pol%[1]d: {
	name: "Policy %[1]d"
	access: api%[1]d: {methods: ["GET"], paths: ["/v1"]}
	rate: {requests: 100, per: "1m"}
	quota: {max: 10000, period: "720h"}
	key_expires_in: "8760h"
}
`, i, i/256%256, i%256)
			if i%10 == 0 {
				fmt.Fprintf(&b, "portal: catalogue: api%[1]d: {name: \"API %[1]d\", api: \"api%[1]d\", policy: \"pol%[1]d\"}\n", i)
			}
		}
		testutil.WriteFile(tb, filepath.Join(dir, fmt.Sprintf("apis%05d.cue", start)), b.String(), 0o644)
	}
}

// BenchmarkCompile compiles generated configurations of 100, 1,000 and
// 5,000 APIs with as many policies. Compile must grow linearly: 5,000 APIs
// within 6× the time of 1,000. Besides ns/op (wall time, which other load
// on the machine inflates) it reports cpu-ns/op, the CPU time of the whole
// process (garbage collection included) per compile, and peak-RSS-MiB, the
// process's peak resident memory so far: sizes run in increasing order, so
// for the largest it is the peak of compiling it.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("apis=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			writeConfig(b, dir, n)
			runtime.GC()
			b.ReportAllocs()
			var t *table.Table
			cpu0, _ := usage()
			for b.Loop() {
				var err error
				if t, err = compiler.Compile(dir); err != nil {
					b.Fatal(err)
				}
			}
			cpu1, peak := usage()
			if len(t.APIs) != n || len(t.Policies) != n {
				b.Fatalf("compiled %d APIs and %d policies, want %d", len(t.APIs), len(t.Policies), n)
			}
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
		})
	}
}
