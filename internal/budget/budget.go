// Package budget compiles a configuration directory within a budget of
// wall time and memory, in a child process, so that a configuration
// whose evaluation does not end, or grows without bound (a string doubled
// in a chain of fields, a list.Range of 1e8), costs one failed compile
// and never the process that asked for it.
//
// The parent side is Budget.Compile: it re-executes this executable as
// the hidden subcommand Command. The child side is RunChild, which the
// executable's Command subcommand must run; cmd/cuegate registers it.
package budget

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// The budget of a compile unless --compile-timeout and --compile-memory
// say otherwise: far beyond what any real configuration needs (a
// thousand APIs compile in seconds and tens of MiB), and low enough that a
// runaway evaluation is stopped long before it takes the machine down.
const (
	DefaultTimeout = 30 * time.Second
	DefaultMemory  = 1 << 30
)

// MinMemory is the least budget a compile runs in reliably: the Go
// runtime takes address space in 64 MiB heap arenas, so a smaller budget
// fails valid configurations as well as runaway ones.
const MinMemory ByteSize = 256 << 20

// Budget is what one compile may use: at most Memory bytes and Timeout
// of wall time. A compile over budget gives table.Diagnostics with one
// finding that names the directory and the budget, like any other
// mistake in it.
//
// A Budget is a value; Compile is safe for concurrent use.
type Budget struct {
	Timeout time.Duration
	Memory  ByteSize
}

// Flags registers --compile-timeout and --compile-memory on fs, with the
// defaults, into b.
func (b *Budget) Flags(fs *flag.FlagSet) {
	b.Timeout, b.Memory = DefaultTimeout, DefaultMemory
	fs.DurationVar(&b.Timeout, "compile-timeout", b.Timeout, "wall time a compile of the configuration may take")
	fs.Var(&b.Memory, "compile-memory", "memory a compile of the configuration may use (e.g. 512MiB, 2GiB)")
}

// Valid says what is wrong with b's flags, or nothing.
func (b Budget) Valid() error {
	switch {
	case b.Timeout <= 0:
		return errors.New("--compile-timeout must be greater than zero")
	case b.Memory < MinMemory:
		return fmt.Errorf("--compile-memory must be at least %s", MinMemory)
	}
	return nil
}
