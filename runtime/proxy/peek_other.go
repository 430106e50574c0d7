//go:build !unix

package proxy

// peekFD cannot peek at a socket here: the connection counts as open, and
// a target that closed it is found out by the exchange failing.
func (c *upstreamConn) peekFD(uintptr) { c.closed = false }
