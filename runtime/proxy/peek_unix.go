//go:build unix

package proxy

import "syscall"

// peekFD peeks at one byte of the socket fd without blocking or consuming
// it, and sets c.closed unless the socket is open with nothing to read.
// It is called through syscall.RawConn.Control, which neither waits for
// readiness nor minds the connection's deadlines.
func (c *upstreamConn) peekFD(fd uintptr) {
	_, _, err := syscall.Recvfrom(int(fd), c.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	// Nothing to read leaves it open; end of stream (no error), bytes, or
	// any other error closes it. An interrupted peek tells nothing.
	c.closed = err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}
