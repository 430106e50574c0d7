//go:build unix && !linux

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// sameIdentity gives the new file tmp the owner and group of the file
// at path, described by fi, where the system has them, and reports
// whether tmp then stands for it in every way but its content: false for
// a file with other links, or an owner or group this process cannot
// give. Extended attributes are not looked at.
func sameIdentity(tmp, _ string, fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	return st.Nlink <= 1 && os.Chown(tmp, int(st.Uid), int(st.Gid)) == nil
}
