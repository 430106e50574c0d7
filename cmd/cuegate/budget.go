package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
)

func init() {
	register(command{budgetCommand, "", runBudgetChild})
}

// budgetCommand is the hidden subcommand that a budgeted compile runs in
// a child process: "cuegate __compile --memory BYTES --timeout D DIR".
const budgetCommand = "__compile"

// The budget of a compile unless --compile-timeout and --compile-memory
// say otherwise: far beyond what any real configuration needs (a
// thousand APIs compile in seconds and tens of MiB), and low enough that a
// runaway evaluation is stopped long before it takes the machine down.
const (
	defaultCompileTimeout = 30 * time.Second
	defaultCompileMemory  = 1 << 30
)

// compileBudget compiles a configuration directory in a child process
// (this executable, re-run as budgetCommand) that may use at most Memory
// bytes and Timeout of wall time, so that a configuration whose evaluation
// does not end, or grows without bound (a string doubled in a chain of
// fields, a list.Range of 1e8), costs one failed compile and never the
// process that asked for it. A compile over budget gives Diagnostics with
// one finding that names the directory and the budget, like any other
// mistake in it.
//
// The child is started with argv[0] "cuegate", which is how the test
// binary, run by testscript with "cuegate" registered as a command,
// recognises it is to run as cuegate; the real binary ignores argv[0].
//
// A compileBudget is a value; compile is safe for concurrent use.
type compileBudget struct {
	Timeout time.Duration
	Memory  byteSize
}

// flags registers --compile-timeout and --compile-memory on fs, with the
// defaults, into b.
func (b *compileBudget) flags(fs *flag.FlagSet) {
	b.Timeout, b.Memory = defaultCompileTimeout, defaultCompileMemory
	fs.DurationVar(&b.Timeout, "compile-timeout", b.Timeout, "wall time a compile of the configuration may take")
	fs.Var(&b.Memory, "compile-memory", "memory a compile of the configuration may use (e.g. 512MiB, 2GiB)")
}

// valid says what is wrong with b's flags, or nothing.
func (b *compileBudget) valid() error {
	switch {
	case b.Timeout <= 0:
		return errors.New("--compile-timeout must be greater than zero")
	case b.Memory < minCompileMemory:
		return fmt.Errorf("--compile-memory must be at least %s", minCompileMemory)
	}
	return nil
}

// minCompileMemory is the least budget a compile runs in reliably: the Go
// runtime takes address space in 64 MiB heap arenas, so a smaller budget
// fails valid configurations as well as runaway ones.
const minCompileMemory byteSize = 256 << 20

// maxResultBytes bounds what the parent reads of the child's answer: a
// table that large is itself a runaway (a string doubled into a
// description), and decoding it would cost the serving process several
// times its size.
const maxResultBytes = 64 << 20

// childStderrLimit bounds how much of the child's standard error is kept:
// enough for the first lines of a crash.
const childStderrLimit = 16 << 10

// compile compiles dir in a child process within b, as compiler.Compile
// would in this one.
func (b compileBudget) compile(dir string) (*table.Table, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("compile %s: cannot find the cuegate executable to compile in: %w", dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, budgetCommand, "--memory", strconv.FormatInt(int64(b.Memory), 10), "--timeout", b.Timeout.String(), "--", dir)
	cmd.Args[0] = "cuegate"
	stdout := &headBuffer{limit: maxResultBytes + 1}
	stderr := &headBuffer{limit: childStderrLimit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, overBudget(dir, "the "+b.Timeout.String()+" time budget")
	case err != nil && (exitCode(err) == exitBudget || outOfMemory(stderr.Bytes()) || killedBySignal(err)):
		// A runtime that cannot map memory may die of a signal rather
		// than report it.
		return nil, overBudget(dir, "the "+b.Memory.String()+" memory budget")
	case err == nil && len(stdout.Bytes()) > maxResultBytes:
		return nil, overBudget(dir, fmt.Sprintf("the %d MiB limit on the compiled table", maxResultBytes>>20))
	case err != nil:
		return nil, fmt.Errorf("compile %s: the compiler process failed (%v): %s", dir, err, firstLine(stderr.Bytes()))
	}
	return compiler.UnmarshalResult(stdout.Bytes())
}

