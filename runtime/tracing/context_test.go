package tracing

import (
	"encoding/hex"
	"testing"
)

func TestParseTraceparent(t *testing.T) {
	t.Parallel()
	const trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name, v string
		ok      bool
		sampled bool
	}{
		{"sampled", "00-" + trace + "-" + parent + "-01", true, true},
		{"not sampled", "00-" + trace + "-" + parent + "-00", true, false},
		{"other flags ignored", "00-" + trace + "-" + parent + "-fe", true, false},
		{"later version", "01-" + trace + "-" + parent + "-01", true, true},
		{"later version, more fields", "cc-" + trace + "-" + parent + "-01-xyz", true, true},
		{"later version, no dash after flags", "cc-" + trace + "-" + parent + "-01xyz", false, false},
		{"version ff", "ff-" + trace + "-" + parent + "-01", false, false},
		{"version 00 too long", "00-" + trace + "-" + parent + "-01-", false, false},
		{"uppercase trace", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + parent + "-01", false, false},
		{"uppercase version", "0A-" + trace + "-" + parent + "-01", false, false},
		{"zero trace", "00-00000000000000000000000000000000-" + parent + "-01", false, false},
		{"zero parent", "00-" + trace + "-0000000000000000-01", false, false},
		{"bad hex", "00-" + trace[:31] + "x-" + parent + "-01", false, false},
		{"short", "00-" + trace + "-" + parent + "-1", false, false},
		{"wrong separator", "00_" + trace + "-" + parent + "-01", false, false},
		{"empty", "", false, false},
		{"spaces", " 00-" + trace + "-" + parent + "-01", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c Context
			if got := parseTraceparent([]byte(tt.v), &c); got != tt.ok {
				t.Fatalf("parseTraceparent(%q) = %v", tt.v, got)
			}
			if !tt.ok {
				if c != (Context{}) {
					t.Errorf("a refused value changed c: %+v", c)
				}
				return
			}
			if hex.EncodeToString(c.TraceID[:]) != trace || hex.EncodeToString(c.Parent[:]) != parent || c.Sampled != tt.sampled {
				t.Errorf("got %x %x %v", c.TraceID, c.Parent, c.Sampled)
			}
		})
	}
}

func TestBegin(t *testing.T) {
	t.Parallel()
	valid := []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	var c Context
	c.Begin([][]byte{valid}, nil)
	if !c.Remote || !c.Sampled || c.Span == c.Upstream || c.Span == [8]byte{} {
		t.Errorf("continued: %+v", c)
	}
	tp := string(c.AppendTraceparent(nil))
	if tp[:36] != string(valid[:36]) || tp[36:52] != hex.EncodeToString(c.Upstream[:]) || tp[52:] != "-01" {
		t.Errorf("traceparent %s", tp)
	}
	c.Begin([][]byte{valid, valid}, nil) // duplicated: a new trace
	if c.Remote || c.Sampled || c.TraceID == [16]byte{} || hex.EncodeToString(c.TraceID[:]) == string(valid[3:35]) {
		t.Errorf("duplicated: %+v", c)
	}
	if got := string(c.AppendTraceparent(nil)); got[53:] != "00" || len(got) != 55 {
		t.Errorf("traceparent %s", got)
	}
}

func TestSamples(t *testing.T) {
	t.Parallel()
	all, none := &Exporter{bound: 1 << 63}, &Exporter{}
	var nilExporter *Exporter
	for range 100 {
		id := newTraceID()
		if !all.samples(id) || none.samples(id) || nilExporter.samples(id) {
			t.Fatalf("%x", id)
		}
	}
}

func TestBeginAllocs(t *testing.T) {
	valid := [][]byte{[]byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}
	var c Context
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		c.Begin(valid, nil)
		c.Begin(nil, nil)
		buf = c.AppendTraceparent(buf[:0])
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
	f.Fuzz(func(t *testing.T, v string) {
		var c Context
		if !parseTraceparent([]byte(v), &c) {
			return
		}
		// What is accepted is written back as the same trace.
		c.Upstream = c.Parent
		out := string(c.AppendTraceparent(nil))
		if out[3:52] != v[3:52] {
			t.Fatalf("%q written back as %q", v, out)
		}
	})
}
