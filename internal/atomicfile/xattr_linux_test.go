package atomicfile

import (
	"bytes"
	"encoding/binary"
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

// grantDefaultACL gives the directory dir a default ACL that lets uid
// 1234 read and write what is made in it, and reports whether the file
// system keeps ACLs.
func grantDefaultACL(t *testing.T, dir string) bool {
	t.Helper()
	type entry struct {
		tag, perm uint16
		id        uint32
	}
	const undefined = 0xFFFFFFFF
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(2)) // the xattr format's version
	for _, e := range []entry{{1, 6, undefined}, {2, 6, 1234}, {4, 4, undefined}, {0x10, 6, undefined}, {0x20, 0, undefined}} {
		binary.Write(&b, binary.LittleEndian, e)
	}
	return unix.Setxattr(dir, "system.posix_acl_default", b.Bytes(), 0) == nil
}

// hasXattr reports whether the file at path has the extended attribute
// name.
func hasXattr(t *testing.T, path, name string) bool {
	t.Helper()
	_, err := unix.Getxattr(path, name, nil)
	return err == nil
}
