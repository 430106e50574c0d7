package main

import (
	"net"
	"strings"
	"testing"
)

// TestDemoBusyPortExit: a taken address fails `cuegate demo` with a usage
// exit and an error naming the flag that chooses it.
func TestDemoBusyPortExit(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var stdout, stderr strings.Builder
	// --gateway is checked first, so the error is about it whatever the
	// other defaults' ports hold.
	if code := run([]string{"demo", "--gateway", busy.Addr().String()}, &stdout, &stderr); code != exitUsage {
		t.Errorf("cuegate demo with a busy port exits %d, want %d", code, exitUsage)
	}
	if want := "cuegate demo: --gateway " + busy.Addr().String() + " is not available"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("cuegate demo printed to stdout before failing:\n%s", stdout.String())
	}
}
