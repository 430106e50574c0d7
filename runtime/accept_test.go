package runtime

import (
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/internal/testutil"
)

// exhausted is a listener whose Accept fails with err while fails is
// above zero, counting it down, as a process out of file descriptors.
type exhausted struct {
	net.Listener
	err   error
	fails atomic.Int32
}

func (l *exhausted) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", l.err)}
	}
	return l.Listener.Accept()
}

// TestServingOutlastsRunningOutOfFiles: a server whose Accept fails with
// EMFILE or ENFILE (a flood of connections used every file descriptor)
// serves again once descriptors are free; without retryAccept fasthttp's
// server stops for good. Other errors still end Serve.
func TestServingOutlastsRunningOutOfFiles(t *testing.T) {
	t.Parallel()
	ok := func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }
	for _, tt := range []struct {
		name   string
		err    syscall.Errno
		retry  bool
		serves bool
	}{
		{"EMFILE", syscall.EMFILE, true, true},
		{"ENFILE", syscall.ENFILE, true, true},
		{"EMFILE without retryAccept", syscall.EMFILE, false, false},
		{"EINVAL", syscall.EINVAL, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ln := &exhausted{Listener: testutil.Loopback(t), err: tt.err}
			ln.fails.Store(3)
			var served net.Listener = ln
			if tt.retry {
				served = newRetryAccept(ln, zerolog.Nop())
			}
			stopped := make(chan error, 1)
			go func() { stopped <- (&fasthttp.Server{Handler: ok}).Serve(served) }()
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ln.Addr().String() + "/")
			if err == nil {
				resp.Body.Close()
			}
			if got := err == nil && resp.StatusCode == 200; got != tt.serves {
				t.Errorf("after %v: %v, want served %v", tt.err, err, tt.serves)
			}
			if !tt.serves {
				if err := <-stopped; err == nil {
					t.Errorf("Serve returned no error after %v", tt.err)
				}
			}
		})
	}
}

// TestAcceptFailuresLoggedSparingly: failures to accept, however many,
// are logged once per acceptLogEvery.
func TestAcceptFailuresLoggedSparingly(t *testing.T) {
	t.Parallel()
	ln := &exhausted{Listener: testutil.Loopback(t), err: syscall.EMFILE}
	var log testutil.SyncBuffer
	l := newRetryAccept(ln, zerolog.New(&log))
	for range 3 {
		ln.fails.Store(5)
		go func() {
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				c.Close()
			}
		}()
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if n := strings.Count(log.String(), "cannot accept connections"); n != 1 {
		t.Errorf("15 failures logged %d times, want once", n)
	}
}
