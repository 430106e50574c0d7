package proxy

import (
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// exchange is one forwarded request; it is the response body stream handed
// to fasthttp, which closes it after writing.
type exchange struct {
	req   fasthttp.Request // the request sent, when copied is set
	resp  fasthttp.Response
	pool  *Pool
	hooks Hooks
	// dropResp is Request.DropResponse.
	dropResp [][]byte
	body     io.Reader
	n        int64
	buf      []byte // scratch
	conn     []byte // the Connection header's value, while it is stripped
	tail     []byte // path and query sent, after a target's prefix
	small    []byte // a small response body, read whole (readSmall)

	status   int
	upstream time.Duration
	limit    limitedReader
	copied   bool // the request sent is req, not the server's

	// The client's request, as outgoing found it.
	closeConn  bool // it asked to close its connection
	http10     bool // it is HTTP/1.0
	head       bool // it is a HEAD
	lastOnConn bool // the upstream connection is not reused after it
}

// exchange is the body stream of the client's response: fasthttp reads it
// (or has it write itself) and closes it.
var (
	_ io.ReadCloser         = (*exchange)(nil)
	_ fasthttp.BodyWriterTo = (*exchange)(nil)
)

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func acquireExchange() *exchange { return exchanges.Get().(*exchange) }

func (ex *exchange) Read(b []byte) (int, error) {
	n, err := ex.body.Read(b)
	ex.n += int64(n)
	return n, err
}

// copyBufs holds the buffers WriteTo copies response bodies through.
var copyBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// SupportsBodyWriteTo tells fasthttp that WriteTo may stand in for Read:
// it counts the same bytes.
func (ex *exchange) SupportsBodyWriteTo() bool { return true }

// WriteTo copies the rest of the upstream's body to w through a pooled
// buffer. Without it fasthttp hands the body to the client connection's
// ReadFrom, which allocates a 32 KiB buffer for every response larger than
// the write buffer.
func (ex *exchange) WriteTo(w io.Writer) (int64, error) {
	buf := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(buf)
	var written int64
	for {
		n, rerr := ex.Read(buf[:])
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			switch {
			case werr != nil:
				return written, werr
			case m != n:
				return written, io.ErrShortWrite
			}
		}
		switch {
		case rerr == io.EOF:
			return written, nil
		case rerr != nil:
			return written, rerr
		}
	}
}

// Close ends the exchange: the upstream connection goes back to its pool
// (or is closed when the body was not read to the end).
func (ex *exchange) Close() error {
	status, upstream, n, hooks := ex.status, ex.upstream, ex.n, ex.hooks
	ex.release()
	if hooks != nil {
		hooks.ResponseDone(status, upstream, n)
	}
	return nil
}

func (ex *exchange) release() {
	ex.resp.CloseBodyStream() //nolint:errcheck // nothing to do about it
	if ex.copied {
		ex.req.Reset()
	}
	ex.resp.Reset()
	p := ex.pool
	ex.pool, ex.hooks, ex.dropResp, ex.body, ex.n, ex.status, ex.upstream, ex.copied = nil, nil, nil, nil, 0, 0, 0, false
	ex.closeConn, ex.http10, ex.head, ex.lastOnConn = false, false, false, false
	ex.limit = limitedReader{}
	exchanges.Put(ex)
	p.finish()
}
