package runtime

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/promlabel"
)

// gatewayMetrics are a Gateway's series: its own VictoriaMetrics set, so
// that two Gateways in one process (tests) count apart. AdminHandler
// writes it on /metrics.
type gatewayMetrics struct {
	set        *metrics.Set
	generation *metrics.Gauge // the serving table's generation number
	loaded     *metrics.Gauge // when it was loaded, Unix seconds

	spansExported, spansDropped *metrics.Counter
	connsRefused                *metrics.Counter // closed at max_conns_per_client
}

func newGatewayMetrics() gatewayMetrics {
	s := metrics.NewSet()
	return gatewayMetrics{
		set:        s,
		generation: s.NewGauge(`cuegate_table_generation`, nil),
		loaded:     s.NewGauge(`cuegate_table_loaded_timestamp_seconds`, nil),

		spansExported: s.NewCounter(`cuegate_tracing_spans_exported_total`),
		spansDropped:  s.NewCounter(`cuegate_tracing_spans_dropped_total`),
		connsRefused:  s.NewCounter(`cuegate_client_conns_refused_total`),
	}
}

// Reload outcomes, the label of cuegate_reloads_total.
const (
	reloadOK        = "ok"
	reloadUnchanged = "unchanged"
	reloadFailed    = "error"
)

func (m *gatewayMetrics) reloads(outcome string) *metrics.Counter {
	return m.set.GetOrCreateCounter(`cuegate_reloads_total{result="` + outcome + `"}`)
}

// apiMetrics are the metrics of one API ID, in the Gateway's set. They
// outlive table generations: a swap keeps them (and their counts) for
// every API ID the new table still has, and retires them when it drops
// the ID.
type apiMetrics struct {
	set   *metrics.Set
	label string // `api="id"`

	// byCode caches the request counters of statuses below len(byCode),
	// read without a lock; the metrics set itself is where they are made.
	byCode [600]atomic.Pointer[metrics.Counter]

	duration            *metrics.PrometheusHistogram
	upstreamUnavailable *metrics.Counter
	upstreamSlow        *metrics.Counter
	upstreamBusy        *metrics.Counter
	rateLimited         *metrics.Counter
	quotaExceeded       *metrics.Counter

	mu      sync.Mutex // serialises making request counters with retiring
	retired bool       // guarded by mu
}

// newAPIMetrics makes the series of the API ID id in set.
func newAPIMetrics(set *metrics.Set, id string) *apiMetrics {
	l := `api=` + promlabel.Quote(id)
	return &apiMetrics{
		set:                 set,
		label:               l,
		duration:            set.GetOrCreatePrometheusHistogram(`cuegate_request_duration_seconds{` + l + `}`),
		upstreamUnavailable: set.GetOrCreateCounter(`cuegate_upstream_errors_total{` + l + `,kind="unavailable"}`),
		upstreamSlow:        set.GetOrCreateCounter(`cuegate_upstream_errors_total{` + l + `,kind="timeout"}`),
		upstreamBusy:        set.GetOrCreateCounter(`cuegate_upstream_errors_total{` + l + `,kind="busy"}`),
		rateLimited:         set.GetOrCreateCounter(`cuegate_rate_limited_total{` + l + `}`),
		quotaExceeded:       set.GetOrCreateCounter(`cuegate_quota_exceeded_total{` + l + `}`),
	}
}

// requests returns the request counter for status. A status below 600
// takes m.mu and allocates only the first time it is seen, others every
// time (GetOrCreateCounter returns the same counter to concurrent first
// callers). Once m is retired, a status not seen before gets a counter
// that is not exported, so that a request still in flight cannot bring a
// retired series back.
func (m *apiMetrics) requests(status int) *metrics.Counter {
	fast := status >= 0 && status < len(m.byCode)
	if fast {
		if c := m.byCode[status].Load(); c != nil {
			return c
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.retired {
		return new(metrics.Counter)
	}
	c := m.set.GetOrCreateCounter(`cuegate_requests_total{` + m.label + `,status="` + strconv.Itoa(status) + `"}`)
	if fast {
		m.byCode[status].Store(c)
	}
	return c
}

// retireMetricsLocked takes off /metrics every series of the API IDs that
// t does not have, once t is being served. They leave at the swap, while
// requests that started on the old generation may still be running: the
// gateway keeps no per-generation count of requests in flight to wait
// for, so their last counts go to counters that are no longer exported.
// A later table that brings an ID back starts its series from zero. The
// caller holds g.mu.
func (g *Gateway) retireMetricsLocked(t *table.Table) {
	gone := make(map[string]bool)
	for id, m := range g.apiMetrics {
		if t.APIs[id] == nil {
			m.mu.Lock()
			m.retired = true // from here on m makes no series
			m.mu.Unlock()
			gone[m.label] = true
			delete(g.apiMetrics, id)
		}
	}
	if len(gone) == 0 {
		return
	}
	for _, name := range g.series.set.ListMetricNames() {
		if gone[apiLabel(name)] {
			g.series.set.UnregisterMetric(name)
		}
	}
}

// apiLabel returns the api label that a series name begins with, such as
// `api="x"` of `cuegate_requests_total{api="x",status="200"}`, or "" if
// it begins with no api label.
func apiLabel(name string) string {
	_, labels, _ := strings.Cut(name, "{")
	const start = `api="`
	if !strings.HasPrefix(labels, start) {
		return ""
	}
	for i := len(start); i < len(labels); i++ {
		switch labels[i] {
		case '\\':
			i++ // an escaped character
		case '"':
			return labels[:i+1]
		}
	}
	return ""
}
