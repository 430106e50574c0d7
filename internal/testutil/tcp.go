package testutil

import (
	"net"
	"testing"
)

// Loopback returns a TCP listener on a free loopback port, closed when t
// ends.
func Loopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// ServeConns calls handle, each in a goroutine of its own, with the
// connections ln accepts, until ln is closed; handle owns its connection.
func ServeConns(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
}
