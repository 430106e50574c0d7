package watch

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// step is something that happens to a burst at a time after its start, in
// debounces.
type step struct {
	at   float64
	do   func(b *burst)
	name string // for the failure message
}

func changed(at float64) step { return step{at, (*burst).change, "change"} }

func wrote(at float64, name string) step {
	return step{at, func(b *burst) { b.written(name) }, "write " + name}
}

func closedAt(at float64, name string) step {
	return step{at, func(b *burst) { b.closed(name) }, "close " + name}
}

func replacedAt(at float64, name string) step {
	return step{at, func(b *burst) { b.replaced(name); b.change() }, "replace " + name}
}

// TestBurstTiming: when a burst is reported, in debounces after its start,
// for the changes, writes and closes a watcher records.
func TestBurstTiming(t *testing.T) {
	t.Parallel()
	// every makes a step every 3/8 debounce from start to end: exact in
	// floating point, and never at a time a bound ends (400 and 5 are not
	// multiples), which would race with the timer.
	every := func(at func(float64) step, start, end float64) []step {
		var s []step
		for i := 0; start+float64(i)*0.375 <= end; i++ {
			s = append(s, at(start+float64(i)*0.375))
		}
		return s
	}
	pieces := func(name string, start, end float64) []step {
		return every(func(at float64) step { return wrote(at, name) }, start, end)
	}
	cat := func(parts ...[]step) []step {
		var s []step
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	tests := []struct {
		name   string
		closes bool // the platform reports closes after writing
		steps  []step
		want   []float64 // the reports
	}{
		{"one change", true, []step{changed(0)}, []float64{1}},
		{"changes settle", true, []step{changed(0), changed(0.5), changed(1)}, []float64{2}},
		{"churn is reported after maxWait", true,
			every(changed, 0, 11.7), []float64{5, 10.25, 12.625}},
		{"write then close", true, []step{wrote(0, "a"), closedAt(0.2, "a")}, []float64{1.2}},
		{"writes past maxWait wait for the close", true,
			cat(pieces("a", 0, 12), []step{closedAt(15, "a")}), []float64{16}},
		{"a pause while open waits for the close", true,
			[]step{wrote(0, "a"), wrote(8, "a"), closedAt(9, "a")}, []float64{10}},
		{"two open files wait for both", true,
			[]step{wrote(0, "a"), wrote(0.1, "b"), closedAt(1, "a"), closedAt(3, "b")}, []float64{4}},
		{"a close of a file not written does nothing", true,
			[]step{changed(0), closedAt(0.5, "a")}, []float64{1}},
		{"a file renamed over is not waited for", true,
			[]step{wrote(0, "a"), replacedAt(0.5, "a")}, []float64{1.5}},
		{"a file never closed is reported after openMax", true,
			pieces("a", 0, 3), []float64{openMax}},
		{"constant writes never closed are reported after openMax", true,
			pieces("a", 0, openMax+50), []float64{openMax, 2*openMax + 0.125}},
		{"without closes, a pause of openQuiet", false,
			cat(pieces("a", 0, 12), []step{wrote(14, "a")}), []float64{14 + openQuiet}},
		{"without closes, constant writes until openMax", false,
			pieces("a", 0, openMax+50), []float64{openMax, openMax + 50 + openQuiet}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				got := runBurst(newBurst(debounce, tc.closes, zerolog.Nop()), tc.steps)
				if len(got) != len(tc.want) {
					t.Fatalf("reports at %v debounces, want %v", got, tc.want)
				}
				for i := range got {
					if d := got[i] - tc.want[i]; d < -1e-6 || d > 1e-6 {
						t.Fatalf("reports at %v debounces, want %v", got, tc.want)
					}
				}
			})
		})
	}
}

// runBurst applies steps to b, as the watcher would, and returns when the
// burst was reported, in debounces after the start. It runs in a synctest
// bubble: time passes only when everything waits.
func runBurst(b *burst, steps []step) []float64 {
	start := time.Now()
	since := func() float64 { return float64(time.Since(start)) / float64(debounce) }
	var reports []float64
	for len(steps) > 0 || !b.first.IsZero() {
		var next <-chan time.Time
		if len(steps) > 0 {
			next = time.After(time.Until(start.Add(time.Duration(steps[0].at * float64(debounce)))))
		}
		select {
		case <-b.timer.C:
			if b.ready() {
				reports = append(reports, since())
			}
		case <-next:
			steps[0].do(b)
			steps = steps[1:]
		}
	}
	return reports
}