// overBudget is the finding of a compile of dir stopped at a budget. It
// is put at the start of the first configuration file, as every
// diagnostic has a position, and names the directory: which file holds
// the runaway value is unknown.
func overBudget(dir, budget string) error {
	d := table.Diagnostic{File: dir, Message: fmt.Sprintf("evaluating the configuration in %s exceeded %s: look for a value that grows without bound, such as a string or list that doubles from field to field or a large list.Range (--compile-timeout and --compile-memory set the budget)", dir, budget)}
	if files, err := table.ConfigFiles(dir); err == nil && len(files) > 0 {
		d.File, d.Line, d.Column = files[0], 1, 1
	}
	return table.Diagnostics{d}
}

// outOfMemory reports whether a child's standard error is the Go
// runtime's report of an allocation or thread the memory limit refused.
func outOfMemory(stderr []byte) bool {
	for _, marker := range []string{"fatal error: out of memory", "runtime: out of memory", "failed to reserve page summary memory", "pthread_create failed", "failed to create new OS thread"} {
		if bytes.Contains(stderr, []byte(marker)) {
			return true
		}
	}
	return false
}

// killedBySignal reports whether the child died of a signal other than
// the parent's own kill at the deadline (handled before).
func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}

// exitBudget is the child's exit status when it stopped itself at its
// memory budget (where the kernel does not enforce it, see limitMemory).
const exitBudget = 3

// runBudgetChild is the child of compileBudget.compile: it limits its own
// memory (limitMemory) and, should its parent be gone, its time; it
// compiles DIR and writes the outcome to stdout as compiler.MarshalResult
// encodes it. Its exit status is 0 whatever the
// configuration holds; anything else is a failure of the child itself.
func runBudgetChild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(budgetCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	memory := fs.Int64("memory", defaultCompileMemory, "memory budget in bytes")
	timeout := fs.Duration("timeout", defaultCompileTimeout, "time budget")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: cuegate "+budgetCommand+" --memory BYTES --timeout D DIR")
		return exitUsage
	}
	// The parent kills this process at the deadline; this timer ends it
	// should the parent be gone.
	time.AfterFunc(*timeout+time.Second, func() { os.Exit(exitBudget) })
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(min(compileMemoryLimit, *memory))
	}
	if err := limitMemory(*memory); err != nil {
		fmt.Fprintln(stderr, "cuegate: cannot enforce the compile's memory budget:", err)
		return exitUsage
	}
	t, err := compiler.Compile(fs.Arg(0))
	if _, err := stdout.Write(compiler.MarshalResult(t, err)); err != nil {
		return exitUsage
	}
	return exitOK
}

// headBuffer keeps the first limit bytes written to it and discards the
// rest. It is not safe for concurrent use; exec.Cmd writes to it from one
// goroutine.
type headBuffer struct {
	bytes.Buffer
	limit int
}

var (
	_ io.Writer  = (*headBuffer)(nil)
	_ flag.Value = (*byteSize)(nil)
)

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.limit - h.Len(); room > 0 {
		h.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// byteSize is a flag value of bytes, written as a whole number with an
// optional unit: B, KiB, MiB, GiB or TiB.
type byteSize int64

var byteUnits = []struct {
	name string
	size int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// String writes s in the largest unit that divides it.
func (s byteSize) String() string {
	for _, u := range byteUnits {
		if s != 0 && int64(s)%u.size == 0 {
			return strconv.FormatInt(int64(s)/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + " B"
}

// Set parses a size such as "512MiB", "1 GiB" or "1048576".
func (s *byteSize) Set(text string) error {
	num, unit := strings.TrimSpace(text), int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(num, u.name); ok {
			num, unit = strings.TrimSpace(n), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit {
		return fmt.Errorf("invalid size %q: want a number of bytes with an optional unit B, KiB, MiB, GiB or TiB, such as 512MiB", text)
	}
	*s = byteSize(n * unit)
	return nil
}
