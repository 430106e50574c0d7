package budget

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/cuegate/cuegate/compiler"
)

// Command is the hidden subcommand that Budget.Compile runs in a child
// process: "cuegate __compile --memory BYTES --timeout D DIR". The
// executable must run RunChild for it.
const Command = "__compile"

// Exit statuses of RunChild.
const (
	exitOK = 0
	// exitFailed is a failure of the child itself (its usage, its memory
	// limit, its output), cuegate's status for usage and I/O errors.
	exitFailed = 2
	// exitBudget is the child's status when it stopped itself at its
	// memory budget (where the kernel does not enforce it, see
	// limitMemory).
	exitBudget = 3
)

// softMemoryLimit is the child's soft memory limit (debug.SetMemoryLimit)
// unless GOMEMLIMIT is set or the budget is lower: CUE keeps the whole
// configuration in memory (about 20 KiB for an API and its policy), and
// the limit makes the garbage collector work a little harder near it
// instead of letting the heap double, so that CI runners with little
// memory can check large configurations.
const softMemoryLimit = 240 << 20

// RunChild is the child of Budget.Compile, run with the arguments after
// Command: it limits its own memory (limitMemory and softMemoryLimit)
// and, should its parent be gone, its time; it compiles DIR and writes
// the outcome to stdout as compiler.MarshalResult encodes it. Its exit
// status is 0 whatever the configuration holds; anything else is a
// failure of the child itself. It may end the process (os.Exit) at its
// budget, so it is run only as a process's one command.
func RunChild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(Command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	memory := fs.Int64("memory", DefaultMemory, "memory budget in bytes")
	timeout := fs.Duration("timeout", DefaultTimeout, "time budget")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: cuegate "+Command+" --memory BYTES --timeout D DIR")
		return exitFailed
	}
	// The parent kills this process at the deadline; this timer ends it
	// should the parent be gone.
	time.AfterFunc(*timeout+time.Second, func() { os.Exit(exitBudget) })
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(min(softMemoryLimit, *memory))
	}
	if err := limitMemory(*memory); err != nil {
		fmt.Fprintln(stderr, "cuegate: cannot enforce the compile's memory budget:", err)
		return exitFailed
	}
	t, err := compiler.Compile(fs.Arg(0))
	if _, err := stdout.Write(compiler.MarshalResult(t, err)); err != nil {
		return exitFailed
	}
	return exitOK
}
