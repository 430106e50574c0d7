package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1 << 20, 123456789, 1<<62 + 12345} {
		i := bucket(v)
		if h := highest(i); h < v {
			t.Errorf("highest(bucket(%d)) = %d < value", v, h)
		}
		if i > 0 && highest(i-1) >= v {
			t.Errorf("value %d also fits bucket %d (highest %d)", v, i-1, highest(i-1))
		}
		if v >= subCount {
			if rel := float64(highest(i)-v) / float64(v); rel > 1.0/subCount {
				t.Errorf("value %d: bucket width error %.4f > 1/%d", v, rel, subCount)
			}
		}
	}
}

func TestQuantiles(t *testing.T) {
	// Values are 1..100000 µs in random order; the exact quantile at q is
	// q·100000 µs, and the histogram may exceed it by at most 1/128.
	vals := make([]time.Duration, 100000)
	for i := range vals {
		vals[i] = time.Duration(i+1) * time.Microsecond
	}
	rand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	var a, b Hist
	for i, v := range vals {
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(&b)
	if a.Count() != 100000 {
		t.Fatalf("count = %d", a.Count())
	}
	if a.Min() != time.Microsecond || a.Max() != 100*time.Millisecond {
		t.Errorf("min, max = %v, %v", a.Min(), a.Max())
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 50 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{0.999, 99900 * time.Microsecond},
		{1, 100 * time.Millisecond},
		{0, time.Microsecond},
	} {
		got := a.Quantile(tc.q)
		if got < tc.want || float64(got-tc.want) > float64(tc.want)/subCount {
			t.Errorf("Quantile(%v) = %v, want %v within +1/%d", tc.q, got, tc.want, subCount)
		}
	}
}

func TestQuantileSkewed(t *testing.T) {
	// 990 fast and 10 slow requests: p99 is fast, p99.9 is slow.
	var h Hist
	for range 990 {
		h.Record(200 * time.Microsecond)
	}
	for range 10 {
		h.Record(50 * time.Millisecond)
	}
	if got := h.Quantile(0.99); got < 200*time.Microsecond || got > 202*time.Microsecond {
		t.Errorf("p99 = %v", got)
	}
	if got := h.Quantile(0.999); got != 50*time.Millisecond {
		t.Errorf("p99.9 = %v", got)
	}
	var empty Hist
	if empty.Quantile(0.5) != 0 {
		t.Error("empty histogram has a quantile")
	}
	// The reported values never exceed what was recorded.
	got := []time.Duration{h.Quantile(0.5), h.Quantile(1)}
	if !slices.IsSorted(got) || got[1] != h.Max() {
		t.Errorf("quantiles %v, max %v", got, h.Max())
	}
}
