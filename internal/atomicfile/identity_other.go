//go:build !unix

package atomicfile

import "io/fs"

// sameIdentity gives nothing: outside Unix a new file's owner is the
// process's, and what Replace keeps is the file's mode.
func sameIdentity(string, string, fs.FileInfo) error { return nil }
