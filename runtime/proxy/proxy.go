// Package proxy forwards gateway requests to an upstream's targets over
// keep-alive connection pools, round-robin with passive health, streaming
// both bodies.
//
// One Pool serves one table.Upstream (one set of targets and timeouts); the
// runtime keeps a Pool across table generations while the upstream's Key is
// unchanged, and closes it when the upstream goes away.
//
// # Targets and retries
//
// Targets are tried round-robin. A target whose connection fails is
// skipped for the cool-down and the request goes to the next one (nothing
// was sent yet); once a connection is made there is no retry elsewhere. A
// pooled connection the target closed while it was idle is found out
// before anything is sent on it, and the request goes on another
// connection to the same target, whatever its method.
//
// # Connection reuse
//
// An upstream connection is not reused after an exchange whose request and
// response may be out of step, so that bytes a target sends beyond its
// response are never read as the response to the next request on it,
// another client's: a HEAD, and a request with a body but a POST, PUT or
// PATCH (bodyForMethod), which a target may leave unread and take for a
// request of its own, go with "Connection: close"; see upstreamConn for
// the rest. A 101 (Switching Protocols, which the gateway never asks for:
// Upgrade is hop-by-hop) is ErrUnavailable.
//
// # Bodies
//
// A request body is passed on whatever the method, streamed from the
// client. A response body whose Content-Length is at most maxSmallBody is
// read whole first: an upstream that breaks off inside it fails Forward
// (ErrUnavailable, or ErrTimeout past the timeout), and the client's
// response is then written from memory. A larger or unframed body is
// streamed, but to an HTTP/1.0 client, which cannot be sent it chunked: an
// unframed body is then read whole, and fails Forward (ErrUnavailable)
// past maxHTTP10Body.
package proxy

import "errors"

// Errors Forward returns. ErrUnavailable is answered with 502, ErrTimeout
// with 504, ErrBusy with 503.
var (
	// ErrUnavailable: no target accepted a connection, or the connection
	// failed before a response arrived.
	ErrUnavailable = errors.New("proxy: upstream unavailable")
	// ErrTimeout: a target did not answer within the upstream timeout, or
	// every target failed and at least one of them by a connect timeout.
	ErrTimeout = errors.New("proxy: upstream timed out")
	// ErrBusy: the pool had Options.MaxInflight requests in flight
	// already; nothing was sent.
	ErrBusy = errors.New("proxy: upstream busy")
	// ErrBodyTooLarge: a request body without a length went past
	// Request.MaxBody (answered with 413).
	ErrBodyTooLarge = errors.New("proxy: request body too large")
	// ErrClientBody: a request body without a length (chunked) could not
	// be read from the client, a malformed chunk say (answered with 400).
	ErrClientBody = errors.New("proxy: the client's request body could not be read")
)
