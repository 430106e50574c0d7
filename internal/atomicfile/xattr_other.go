//go:build unix && !linux

package atomicfile

// copyXattrs does nothing: extended attributes are kept on Linux only.
func copyXattrs(string, string) error { return nil }
