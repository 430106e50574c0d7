package main

import "testing"

func TestRoundRatios(t *testing.T) {
	tests := []struct {
		c, base []float64
		want    string
	}{
		{[]float64{850, 900}, []float64{1000, 1000}, " (rounds 0.85 0.90)"},
		{[]float64{850}, []float64{1000}, ""},      // one round: the ratio says it all
		{[]float64{850, 900}, []float64{1000}, ""}, // rounds that do not pair up
		{[]float64{1, 2, 3}, []float64{2, 2, 2}, " (rounds 0.50 1.00 1.50)"},
	}
	for _, tt := range tests {
		if got := roundRatios(&TargetResult{RoundRPS: tt.c}, &TargetResult{RoundRPS: tt.base}); got != tt.want {
			t.Errorf("roundRatios(%v, %v) = %q, want %q", tt.c, tt.base, got, tt.want)
		}
	}
}
