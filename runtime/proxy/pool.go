package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultIdleTimeout is how long an idle connection to a target is kept
// when Options.IdleTimeout is 0: less than the keep-alive timeout of common
// upstream servers (gunicorn's 2s, Node's and Apache's 5s), so that the
// gateway, not the target, closes an idle connection, and never sends a
// request on one the target is closing.
const DefaultIdleTimeout = time.Second

// Options configures a Pool.
type Options struct {
	// Targets are absolute http or https URLs; a target's path is prefixed
	// to every forwarded path.
	Targets []string
	// Timeout bounds one exchange with a target: connecting, sending the
	// request and reading the response, body included. 0 means 30s.
	Timeout time.Duration
	// ConnectTimeout bounds connecting to one target. 0 means 5s.
	ConnectTimeout time.Duration
	// IdleTimeout is how long an idle connection to a target is kept for
	// reuse. 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// TLSConfig verifies https targets; nil means the system roots.
	TLSConfig *tls.Config
	// Cooldown is how long a target that refused a connection is skipped.
	// 0 means 5s.
	Cooldown time.Duration
	// MaxConnsPerTarget bounds each target's pool; 0 means 1024.
	MaxConnsPerTarget int
	// MaxInflight caps the requests in flight through the pool at once
	// (Inflight); Forward refuses one beyond it with ErrBusy. 0 means no
	// cap.
	MaxInflight int
}

// Pool forwards requests to the targets of one upstream. It is safe for
// concurrent use.
type Pool struct {
	targets  []*target
	timeout  time.Duration
	cooldown time.Duration
	next     atomic.Uint32
	inflight atomic.Int64
	// maxInflight is Options.MaxInflight; 0: no cap.
	maxInflight int64
	closed      atomic.Bool
}

type target struct {
	hc *fasthttp.HostClient
	// prefix goes before a request's path: the base path without a
	// trailing slash, after scheme://host[:port] for an https target. An
	// http target's host goes in the Host header instead (host): fasthttp
	// then parses a path, not a whole URL, and takes the scheme from the
	// request, which is http for every request sent (Forward sends a copy
	// of one from a TLS connection; sent in place it would say https).
	prefix []byte
	host   []byte // an http target's host[:port]; nil for https
	// downUntil is the unix-nano time until which the target is skipped.
	downUntil atomic.Int64
}

// dialError marks a failure to connect: nothing was sent to the target, so
// the request may go to another one.
type dialError struct{ err error }

var _ error = (*dialError)(nil)

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// New returns a Pool for opts.Targets. It does not connect.
func New(opts Options) (*Pool, error) {
	if len(opts.Targets) == 0 {
		return nil, errors.New("proxy: no targets")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = 5 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxConnsPerTarget <= 0 {
		opts.MaxConnsPerTarget = 1024
	}
	p := &Pool{timeout: opts.Timeout, cooldown: opts.Cooldown, maxInflight: int64(max(opts.MaxInflight, 0))}
	for _, raw := range opts.Targets {
		t, err := newTarget(raw, opts)
		if err != nil {
			return nil, err
		}
		p.targets = append(p.targets, t)
	}
	return p, nil
}

// newTarget returns the target for raw, an absolute http(s) URL, with its
// connection pool configured by opts (defaults applied).
func newTarget(raw string, opts Options) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy: target %q is not an absolute http(s) URL", raw)
	}
	isTLS := u.Scheme == "https"
	var tlsConfig *tls.Config // as fasthttp would make it: the target's host name unless the options name one
	if isTLS {
		tlsConfig = &tls.Config{}
		if opts.TLSConfig != nil {
			tlsConfig = opts.TLSConfig.Clone()
		}
		if tlsConfig.ServerName == "" {
			tlsConfig.ServerName = u.Hostname()
		}
	}
	connectTimeout := opts.ConnectTimeout
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	hc := &fasthttp.HostClient{
		Addr:  fasthttp.AddMissingPort(u.Host, isTLS),
		IsTLS: isTLS,
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			if timeout <= 0 || timeout > connectTimeout {
				timeout = connectTimeout
			}
			d := *dialer
			d.Deadline = time.Now().Add(timeout) // the TLS handshake's too
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return nil, &dialError{err}
			}
			uc, err := dialUpstream(c, tlsConfig, d.Deadline)
			if err != nil {
				return nil, &dialError{err}
			}
			return uc, nil
		},
		MaxConns:                      opts.MaxConnsPerTarget,
		MaxConnWaitTimeout:            opts.Timeout,
		MaxIdleConnDuration:           opts.IdleTimeout,
		DisablePathNormalizing:        true,
		DisableHeaderNamesNormalizing: false,
		NoDefaultUserAgentHeader:      true,
		StreamResponseBody:            true,
		ReadBufferSize:                16 << 10,
		RetryIfErr:                    retryIfErr,
	}
	base := strings.TrimSuffix(u.EscapedPath(), "/")
	t := &target{hc: hc}
	if isTLS {
		t.prefix = []byte("https://" + u.Host + base)
	} else {
		t.prefix, t.host = []byte(base), []byte(u.Host)
	}
	return t, nil
}

// send tries the targets round-robin, skipping those cooling down unless
// all are.
func (p *Pool) send(ex *exchange, out *fasthttp.Request, deadline, now time.Time) error {
	resp := &ex.resp
	n := uint32(len(p.targets))
	first := p.next.Add(1)
	sawTimeout := false
	for pass := 0; pass < 2; pass++ {
		tried := false
		for i := range n {
			t := p.targets[(first+i)%n]
			if pass == 0 && t.downUntil.Load() > now.UnixNano() {
				continue
			}
			tried = true
			remaining := deadline.Sub(now)
			if remaining <= 0 {
				return ErrTimeout
			}
			ex.buf = append(append(ex.buf[:0], t.prefix...), ex.tail...)
			out.SetRequestURIBytes(ex.buf) // sent as it is: the HostClient's DisablePathNormalizing
			if t.host != nil {
				out.Header.SetHostBytes(t.host)
			}
			err := t.do(out, resp, deadline, remaining)
			if err == nil || errors.Is(err, ErrTimeout) {
				return err
			}
			var de *dialError
			if errors.As(err, &de) || errors.Is(err, fasthttp.ErrDialTimeout) {
				now = time.Now()
				t.downUntil.Store(now.Add(p.cooldown).UnixNano())
				if isTimeout(err) {
					sawTimeout = true
				}
				continue // nothing was sent: try the next target
			}
			return upstreamError(err, "")
		}
		if tried {
			break
		}
	}
	if sawTimeout {
		return ErrTimeout
	}
	return ErrUnavailable
}

// upstreamError is what Forward returns for err, a failed exchange with a
// target once a connection was made: ErrTimeout for a timeout, else
// ErrUnavailable with err (and what failed, unless empty).
func upstreamError(err error, what string) error {
	switch {
	case isTimeout(err):
		return ErrTimeout
	case what != "":
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
	default:
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// Inflight is the number of requests whose exchange with a target is not
// finished (response body included).
func (p *Pool) Inflight() int64 { return p.inflight.Load() }

// Close closes the pool's idle connections once the requests in flight are
// done. A closed Pool still serves the requests that reach it.
func (p *Pool) Close() {
	p.closed.Store(true)
	if p.inflight.Load() == 0 {
		p.closeIdle()
	}
}

func (p *Pool) closeIdle() {
	for _, t := range p.targets {
		t.hc.CloseIdleConnections()
	}
}

func (p *Pool) finish() {
	if p.inflight.Add(-1) == 0 && p.closed.Load() {
		p.closeIdle()
	}
}
