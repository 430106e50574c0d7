package runtime

import (
	"maps"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cuegate/cuegate/internal/promlabel"
)

// TestAPILabel checks that a series is told apart by its whole api label,
// whatever the API ID holds.
func TestAPILabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want string
	}{
		{`cuegate_requests_total{api="x",status="200"}`, `api="x"`},
		{`cuegate_rate_limited_total{api="x"}`, `api="x"`},
		{`cuegate_rate_limited_total{api="x_y"}`, `api="x_y"`},
		{`cuegate_requests_total{api=` + promlabel.Quote(`a",status="1`) + `,status="200"}`, `api=` + promlabel.Quote(`a",status="1`)},
		{`cuegate_requests_total{api=` + promlabel.Quote(`a\`) + `,status="200"}`, `api=` + promlabel.Quote(`a\`)},
		{`cuegate_requests_total{api=` + promlabel.Quote("a,b}\n") + `}`, `api=` + promlabel.Quote("a,b}\n")},
		{`cuegate_jwks_refreshes_total{idp="x",result="ok"}`, ""},
		{`cuegate_table_generation`, ""},
		{`broken{api="x`, ""},
	}
	for _, tt := range tests {
		if got := apiLabel(tt.name); got != tt.want {
			t.Errorf("apiLabel(%s) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestMetricsPerGateway: two Gateways in one process count apart, and
// each /metrics has the gateway's series, the default set's and the
// process's.
func TestMetricsPerGateway(t *testing.T) {
	t.Parallel()
	a, b := newEnv(t, envOptions{}), newEnv(t, envOptions{})
	adminA := httptest.NewServer(a.gw.AdminHandler())
	defer adminA.Close()
	adminB := httptest.NewServer(b.gw.AdminHandler())
	defer adminB.Close()
	const inDefaultSet = `cuegate_test_default_set_total`
	metrics.GetOrCreateCounter(inDefaultSet).Inc()
	t.Cleanup(func() { metrics.UnregisterMetric(inDefaultSet) })
	const public = `cuegate_requests_total{api="public",status="200"}`
	for range 2 {
		a.do("GET", "/public/x", "", nil)
	}
	b.do("GET", "/public/x", "", nil)
	bodyA, bodyB := scrape(t, adminA.URL), scrape(t, adminB.URL)
	if got := metricValue(t, bodyA, public); got != 2 {
		t.Errorf("gateway a: %s = %v, want 2", public, got)
	}
	if got := metricValue(t, bodyB, public); got != 1 {
		t.Errorf("gateway b: %s = %v, want 1", public, got)
	}
	for _, body := range []string{bodyA, bodyB} {
		for _, series := range []string{"cuegate_table_generation 1", inDefaultSet, "go_goroutines"} {
			if !strings.Contains(body, series) {
				t.Errorf("/metrics lacks %s", series)
			}
		}
	}
}

// TestMetricsAsTheREADMESays: the README's Metrics table lists every
// cuegate series family that has a help text, and no other.
func TestMetricsAsTheREADMESays(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^ *\\| `(cuegate_[a-z_]+)` \\|").FindAllSubmatch(readme, -1) {
		listed = append(listed, string(m[1]))
	}
	slices.Sort(listed)
	if want := slices.Sorted(maps.Keys(metricHelp)); !slices.Equal(listed, want) {
		t.Errorf("the README's Metrics table lists\n%q\nmetricHelp has\n%q", listed, want)
	}
}
