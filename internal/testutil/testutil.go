// Package testutil holds helpers shared by the module's tests.
package testutil

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that servers' goroutines may write to while
// a test reads it. The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

var (
	_ io.Writer    = (*SyncBuffer)(nil)
	_ fmt.Stringer = (*SyncBuffer)(nil)
)

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WriteFile writes content to path with perm, failing tb when it cannot.
func WriteFile(tb testing.TB, path, content string, perm os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		tb.Fatal(err)
	}
}

// ReadFile returns the content of the file at path, failing tb when it
// cannot be read.
func ReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// DeadURL returns an http:// URL on the loopback interface where nothing
// listens: a port that was just bound and released.
func DeadURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

var envSeq atomic.Int64

// Env sets an environment variable of a name no other test uses, prefix
// and a number, to value until t ends, and returns its name. Unlike
// t.Setenv it leaves t free to call t.Parallel: the variable is the
// test's own. An empty value is a variable set to "".
func Env(t testing.TB, prefix, value string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, envSeq.Add(1))
	if err := os.Setenv(name, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Unsetenv(name) })
	return name
}

// Get GETs url, with bearer as an `Authorization: Bearer` token unless it
// is empty, and returns the status and body; it fails t when there is no
// answer.
func Get(t testing.TB, url, bearer string) (status int, body string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Eventually polls cond every few milliseconds and fails t when it has not
// held within 30 seconds (a generous bound: the machine running tests may
// be slow), saying what was waited for.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyState(t, what, func() (bool, string) { return cond(), "" })
}

// EventuallyState is Eventually for a cond that also describes what it
// saw: the failure reports its last description.
func EventuallyState(t testing.TB, what string, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := cond()
		switch {
		case ok:
			return
		case time.Now().After(deadline) && state != "":
			t.Fatalf("timed out waiting for %s; last seen: %s", what, state)
		case time.Now().After(deadline):
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Clock is a clock a test moves by hand; safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock reading start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(start.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
