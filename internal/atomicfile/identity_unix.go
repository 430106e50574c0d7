//go:build unix

package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// sameIdentity makes the new file tmp stand for the open file orig,
// described by fi, in every way but its content: its owner, group and,
// where the system has them, extended attributes (ACLs, security
// labels; see copyXattrs) are given to tmp. It fails, saying why, for a
// file with other hard links (a new file would not share them) or an
// owner, group or attribute this process cannot give.
func sameIdentity(tmp, orig *os.File, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if st.Nlink > 1 {
		return fmt.Errorf("it has %d hard links, which a new file would not share", st.Nlink)
	}
	if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("a new file cannot have its owner and group %d:%d: %w", st.Uid, st.Gid, err)
	}
	return copyXattrs(orig, tmp)
}
