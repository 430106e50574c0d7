//go:build !race

package testutil

// RaceEnabled is whether the race detector is on: it makes sync.Pool drop
// items, so allocation counts mean nothing under it.
const RaceEnabled = false
