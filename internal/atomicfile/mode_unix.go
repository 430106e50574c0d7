//go:build unix

package atomicfile

import "io/fs"

// openToOthers reports whether group or others may write a file of mode m,
// or replace the files in a directory of mode m (the sticky bit keeps them
// from replacing files they do not own).
func openToOthers(m fs.FileMode) bool {
	return m.Perm()&0o022 != 0 && !(m.IsDir() && m&fs.ModeSticky != 0)
}
