// Package proxy forwards gateway requests to an upstream's targets over
// keep-alive connection pools, round-robin with passive health, streaming
// both bodies.
//
// One Pool serves one table.Upstream (one set of targets and timeouts); the
// runtime keeps a Pool across table generations while the upstream's Key is
// unchanged, and closes it when the upstream goes away.
package proxy

import "errors"

// Errors Forward returns. ErrUnavailable is answered with 502, ErrTimeout
// with 504.
var (
	// ErrUnavailable: no target accepted a connection, or the connection
	// failed before a response arrived.
	ErrUnavailable = errors.New("proxy: upstream unavailable")
	// ErrTimeout: a target did not answer within the upstream timeout, or
	// every target failed and at least one of them by a connect timeout.
	ErrTimeout = errors.New("proxy: upstream timed out")
	// ErrBodyTooLarge: a request body without a length went past
	// Request.MaxBody (answered with 413).
	ErrBodyTooLarge = errors.New("proxy: request body too large")
	// ErrClientBody: a request body without a length (chunked) could not
	// be read from the client, a malformed chunk say (answered with 400).
	ErrClientBody = errors.New("proxy: the client's request body could not be read")
)
