package runtime

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// metricHelp is the # HELP text of every cuegate series family on
// /metrics; the README's Metrics table lists the same families, with
// their labels (TestMetricsAsTheREADMESays).
// VictoriaMetrics writes # HELP and # TYPE (ExposeMetadata) but has no
// help text of its own: writeMetrics adds it.
var metricHelp = map[string]string{
	"cuegate_requests_total":                      "Requests answered, by API ID (empty: no API matched) and status.",
	"cuegate_request_duration_seconds":            "Time from a request's header to its last response byte, by API ID.",
	"cuegate_upstream_errors_total":               "Requests the upstream failed (unavailable, timeout), or refused with 503 because it had max_inflight in flight (busy), by API ID and kind.",
	"cuegate_rate_limited_total":                  "Requests refused by a rate limit (429), by API ID.",
	"cuegate_quota_exceeded_total":                "Requests refused by a quota (403), by API ID.",
	"cuegate_reloads_total":                       "Configuration reloads, by result (ok, unchanged, error).",
	"cuegate_table_generation":                    "Number of the table being served: 1 for the first, one more per swap.",
	"cuegate_table_loaded_timestamp_seconds":      "When the table being served was loaded, Unix seconds.",
	"cuegate_cluster_limiter_mode":                "1 for the limiter mode in force (redis, or on_redis_error's local, allow, deny), 0 for the others.",
	"cuegate_cluster_nodes":                       "Nodes a limit's share is counted by: live nodes last seen in Redis, or cluster.min_nodes when more.",
	"cuegate_cluster_lease_hits_total":            "Requests the Redis limiter counted from a lease, without a call to Redis.",
	"cuegate_cluster_lease_units_dropped_total":   "Leased units a node forgot and could not give back to Redis (its give-back queue full, or the answer lost).",
	"cuegate_jwks_refreshes_total":                "Fetches of an identity provider's keys, by IdP ID and result (ok, error).",
	"cuegate_client_conns_refused_total":          "Gateway connections closed unanswered because their client had max_conns_per_client open.",
	"cuegate_side_conns_refused_total":            "Admin and portal listener connections closed unanswered because their client, or the listener, had as many open as it allows, by listener.",
	"cuegate_tracing_spans_exported_total":        "Spans the OTLP collector accepted.",
	"cuegate_tracing_spans_dropped_total":         "Spans lost: the export queue was full, the collector failed, or tracing was being reconfigured.",
	"cuegate_portal_signups_total":                "Developer accounts created in the portal.",
	"cuegate_portal_signups_limited_total":        "Portal sign-ups refused by the limits per address, per IPv6 /48 and portal-wide.",
	"cuegate_portal_busy_total":                   "Portal log-ins and sign-ups answered 503 because every password-hashing slot was taken.",
	"cuegate_portal_logins_total":                 "Portal log-ins, by result (ok, failed, limited).",
	"cuegate_portal_registrations_total":          "OAuth client registrations at the identity provider (DCR), by result (ok, failed).",
	"cuegate_portal_deletions_total":              "OAuth clients deleted through the portal.",
	"cuegate_portal_registrations_limited_total":  "Portal client registrations refused by the limits per account, per address, per IPv6 /48 and portal-wide (429).",
	"cuegate_portal_updates_limited_total":        "Portal client changes refused by the per-account or per-address change limit (429).",
	"cuegate_portal_forwarded_for_unparsed_total": "Portal requests whose trusted proxy sent an X-Forwarded-For entry that is no IP address (the entry is taken as the client address).",
}

var exposeMetadata sync.Once

// writeMetrics writes set, then what extra writes (the portal's set),
// then the default VictoriaMetrics set (key sets) and the process's
// series, every family with # HELP and # TYPE and a help text (helpOf).
func writeMetrics(w io.Writer, set *metrics.Set, extra ...func(io.Writer)) error {
	exposeMetadata.Do(func() { metrics.ExposeMetadata(true) }) // process-wide; /metrics is its only writer
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	for _, write := range extra {
		write(&buf)
	}
	metrics.WritePrometheus(&buf, true)
	out := bufio.NewWriter(w)
	for line := range bytes.Lines(buf.Bytes()) {
		if name, ok := bytes.CutPrefix(line, []byte("# HELP ")); ok {
			name = bytes.TrimSuffix(name, []byte("\n"))
			if !bytes.ContainsRune(name, ' ') { // a family without help text
				out.WriteString("# HELP " + string(name) + " " + escapeHelp(helpOf(string(name))) + "\n") //nolint:errcheck // Flush reports
				continue
			}
		}
		out.Write(line) //nolint:errcheck // Flush reports
	}
	return out.Flush()
}

// helpOf is the help text of a family: metricHelp's, or for the Go
// runtime's and the process's series (written by VictoriaMetrics without
// one) where they come from.
func helpOf(name string) string {
	if h, ok := metricHelp[name]; ok {
		return h
	}
	if strings.HasPrefix(name, "process_") {
		return "Process statistic read from the operating system (VictoriaMetrics/metrics)."
	}
	return "Go runtime statistic (VictoriaMetrics/metrics)."
}

// escapeHelp escapes a help text as the Prometheus text format wants.
func escapeHelp(s string) string { return helpEscaper.Replace(s) }

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
