package portal

import (
	"io"

	"github.com/VictoriaMetrics/metrics"
)

// portalMetrics are a Server's series: its own VictoriaMetrics set, so
// that two Servers in one process (tests) count apart.
// Server.WritePrometheus writes it.
type portalMetrics struct {
	set                  *metrics.Set
	signups              *metrics.Counter
	signupsLimited       *metrics.Counter
	registrationsLimited *metrics.Counter
	updatesLimited       *metrics.Counter
	passwordsBusy        *metrics.Counter
	loginsOK             *metrics.Counter
	loginsFailed         *metrics.Counter
	loginsLimited        *metrics.Counter
	registrationsOK      *metrics.Counter
	registrationsFail    *metrics.Counter
	deletions            *metrics.Counter
	forwardedUnparsed    *metrics.Counter
}

func newPortalMetrics() portalMetrics {
	s := metrics.NewSet()
	return portalMetrics{
		set:                  s,
		signups:              s.NewCounter(`cuegate_portal_signups_total`),
		signupsLimited:       s.NewCounter(`cuegate_portal_signups_limited_total`),
		registrationsLimited: s.NewCounter(`cuegate_portal_registrations_limited_total`),
		updatesLimited:       s.NewCounter(`cuegate_portal_updates_limited_total`),
		passwordsBusy:        s.NewCounter(`cuegate_portal_busy_total`),
		loginsOK:             s.NewCounter(`cuegate_portal_logins_total{result="ok"}`),
		loginsFailed:         s.NewCounter(`cuegate_portal_logins_total{result="failed"}`),
		loginsLimited:        s.NewCounter(`cuegate_portal_logins_total{result="limited"}`),
		registrationsOK:      s.NewCounter(`cuegate_portal_registrations_total{result="ok"}`),
		registrationsFail:    s.NewCounter(`cuegate_portal_registrations_total{result="failed"}`),
		deletions:            s.NewCounter(`cuegate_portal_deletions_total`),
		forwardedUnparsed:    s.NewCounter(`cuegate_portal_forwarded_for_unparsed_total`),
	}
}

// WritePrometheus writes the portal's series in the Prometheus text
// format. Safe for concurrent use.
func (s *Server) WritePrometheus(w io.Writer) { s.metrics.set.WritePrometheus(w) }
