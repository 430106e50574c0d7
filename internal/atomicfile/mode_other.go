//go:build !unix

package atomicfile

import "io/fs"

// openToOthers accepts every mode: outside Unix the mode bits do not say
// who may write.
func openToOthers(fs.FileMode) bool { return false }

// foreignOwner accepts every owner: outside Unix the owner is not a uid.
func foreignOwner(fs.FileInfo) int { return 0 }
