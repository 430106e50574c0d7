//go:build !linux

package budget

import (
	"fmt"
	"os"
	"runtime/metrics"
	"time"
)

// limitMemory stops this process with exitBudget once the memory the Go
// runtime holds from the system exceeds budget, sampled every 10ms: this
// system has no address-space limit to enforce it exactly, so a single
// allocation may overshoot it before the sample that sees it.
func limitMemory(budget int64) error {
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	go func() {
		for range time.Tick(10 * time.Millisecond) {
			metrics.Read(sample)
			if int64(sample[0].Value.Uint64()) > budget {
				fmt.Fprintln(os.Stderr, "cuegate: compile stopped at its memory budget")
				os.Exit(exitBudget)
			}
		}
	}()
	return nil
}
