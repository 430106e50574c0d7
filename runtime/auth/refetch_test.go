package auth

import (
	"encoding/base64"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// bloatedToken is a token naming kid whose header and claims each hold an
// array of n+1 numbers: 8 KB of token grows a parser by some 600 KiB.
func bloatedToken(kid string, n int) []byte {
	arr := "[" + strings.Repeat("0,", n) + "0]"
	enc := base64.RawURLEncoding.EncodeToString
	h := `{"alg":"RS256","typ":"JWT","kid":"` + kid + `","x":` + arr + `}`
	return []byte(enc([]byte(h)) + "." + enc([]byte(`{"x":`+arr+`}`)) + "." + enc(make([]byte, 256)))
}

// heapInUse returns the heap in use after two collections.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// TestRefetchWaitHoldsNoParser: validations that wait for a refetch of the
// key set (their kid is unknown) hold none of the memory their token made
// the parsers grow, so that tokens made to grow them, sent while the key
// set's endpoint is slow, cannot pin it by the hundred.
func TestRefetchWaitHoldsNoParser(t *testing.T) {
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	k := readyKeys(t, KeySetsOptions{MinRefetch: time.Nanosecond}, p.idp())
	v := NewValidator(k, 0)
	release := sync.OnceFunc(p.HoldJWKS())
	defer release() // also when the test fails before its own release
	tok := bloatedToken("unknown", 1400)
	const n = 100
	before := heapInUse()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { v.Validate(tok, p.idp(), rulesFor("RS256"), now) }) //nolint:errcheck // refused
	}
	testutil.Eventually(t, "every validation waits for the key set", func() bool { return waitingInRefetch() == n })
	grown := heapInUse() - before
	release()
	wg.Wait()
	if perWait := grown / n; perWait > 64<<10 {
		t.Errorf("heap in use grew by %d KiB per validation waiting for the key set, want under 64 KiB", perWait>>10)
	}
}

// waitingInRefetch counts the goroutines waiting for a refetch
// (fetcher.await).
func waitingInRefetch() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "auth.(*fetcher).await(")
}

// TestBigTokenAllocations: a token over pooledTokenBytes, refused (a bad
// signature, or an unknown kid when no refetch may start), reuses a kept
// scratch rather than grow a new one per request: the memory a token
// packed with tiny values makes a parser grow is not allocated again each
// time.
func TestBigTokenAllocations(t *testing.T) {
	testKeys(t)
	p := newProvider(t, rsaA.JWK(t, "RS256", "sig"))
	k := readyKeys(t, KeySetsOptions{MinRefetch: time.Hour}, p.idp())
	v := NewValidator(k, 0)
	for _, kid := range []string{"rsa-a", "unknown"} {
		tok := bloatedToken(kid, 1400)
		v.Validate(tok, p.idp(), rulesFor("RS256"), now) //nolint:errcheck // refused; warms the kept scratches
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const n = 100
		for range n {
			if _, err := v.Validate(tok, p.idp(), rulesFor("RS256"), now); err == nil {
				t.Fatal("a forged token was accepted")
			}
		}
		runtime.ReadMemStats(&after)
		per := (after.TotalAlloc - before.TotalAlloc) / n
		t.Logf("kid %s: %d KiB per refused token", kid, per>>10)
		if per > 128<<10 {
			t.Errorf("kid %s: %d KiB allocated per refused %d-byte token, want under 128 KiB", kid, per>>10, len(tok))
		}
	}
}
