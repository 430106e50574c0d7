package budget

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// limitMemory lets this process map at most budget bytes of address space
// beyond what it has mapped already (RLIMIT_AS). The kernel then refuses
// the mapping that would cross it, and the Go runtime stops the process
// with "fatal error: out of memory" at once: nothing is allocated past
// the budget, whatever the size of one allocation, which a watchdog that
// samples the heap cannot promise. What is mapped at start (the runtime's
// reservations, about 1.2 GiB of address space and a few MiB of memory)
// is not counted.
func limitMemory(budget int64) error {
	mapped, err := mappedBytes()
	if err != nil {
		return err
	}
	limit := uint64(mapped) + uint64(budget)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit})
}

// mappedBytes is this process's address space (VmSize in
// /proc/self/status).
func mappedBytes() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmSize:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/self/status: VmSize %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no VmSize")
}
