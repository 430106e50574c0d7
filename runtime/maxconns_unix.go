//go:build unix

package runtime

import "syscall"

// openFilesLimit returns the process's limit on open files, 0 when it
// cannot be read or is past any count of connections (unlimited).
func openFilesLimit() int {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil || l.Cur > 1<<30 {
		return 0
	}
	return int(l.Cur)
}
