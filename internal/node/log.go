package node

import (
	"io"
	goruntime "runtime"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/jsonlog"
	"github.com/cuegate/cuegate/internal/logwriter"
)

// OpenLog returns a serving process's log on w: a logwriter.Writer
// (buffers of size bytes, handed over at least every period, a spread
// shard per processor), the logger writing through it in order, and the
// gateway's access-log writer (Options.AccessLog), which spreads its lines
// over the shards. format is "json" or "console" (see newLogger). The caller owns the
// logwriter.Writer and closes it once the node has shut down.
func OpenLog(w io.Writer, format string, size int, period time.Duration) (*logwriter.Writer, zerolog.Logger, io.Writer) {
	lw := logwriter.New(w, size, goruntime.GOMAXPROCS(0), period)
	log, access := newLogger(lw, lw.Spread(), format)
	return lw, log, access
}

// newLogger returns a logger on w and the writer for the gateway's access
// log on access: JSON lines with a "time" field, or, for format "console",
// the same lines pretty-printed for humans.
func newLogger(w, access io.Writer, format string) (zerolog.Logger, io.Writer) {
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		access = zerolog.ConsoleWriter{Out: access, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Hook(&jsonlog.Stamp{}), access
}
