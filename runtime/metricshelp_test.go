package runtime

import (
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
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

// TestEveryCuegateFamilyHasHelp: every cuegate_ series family named in the
// module's code has a help text of its own in metricHelp.
func TestEveryCuegateFamilyHasHelp(t *testing.T) {
	t.Parallel()
	name := regexp.MustCompile("[\"`](cuegate_[a-z0-9]+_[a-z0-9_]+)") // a family; cookies are cuegate_NAME
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == "testdata" || d.Name() == "e2e" || strings.HasPrefix(d.Name(), ".")) && path != "..":
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range name.FindAllSubmatch(src, -1) {
			family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(string(m[1]), "_bucket"), "_sum"), "_count")
			if _, ok := metricHelp[family]; !ok {
				t.Errorf("%s: %s has no help text in metricHelp", path, family)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
