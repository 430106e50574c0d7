//go:build unix

package auth

import "syscall"

// mapBytes returns n zeroed bytes outside the Go heap: anonymous private
// memory, which takes RAM only as it is written. It returns nil when the
// mapping fails, which leaves the shard empty.
func mapBytes(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return b
}

// unmapBytes returns b, from mapBytes, to the operating system.
func unmapBytes(b []byte) {
	if b != nil {
		syscall.Munmap(b) //nolint:errcheck // only fails for a range never mapped
	}
}
