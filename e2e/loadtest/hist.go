package main

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 2^subBits linear buckets, so a recorded value is off by less than
// 1/2^subBits (0.8%) of itself — the "2 significant digits" of an HDR
// histogram, without its dependency.
const (
	subBits  = 7
	subCount = 1 << subBits
)

// Hist is a log-linear latency histogram of nanosecond values. It is not
// safe for concurrent use: each load worker records into its own and the
// coordinator merges them when the window has ended.
type Hist struct {
	counts   [(64 - subBits + 1) * subCount]uint64
	total    uint64
	min, max int64
}

// bucket returns the index of v (v ≥ 0).
func bucket(v int64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits - 1 // v>>e is in [subCount, 2*subCount)
	return (e+1)*subCount + int(v>>e) - subCount
}

// highest returns the largest value that lands in bucket i.
func highest(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	e := i/subCount - 1
	lo := int64(i%subCount+subCount) << e
	return lo + (int64(1) << e) - 1
}

// Record adds one value.
func (h *Hist) Record(d time.Duration) { h.RecordN(d, 1) }

// RecordN adds n times the same value; nothing when n is 0.
func (h *Hist) RecordN(d time.Duration, n uint64) {
	if n == 0 {
		return
	}
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucket(v)] += n
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total += n
}

// Merge adds o's values to h.
func (h *Hist) Merge(o *Hist) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
}

// Count returns the number of values recorded.
func (h *Hist) Count() uint64 { return h.total }

// Quantile returns the value at quantile q in [0, 1]: the highest value
// equivalent to the recorded one at rank ceil(q·n), capped by the largest
// value seen. It returns 0 for an empty histogram.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(highest(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// Min and Max return the extreme values recorded.
func (h *Hist) Min() time.Duration { return time.Duration(h.min) }

// Max returns the largest value recorded.
func (h *Hist) Max() time.Duration { return time.Duration(h.max) }
