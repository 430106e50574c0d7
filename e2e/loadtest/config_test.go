package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The listeners and upstream of the test configurations (nothing listens).
var (
	testPorts    = Ports{"127.0.0.1:18080", "127.0.0.1:18081", "127.0.0.1:19090"}
	testUpstream = "127.0.0.1:17000"
)

// testConfig writes the configuration into a new directory, with the
// Redis limiter unless redis is the zero Redis.
func testConfig(t *testing.T, redis Redis) (string, *IdP) {
	t.Helper()
	idp, err := StartIdP("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	dir := t.TempDir()
	if err := writeConfig(dir, testPorts, idp, testUpstream, redis); err != nil {
		t.Fatal(err)
	}
	return dir, idp
}

func TestConfigContents(t *testing.T) {
	dir, idp := testConfig(t, Redis{})
	main, err := os.ReadFile(filepath.Join(dir, "bench.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"127.0.0.1:18080"`, `"127.0.0.1:19090"`, `"` + idp.JWKSURL + `"`,
		`"http://127.0.0.1:17000"`, `keyless: true`, `default_policies: ["bench_policy"]`} {
		if !strings.Contains(string(main), want) {
			t.Errorf("bench.cue lacks %s:\n%s", want, main)
		}
	}
	pol := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "policies.cue"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	first := pol()
	if !strings.Contains(first, "max: 1000000000000,") || !strings.Contains(first, "requests: 1000000000,") {
		t.Errorf("policies.cue:\n%s", first)
	}
	if err := writePolicies(dir, 7); err != nil {
		t.Fatal(err)
	}
	if second := pol(); second == first || !strings.Contains(second, "max: 1000000000007,") {
		t.Errorf("generation 7 did not change the quota:\n%s", second)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("config dir holds %d entries, want bench.cue and policies.cue only", len(ents))
	}
	if strings.Contains(string(main), "cluster") {
		t.Errorf("bench.cue without Redis has a cluster block:\n%s", main)
	}
}

// TestConfigRedis checks that the configuration with Redis is the one
// without plus the cluster block, whose failures answer 503 (deny) so that
// no request of the Redis target is counted by the in-memory fallback,
// with the timeout of -redis-timeout or the config's default.
func TestConfigRedis(t *testing.T) {
	t.Parallel()
	read := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, "bench.cue"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	plainDir, idp := testConfig(t, Redis{})
	plain := read(plainDir)
	for _, tc := range []struct {
		redis        Redis
		want, absent []string
	}{
		{Redis{Addr: "127.0.0.1:16379"}, []string{`address: "127.0.0.1:16379"`, `on_redis_error: "deny"`}, []string{"timeout"}},
		{Redis{Addr: "[::1]:6379", Timeout: 1500 * time.Millisecond}, []string{`address: "[::1]:6379"`, `redis: timeout: "1.5s"`, `on_redis_error: "deny"`}, nil},
	} {
		dir := t.TempDir()
		if err := writeConfig(dir, testPorts, idp, testUpstream, tc.redis); err != nil {
			t.Fatal(err)
		}
		block, ok := strings.CutPrefix(read(dir), plain)
		if !ok {
			t.Fatalf("%+v: bench.cue with Redis does not begin with bench.cue without:\n%s", tc.redis, read(dir))
		}
		for _, want := range tc.want {
			if !strings.Contains(block, want) {
				t.Errorf("%+v: cluster block lacks %s:\n%s", tc.redis, want, block)
			}
		}
		for _, absent := range tc.absent {
			if strings.Contains(block, absent) {
				t.Errorf("%+v: cluster block has %s:\n%s", tc.redis, absent, block)
			}
		}
	}
}

// TestConfigCompiles checks the generated configurations, with and
// without Redis, with the real compiler (cuegate compile --check, built
// from the repository).
func TestConfigCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cuegate")
	}
	bin := filepath.Join(t.TempDir(), "cuegate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/cuegate")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cuegate: %v\n%s", err, out)
	}
	for _, redis := range []Redis{{}, {Addr: "127.0.0.1:16379"}, {Addr: "127.0.0.1:16379", Timeout: 750 * time.Millisecond}} {
		dir, _ := testConfig(t, redis)
		if out, err := exec.Command(bin, "compile", "--check", dir).CombinedOutput(); err != nil {
			t.Errorf("cuegate compile --check (%+v): %v\n%s", redis, err, out)
		}
	}
}

func TestMintAndVerify(t *testing.T) {
	idp, err := StartIdP("")
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	v, err := newJWTVerifier(idp.JWKSURL, idp.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"RS256", "ES256"} {
		pool, err := idp.MintPool(alg, 3, 7)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, h := range pool {
			raw, ok := strings.CutPrefix(string(h), "Bearer ")
			if !ok || seen[raw] {
				t.Fatalf("%s token %d: not a fresh bearer value", alg, i)
			}
			seen[raw] = true
			var claims jwt.MapClaims
			if _, err := v.parser.ParseWithClaims(raw, &claims, v.keyfunc); err != nil {
				t.Fatalf("%s token %d: %v", alg, i, err)
			}
			if id, want := claims[identityClaim], fmt.Sprintf("client-%05d", i%3); id != want || claims[policyClaim] != benchPolicy {
				t.Errorf("%s token %d: identity %v (want %s), policy %v", alg, i, id, want, claims[policyClaim])
			}
		}
	}
}

func TestTokenCache(t *testing.T) {
	dir := t.TempDir()
	idp, err := StartIdP(dir)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := idp.MintPool("ES256", 4, 10)
	idp.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A second run reuses the keys and the pool; a larger pool is minted.
	again, err := StartIdP(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !again.rsa.Equal(idp.rsa) || !again.ec.Equal(idp.ec) {
		t.Fatal("keys were not reused")
	}
	got, err := again.MintPool("ES256", 4, 6)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if string(got[i]) != string(pool[i]) {
			t.Fatalf("token %d was not reused", i)
		}
	}
	if bigger, err := again.MintPool("ES256", 4, 12); err != nil || len(bigger) != 12 || string(bigger[0]) == string(pool[0]) {
		t.Fatalf("a larger pool: %d tokens, %v; want 12 fresh ones", len(bigger), err)
	}
}
