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
	log zerolog.Logger // sampled: at most one line per acceptLogEvery
}

var _ net.Listener = retryAccept{}

// newRetryAccept returns ln waiting out its passing Accept failures,
// logging them to log at most once per acceptLogEvery.
func newRetryAccept(ln net.Listener, log zerolog.Logger) retryAccept {
	return retryAccept{ln, everyAcceptLog(log)}
}

// everyAcceptLog is log sampled to one line per acceptLogEvery.
func everyAcceptLog(log zerolog.Logger) zerolog.Logger {
	return log.Sample(&zerolog.BurstSampler{Burst: 1, Period: acceptLogEvery})
}

// acceptLogEvery is how often failures to accept, and connections closed
// at max_conns_per_client, are logged while they last (everyAcceptLog).
const acceptLogEvery = 30 * time.Second

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
		l.log.Error().Err(err).Msg("gateway: cannot accept connections; retrying until it can (raise the limit on open files, or lower idle_timeout; logged at most every 30s)")
		wait = min(max(2*wait, minAcceptWait), maxAcceptWait)
		time.Sleep(wait)
	}
}

// passingErrors are the Accept errors that pass: the process or the
// system out of file descriptors or buffers, or a connection aborted
// before it was accepted.
var passingErrors = []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED}

// passing reports whether err is one of passingErrors.
func passing(err error) bool {
	for _, e := range passingErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
