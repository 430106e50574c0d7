package runtime

import (
	"net/http"
	"testing"
)

// TestConnCaps: the listener's cap (maxConns: configured, else half the
// open-files limit) and one client's (maxConnsPerClient: configured,
// else a quarter of the listener's).
func TestConnCaps(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name                   string
		cap                    func(configured, from int) int
		configured, from, want int
	}{
		{"maxConns", maxConns, 0, 20000, 10000},
		{"maxConns", maxConns, 0, 1024, 512},
		{"maxConns", maxConns, 0, 0, 0}, // unknown: fasthttp's default
		{"maxConns", maxConns, 300, 20000, 300},
		{"maxConns", maxConns, 300, 0, 300},
		{"maxConnsPerClient", maxConnsPerClient, 0, 10000, 2500},
		{"maxConnsPerClient", maxConnsPerClient, 0, 10, 3},
		{"maxConnsPerClient", maxConnsPerClient, 0, 1, 1},
		{"maxConnsPerClient", maxConnsPerClient, 0, 0, 0}, // no listener cap known: none per client either
		{"maxConnsPerClient", maxConnsPerClient, 7, 10000, 7},
		{"maxConnsPerClient", maxConnsPerClient, 7, 0, 7},
	} {
		if got := tt.cap(tt.configured, tt.from); got != tt.want {
			t.Errorf("%s(%d, %d) = %d, want %d", tt.name, tt.configured, tt.from, got, tt.want)
		}
	}
}

// TestConnectionsBeyondMaxConns: with max_conns 2 (and the test's client
// exempt from max_conns_per_client), two kept-alive connections are
// served, and a third is answered 503 and closed.
func TestConnectionsBeyondMaxConns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{extra: "gateway: {max_conns: 2, conns_exempt: [\"127.0.0.0/8\"]}\n"})
	get := func() response {
		t.Helper()
		_, r, err := e.exchange(keptGet)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for i := range 2 {
		if r := get(); r.status != http.StatusOK {
			t.Fatalf("connection %d: %d, want 200", i+1, r.status)
		}
	}
	if r := get(); r.status != http.StatusServiceUnavailable {
		t.Errorf("a third connection: %d, want 503", r.status)
	}
}
