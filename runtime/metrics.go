package runtime

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// apiMetrics are the metrics of one API ID. They live in the default
// VictoriaMetrics set, so they outlive table generations.
type apiMetrics struct {
	label string // `api="id"`

	// byCode caches the request counters of statuses below len(byCode),
	// read without a lock; the metrics set itself is where they are made.
	byCode [600]atomic.Pointer[metrics.Counter]

	duration       *metrics.PrometheusHistogram
	upstreamErrors *metrics.Counter
	upstreamSlow   *metrics.Counter
	rateLimited    *metrics.Counter
	quotaExceeded  *metrics.Counter
}

func newAPIMetrics(id string) *apiMetrics {
	l := `api=` + quoteLabel(id)
	return &apiMetrics{
		label:          l,
		duration:       metrics.GetOrCreatePrometheusHistogram(`cuegate_request_duration_seconds{` + l + `}`),
		upstreamErrors: metrics.GetOrCreateCounter(`cuegate_upstream_errors_total{` + l + `,kind="unavailable"}`),
		upstreamSlow:   metrics.GetOrCreateCounter(`cuegate_upstream_errors_total{` + l + `,kind="timeout"}`),
		rateLimited:    metrics.GetOrCreateCounter(`cuegate_rate_limited_total{` + l + `}`),
		quotaExceeded:  metrics.GetOrCreateCounter(`cuegate_quota_exceeded_total{` + l + `}`),
	}
}

// requests returns the request counter for status; it allocates only the
// first time a status below 600 is seen (GetOrCreateCounter returns the
// same counter to concurrent first callers).
func (m *apiMetrics) requests(status int) *metrics.Counter {
	fast := status >= 0 && status < len(m.byCode)
	if fast {
		if c := m.byCode[status].Load(); c != nil {
			return c
		}
	}
	c := metrics.GetOrCreateCounter(`cuegate_requests_total{` + m.label + `,status="` + strconv.Itoa(status) + `"}`)
	if fast {
		m.byCode[status].Store(c)
	}
	return c
}

// quoteLabel quotes a Prometheus label value.
func quoteLabel(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

// Reload outcomes, the label of cuegate_reloads_total.
const (
	reloadOK        = "ok"
	reloadUnchanged = "unchanged"
	reloadFailed    = "error"
)

// The serving table: its generation number and when it was loaded.
var (
	generationGauge = metrics.NewGauge(`cuegate_table_generation`, nil)
	loadedGauge     = metrics.NewGauge(`cuegate_table_loaded_timestamp_seconds`, nil)
)

func reloadCounter(outcome string) *metrics.Counter {
	return metrics.GetOrCreateCounter(`cuegate_reloads_total{result="` + outcome + `"}`)
}
