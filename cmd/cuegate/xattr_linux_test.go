package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

// setXattr sets the extended attribute name of the file at path to
// value, and reports whether the file system keeps such attributes.
func setXattr(t *testing.T, path, name, value string) bool {
	t.Helper()
	return unix.Setxattr(path, name, []byte(value), 0) == nil
}

// getXattr returns the extended attribute name of the file at path.
func getXattr(t *testing.T, path, name string) string {
	t.Helper()
	b := make([]byte, 256)
	n, err := unix.Getxattr(path, name, b)
	if err != nil {
		t.Fatalf("getxattr %s: %v", name, err)
	}
	return string(b[:n])
}
