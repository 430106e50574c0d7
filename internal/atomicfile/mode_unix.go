//go:build unix

package atomicfile

import (
	"io/fs"
	"os"
	"syscall"
)

// openToOthers reports whether group or others may write a file of mode m,
// or replace the files in a directory of mode m (the sticky bit keeps them
// from replacing files they do not own).
func openToOthers(m fs.FileMode) bool {
	return m.Perm()&0o022 != 0 && !(m.IsDir() && m&fs.ModeSticky != 0)
}

// foreignOwner returns the uid of fi's owner when that is neither this
// process's effective user nor root: a user who may change the file, or
// replace the files in the directory, whatever its mode. It is 0 when the
// owner is one of them.
func foreignOwner(fi fs.FileInfo) int {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() {
		return uid
	}
	return 0
}
