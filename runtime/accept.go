package runtime

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// retryAccept is a listener whose Accept waits out a failure it may
// recover from, as net/http's server does, instead of returning it:
// fasthttp's server stops serving on any error Accept returns, and a
// process out of file descriptors (EMFILE, ENFILE: a flood of
// connections) would then never accept again once they were closed.
// It is safe for concurrent use as its Listener is.
type retryAccept struct {
	net.Listener
	log zerolog.Logger
}

var _ net.Listener = retryAccept{}

// Backoff of a failing Accept: doubling from minAcceptWait to maxAcceptWait.
const (
	minAcceptWait = 5 * time.Millisecond
	maxAcceptWait = time.Second
)

func (l retryAccept) Accept() (net.Conn, error) {
	var wait time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil || !passing(err) {
			return c, err
		}
		if wait == 0 {
			l.log.Error().Err(err).Msg("gateway: cannot accept connections; retrying until it can (raise the limit on open files, or lower idle_timeout)")
		}
		wait = min(max(2*wait, minAcceptWait), maxAcceptWait)
		time.Sleep(wait)
	}
}

// passing reports whether an Accept error may pass: the process or the
// system out of file descriptors or buffers, or a connection aborted
// before it was accepted.
func passing(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
