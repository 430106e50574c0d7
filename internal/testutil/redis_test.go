package testutil

import (
	"errors"
	"testing"
	"time"
)

// TestRedis: the server answers, a paused one does not (within Do's
// second), and after Resume and after Kill and Restart on the same port it
// answers again; its data does not survive the restart.
func TestRedis(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	if got, err := r.Do("SET", "k", "v"); err != nil || got != "OK" {
		t.Fatalf("SET: %q, %v", got, err)
	}
	if got, err := r.Do("GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET: %q, %v", got, err)
	}
	r.Pause()
	start := time.Now()
	if err := r.Ping(); err == nil {
		t.Fatal("a paused server answered PING")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("PING to a paused server took %v", d)
	}
	r.Resume()
	if err := r.Ping(); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	addr := r.Addr()
	r.Kill()
	if err := r.Ping(); err == nil {
		t.Fatal("a killed server answered PING")
	}
	r.Restart()
	if r.Addr() != addr {
		t.Errorf("restarted on %s, want %s", r.Addr(), addr)
	}
	if got, err := r.Do("EXISTS", "k"); err != nil || got != "0" {
		t.Errorf("EXISTS k after restart: %q, %v; want 0 (no persistence)", got, err)
	}
}

// TestRedisPortTaken: a server whose port another server took between
// the choice and the bind is told apart from that other server, which
// answers PING on the port: start says the port was taken.
func TestRedisPortTaken(t *testing.T) {
	t.Parallel()
	other := StartRedis(t)
	r := &Redis{t: t, bin: other.bin, dir: t.TempDir(), port: other.port}
	t.Cleanup(r.Kill)
	if err := r.start(); !errors.Is(err, errPortTaken) {
		t.Fatalf("start on a taken port: %v, want %v", err, errPortTaken)
	}
}
