package runtime

import (
	"testing"

	"github.com/cuegate/cuegate/internal/promlabel"
)

// TestAPILabel checks that a series is told apart by its whole api label,
// whatever the API ID holds.
func TestAPILabel(t *testing.T) {
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
