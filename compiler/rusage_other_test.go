//go:build unix && !linux

package compiler_test

// maxrssUnit is the unit of Rusage.Maxrss: bytes on the BSDs and macOS.
const maxrssUnit = 1
