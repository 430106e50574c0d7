package portal

import (
	"testing"
	"time"
)

func TestKnownPlaces(t *testing.T) {
	t.Parallel()
	k := newKnownPlaces(2, time.Hour)
	k.remember("a", "p1", t0)
	k.remember("a", "p2", t0.Add(time.Minute))
	switch {
	case !k.known("a", "p1", t0.Add(59*time.Minute)):
		t.Error("a place is forgotten within its time")
	case k.known("a", "p1", t0.Add(time.Hour)):
		t.Error("a place is known past its time")
	case k.known("b", "p1", t0):
		t.Error("a place is known for another account")
	}
	k.remember("a", "p3", t0.Add(2*time.Minute))
	if k.known("a", "p1", t0.Add(2*time.Minute)) || !k.known("a", "p2", t0.Add(2*time.Minute)) || !k.known("a", "p3", t0.Add(2*time.Minute)) {
		t.Error("past the most places, not the least recent one is forgotten")
	}
	k.remember("a", "p2", t0.Add(3*time.Hour))
	if n := len(k.m["a"]); n != 1 {
		t.Errorf("places past their time are kept: %d", n)
	}
}
