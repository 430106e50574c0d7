package compiler

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/ascii"
	"github.com/cuegate/cuegate/schema"
)

// buildTracing compiles gateway.tracing; nil exports no spans. The schema
// bounds sample_ratio, and checkURLCredentials refuses an endpoint with
// credentials (they belong in headers, as secrets); this checks that the
// endpoint is a base URL the exporter can append /v1/traces to, and that
// every header name is an HTTP token.
func (c *compilation) buildTracing(t *table.Table, tr *schema.Tracing) {
	if tr == nil {
		return
	}
	at := field("gateway", "tracing")
	out := &table.Tracing{
		Endpoint:    strings.TrimSuffix(string(tr.Endpoint), "/"),
		SampleRatio: tr.Sample_ratio,
		ServiceName: tr.Service_name,
	}
	// An endpoint with credentials is refused by checkURLCredentials, and
	// no finding here repeats it.
	if u, err := url.Parse(string(tr.Endpoint)); err != nil || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		c.errorf(at.field("endpoint"), "invalid OTLP/HTTP endpoint %q: want scheme://host[:port][/path] without query or fragment (spans go to <endpoint>/v1/traces)", tr.Endpoint)
	}
	for _, name := range slices.Sorted(maps.Keys(tr.Headers)) {
		s := tr.Headers[name]
		hat := at.field("headers").key(name)
		if !ascii.All(name, &ascii.Token) {
			c.errorf(hat, "invalid header name %q: a name is letters, digits and !#$%%&'*+-.^_`|~", name)
		}
		c.checkSecret(&s, hat)
		if out.Headers == nil {
			out.Headers = make(map[string]table.Secret, len(tr.Headers))
		}
		out.Headers[name] = table.Secret(s)
	}
	t.Gateway.Tracing = out
}
