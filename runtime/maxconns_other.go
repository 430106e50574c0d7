//go:build !unix

package runtime

// openFilesLimit returns 0: the limit on open files is not read here.
func openFilesLimit() int { return 0 }
