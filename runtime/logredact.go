package runtime

import (
	"strings"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// fasthttpLogger passes fasthttp's messages (mostly "error when serving
// connection", for requests it could not parse) to the log at Warn, with
// the quoted parts of their errors redacted: those quote the request's
// bytes, credentials included, even with SecureErrorLogMessage (which
// only drops the dump of the whole buffer).
type fasthttpLogger struct{ log zerolog.Logger }

var _ fasthttp.Logger = fasthttpLogger{}

func (l fasthttpLogger) Printf(format string, args ...any) {
	for i, a := range args {
		if err, ok := a.(error); ok {
			args[i] = redactQuoted(err.Error())
		}
	}
	l.log.Warn().Msgf(format, args...)
}

// redactQuoted replaces the contents of each double-quoted string in s
// (as %q writes them: a backslash escapes the next byte) with [redacted];
// an unterminated one is redacted to the end.
func redactQuoted(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(`"[redacted]"`)
		s = s[i+1:]
		j := 0
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return b.String()
		}
		s = s[j+1:]
	}
}
