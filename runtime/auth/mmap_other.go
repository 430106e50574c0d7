//go:build !unix

package auth

// mapBytes returns n zeroed bytes; without mmap they are on the Go heap.
func mapBytes(n int) []byte { return make([]byte, n) }

// unmapBytes leaves b to the garbage collector.
func unmapBytes([]byte) {}
