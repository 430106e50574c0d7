//go:build unix

package compiler_test

import (
	"syscall"
	"time"
)

// usage returns the CPU time the process has used, all threads (so the
// garbage collector's too), and its peak resident set size in bytes.
func usage() (cpu time.Duration, peakRSS int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, int64(ru.Maxrss) * maxrssUnit
}
