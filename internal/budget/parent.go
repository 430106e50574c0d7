package budget

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
)

// maxResultBytes bounds what the parent reads of the child's answer: a
// table that large is itself a runaway (a string doubled into a
// description), and decoding it would cost the serving process several
// times its size.
const maxResultBytes = 64 << 20

// childStderrLimit bounds how much of the child's standard error is kept:
// enough for the first lines of a crash.
const childStderrLimit = 16 << 10

// Compile compiles dir within b, as compiler.Compile would in this
// process: it runs this executable as "EXE Command --memory BYTES
// --timeout D -- DIR", which must run RunChild, and kills it at the
// deadline, or when ctx ends (the error then wraps ctx's).
//
// The child is started with argv[0] "cuegate", which is how a test
// binary, run by testscript with "cuegate" registered as a command,
// recognises it is to run as cuegate; the real binary ignores argv[0].
func (b Budget) Compile(ctx context.Context, dir string) (*table.Table, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("compile %s: cannot find the cuegate executable to compile in: %w", dir, err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, Command, "--memory", strconv.FormatInt(int64(b.Memory), 10), "--timeout", b.Timeout.String(), "--", dir)
	cmd.Args[0] = "cuegate"
	stdout := &headBuffer{limit: maxResultBytes + 1}
	stderr := &headBuffer{limit: childStderrLimit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	switch {
	case parent.Err() != nil:
		return nil, fmt.Errorf("compile %s: %w", dir, parent.Err())
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
// names the directory and no file: which file holds the runaway value is
// unknown, and a position would blame one that may be innocent.
func overBudget(dir, budget string) error {
	return table.Diagnostics{{Message: fmt.Sprintf("evaluating the configuration in %s exceeded %s: look for a value that grows without bound, such as a string or list that doubles from field to field or a large list.Range (--compile-timeout and --compile-memory set the budget)", dir, budget)}}
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

// headBuffer keeps the first limit bytes written to it and discards the
// rest. It is not safe for concurrent use; exec.Cmd writes to it from one
// goroutine.
type headBuffer struct {
	bytes.Buffer
	limit int
}

var _ io.Writer = (*headBuffer)(nil)

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.limit - h.Len(); room > 0 {
		h.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
