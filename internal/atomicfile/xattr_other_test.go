//go:build !linux

package atomicfile

import "testing"

// setXattr reports that extended attributes are not tested here.
func setXattr(*testing.T, string, string, string) bool { return false }

// getXattr is not called where setXattr reports false.
func getXattr(*testing.T, string, string) string { return "" }

// grantDefaultACL reports that ACLs are not tested here.
func grantDefaultACL(*testing.T, string) bool { return false }

// hasXattr is not called where grantDefaultACL reports false.
func hasXattr(*testing.T, string, string) bool { return false }
