package main

import (
	"slices"
	"testing"
)

func TestTargetNames(t *testing.T) {
	tests := []struct {
		scenario string
		rivals   []string
		against  bool
		want     []string
	}{
		{"a", nil, false, []string{tUpstream, tBare, tCuegate}},
		{"a", []string{tKrakenD}, false, []string{tUpstream, tBare, tCuegate, tKrakenD}},
		{"a", []string{tKrakenD}, true, []string{tUpstream, tBare, tCuegate, tKrakenD, tCuegateB}},
		{"b-rs256", []string{tKrakenD}, true, []string{tJWT, tCuegate, tCuegateB}},
		{"c", nil, true, []string{tBare, tCuegate, tCuegateB}},
		{"e", nil, true, []string{tCuegate, tReload}},               // one process, two targets: no cuegate-b
		{"f", []string{tKrakenD}, true, []string{tCuegate, tRedis}}, // two limiters of one build: no cuegate-b
	}
	for _, tt := range tests {
		if got := targetNames(scenarios[tt.scenario], tt.rivals, tt.against); !slices.Equal(got, tt.want) {
			t.Errorf("targetNames(%s, %v, %v) = %v, want %v", tt.scenario, tt.rivals, tt.against, got, tt.want)
		}
	}
	if got := scenarios["a"].Targets; !slices.Equal(got, []string{tUpstream, tBare, tCuegate}) {
		t.Errorf("targetNames changed the scenario's own list: %v", got)
	}
}
