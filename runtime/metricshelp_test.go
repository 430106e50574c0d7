package runtime

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsMetadata reads /metrics with Prometheus' text parser: every
// family has # HELP and # TYPE, and cuegate's their help text.
func TestMetricsMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.do("GET", "/public/x", "", nil)
	e.do("GET", "/nowhere", "", nil)
	e.do("GET", "/users/x", "", nil)
	admin := httptest.NewServer(e.gw.AdminHandler())
	defer admin.Close()
	resp, err := admin.Client().Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	for _, want := range []string{"cuegate_requests_total", "cuegate_request_duration_seconds", "cuegate_jwks_refreshes_total", "cuegate_tracing_spans_dropped_total", "go_goroutines"} {
		if families[want] == nil {
			t.Errorf("/metrics has no %s", want)
		}
	}
	for name, f := range families {
		if f.Help == nil || !strings.Contains(string(body), "\n# TYPE "+name+" ") || f.GetType() == dto.MetricType_UNTYPED {
			t.Errorf("%s: HELP %v, TYPE %v", name, f.Help, f.GetType())
		}
		if strings.HasPrefix(name, "cuegate_") && f.GetHelp() != metricHelp[name] {
			t.Errorf("%s: help %q, want %q", name, f.GetHelp(), metricHelp[name])
		}
	}
}
