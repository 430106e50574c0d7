package runtime

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestSideListenerCaps: the admin listener closes a client's connections
// past adminConnsPerClient as they are accepted and, for clients not
// capped one by one (conns_exempt), accepts no more than adminConns at
// once: the next waits until one closes.
func TestSideListenerCaps(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, config string
		served       int  // connections accepted; one more is made
		waits        bool // the one more waits to be accepted; else it is closed
	}{
		{"per client", "", adminConnsPerClient, false},
		{"in all", "gateway: conns_exempt: [\"127.0.0.0/8\"]\n", adminConns, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{extra: tt.config})
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := e.gw.SideListener(raw, "admin")
			var (
				accepted atomic.Int32
				mu       sync.Mutex
				open     []net.Conn // server sides
			)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					open = append(open, c)
					mu.Unlock()
					accepted.Add(1)
				}
			}()
			t.Cleanup(func() {
				ln.Close()
				mu.Lock()
				defer mu.Unlock()
				for _, c := range open {
					c.Close()
				}
			})
			clients := make([]net.Conn, tt.served+1)
			for i := range clients {
				if clients[i], err = net.Dial("tcp", raw.Addr().String()); err != nil {
					t.Fatal(err)
				}
				defer clients[i].Close()
			}
			testutil.Eventually(t, "the served connections accepted", func() bool { return int(accepted.Load()) == tt.served })
			last := clients[tt.served]
			last.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			_, err = last.Read(make([]byte, 1))
			var ne net.Error
			if waiting := errors.As(err, &ne) && ne.Timeout(); waiting != tt.waits || !waiting && !errors.Is(err, io.EOF) {
				t.Fatalf("the connection past the cap: read %v; want it waiting %v, else closed", err, tt.waits)
			}
			if tt.waits {
				mu.Lock()
				open[0].Close()
				mu.Unlock()
				testutil.Eventually(t, "the waiting connection accepted once one closed", func() bool { return int(accepted.Load()) == tt.served+1 })
			}
		})
	}
}
