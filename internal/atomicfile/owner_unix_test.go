//go:build unix

package atomicfile

import (
	"os"
	"syscall"
	"testing"
)

// owner returns the owner and group of the file at path.
func owner(t *testing.T, path string) (uid, gid uint32) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}
